/**
 * Reads pgpool's parameter definitions (src/config/pool_config_variables.c) into a table:
 * plain names, indexed names (backend_hostname0, ...), and deprecated aliases. pgpool marks
 * an alias with the description "Old config parameter for <new name>." With the source's
 * record fields it also reads each parameter's kind (integer and real ranges, enum values,
 * list separators), so a value can be checked before pgpool reads it.
 */
export interface ParamTable {
  /** Names valid as written. */
  plain: string[];
  /** Names valid only with a numeric suffix (backend_hostnameN, hostnameN, ...). */
  indexed: string[];
  /** Old names still accepted, with a warning, mapped to their replacement. */
  aliases: Record<string, string>;
  /**
   * What each parameter (plain or indexed, without its index) takes. Absent in the tables of
   * older minors, whose values are then not checked.
   */
  kinds?: Record<string, ParamKind>;
}

/**
 * A parameter's kind, as pgpool parses its value: `integer` (config_int, config_long and
 * their arrays) and `real` (config_double and its array) with the record's range, `enum` with
 * the names pgpool accepts (case-insensitively), `list` (config_string_list) with its
 * separator. A `list` with `quoteEscapes` turns `\'` back into `'` after splitting
 * (pgpool does this for primary_routing_query_pattern_list only); every other string keeps
 * the backslash.
 */
export type ParamKind =
  | { type: 'boolean' }
  | { type: 'integer'; min: number; max: number }
  | { type: 'real'; min: number; max: number }
  | { type: 'enum'; values: string[] }
  | { type: 'string' }
  | { type: 'list'; separator: string; quoteEscapes?: true };

export function extractParams(source: string): ParamTable {
  const plain = new Set<string>();
  const indexed = new Set<string>();
  const aliases: Record<string, string> = {};
  const arrays = /static struct (config_[a-z_]+) ConfigureNames\w*\[\] =\s*\{([\s\S]*?)\n\};/g;
  for (const [, kind, body] of source.matchAll(arrays)) {
    const entries = /\{\s*"([A-Za-z0-9_]+)",\s*CFGCXT_\w+,\s*\w+,\s*"((?:[^"\\]|\\.)*)"/g;
    const seenInThisArray = new Set<string>();
    for (const [, name, description] of body!.matchAll(entries)) {
      const alias = /^Old config parameter for ([A-Za-z0-9_]+)/.exec(description!);
      if (alias) aliases[name!] = alias[1]!;
      else if (kind!.endsWith('_array')) {
        // An array variable listed twice has a "no index" twin: both forms are valid
        // (health_check_period is the default, health_check_period0 the override).
        if (seenInThisArray.has(name!)) plain.add(name!);
        else indexed.add(name!);
        seenInThisArray.add(name!);
      } else plain.add(name!);
    }
  }
  return { plain: [...plain].sort(), indexed: [...indexed].sort(), aliases: sortKeys(aliases) };
}

/**
 * The kind of every parameter the source defines (aliases left out: pgha refuses them), keyed
 * by name. Throws when a record has a shape or a range expression it does not know, so a new
 * pgpool release is read correctly or not at all.
 */
export function extractKinds(source: string): Record<string, ParamKind> {
  const text = stripComments(source);
  const enums = enumOptions(text);
  const regexLists = new Set(
    [...text.matchAll(/strcmp\(\s*[\w>.-]+\s*,\s*"(\w+)"\s*\)\s*==\s*0\s*\)\s*\{\s*\*conf->variable\s*=\s*get_list_from_string_regex_delim/g)].map((m) => m[1]!),
  );
  const kinds: Record<string, ParamKind> = {};
  const arrays = /static struct (config_[a-z_]+) ConfigureNames\w*\[\] =\s*\{([\s\S]*?)\n\};/g;
  for (const [, struct, body] of text.matchAll(arrays)) {
    // pgpool sets each record's type from the array it is in (build_config_variables), not
    // from the header, which is sometimes wrong (notice_per_node_statement says ENUM in the
    // array of booleans).
    if (struct === 'config_grouped_array_var') continue;
    for (const entry of topLevelBraces(body!)) {
      const fields = splitFields(entry);
      const header = fields[0]!;
      if (!header.startsWith('{')) continue; // {NULL} end marker
      const h = splitFields(header.slice(1, -1));
      const name = /^"(\w+)"$/.exec(h[0] ?? '')?.[1];
      const description = h[3] ?? '';
      if (!name) throw new Error(`unreadable record header: ${header.slice(0, 80)}`);
      if (/^"Old config parameter for /.test(description)) continue;
      const rest = fields.slice(1);
      kinds[name] = kindOf(name, struct!, rest, enums, regexLists.has(name));
    }
  }
  return sortKeys(kinds);
}

/** The kind of one record of the array of `struct`, from the fields after its header. */
function kindOf(name: string, struct: string, f: string[], enums: Map<string, string[]>, quoteEscapes: boolean): ParamKind {
  const range = (at: number) => ({ min: evalConstant(f[at]!, name), max: evalConstant(f[at + 1]!, name) });
  switch (struct) {
    case 'config_bool':
      return { type: 'boolean' };
    // variable, boot value, min, max
    case 'config_int':
    case 'config_int_array':
    case 'config_long':
      return { type: 'integer', ...range(2) };
    case 'config_double':
    case 'config_double_array':
      return { type: 'real', ...range(2) };
    case 'config_string':
    case 'config_string_array':
      return { type: 'string' };
    // variable, item count variable, boot value, separator
    case 'config_string_list': {
      const separator = /^"((?:[^"\\]|\\.)*)"$/.exec(f[3] ?? '')?.[1];
      if (separator === undefined) throw new Error(`${name}: unreadable list separator ${f[3]}`);
      return quoteEscapes ? { type: 'list', separator, quoteEscapes: true } : { type: 'list', separator };
    }
    // variable, boot value, options
    case 'config_enum': {
      const values = enums.get(f[2] ?? '');
      if (!values) throw new Error(`${name}: unknown enum options ${f[2]}`);
      return { type: 'enum', values };
    }
    default:
      throw new Error(`${name}: unknown record type struct ${struct}`);
  }
}

