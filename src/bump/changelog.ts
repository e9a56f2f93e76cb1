import type { Manifest } from '../manifest/schema.js';
import type { Change } from './plan.js';

export const CHANGELOG_FILE = 'CHANGELOG.md';

const HEADER = `# Changelog

The versions pinned in versions.json, as \`pgha bump\` moved them. The format follows
[Keep a Changelog](https://keepachangelog.com/en/1.1.0/); an entry is named by the versions
the images were built from after it.
`;

export interface ChangelogFacts {
  /** YYYY-MM-DD */
  date: string;
  next: Manifest;
  changes: Change[];
  /** For a pgpool bump: where the tarball came from and its sha256. */
  tarball?: { sha256: string; origin: string };
  /** Lines on the patch set and the parameters (already worded). */
  patches?: string;
  params?: string;
  dropped?: string[];
}

/** One Keep a Changelog entry for a bump. Pure. */
export function changelogEntry(f: ChangelogFacts): string {
  const title = `postgres ${f.next.postgres.version}, pgpool ${f.next.pgpool.version}, alpine ${f.next.alpine.version}`;
  const lines = [`## [${title}] - ${f.date}`, '', '### Changed', ''];
  for (const c of f.changes) {
    const extra = c.component === 'pgpool' && f.tarball ? ` (tarball sha256 ${f.tarball.sha256}, fetched from ${f.tarball.origin})` : '';
    lines.push(`- ${c.component} ${c.from} -> ${c.to}${extra}`);
  }
  if (f.patches) lines.push(`- patches: ${f.patches}`);
  if (f.params) lines.push(`- pgpool.conf parameters: ${f.params}`);
  if (f.dropped?.length) {
    lines.push('', '### Removed', '', ...f.dropped.map((p) => `- ${p} (a patch of a minor no longer pinned)`));
  }
  return lines.join('\n') + '\n';
}

/**
 * The changelog with `entry` as its newest release entry: before the first `## ` heading
 * outside a fenced block, after an `## [Unreleased]` section. A new or empty file gets the
 * header first. Pure.
 */
export function addChangelogEntry(existing: string | undefined, entry: string): string {
  const text = existing?.trim() ? existing : HEADER;
  const lines = text.split('\n');
  let fenced = false;
  let at = -1;
  for (let i = 0; i < lines.length; i++) {
    if (/^(```|~~~)/.test(lines[i]!)) fenced = !fenced;
    if (fenced || !lines[i]!.startsWith('## ')) continue;
    if (/^## \[?Unreleased\]?/i.test(lines[i]!)) continue;
    at = i;
    break;
  }
  if (at < 0) return `${text.replace(/\n*$/, '\n')}\n${entry}`;
  return [...lines.slice(0, at), ...entry.replace(/\n$/, '').split('\n'), '', ...lines.slice(at)].join('\n');
}
