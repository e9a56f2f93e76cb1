/**
 * Pure parsers of what an image's package manager records: Debian's dpkg status database and the
 * machine-readable copyright files (DEP-5), Alpine's apk installed database, and os-release.
 * The SBOM (sbom.ts) is made from their results; sbom-read.ts reads the files from an image.
 */

/** An installed OS package, as its package manager records it. */
export interface OsPackage {
  manager: 'deb' | 'apk';
  name: string;
  version: string;
  /** amd64, all, x86_64, aarch64... */
  arch: string;
  /** Debian's source package (Source:, else the package's own name); Alpine's origin (o:). */
  source?: string;
  /**
   * The licences as the package states them: DEP-5 short names (deb, one per distinct name, a
   * compound "A or B" split into its names), or apk's L: field as it is (SPDX, usually).
   * Empty: not stated (no machine-readable copyright file).
   */
  licences: string[];
}

/** A broken package database: the file, the stanza and what is wrong, in one line. */
export class PackageDbError extends Error {
  constructor(source: string, where: string, message: string) {
    super(`${source}: ${where}: ${message}`);
    this.name = 'PackageDbError';
  }
}

/** One stanza of a deb822 file: its fields (continuation lines kept, joined by "\n") and where it starts. */
interface Stanza {
  line: number;
  fields: Map<string, string>;
}

/**
 * Splits a deb822 text (dpkg status, DEP-5 copyright) into stanzas of fields. Field names are
 * kept as written, compared case-insensitively by fieldOf(); "#" lines are comments.
 */
function deb822(text: string, source: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let last: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      current = undefined;
      return;
    }
    if (line.startsWith('#')) return;
    if (/^[ \t]/.test(line)) {
      if (!current || last === undefined) throw new PackageDbError(source, `line ${i + 1}`, 'a continuation line with no field before it');
      current.fields.set(last, `${current.fields.get(last)}\n${line.trim()}`);
      return;
    }
    const m = /^([!-9;-~][!-9;-~]*):[ \t]*(.*)$/.exec(line);
    if (!m) throw new PackageDbError(source, `line ${i + 1}`, `expected "Field: value", got ${JSON.stringify(line.slice(0, 60))}`);
    if (!current) stanzas.push((current = { line: i + 1, fields: new Map() }));
    last = m[1]!.toLowerCase();
    current.fields.set(last, m[2]!.trim());
  });
  return stanzas;
}

function fieldOf(stanza: Stanza, name: string): string | undefined {
  return stanza.fields.get(name.toLowerCase());
}

/** The package a dpkg stanza is, for messages: "package openssl (stanza at line 12)". */
function stanzaName(s: Stanza, name: string | undefined): string {
  return `${name === undefined ? 'a stanza without Package' : `package ${name}`} (stanza at line ${s.line})`;
}

/**
 * The installed packages of a dpkg status database (/var/lib/dpkg/status): stanzas whose Status
 * says "installed" with the "ok" flag (wanted install, hold or deinstall alike: the files are
 * there); every other state (config-files, half-installed, not-installed) is skipped. An installed
 * stanza without Package, Version or Architecture is an error naming it.
 */
export function parseDpkgStatus(text: string, source = '/var/lib/dpkg/status'): Omit<OsPackage, 'licences'>[] {
  const packages: Omit<OsPackage, 'licences'>[] = [];
  for (const s of deb822(text, source)) {
    const name = fieldOf(s, 'Package');
    const status = fieldOf(s, 'Status')?.split(/\s+/);
    if (!status || status.length !== 3) throw new PackageDbError(source, stanzaName(s, name), 'expected a Status of three words, like "install ok installed"');
    if (status[1] !== 'ok' || status[2] !== 'installed') continue;
    const missing = ['Package', 'Version', 'Architecture'].filter((f) => !fieldOf(s, f));
    if (missing.length) throw new PackageDbError(source, stanzaName(s, name), `installed, but no ${missing.join(', ')} field`);
    const sourceField = fieldOf(s, 'Source')?.split(/\s+/)[0];
    packages.push({ manager: 'deb', name: name!, version: fieldOf(s, 'Version')!, arch: fieldOf(s, 'Architecture')!, source: sourceField ?? name! });
  }
  return packages;
}

/** A DEP-5 License: short name split into its licence names: "GPL-2+ or Artistic, and MIT" → three. */
function licenceNames(shortName: string): string[] {
  return shortName
    .split(/,|\s+(?:and|or)\s+/i)
    .map((n) => n.trim())
    .filter((n) => n !== '' && !/^(and|or)$/i.test(n));
}

