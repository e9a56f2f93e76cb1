import { minorOf } from '../manifest/version.js';
import type { ParamTable } from './extract.js';
import t43 from '../../data/pgpool-params/4.3.json' with { type: 'json' };
import t44 from '../../data/pgpool-params/4.4.json' with { type: 'json' };
import t45 from '../../data/pgpool-params/4.5.json' with { type: 'json' };
import t46 from '../../data/pgpool-params/4.6.json' with { type: 'json' };
import t47 from '../../data/pgpool-params/4.7.json' with { type: 'json' };
import renameData from '../../data/pgpool-params/renames.json' with { type: 'json' };

/**
 * pgpool logs an unknown pgpool.conf key at INFO and ignores it, so a key renamed between
 * versions silently does nothing. Every key we render or accept from a user is checked
 * against the table of the pinned minor.
 */
export interface VersionTable extends ParamTable {
  release: string;
}

export const PARAM_TABLES: Record<string, VersionTable> = {
  '4.3': t43,
  '4.4': t44,
  '4.5': t45,
  '4.6': t46,
  '4.7': t47,
};

export interface Rename {
  from: string;
  to: string;
  since: string;
}
export const RENAMES: Rename[] = renameData.renames;

export function supportedMinors(): string[] {
  return Object.keys(PARAM_TABLES);
}

const indexSuffix = /^(.*?)(\d+)$/;

/** Returns null when `key` is valid for the pinned pgpool version, else what is wrong. */
export function checkKey(key: string, version: string): string | null {
  const table = PARAM_TABLES[minorOf(version)];
  if (!table) return `pgpool ${version} has no parameter table (supported: ${supportedMinors().join(', ')})`;
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
