/**
 * lib/ad-trust/validation.ts at its edges: CIDR bounds (/0, /32, ranges that touch), IPv4 octets, the token
 * skip of Problems.check, and the order and pairing of overlap reports (each pair once, never a CIDR with itself).
 */
import { Token } from 'aws-cdk-lib';
import { checkDistinctCidrs, cidrRange, cidrsOverlap, isIpv4, Problems } from '../../lib/ad-trust/validation';

function problemsOf(fill: (p: Problems) => void): string | undefined {
  const p = new Problems();
  fill(p);
  try {
    p.throwIfAny('Stack/Construct');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('cidrRange', () => {
  test('a /32 is one address; a /31 two; host bits are cleared at every prefix length', () => {
    expect(cidrRange('10.0.0.7/32')).toEqual([0x0a000007, 0x0a000007]);
    expect(cidrRange('10.0.0.7/31')).toEqual([0x0a000006, 0x0a000007]);
    expect(cidrRange('192.168.255.255/24')).toEqual([0xc0a8ff00, 0xc0a8ffff]);
    expect(cidrRange('255.255.255.255/1')).toEqual([0x80000000, 0xffffffff]);
    expect(cidrRange('1.2.3.4/8')).toEqual([0x01000000, 0x01ffffff]);
  });

  test('malformed input is undefined, not a range', () => {
    for (const bad of ['10.0.0.0/', '10.0.0.0/123', ' 10.0.0.0/16', '10.0.0.0/16 ', '10.0.0.0.0/16', '10.0.0/16', 'a.b.c.d/16', '10.0.0.0/-1', '1000.0.0.0/8', '10.0.0.0/16/1']) {
      expect(cidrRange(bad)).toBeUndefined();
    }
  });
});

describe('cidrsOverlap', () => {
  test('ranges that share one address overlap, from either side', () => {
    expect(cidrsOverlap('10.0.0.255/32', '10.0.0.0/24')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/24', '10.0.0.255/32')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/32', '10.0.0.0/24')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/24', '10.0.0.0/32')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/16', '10.0.0.0/16')).toBe(true);
  });

  test('adjacent ranges do not overlap, in either order', () => {
    expect(cidrsOverlap('10.0.1.0/24', '10.0.0.0/24')).toBe(false);
    expect(cidrsOverlap('10.0.0.0/24', '10.0.1.0/24')).toBe(false);
    expect(cidrsOverlap('10.0.1.0/32', '10.0.0.255/32')).toBe(false);
  });

  test('a malformed side never overlaps', () => {
    expect(cidrsOverlap('10.0.0.0/16', 'x')).toBe(false);
    expect(cidrsOverlap('x', '10.0.0.0/16')).toBe(false);
  });
});

test('isIpv4: four octets 0..255, nothing else', () => {
  for (const ok of ['0.0.0.0', '255.255.255.255', '192.168.10.10', '10.0.0.1', '249.250.199.9']) expect(isIpv4(ok)).toBe(true);
  for (const bad of ['256.0.0.1', '10.0.0', '10.0.0.1.2', '10.0.0.1/32', ' 10.0.0.1', 'a.b.c.d', '10.0.0.-1', '300.1.1.1', '']) expect(isIpv4(bad)).toBe(false);
});

describe('Problems', () => {
  test('check: undefined and unresolved tokens are skipped; a failing value adds the problem, a passing one does not', () => {
    const seen: string[] = [];
    const ok = (v: string) => {
      seen.push(v);
      return v.startsWith('good');
    };
    expect(
      problemsOf((p) => {
        p.check(undefined, ok, 'undefined was checked');
        p.check(Token.asString({ Ref: 'Param' }), ok, 'a token was checked');
        p.check('good-value', ok, 'a good value was refused');
        p.check('bad-value', ok, 'bad-value is bad');
      }),
    ).toBe('Stack/Construct: invalid props:\n  - bad-value is bad');
    expect(seen).toEqual(['good-value', 'bad-value']);
  });

  test('throwIfAny lists every problem in order, once; no problems, no error', () => {
    expect(problemsOf(() => undefined)).toBeUndefined();
    expect(
      problemsOf((p) => {
        p.add('first');
        p.add('second');
      }),
    ).toBe('Stack/Construct: invalid props:\n  - first\n  - second');
  });
});

describe('checkDistinctCidrs', () => {
  test('every overlapping pair once, in input order, never a CIDR with itself', () => {
    expect(
      problemsOf((p) =>
        checkDistinctCidrs(p, [
          ['vpc', '10.0.0.0/8'],
          ['replica', '10.1.0.0/16'],
          ['onprem', '192.168.0.0/16'],
          ['office', '10.1.2.0/24'],
        ]),
      ),
    ).toBe(
      'Stack/Construct: invalid props:\n' +
        '  - vpc 10.0.0.0/8 overlaps replica 10.1.0.0/16; the networks are routed to each other and must not overlap\n' +
        '  - vpc 10.0.0.0/8 overlaps office 10.1.2.0/24; the networks are routed to each other and must not overlap\n' +
        '  - replica 10.1.0.0/16 overlaps office 10.1.2.0/24; the networks are routed to each other and must not overlap',
    );
  });

  test('distinct networks and a single CIDR pass', () => {
    expect(problemsOf((p) => checkDistinctCidrs(p, [['vpc', '10.10.0.0/16'], ['replica', '10.30.0.0/16'], ['onprem', '192.168.0.0/16']]))).toBeUndefined();
    expect(problemsOf((p) => checkDistinctCidrs(p, [['vpc', '10.10.0.0/16']]))).toBeUndefined();
    expect(problemsOf((p) => checkDistinctCidrs(p, []))).toBeUndefined();
  });

  test('a malformed CIDR is reported once and takes part in no overlap report; tokens are skipped entirely', () => {
    expect(
      problemsOf((p) =>
        checkDistinctCidrs(p, [
          ['vpc', '10.0.0.0/33'],
          ['replica', Token.asString({ Ref: 'Cidr' })],
          ['onprem', '10.0.0.0/16'],
        ]),
      ),
    ).toBe('Stack/Construct: invalid props:\n  - vpc "10.0.0.0/33" is not an IPv4 CIDR (example: 10.10.0.0/16)');
  });
});
