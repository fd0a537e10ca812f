import { Token } from 'aws-cdk-lib';

/** A fully qualified domain name with at least two labels (Active Directory DNS names). */
export const FQDN_RE = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+$/;
/** NetBIOS name of a domain (1–15 characters, no dots). */
export const NETBIOS_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/;
/**
 * Opt-in Regions, where AWS Directory Service documents multi-Region replication as unavailable
 * ("Configure Multi-Region replication for AWS Managed Microsoft AD").
 */
export const NO_MULTI_REGION_REPLICATION = new Set([
  'af-south-1', 'ap-east-1', 'ap-south-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-7',
  'ca-west-1', 'eu-south-1', 'eu-south-2', 'eu-central-2', 'il-central-1', 'me-south-1', 'me-central-1', 'mx-central-1',
]);
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|[01]?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d?\d)$/;

/** Parses an IPv4 CIDR into [first, last] address as unsigned integers, or undefined when malformed. */
export function cidrRange(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!m || !IPV4_RE.test(m[1])) return undefined;
  const bits = Number(m[2]);
  if (bits > 32) return undefined;
  const ip = m[1].split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - bits);
  const first = ip - (ip % size);
  return [first, first + size - 1];
}

export function cidrsOverlap(a: string, b: string): boolean {
  const ra = cidrRange(a);
  const rb = cidrRange(b);
  if (!ra || !rb) return false;
  return ra[0] <= rb[1] && rb[0] <= ra[1];
}

export function isIpv4(s: string): boolean {
  return IPV4_RE.test(s);
}

/** Collects problems of one construct and throws once, naming the construct path. */
export class Problems {
  private readonly list: string[] = [];

  add(problem: string): void {
    this.list.push(problem);
  }

  /** Checks `value` unless it is an unresolved token. */
  check(value: string | undefined, ok: (v: string) => boolean, problem: string): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!ok(value)) this.add(problem);
  }

  throwIfAny(path: string): void {
    if (this.list.length > 0) {
      throw new Error(`${path}: invalid props:\n  - ${this.list.join('\n  - ')}`);
    }
  }
}

/** Validates a list of CIDRs (skipping tokens) and that none of them overlap each other. */
export function checkDistinctCidrs(problems: Problems, named: Array<[string, string | undefined]>): void {
  const known = named.filter((n): n is [string, string] => n[1] !== undefined && !Token.isUnresolved(n[1]));
  for (const [name, cidr] of known) {
    if (!cidrRange(cidr)) problems.add(`${name} "${cidr}" is not an IPv4 CIDR (example: 10.10.0.0/16)`);
  }
  // Each pair once, in input order.
  known.forEach(([nameA, a], i) => {
    for (const [nameB, b] of known.slice(i + 1)) {
      if (cidrsOverlap(a, b)) problems.add(`${nameA} ${a} overlaps ${nameB} ${b}; the networks are routed to each other and must not overlap`);
    }
  });
}