/** Names of every `static const struct config_enum_entry NAME[] = { {"name", VALUE, hidden}, ... }`. */
function enumOptions(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [, name, body] of text.matchAll(/struct config_enum_entry (\w+)\[\]\s*=\s*\{([\s\S]*?)\n\};/g)) {
    out.set(name!, [...body!.matchAll(/\{\s*"([^"]+)"\s*,/g)].map((m) => m[1]!));
  }
  return out;
}

const C_CONSTANTS: Record<string, number> = {
  INT_MAX: 2 ** 31 - 1,
  INT_MIN: -(2 ** 31),
  // As a double: pgpool compares int64 values, which JSON numbers cannot hold exactly; no
  // value a cluster definition can give lies between the two.
  LONG_MAX: 2 ** 63 - 1,
};

/** The value of a range bound: a C number (decimal, octal 0777, hex, real), a limit macro, a cast, + - * /. */
export function evalConstant(expr: string, name = '?'): number {
  const tokens = expr.replace(/\((?:int|int64|long|double|float)\)/g, ' ').match(/0[xX][0-9a-fA-F]+|\d+\.\d*|\.\d+|\d+|[A-Z_][A-Z0-9_]*|[-+*/()]|\S/g) ?? [];
  let i = 0;
  const fail = (): never => {
    throw new Error(`${name}: cannot evaluate range bound "${expr.trim()}"`);
  };
  const primary = (): number => {
    const t = tokens[i++];
    if (t === undefined) return fail();
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (t === '(') {
      const v = sum();
      if (tokens[i++] !== ')') fail();
      return v;
    }
    if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
    if (/^0[0-7]+$/.test(t)) return parseInt(t, 8);
    if (/^(\d+\.?\d*|\.\d+)$/.test(t)) return Number(t);
    if (t in C_CONSTANTS) return C_CONSTANTS[t]!;
    return fail();
  };
  const product = (): number => {
    let v = primary();
    while (tokens[i] === '*' || tokens[i] === '/') {
      const op = tokens[i++];
      const r = primary();
      v = op === '*' ? v * r : Math.trunc(v / r);
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[i] === '+' || tokens[i] === '-') {
      const op = tokens[i++];
      const r = product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  if (i !== tokens.length || !Number.isFinite(v)) fail();
  return v;
}

/** The source with C comments blanked (string literals kept as they are). */
function stripComments(source: string): string {
  return source.replace(/"(?:[^"\\\n]|\\.)*"|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m) => (m.startsWith('"') ? m : ' '));
}

/** The text of each top-level `{ ... }` of an initializer list, braces included. */
function topLevelBraces(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  forEachCodeChar(body, (c, i) => {
    if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) out.push(body.slice(start, i + 1));
    }
  });
  return out;
}

/** The comma-separated fields of one `{ ... }` (outer braces removed when present), nested braces kept whole. */
function splitFields(entry: string): string[] {
  const inner = entry.startsWith('{') && entry.endsWith('}') ? entry.slice(1, -1) : entry;
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  forEachCodeChar(inner, (c, i) => {
    if (c === '{' || c === '(') depth++;
    else if (c === '}' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(inner.slice(from, i).trim());
      from = i + 1;
    }
  });
  const last = inner.slice(from).trim();
  if (last) out.push(last);
  return out;
}

/** Calls `fn` for every character outside string and character literals. */
function forEachCodeChar(text: string, fn: (c: string, i: number) => void): void {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
      continue;
    }
    fn(c, i);
  }
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
