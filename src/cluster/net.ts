/** IPv4 helpers for deriving node addresses from the compose subnet. */

const OCTET = '(0|[1-9]\\d{0,2})';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/**
 * An IPv4 address in dotted decimal, as a number; null for anything else. An octet with a
 * leading zero (`030`) is refused: iproute2 and inet_aton read it as octal (24), so the
 * address the kernel gets would not be the one written.
 */
export function ipv4ToInt(ip: string): number | null {
  const m = IPV4.exec(ip);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return null;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

/** Whether `ip` looks like an IPv4 address but has an octet with a leading zero. */
export function hasLeadingZero(ip: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && ip.split('.').some((o) => o.length > 1 && o.startsWith('0'));
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
  const m = /^([\d.]+)\/(0|[1-9]\d?)$/.exec(cidr);
  if (!m) return null;
  const addr = ipv4ToInt(m[1]!);
  const prefix = Number(m[2]);
  if (addr === null || prefix < 8 || prefix > 30) return null;
  const size = 2 ** (32 - prefix);
  if (addr % size !== 0) return null;
  return { first: addr, last: addr + size - 1, prefix };
}

/** A well-known block (any prefix, unlike parseCidr's subnets). */
const range = (cidr: string): Cidr => {
  const [address, prefix] = cidr.split('/');
  const size = 2 ** (32 - Number(prefix));
  const first = ipv4ToInt(address!)!;
  return { first, last: first + size - 1, prefix: Number(prefix) };
};
const inside = (net: Cidr, outer: Cidr) => net.first >= outer.first && net.last <= outer.last;
const overlaps = (net: Cidr, outer: Cidr) => net.first <= outer.last && net.last >= outer.first;

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
const LOOPBACK = '127.0.0.0/8';
const MULTICAST = '224.0.0.0/4';

/**
 * Why a subnet is a poor choice for the cluster network, or null. Not an error: compose
 * creates the network, but containers then shadow loopback, multicast or someone's public
 * addresses of that range.
 */
export function subnetWarning(cidr: string): string | null {
  const net = parseCidr(cidr);
  if (!net) return null;
  if (overlaps(net, range(LOOPBACK))) return `${cidr} overlaps the loopback range ${LOOPBACK}; expected a private range (${PRIVATE.join(', ')})`;
  if (overlaps(net, range(MULTICAST))) return `${cidr} overlaps the multicast range ${MULTICAST}; expected a private range (${PRIVATE.join(', ')})`;
  if (!PRIVATE.some((p) => inside(net, range(p)))) {
    return `${cidr} is not inside a private range (${PRIVATE.join(', ')}): its addresses may belong to hosts elsewhere, which the cluster could then not reach`;
  }
  return null;
}
