import type { Manifest } from '../manifest/schema.js';
import { compareVersions, minorOf } from '../manifest/version.js';
import type { Component, Targets } from './plan.js';

/** What `pgha bump --check` found for one pinned component. */
export interface Finding {
  component: Component;
  current: string;
  /** The newest release in the pinned line (pgpool and Alpine: same minor; PostgreSQL: same major); null when unreachable. */
  newest: string | null;
  /** The newest release of any line, when it is beyond the pinned one (information only: moving lines is a deliberate bump). */
  newestOverall?: string;
  /** Where it looked. */
  source: string;
  /** Why nothing was found there. */
  error?: string;
}

/** The exit status of `pgha bump --check` (and --latest) when a source could not be read. */
export const EXIT_UNREACHABLE = 3;

/** Where releases are listed; overridable for a mirror (and for tests). */
export function checkSources(env: NodeJS.ProcessEnv = process.env): Record<Component, (m: Manifest) => string> {
  const pgpool = env.PGHA_PGPOOL_DOWNLOADS_URL ?? 'https://www.pgpool.net/mediawiki/index.php/Downloads';
  const hub = (env.PGHA_DOCKER_HUB_URL ?? 'https://hub.docker.com').replace(/\/+$/, '');
  const tags = (repo: string, prefix: string) => `${hub}/v2/repositories/library/${repo}/tags?page_size=100&name=${encodeURIComponent(prefix)}`;
  return {
    pgpool: () => pgpool,
    postgres: (m) => tags('postgres', `${m.postgres.major}.`),
    alpine: (m) => tags('alpine', `${m.alpine.version.split('.')[0]}.`),
  };
}

/** pgpool release numbers named by tarball links in a downloads page. Pure. */
export function pgpoolReleasesIn(html: string): string[] {
  return [...new Set([...html.matchAll(/pgpool-II-(\d+\.\d+\.\d+)\.tar\.gz/g)].map((m) => m[1]!))];
}

/** Tag names of a Docker Hub tags listing that are plain versions (15.20, 3.23.4). Pure. */
export function versionTagsIn(json: unknown, pattern: RegExp): string[] {
  const results = (json as { results?: { name?: unknown }[] })?.results;
  if (!Array.isArray(results)) throw new Error('not a Docker Hub tags listing (no "results" array)');
  return results.map((r) => r.name).filter((n): n is string => typeof n === 'string' && pattern.test(n));
}

const TAG_PATTERN: Record<Exclude<Component, 'pgpool'>, RegExp> = {
  postgres: /^\d+\.\d+$/,
  alpine: /^\d+\.\d+\.\d+$/,
};

/** The line a component stays in unless bumped on purpose. */
function sameLine(component: Component, current: string, candidate: string): boolean {
  if (component === 'postgres') return candidate.split('.')[0] === current.split('.')[0];
  return minorOf(candidate) === minorOf(current);
}

/** The newest in the pinned line (never older than the current), and the newest overall when beyond it. Pure. */
export function newestOf(component: Component, current: string, found: string[]): Pick<Finding, 'newest' | 'newestOverall'> {
  const sorted = [...found].sort(compareVersions);
  const inLine = sorted.filter((v) => sameLine(component, current, v));
  const newest = [current, ...inLine].sort(compareVersions).at(-1)!;
  const overall = sorted.at(-1);
  return overall && compareVersions(overall, newest) > 0 ? { newest, newestOverall: overall } : { newest };
}

async function readSource(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

function reason(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? err.cause.message : err.message;
  return String(err);
}

/** Looks up every pinned component's newest release; a source that cannot be read is reported, never guessed. */
export async function checkReleases(m: Manifest, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Finding[]> {
  const sources = checkSources(opts.env);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const one = async (component: Component): Promise<Finding> => {
    const current = m[component].version;
    const source = sources[component](m);
    try {
      const text = await readSource(source, timeoutMs);
      const found = component === 'pgpool' ? pgpoolReleasesIn(text) : versionTagsIn(JSON.parse(text), TAG_PATTERN[component]);
      if (found.length === 0) throw new Error('no release listed there');
      return { component, current, source, ...newestOf(component, current, found) };
    } catch (err) {
      return { component, current, newest: null, source, error: reason(err) };
    }
  };
  return Promise.all((['pgpool', 'postgres', 'alpine'] as const).map(one));
}

/** The findings as lines for a person. */
export function describeFindings(findings: Finding[]): string {
  return findings
    .map((f) => {
      if (f.newest === null) return `${f.component} ${f.current}: unreachable: ${f.source} (${f.error})`;
      const state = f.newest === f.current ? 'up to date' : `${f.newest} available`;
      const beyond = f.newestOverall ? `; newest of any line: ${f.newestOverall}` : '';
      return `${f.component} ${f.current}: ${state} (from ${f.source}${beyond})`;
    })
    .join('\n');
}

/** The bumps the findings call for (the newest in each pinned line). */
export function targetsFrom(findings: Finding[]): Targets {
  const t: Targets = {};
  for (const f of findings) if (f.newest && f.newest !== f.current) t[f.component] = f.newest;
  return t;
}
