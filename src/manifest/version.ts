/** The major.minor part of a dotted version: "4.7.2" → "4.7", "3.23.3" → "3.23". */
export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}
