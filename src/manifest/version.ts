/** The major.minor part of a dotted version: "4.7.2" → "4.7", "3.23.3" → "3.23". */
export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/** Orders dotted numeric versions: negative when a < b ("4.7.10" > "4.7.9"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
