/** A copy from Debian's archive, and the signed chain that vouched for its bytes. */
export interface DebianOrigin {
  kind: 'debian';
  /** The orig tarball's URL in the pool. */
  url: string;
  /** The suite whose signed InRelease listed it (unstable), and its codename (sid). */
  suite: string;
  codename?: string;
  /** The InRelease's Date and Valid-Until, as written there. */
  date: string;
  validUntil?: string;
  /** The fingerprints of the good signatures gpgv found, and the keyring it used. */
  fingerprints: string[];
  keyring: string;
  /** The index whose sha256 the InRelease lists (main/source/Sources.gz). */
  index: string;
  /** The Debian source version whose Checksums-Sha256 named the tarball (4.7.3-1). */
  sourceVersion: string;
}

/** Where a new release's tarball came from: the manifest's URL, or a verified Debian copy. */
export type TarballOrigin = { kind: 'upstream'; url: string } | DebianOrigin;

/**
 * The origin in one line, for the bump summary (the pull request body) and the changelog. A
 * Debian copy says so first: the reviewer is to see that the bytes are not pgpool.net's own.
 */
export function describeOrigin(o: TarballOrigin): string {
  if (o.kind === 'upstream') return `upstream, ${o.url}`;
  const suite = o.codename && o.codename !== o.suite ? `${o.suite} (${o.codename})` : o.suite;
  return [
    `the Debian archive, not upstream: ${o.url}`,
    `pgpool2 ${o.sourceVersion} of ${suite}, InRelease dated ${o.date}${o.validUntil ? ` (valid until ${o.validUntil})` : ''}`,
    `signed by ${o.fingerprints.join(', ')} (gpgv, ${o.keyring}), ${o.index} and the orig tarball checked against its sha256 lists`,
  ].join('; ');
}
