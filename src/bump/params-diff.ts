import type { ParamTable } from '../pgpool/extract.js';

/** How pgpool.conf's parameters moved between two releases. */
export interface ParamDiff {
  added: string[];
  removed: string[];
  /** A name that became a deprecated alias of another: pgpool still reads it, with a warning. */
  renamed: { from: string; to: string }[];
}

/** Every name a table accepts without a warning: plain names and indexed ones (shown as name<N>). */
function names(t: ParamTable): Set<string> {
  return new Set([...t.plain, ...t.indexed.map((n) => `${n}<N>`)]);
}

/** Compares the parameter tables of two releases. Pure. */
export function diffParams(old: ParamTable, next: ParamTable): ParamDiff {
  const before = names(old);
  const after = names(next);
  // Aliases are keyed by the bare name: an indexed name (name<N>) is looked up without <N>.
  const bare = (n: string) => n.replace(/<N>$/, '');
  const renamed = [...before]
    .filter((n) => !after.has(n) && bare(n) in next.aliases)
    .map((from) => ({ from, to: next.aliases[bare(from)]! + (from.endsWith('<N>') ? '<N>' : '') }));
  const renamedFrom = new Set(renamed.map((r) => r.from));
  const renamedTo = new Set(renamed.map((r) => r.to));
  return {
    added: [...after].filter((n) => !before.has(n) && !renamedTo.has(n)).sort(),
    removed: [...before].filter((n) => !after.has(n) && !renamedFrom.has(n)).sort(),
    renamed: renamed.sort((a, b) => a.from.localeCompare(b.from)),
  };
}

/** One line per kind of change, for the summary and the changelog. */
export function describeParamDiff(d: ParamDiff): string {
  const list = (xs: string[]) => (xs.length ? `: ${xs.join(', ')}` : '');
  return [
    `${d.added.length} added${list(d.added)}`,
    `${d.removed.length} removed${list(d.removed)}`,
    `${d.renamed.length} renamed${list(d.renamed.map((r) => `${r.from} -> ${r.to}`))}`,
  ].join('; ');
}
