import { UNPRINTABLE } from '../errors.js';
import { minorOf } from '../manifest/version.js';
import { PARAM_TABLES, type ParamTables } from './params.js';

/**
 * pgpool.conf as data: reading a file as pgpool's own lexer does (src/config/pool_config.l),
 * writing values so that it reads them back as one value, and the keys that pgha sets from
 * the cluster definition (not overridable through settings).
 */
export interface ConfEntry {
  /** Line of the key. */
  line: number;
  key: string;
  /** The value as pgpool reads it: a quoted string without its quotes (and nothing unescaped), else the token. */
  value: string;
  /** The value's token as written (a string with its quotes). */
  raw: string;
}

/**
 * Reads a pgpool.conf text into its settings, token by token as pgpool 4.7's lexer and
 * ParseConfigFile() do (src/config/pool_config.l): a key, an optional `=`, one value token.
 * Like pgpool, it does not need a line break between two settings (`a = 1 b = 2` sets both),
 * and it keeps every character between a string's quotes (`\'` stays two characters: only
 * the lexer's end-of-string test skips it). Throws, naming the line, where pgpool reports a
 * syntax error.
 */
export function parseConf(text: string): ConfEntry[] {
  const entries: ConfEntry[] = [];
  const lexer = new ConfLexer(text);
  for (;;) {
    const t = lexer.next();
    if (t.kind === 'eof') break;
    if (t.kind === 'eol') continue;
    if (t.kind !== 'key') throw new Error(`line ${t.line}: pgpool expects a parameter name here, got: ${JSON.stringify(t.text)}`);
    let v = lexer.next();
    if (v.kind === 'equals') v = lexer.next();
    const value = v.kind === 'string' ? v.text.slice(1, -1) : v.text;
    entries.push({ line: t.line, key: t.text, value, raw: v.text });
  }
  return entries;
}

type TokenKind = 'key' | 'string' | 'unquoted' | 'integer' | 'real' | 'equals' | 'eol' | 'eof' | 'error';
interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

