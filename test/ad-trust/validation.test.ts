import { Token } from 'aws-cdk-lib';
import { checkDistinctCidrs, cidrRange, cidrsOverlap, FQDN_RE, NETBIOS_RE, Problems } from '../../lib/ad-trust/validation';

test('cidrRange normalizes host bits and rejects malformed CIDRs', () => {
  expect(cidrRange('10.10.0.0/16')).toEqual([0x0a0a0000, 0x0a0affff]);
  expect(cidrRange('10.10.5.7/16')).toEqual([0x0a0a0000, 0x0a0affff]);
  expect(cidrRange('0.0.0.0/0')).toEqual([0, 0xffffffff]);
  for (const bad of ['10.10.0.0', '10.10.0.0/33', '256.1.1.1/8', '10.10/16', 'x']) expect(cidrRange(bad)).toBeUndefined();
});

test('cidrsOverlap', () => {
  expect(cidrsOverlap('10.10.0.0/16', '10.30.0.0/16')).toBe(false);
  expect(cidrsOverlap('10.10.0.0/16', '10.10.128.0/17')).toBe(true);
  expect(cidrsOverlap('10.0.0.0/8', '10.255.255.0/24')).toBe(true);
  expect(cidrsOverlap('192.168.0.0/24', '192.168.1.0/24')).toBe(false);
});

test('checkDistinctCidrs names both sides of every overlap, skips tokens, reports malformed input', () => {
  const p = new Problems();
  checkDistinctCidrs(p, [
    ['a', '10.0.0.0/16'],
    ['b', '10.0.1.0/24'],
    ['c', Token.asString({ Ref: 'X' })],
    ['d', 'nonsense'],
    ['e', undefined],
  ]);
  expect(() => p.throwIfAny('Stack/X')).toThrow(
    'Stack/X: invalid props:\n  - d "nonsense" is not an IPv4 CIDR (example: 10.10.0.0/16)\n  - a 10.0.0.0/16 overlaps b 10.0.1.0/24; the networks are routed to each other and must not overlap',
  );
  expect(() => new Problems().throwIfAny('ok')).not.toThrow();
});

test('domain name and NetBIOS patterns', () => {
  for (const ok of ['corp.aws.example.com', 'a.b', 'my-corp.example.org']) expect(FQDN_RE.test(ok)).toBe(true);
  for (const bad of ['corp', '-corp.example.com', 'corp-.example.com', 'bad_name.example.com', 'corp..example.com', 'corp.example.com.']) expect(FQDN_RE.test(bad)).toBe(false);
  expect(NETBIOS_RE.test('CORP')).toBe(true);
  expect(NETBIOS_RE.test('CORPORATIONNAME16')).toBe(false);
});
