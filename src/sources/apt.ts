import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Base URLs of the Debian archives this machine's apt is configured with, read from
 * deb822 `.sources` files and one-line `sources.list` entries. The project never names
 * a mirror itself: it goes wherever the machine's own apt goes.
 */
export function parseDeb822(text: string): string[] {
  const uris: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (fields.get('enabled') === 'no' || !types.includes('deb')) continue;
    for (const uri of (fields.get('uris') ?? '').split(/\s+/)) if (uri) uris.push(uri);
  }
  return uris;
}

export function parseSourcesList(text: string): string[] {
  const uris: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    // deb [options] uri suite components...
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    if (m) uris.push(m[1]!);
  }
  return uris;
}

/** Archive roots from an apt configuration directory (default: the machine's /etc/apt). */
export function debianArchiveRoots(aptDir = '/etc/apt'): string[] {
  const found: string[] = [];
  const list = join(aptDir, 'sources.list');
  if (existsSync(list)) found.push(...parseSourcesList(readFileSync(list, 'utf8')));
  const dir = join(aptDir, 'sources.list.d');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (f.endsWith('.sources')) found.push(...parseDeb822(text));
      else if (f.endsWith('.list')) found.push(...parseSourcesList(text));
    }
  }
  // Security archives carry only security uploads; the main archive is the one with pgpool2's pool.
  const roots = found.map((u) => u.replace(/\/+$/, '')).filter((u) => /^https?:/.test(u));
  const ordered = [...roots.filter((u) => !/security/.test(u)), ...roots.filter((u) => /security/.test(u))];
  return [...new Set(ordered)];
}

/** Where the Debian archive keeps the upstream tarball of a pgpool2 version. */
export function debianOrigPath(version: string): string {
  return `pool/main/p/pgpool2/pgpool2_${version}.orig.tar.gz`;
}