const isLetter = (c: string | undefined) => c !== undefined && (/[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80);
const isLetterOrDigit = (c: string | undefined) => c !== undefined && (isLetter(c) || /[0-9]/.test(c));
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** pool_config.l's rules, with flex's choice: the longest match, then the earlier rule. */
class ConfLexer {
  private at = 0;
  private line = 1;

  constructor(private readonly s: string) {}

  next(): Token {
    const s = this.s;
    for (;;) {
      if (this.at >= s.length) return { kind: 'eof', text: '', line: this.line };
      const c = s[this.at]!;
      if (c === '\n') {
        this.at++;
        return { kind: 'eol', text: '\n', line: this.line++ };
      }
      if (c === ' ' || c === '\t' || c === '\r') {
        this.at++;
        continue;
      }
      // #.*$ : a comment needs the line break after it (flex's `$`).
      if (c === '#') {
        const end = s.indexOf('\n', this.at);
        if (end >= 0) {
          this.at = end;
          continue;
        }
      }
      const candidates: [TokenKind, number][] = [
        ['key', this.key()],
        ['string', this.string()],
        ['unquoted', this.unquoted()],
        ['integer', this.integer()],
        ['real', this.real()],
        ['equals', c === '=' ? 1 : 0],
        ['error', 1],
      ];
      let best = candidates[0]!;
      for (const cand of candidates) if (cand[1] > best[1]) best = cand;
      const text = s.slice(this.at, this.at + best[1]);
      this.at += best[1];
      return { kind: best[0], text, line: this.line };
    }
  }

  /** {LETTER}{LETTER_OR_DIGIT}* */
  private key(): number {
    let i = this.at;
    if (!isLetter(this.s[i])) return 0;
    while (isLetterOrDigit(this.s[++i]));
    return i - this.at;
  }

  /** {LETTER}({LETTER_OR_DIGIT}|[-._:/])* */
  private unquoted(): number {
    let i = this.at;
    if (!isLetter(this.s[i])) return 0;
    while (isLetterOrDigit(this.s[++i]) || /[-._:/]/.test(this.s[i] ?? ''));
    return i - this.at;
  }

  /**
   * \'([^'\n]|\\.)*\' : a backslash either stands for itself or takes the next character
   * with it, so a quote ends the string unless a backslash is before it; the longest match wins.
   */
  private string(): number {
    const s = this.s;
    if (s[this.at] !== "'") return 0;
    const reach = new Set<number>([this.at + 1]);
    let longest = 0;
    for (let j = this.at + 1; j < s.length; j++) {
      if (!reach.has(j)) {
        if (!reach.has(j + 1)) break;
        continue;
      }
      const c = s[j]!;
      if (c === '\n') continue;
      if (c === "'") {
        longest = j + 1 - this.at;
        continue;
      }
      reach.add(j + 1);
      if (c === '\\' && j + 1 < s.length && s[j + 1] !== '\n') reach.add(j + 2);
    }
    return longest;
  }

  /** {SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}* */
  private integer(): number {
    const s = this.s;
    let i = this.at;
    if (s[i] === '-' || s[i] === '+') i++;
    const start = i;
    let decimal = start;
    while (isDigit(s[decimal])) decimal++;
    let hex = start;
    if (s[start] === '0' && s[start + 1] === 'x') {
      hex = start + 2;
      while (/[0-9a-fA-F]/.test(s[hex] ?? '')) hex++;
      if (hex === start + 2) hex = start;
    }
    let end = Math.max(decimal, hex);
    if (end === start) return 0;
    while (/[a-zA-Z]/.test(s[end] ?? '')) end++;
    return end - this.at;
  }

  /** {SIGN}?{DIGIT}*"."{DIGIT}*{EXPONENT}? */
  private real(): number {
    const s = this.s;
    let i = this.at;
    if (s[i] === '-' || s[i] === '+') i++;
    while (isDigit(s[i])) i++;
    if (s[i] !== '.') return 0;
    i++;
    while (isDigit(s[i])) i++;
    if (s[i] === 'e' || s[i] === 'E') {
      let k = i + 1;
      if (s[k] === '-' || s[k] === '+') k++;
      if (isDigit(s[k])) {
        while (isDigit(s[k])) k++;
        i = k;
      }
    }
    return i - this.at;
  }
}

/**
 * Control characters (C0, DEL, C1), the Unicode line and paragraph separators and lone
 * surrogates: none may be in a pgpool.conf value (a line break ends pgpool's string; the
 * rest are invisible, break the line for other readers or are written as U+FFFD), nor in a
 * name pgha writes into a generated file.
 */
export const CONTROL_CHARACTERS = UNPRINTABLE;

/** What is wrong with a value for pgpool.conf, or null: it may not hold control characters (line breaks, tabs, NUL, ...). */
export function valueProblem(value: string | number | boolean): string | null {
  if (typeof value === 'number' && !Number.isFinite(value)) return `expected a finite number, got ${value}`;
  if (typeof value === 'string') {
    const m = CONTROL_CHARACTERS.exec(value);
    if (m) return `expected a single line without control characters, got ${JSON.stringify(m[0])} at offset ${m.index}`;
  }
  return null;
}

/**
 * A value as pgpool.conf holds it. Booleans: on/off. Numbers: as written when the lexer reads
 * them as one number token (no exponent), else quoted. Strings: between single quotes, each
 * `'` written `\'`, nothing else changed. That is the only escape pool_config.l knows: its
 * STRING rule \'([^'\n]|\\.)*\' lets a backslash carry the next character past the
 * end-of-string test, and extract_string() strips the outer quotes only, so pgpool keeps the
 * backslash (only primary_routing_query_pattern_list turns `\'` back into `'`). A backslash
 * is written as itself: doubling it would double it in the value. A line break, which no
 * string can hold, or any other control character is refused (throws).
 */
export function formatValue(value: string | number | boolean): string {
  const problem = valueProblem(value);
  if (problem) throw new Error(problem);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') {
    const text = String(value);
    return /^-?\d+(\.\d+)?$/.test(text) ? text : `'${text}'`;
  }
  return `'${value.replace(/'/g, "\\'")}'`;
}

/** A pgpool.conf parameter name as pgha writes one. */
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One `key = value` line (no line break) that pgpool reads as exactly that key and value.
 * Throws on a key that is not a plain name and on a value formatValue() refuses.
 */
export function confLine(key: string, value: string | number | boolean): string {
  if (!KEY_PATTERN.test(key)) throw new Error(`expected a parameter name of letters, digits and _, got ${JSON.stringify(key)}`);
  return `${key} = ${formatValue(value)}`;
}

/** The value pgpool reads from the line confLine() writes for `value`. */
export function readBack(value: string | number | boolean): string {
  return parseConf(`${confLine('k', value)}\n`)[0]!.value;
}

