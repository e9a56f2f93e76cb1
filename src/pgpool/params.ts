import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { minorOf } from '../manifest/version.js';
import type { ParamKind, ParamTable } from './extract.js';
import renameData from '../../data/pgpool-params/renames.json' with { type: 'json' };

/**
 * pgpool logs an unknown pgpool.conf key at INFO and ignores it, so a key renamed between
 * versions silently does nothing. Every key we render or accept from a user is checked
 * against the table of the pinned minor.
 */
export interface VersionTable extends ParamTable {
  release: string;
}

const range = { min: z.number(), max: z.number() };
const kindSchema: z.ZodType<ParamKind> = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('boolean') }),
  z.strictObject({ type: z.literal('integer'), ...range }),
  z.strictObject({ type: z.literal('real'), ...range }),
  z.strictObject({ type: z.literal('enum'), values: z.array(z.string()).min(1) }),
  z.strictObject({ type: z.literal('string') }),
  z.strictObject({ type: z.literal('list'), separator: z.string(), quoteEscapes: z.literal(true).optional() }),
]);
const tableSchema = z.strictObject({
  release: z.string(),
  source: z.string(),
  plain: z.array(z.string()),
  indexed: z.array(z.string()),
  aliases: z.record(z.string(), z.string()),
  kinds: z.record(z.string(), kindSchema).optional(),
});

/** A table as data/pgpool-params holds it, its shape checked (JSON is typed loosely). */
export function parseParamTable(data: unknown): VersionTable {
  const { source: _source, ...t } = tableSchema.parse(data);
  return t;
}

/** The JSON text of a table file in data/pgpool-params (what `pgha bump` writes). */
export function paramTableFile(release: string, table: ParamTable): string {
  return JSON.stringify({ release, source: 'src/config/pool_config_variables.c', ...table }, null, 2) + '\n';
}

const TABLE_DIR = new URL('../../data/pgpool-params/', import.meta.url);

/** The parameter table of each pgpool minor ("4.7"). */
export type ParamTables = Readonly<Record<string, VersionTable>>;

/**
 * Every minor's table, read from data/pgpool-params/<minor>.json: a minor `pgha bump` adds
 * is known without a code change. Rendering takes the tables it checks against as input
 * (RenderInput.paramTables), so `pgha bump` hands it these plus the table it just extracted.
 */
export const PARAM_TABLES: Record<string, VersionTable> = Object.fromEntries(
  readdirSync(TABLE_DIR)
    .filter((f) => /^\d+\.\d+\.json$/.test(f))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => [f.replace(/\.json$/, ''), parseParamTable(JSON.parse(readFileSync(new URL(f, TABLE_DIR), 'utf8')))]),
);

/**
 * For `pgha bump`: the table it has just extracted from a new tarball stands in for the
 * committed one of that minor in this process, so that loading the project (the manifest's
 * and the cluster definition's checks, which read PARAM_TABLES) judges it against the
 * parameters the new release really has. Rendering does not read it: it is given its tables.
 */
export function useParamTable(minor: string, table: VersionTable): void {
  PARAM_TABLES[minor] = table;
}

export interface Rename {
  from: string;
  to: string;
  since: string;
}
export const RENAMES: Rename[] = renameData.renames;

export function supportedMinors(tables: ParamTables = PARAM_TABLES): string[] {
  return Object.keys(tables);
}

const indexSuffix = /^(.*?)(\d+)$/;

/** Returns null when `key` is valid for the pinned pgpool version, else what is wrong. */
export function checkKey(key: string, version: string, tables: ParamTables = PARAM_TABLES): string | null {
  const table = tables[minorOf(version)];
  if (!table) return `pgpool ${version} has no parameter table (supported: ${supportedMinors(tables).join(', ')})`;
  if (table.plain.includes(key)) return null;
  const m = indexSuffix.exec(key);
  if (m && table.indexed.includes(m[1]!)) return null;
  if (table.indexed.includes(key)) {
    return `pgpool ${version} takes ${key} only with a node index (${key}0, ${key}1, ...)`;
  }
  const alias = table.aliases[key];
  const rename = RENAMES.find((r) => r.from === key || (m && r.from === m[1]));
  if (alias) {
    return `pgpool ${version} accepts ${key} only as a deprecated alias: use ${alias}${rename ? ` (renamed in ${rename.since})` : ''}`;
  }
  if (rename) return `pgpool ${version} does not know ${key}: renamed to ${rename.to} in ${rename.since}`;
  return `pgpool ${version} has no parameter ${key}`;
}

/** The kind of `key` (plain, or indexed with its index) in the pinned minor's table; undefined when the table has no kinds. */
export function paramKind(key: string, version: string): ParamKind | undefined {
  const kinds = PARAM_TABLES[minorOf(version)]?.kinds;
  if (!kinds) return undefined;
  const m = indexSuffix.exec(key);
  return kinds[key] ?? (m ? kinds[m[1]!] : undefined);
}

/**
 * pgpool's reading of a boolean (parse_bool_with_len in src/config/pool_config.l): true,
 * false, yes, no, on, off, 1, 0, case-insensitively, and unique prefixes of them ("o" is not one).
 */
export function pgpoolBool(text: string): boolean | null {
  const t = text.toLowerCase();
  if (!t) return null;
  if (t === '1') return true;
  if (t === '0') return false;
  if (t.length >= 2 && 'on'.startsWith(t)) return true;
  if (t.length >= 2 && 'off'.startsWith(t)) return false;
  for (const [word, v] of [['true', true], ['false', false], ['yes', true], ['no', false]] as const) {
    if (word.startsWith(t)) return v;
  }
  return null;
}

/**
 * What is wrong with `value` for `key`, or null, judged by the parameter's kind in the pinned
 * minor's table (no kinds there: only the quote rule). A quote is refused in a string that
 * pgpool does not unescape: pgpool.conf can carry it only as \', and pgpool keeps the
 * backslash (src/config/pool_config.l, extract_string()).
 */
export function kindProblem(key: string, value: string | number | boolean, version: string): string | null {
  const kind = paramKind(key, version);
  const got = `got ${JSON.stringify(value)}`;
  if (typeof value === 'string' && value.includes("'") && !(kind?.type === 'list' && kind.quoteEscapes)) {
    return `pgpool ${version} keeps the backslash of an escaped quote (\\') in ${key}, so its value cannot hold a quote: ${got}`;
  }
  if (!kind) return null;
  // What pgpool reads for a boolean or a number (formatValue): on/off, the digits.
  const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  switch (kind.type) {
    case 'integer':
    case 'real': {
      const what = kind.type === 'integer' ? 'an integer' : 'a number';
      const ok = typeof value === 'number' && (kind.type === 'real' || Number.isInteger(value)) && value >= kind.min && value <= kind.max;
      return ok ? null : `pgpool ${version} takes ${what} from ${kind.min} to ${kind.max} for ${key}, ${got}`;
    }
    case 'boolean':
      return pgpoolBool(text) !== null ? null : `pgpool ${version} takes a boolean (on/off, true/false, yes/no, 1/0) for ${key}, ${got}`;
    case 'enum':
      return kind.values.some((v) => v.toLowerCase() === text.toLowerCase()) ? null : `pgpool ${version} takes one of ${kind.values.join(', ')} for ${key}, ${got}`;
    case 'string':
    case 'list':
      return null;
  }
}
