/**
 * Reads pgpool's parameter definitions (src/config/pool_config_variables.c) into a table:
 * plain names, indexed names (backend_hostname0, ...), and deprecated aliases. pgpool marks
 * an alias with the description "Old config parameter for <new name>."
 */
export interface ParamTable {
  /** Names valid as written. */
  plain: string[];
  /** Names valid only with a numeric suffix (backend_hostnameN, hostnameN, ...). */
  indexed: string[];
  /** Old names still accepted, with a warning, mapped to their replacement. */
  aliases: Record<string, string>;
}

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

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