/** The pgpool.conf keys cluster.conf.hbs sets from timings:, and the field each comes from. */
export const TIMING_KEYS: Record<string, string> = {
  sr_check_period: 'timings.srCheckPeriodSeconds',
  health_check_period: 'timings.healthCheck.periodSeconds',
  health_check_timeout: 'timings.healthCheck.timeoutSeconds',
  health_check_max_retries: 'timings.healthCheck.maxRetries',
  health_check_retry_delay: 'timings.healthCheck.retryDelaySeconds',
  connect_timeout: 'timings.connectTimeoutMs',
  search_primary_node_timeout: 'timings.searchPrimarySeconds',
  wd_interval: 'timings.watchdog.intervalSeconds',
  wd_life_point: 'timings.watchdog.lifePoint',
  wd_heartbeat_keepalive: 'timings.watchdog.heartbeatIntervalSeconds',
  wd_heartbeat_deadtime: 'timings.watchdog.heartbeatDeadtimeSeconds',
};

/** Keys rendered from the cluster definition; overriding them through settings would fork the truth. */
export const MANAGED_KEYS: { pattern: RegExp; field: string }[] = [
  { pattern: /^backend_(hostname|port|weight|data_directory|flag|application_name)\d+$/, field: 'postgres.nodes and postgres.port' },
  { pattern: /^(hostname|wd_port|pgpool_port|heartbeat_hostname|heartbeat_port|heartbeat_device)\d+$/, field: 'pgpool.nodes and its ports' },
  { pattern: /^delegate_ip$/, field: 'network.delegateIp' },
  { pattern: /^use_watchdog$/, field: 'pgpool.nodes (the watchdog is on with 2 or more)' },
  { pattern: /^(port|pcp_port)$/, field: 'pgpool.port / pgpool.pcpPort' },
  { pattern: /^load_balance_mode$/, field: 'pgpool.loadBalance' },
  { pattern: /^wd_authkey$/, field: 'the WD_AUTHKEY secret at run time (never a file)' },
  { pattern: /^wd_priority$/, field: 'pgpool.nodes (each node its own, PGHA_WD_PRIORITY: equal priorities can stall an election)' },
  { pattern: /^(sr_check_password|health_check_password|recovery_password|wd_lifecheck_password)$/, field: 'pool_passwd, generated at run time (never a file)' },
  // The image's own scripts, paths and roles: another value would bypass pgha's failover,
  // escalation and VIP scripts (and the sudo rule they rely on), or point pgpool at files the
  // entrypoint does not write.
  {
    pattern: /^(failover_command|follow_primary_command|wd_escalation_command|if_cmd_path|if_up_cmd|if_down_cmd|arping_path|arping_cmd|ping_path|recovery_1st_stage_command)$/,
    field: "the image's hook scripts (templates/pgpool/pgpool.conf.hbs)",
  },
  {
    pattern: /^(backend_clustering_mode|pool_passwd|enable_pool_hba|pid_file_name|unix_socket_directories|pcp_socket_dir|wd_ipc_socket_dir|work_dir|sr_check_user|health_check_user|recovery_user)$/,
    field: "the image's layout and roles (templates/pgpool/pgpool.conf.hbs)",
  },
  // cluster.conf.hbs writes these from timings:, within the schema's bounds; a second line
  // from settings would win and bypass them (health_check_period 0 turns health checks off).
  ...Object.entries(TIMING_KEYS).map(([key, field]) => ({ pattern: new RegExp(`^${key}$`), field })),
];

/**
 * What is wrong with the index of an indexed key (`health_check_period1`) in the pinned
 * version's table, or null (also for a key that is not indexed). pgpool 4.7 reads the
 * digits after the name with atoi() (get_index_in_var_name() in
 * src/config/pool_config_variables.c), so `...0` and `...00` are one setting spelled twice,
 * and it stops at start on an index past the array: 128 backends (MAX_NUM_BACKENDS) and
 * watchdog nodes (MAX_WATCHDOG_NUM), 256 heartbeat interfaces (WD_MAX_IF_NUM). Its own range
 * check lets an index equal to the size through, one past the last element: 0 to size - 1
 * is asked here.
 */
export function indexProblem(key: string, version: string, tables: ParamTables = PARAM_TABLES): string | null {
  const table = tables[minorOf(version)];
  const m = /^(.*?)(\d+)$/.exec(key);
  if (!table || !m || table.plain.includes(key) || !table.indexed.includes(m[1]!)) return null;
  const [, name, index] = m as unknown as [string, string, string];
  const size = name.startsWith('heartbeat_') ? 256 : 128;
  if (index.length > 1 && index.startsWith('0')) return `expected the index without leading zeros (pgpool reads ${name}${index} as ${name}${Number(index)})`;
  if (index.length > 3 || Number(index) >= size) return `expected an index from 0 to ${size - 1} (pgpool has ${size} of ${name}<n>), got ${index}`;
  return null;
}

/** The managed key rule `key` falls under, if any. */
export function managedBy(key: string): { pattern: RegExp; field: string } | undefined {
  return MANAGED_KEYS.find((m) => m.pattern.test(key));
}