/**
 * The licence names a machine-readable Debian copyright file (DEP-5: its first stanza has a
 * Format: field naming copyright-format/1.0) states in its License: fields, each once, in order;
 * null when the file is not machine-readable (free text) or not valid deb822.
 */
export function parseDebianCopyright(text: string, source = 'copyright'): string[] | null {
  let stanzas: Stanza[];
  try {
    stanzas = deb822(text, source);
  } catch (err) {
    if (err instanceof PackageDbError) return null;
    throw err;
  }
  const format = stanzas[0] && fieldOf(stanzas[0], 'Format');
  if (!format || !/copyright-format\/1\.0|dep-?5/i.test(format)) return null;
  // The header's and the Files stanzas' licences; a stand-alone License stanza only holds the text of one of them.
  const stating = stanzas.filter((s, i) => i === 0 || fieldOf(s, 'Files') !== undefined);
  const names = stating.flatMap((s) => {
    const value = fieldOf(s, 'License');
    return value === undefined ? [] : licenceNames(value.split('\n')[0]!);
  });
  return [...new Set(names)];
}

/**
 * The packages of Alpine's installed database (/lib/apk/db/installed): one stanza per package,
 * "X:value" lines (P: name, V: version, A: arch, L: licence, o: origin; the file lines F:, R:,
 * Z: and the rest are not read). A stanza without P: or V: is an error naming it.
 */
export function parseApkInstalled(text: string, source = '/lib/apk/db/installed'): OsPackage[] {
  const packages: OsPackage[] = [];
  let fields = new Map<string, string>();
  let start = 1;
  const finish = () => {
    if (!fields.size) return;
    const name = fields.get('P');
    const missing = ['P', 'V'].filter((f) => !fields.get(f));
    if (missing.length) throw new PackageDbError(source, `${name === undefined ? 'a stanza without P:' : `package ${name}`} (stanza at line ${start})`, `no ${missing.map((f) => `${f}:`).join(', ')} field`);
    const licence = fields.get('L');
    packages.push({ manager: 'apk', name: name!, version: fields.get('V')!, arch: fields.get('A') ?? 'noarch', source: fields.get('o') ?? name!, licences: licence ? [licence] : [] });
  };
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '') {
      finish();
      fields = new Map();
      start = i + 2;
      return;
    }
    const m = /^([A-Za-z]):(.*)$/.exec(line);
    if (!m) throw new PackageDbError(source, `line ${i + 1}`, `expected "X:value", got ${JSON.stringify(line.slice(0, 60))}`);
    // File lines repeat (F:, R:, Z:...); the package's own fields come once, before them.
    if (!fields.has(m[1]!)) fields.set(m[1]!, m[2]!);
  });
  finish();
  return packages;
}

/** The distribution an image says it is (/etc/os-release, /usr/lib/os-release). */
export interface OsRelease {
  /** debian, alpine. */
  id: string;
  /** 12, 3.23.3. */
  versionId: string;
  prettyName?: string;
}

/** Parses os-release's KEY=value lines (values optionally quoted); ID and VERSION_ID are required. */
export function parseOsRelease(text: string, source = '/etc/os-release'): OsRelease {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) vars.set(m[1]!, m[2]!.replace(/^(["'])(.*)\1$/, '$2').replace(/\\(["'$`\\])/g, '$1'));
  }
  const [id, versionId] = [vars.get('ID'), vars.get('VERSION_ID')];
  if (!id || !versionId) throw new PackageDbError(source, '(file)', `expected ID= and VERSION_ID=, got ${id ? '' : 'no ID'}${!id && !versionId ? ' and ' : ''}${versionId ? '' : 'no VERSION_ID'}`);
  return { id, versionId, prettyName: vars.get('PRETTY_NAME') };
}

/**
 * The installed packages of a dpkg status database, each with the licences its copyright file
 * states (`copyright(name)`: the text of /usr/share/doc/<name>/copyright, undefined when there is
 * none); a file that is not machine-readable gives no licence.
 */
export function debianPackages(status: string, copyright: (name: string) => string | undefined, source?: string): OsPackage[] {
  return parseDpkgStatus(status, source).map((p) => {
    const text = copyright(p.name);
    return { ...p, licences: (text !== undefined && parseDebianCopyright(text, `/usr/share/doc/${p.name}/copyright`)) || [] };
  });
}
