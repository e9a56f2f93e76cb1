import { debianArchiveRoots } from '../apt.js';

/**
 * Where `pgha bump` may take a pgpool tarball from when pgpool.net fails: Debian's own archive
 * hosts, and nothing else. The one place this list is written (docs/releases.md shows it; a test
 * compares the two). `<cc>` stands for a two-letter country code (ftp.de.debian.org).
 */
export const DEBIAN_ARCHIVE_HOSTS = ['deb.debian.org', 'ftp.debian.org', 'ftp.<cc>.debian.org', 'security.debian.org'] as const;

/** The keyring InRelease is checked against: Debian's archive keys, as apt itself uses them. */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * The suites tried, in order. A new pgpool patch release reaches unstable first, then testing;
 * the stable releases carry an older line. The security archive only carries security uploads.
 */
export const MAIN_SUITES = ['unstable', 'testing', 'trixie', 'bookworm'] as const;
export const SECURITY_SUITES = ['trixie-security', 'bookworm-security'] as const;

/** An archive root and the suites to look for the version in. */
export interface Archive {
  root: string;
  suites: readonly string[];
}

/** Tried after the archives of the machine's apt configuration that are on the list. */
export const DEFAULT_ARCHIVES: readonly Archive[] = [
  { root: 'https://deb.debian.org/debian', suites: MAIN_SUITES },
  { root: 'https://security.debian.org/debian-security', suites: SECURITY_SUITES },
];

function hostPattern(rule: string): RegExp {
  const escaped = rule.replace(/[.]/g, '\\.').replace('<cc>', '[a-z]{2}');
  return new RegExp(`^${escaped}$`);
}

/**
 * Why `url` is not an archive `pgha bump` takes sources from, or undefined when it is: http(s),
 * no credentials, and a host of `hosts` (the port does not matter: the signature does).
 */
export function archiveUrlProblem(url: string, hosts: readonly string[] = DEBIAN_ARCHIVE_HOSTS): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${url} is not a URL`;
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.username || parsed.password) return `${url} is not a plain http(s) URL`;
  const host = parsed.hostname.toLowerCase();
  if (!hosts.some((rule) => hostPattern(rule).test(host))) return `${host} is not one of Debian's archive hosts (${hosts.join(', ')})`;
  return undefined;
}

/** The suites of an archive root: the security archive's own, else the main archive's. */
function suitesOf(root: string): readonly string[] {
  return /\/debian-security$/.test(root) ? SECURITY_SUITES : MAIN_SUITES;
}

/**
 * The archives to verify a fallback copy from: the machine's apt configuration first (its mirror
 * may be the one reachable), only those on Debian's hosts, then the defaults not already there.
 * The rest are returned as `skipped`, each with its reason.
 */
export function archivesToTry(opts: { aptDir?: string; hosts?: readonly string[]; defaults?: readonly Archive[] }): { archives: Archive[]; skipped: string[] } {
  // By host and path: the same archive over http and https is tried once, over https.
  const byPlace = new Map<string, Archive>();
  const skipped: string[] = [];
  const add = (a: Archive) => {
    const key = a.root.replace(/^https?:\/\//, '');
    const known = byPlace.get(key);
    if (!known || (a.root.startsWith('https:') && !known.root.startsWith('https:'))) byPlace.set(key, a);
  };
  for (const root of debianArchiveRoots(opts.aptDir)) {
    const problem = archiveUrlProblem(root, opts.hosts);
    if (problem) skipped.push(problem);
    else add({ root, suites: suitesOf(root) });
  }
  for (const a of opts.defaults ?? DEFAULT_ARCHIVES) {
    const problem = archiveUrlProblem(a.root, opts.hosts);
    if (problem) skipped.push(problem);
    else add(a);
  }
  return { archives: [...byPlace.values()], skipped };
}
