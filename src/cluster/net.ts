/** IPv4 helpers for deriving node addresses from the compose subnet. */

export function ipv4ToInt(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return null;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  first: number;
  last: number;
  prefix: number;
}

/** Parses an IPv4 CIDR whose address is the network address itself. */
export function parseCidr(cidr: string): Cidr | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) return null;
  const addr = ipv4ToInt(m[1]!);
  const prefix = Number(m[2]);
  if (addr === null || prefix < 8 || prefix > 30) return null;
  const size = 2 ** (32 - prefix);
  if (addr % size !== 0) return null;
  return { first: addr, last: addr + size - 1, prefix };
}
