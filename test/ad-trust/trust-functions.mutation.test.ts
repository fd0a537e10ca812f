/**
 * The plain functions of lambda/ad-trust/trust.ts that the CreateTrust custom resource is built from:
 * property validation (every message), the physical-ID record of who created a trust, the adoption check,
 * the in-place update and the state polls. Pure functions are called directly.
 *
 * aws-sdk-client-mock is used for the Directory Service calls here because moto 5.2 never moves a trust out
 * of "Creating", does not implement UpdateTrust / UpdateConditionalForwarder and does not page
 * DescribeTrusts; the Secrets Manager and CreateTrust/DescribeTrusts/DeleteTrust paths moto does implement are
 * run against moto in trust-moto.mutation.test.ts.
 */
import {
  DescribeTrustsCommand,
  DirectoryServiceClient,
  EntityDoesNotExistException,
  Trust,
  UpdateConditionalForwarderCommand,
  UpdateTrustCommand,
} from '@aws-sdk/client-directory-service';
import { mockClient } from 'aws-sdk-client-mock';
import {
  checkAdoptable,
  checkTrustDeleted,
  checkTrustReady,
  describeTrust,
  findTrust,
  parseTrustPhysicalId,
  parseTrustProps,
  requiresReplacement,
  TrustProps,
  trustPhysicalId,
  updateTrust,
} from '../../lambda/ad-trust/trust';

const DIR = 'd-1234567890';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf';
const RAW = { DirectoryId: DIR, RemoteDomainName: 'onprem.example.com', TrustPasswordSecretArn: ARN, ConditionalForwarderIpAddrs: ['192.168.10.10'], SelectiveAuth: 'Disabled' };
const PROPS: TrustProps = { ...RAW, SelectiveAuth: 'Disabled', AdoptExisting: false };

/** parseTrustProps' error message, or undefined. */
function problem(raw: Record<string, unknown>): string | undefined {
  try {
    parseTrustProps(raw);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('parseTrustProps', () => {
  test('valid properties: the remote domain in lower case, SelectiveAuth Disabled and AdoptExisting false by default', () => {
    const { SelectiveAuth: _s, ...noSel } = RAW;
    expect(parseTrustProps({ ...noSel, RemoteDomainName: 'OnPrem.Example.COM' })).toEqual({ ...PROPS, SelectiveAuth: 'Disabled', AdoptExisting: false });
    expect(parseTrustProps({ ...RAW, SelectiveAuth: 'Enabled', AdoptExisting: true }).SelectiveAuth).toBe('Enabled');
    expect(parseTrustProps({ ...RAW, AdoptExisting: true }).AdoptExisting).toBe(true);
    expect(parseTrustProps({ ...RAW, AdoptExisting: 'true' }).AdoptExisting).toBe(true);
    expect(parseTrustProps({ ...RAW, AdoptExisting: false }).AdoptExisting).toBe(false);
    expect(parseTrustProps({ ...RAW, AdoptExisting: 'false' }).AdoptExisting).toBe(false);
  });

  test('each bad property has its own message', () => {
    expect(problem({ ...RAW, DirectoryId: 'd-123' })).toBe('CreateTrust: invalid properties: DirectoryId must look like d-1234567890 (got "d-123")');
    expect(problem({ ...RAW, DirectoryId: 7 })).toBe('CreateTrust: invalid properties: DirectoryId must look like d-1234567890 (got 7)');
    expect(problem({ ...RAW, RemoteDomainName: 'onprem' })).toBe('CreateTrust: invalid properties: RemoteDomainName must be a fully qualified domain name (got "onprem")');
    expect(problem({ ...RAW, RemoteDomainName: ['onprem.example.com'] })).toMatch(/RemoteDomainName must be a fully qualified domain name \(got \["onprem.example.com"\]\)/);
    expect(problem({ ...RAW, TrustPasswordSecretArn: 'trust-password' })).toBe('CreateTrust: invalid properties: TrustPasswordSecretArn must be a Secrets Manager secret ARN');
    expect(problem({ ...RAW, TrustPasswordSecretArn: 5 })).toBe('CreateTrust: invalid properties: TrustPasswordSecretArn must be a Secrets Manager secret ARN');
    expect(problem({ ...RAW, SelectiveAuth: 'enabled' })).toBe('CreateTrust: invalid properties: SelectiveAuth must be Enabled or Disabled (got "enabled")');
    expect(problem({ ...RAW, AdoptExisting: 'yes' })).toBe('CreateTrust: invalid properties: AdoptExisting must be true or false (got "yes")');
    expect(problem({ ...RAW, TrustPassword: 'x' })).toBe('CreateTrust: invalid properties: TrustPassword must never be a custom-resource property; pass TrustPasswordSecretArn');
  });

  test('forwarder IPs: 1 to 4 IPv4 addresses', () => {
    for (const ok of [['10.0.0.1'], ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']]) expect(problem({ ...RAW, ConditionalForwarderIpAddrs: ok })).toBeUndefined();
    for (const bad of [[], ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'], ['10.0.0.256'], ['dc1.example.com'], [10], '10.0.0.1']) {
      expect(problem({ ...RAW, ConditionalForwarderIpAddrs: bad })).toBe(`CreateTrust: invalid properties: ConditionalForwarderIpAddrs must be 1 to 4 IPv4 addresses (got ${JSON.stringify(bad)})`);
    }
  });

  test('every problem is named in one error, joined by "; "', () => {
    expect(problem({ TrustPassword: 'x' })).toBe(
      'CreateTrust: invalid properties: DirectoryId must look like d-1234567890 (got undefined); RemoteDomainName must be a fully qualified domain name (got undefined); ' +
        'TrustPasswordSecretArn must be a Secrets Manager secret ARN; ConditionalForwarderIpAddrs must be 1 to 4 IPv4 addresses (got undefined); ' +
        'TrustPassword must never be a custom-resource property; pass TrustPasswordSecretArn',
    );
  });

  test('secret ARNs of other partitions pass; a truncated ARN does not', () => {
    expect(problem({ ...RAW, TrustPasswordSecretArn: 'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:trust-AbCdEf' })).toBeUndefined();
    expect(problem({ ...RAW, TrustPasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:12345:secret:trust' })).toMatch(/TrustPasswordSecretArn/);
    expect(problem({ ...RAW, TrustPasswordSecretArn: `x${ARN}` })).toMatch(/TrustPasswordSecretArn/);
  });
});

describe('physical IDs', () => {
  test('created, adopted, and replacements that remember one level', () => {
    expect(trustPhysicalId('t-0123456789', true)).toBe('t-0123456789');
    expect(trustPhysicalId('t-0123456789', false)).toBe('t-0123456789/adopted');
    expect(trustPhysicalId('t-9999999999', true, 't-0123456789')).toBe('t-9999999999/replaces/t-0123456789');
    expect(trustPhysicalId('t-9999999999', false, 't-0123456789/adopted')).toBe('t-9999999999/adopted/replaces/t-0123456789/adopted');
    // Only one level: the replaced ID's own record is dropped.
    expect(trustPhysicalId('t-8888888888', true, 't-9999999999/replaces/t-0123456789')).toBe('t-8888888888/replaces/t-9999999999');
    // A replaced ID that names no trust (a failed create) is not recorded.
    expect(trustPhysicalId('t-9999999999', true, 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED')).toBe('t-9999999999');
  });

  test('parsing', () => {
    expect(parseTrustPhysicalId('t-0123456789')).toEqual({ trustId: 't-0123456789', created: true, replaces: undefined });
    expect(parseTrustPhysicalId('t-0123456789/adopted')).toEqual({ trustId: 't-0123456789', created: false, replaces: undefined });
    expect(parseTrustPhysicalId('t-9999999999/replaces/t-0123456789/adopted')).toEqual({
      trustId: 't-9999999999',
      created: true,
      replaces: { trustId: 't-0123456789', created: false, physicalId: 't-0123456789/adopted' },
    });
    expect(parseTrustPhysicalId('t-9999999999/adopted/replaces/t-0123456789')).toEqual({
      trustId: 't-9999999999',
      created: false,
      replaces: { trustId: 't-0123456789', created: true, physicalId: 't-0123456789' },
    });
    for (const none of [undefined, '', 'req-1', 't-012345678', 't-0123456789/x', 'xt-0123456789', 't-0123456789/adoptedx', 't-0123456789/replaces/t-01']) {
      expect(parseTrustPhysicalId(none)).toBeUndefined();
    }
  });
});

describe('checkAdoptable', () => {
  const good: Trust = { TrustId: 't-0123456789', TrustType: 'Forest', TrustDirection: 'One-Way: Outgoing', TrustState: 'Verified' };

  test('a verified or updated one-way outgoing forest trust is adoptable', () => {
    expect(() => checkAdoptable(PROPS, good)).not.toThrow();
    expect(() => checkAdoptable(PROPS, { ...good, TrustState: 'Updated' })).not.toThrow();
  });

  test('the refusal lists every problem, describes the trust and says how to fix or delete it', () => {
    expect(() => checkAdoptable(PROPS, { TrustId: 't-0123456789', TrustStateReason: 'DNS failed', CreatedDateTime: new Date('2026-01-05T10:00:00Z') })).toThrow(
      'CreateTrust: cannot adopt the existing trust t-0123456789 (unknown type, unknown direction, state unknown: DNS failed, created 2026-01-05T10:00:00.000Z) ' +
        'of directory d-1234567890 with onprem.example.com: its type is unknown, not Forest; its direction is unknown, not One-Way: Outgoing (AWS trusts on-premises); ' +
        'its state is unknown, not Verified. Nothing was changed. Fix or verify that trust in the Directory Service console (or delete it yourself: ' +
        'aws ds delete-trust --trust-id t-0123456789 --delete-associated-conditional-forwarder), then deploy again.',
    );
    expect(() => checkAdoptable(PROPS, { ...good, TrustType: 'External' })).toThrow(
      'cannot adopt the existing trust t-0123456789 (External, One-Way: Outgoing, state Verified) of directory d-1234567890 with onprem.example.com: its type is External, not Forest. Nothing',
    );
  });
});

test('requiresReplacement: only another directory or remote domain replaces the trust', () => {
  expect(requiresReplacement(PROPS, { ...PROPS, SelectiveAuth: 'Enabled', ConditionalForwarderIpAddrs: ['10.0.0.9'], AdoptExisting: true })).toBe(false);
  expect(requiresReplacement(PROPS, { ...PROPS, DirectoryId: 'd-0000000000' })).toBe(true);
  expect(requiresReplacement(PROPS, { ...PROPS, RemoteDomainName: 'emea.example.com' })).toBe(true);
});

describe('Directory Service calls (aws-sdk-client-mock, see the header)', () => {
  const ds = mockClient(DirectoryServiceClient);
  const client = new DirectoryServiceClient({ region: 'us-east-1' });
  beforeEach(() => ds.reset());

  const trust = (id: string, domain: string, state: string): Trust => ({ TrustId: id, RemoteDomainName: domain, TrustState: state as Trust['TrustState'], TrustType: 'Forest', TrustDirection: 'One-Way: Outgoing' });

  test('updateTrust sends only what changed: selective authentication alone', async () => {
    ds.on(UpdateTrustCommand).resolves({});
    expect(await updateTrust(client, 't-0123456789', PROPS, { ...PROPS, SelectiveAuth: 'Enabled' })).toEqual(['SelectiveAuth']);
    expect(ds.commandCalls(UpdateTrustCommand).map((c) => c.args[0].input)).toEqual([{ TrustId: 't-0123456789', SelectiveAuth: 'Enabled' }]);
    expect(ds.commandCalls(UpdateConditionalForwarderCommand)).toHaveLength(0);
  });

  test('updateTrust sends only what changed: the forwarder IPs alone (order matters to DNS)', async () => {
    ds.on(UpdateConditionalForwarderCommand).resolves({});
    const next = { ...PROPS, ConditionalForwarderIpAddrs: ['192.168.10.11', '192.168.10.10'] };
    expect(await updateTrust(client, 't-0123456789', { ...PROPS, ConditionalForwarderIpAddrs: ['192.168.10.10', '192.168.10.11'] }, next)).toEqual(['ConditionalForwarderIpAddrs']);
    expect(ds.commandCalls(UpdateConditionalForwarderCommand).map((c) => c.args[0].input)).toEqual([
      { DirectoryId: DIR, RemoteDomainName: 'onprem.example.com', DnsIpAddrs: ['192.168.10.11', '192.168.10.10'] },
    ]);
    expect(ds.commandCalls(UpdateTrustCommand)).toHaveLength(0);
    expect(await updateTrust(client, 't-0123456789', PROPS, { ...PROPS })).toEqual([]);
  });

  test('findTrust reads every page, skips Deleted trusts and other domains, prefers a live trust over one being deleted', async () => {
    ds.on(DescribeTrustsCommand)
      .resolvesOnce({ Trusts: [trust('t-1111111111', 'onprem.example.com', 'Deleted'), trust('t-2222222222', 'onprem.example.com', 'Deleting'), trust('t-3333333333', 'emea.example.com', 'Verified')], NextToken: 'p2' })
      .resolvesOnce({ Trusts: [trust('t-4444444444', 'ONPREM.example.com', 'Verified')] });
    expect((await findTrust(client, DIR, 'onprem.example.com'))?.TrustId).toBe('t-4444444444');
    expect(ds.commandCalls(DescribeTrustsCommand).map((c) => c.args[0].input)).toEqual([
      { DirectoryId: DIR, NextToken: undefined },
      { DirectoryId: DIR, NextToken: 'p2' },
    ]);
  });

  test('findTrust: the first trust being deleted when no live one exists; undefined when none', async () => {
    ds.on(DescribeTrustsCommand)
      .resolvesOnce({ Trusts: [trust('t-2222222222', 'onprem.example.com', 'Deleting')], NextToken: 'p2' })
      .resolvesOnce({ Trusts: [trust('t-5555555555', 'onprem.example.com', 'Deleting'), { TrustId: 't-6666666666' }] });
    expect((await findTrust(client, DIR, 'OnPrem.example.com'))?.TrustId).toBe('t-2222222222');
    ds.reset();
    ds.on(DescribeTrustsCommand).resolves({});
    expect(await findTrust(client, DIR, 'onprem.example.com')).toBeUndefined();
    expect(ds.commandCalls(DescribeTrustsCommand)).toHaveLength(1);
  });

  test('describeTrust: the trust with that ID, undefined when AWS says it does not exist, other errors thrown', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust('t-1111111111', 'onprem.example.com', 'Verified'), trust('t-0123456789', 'onprem.example.com', 'Creating')] });
    expect((await describeTrust(client, DIR, 't-0123456789'))?.TrustState).toBe('Creating');
    expect(ds.commandCalls(DescribeTrustsCommand)[0].args[0].input).toEqual({ DirectoryId: DIR, TrustIds: ['t-0123456789'] });
    expect(await describeTrust(client, DIR, 't-7777777777')).toBeUndefined();
    ds.on(DescribeTrustsCommand).resolves({});
    expect(await describeTrust(client, DIR, 't-0123456789')).toBeUndefined();
    ds.on(DescribeTrustsCommand).rejects(new EntityDoesNotExistException({ message: 'no trust', $metadata: {} }));
    expect(await describeTrust(client, DIR, 't-0123456789')).toBeUndefined();
    ds.on(DescribeTrustsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(describeTrust(client, DIR, 't-0123456789')).rejects.toThrow('denied');
  });

  test('checkTrustReady: Verified/Updated give the data; Failed/VerifyFailed/UpdateFailed throw with the reason; anything else waits', async () => {
    const poll = (t: Trust | undefined, tolerate = false) => {
      ds.reset();
      ds.on(DescribeTrustsCommand).resolves({ Trusts: t ? [t] : [] });
      return checkTrustReady(client, DIR, 't-0123456789', tolerate);
    };
    expect(await poll(trust('t-0123456789', 'onprem.example.com', 'Verified'))).toEqual({ TrustId: 't-0123456789', TrustState: 'Verified', RemoteDomainName: 'onprem.example.com' });
    expect(await poll(trust('t-0123456789', 'onprem.example.com', 'Updated'))).toEqual({ TrustId: 't-0123456789', TrustState: 'Updated', RemoteDomainName: 'onprem.example.com' });
    expect(await poll({ TrustId: 't-0123456789', TrustState: 'Verified' })).toEqual({ TrustId: 't-0123456789', TrustState: 'Verified', RemoteDomainName: '' });
    for (const state of ['Creating', 'Created', 'Verifying', 'Updating']) expect(await poll(trust('t-0123456789', 'onprem.example.com', state))).toBeUndefined();
    expect(await poll({ TrustId: 't-0123456789' })).toBeUndefined();
    for (const state of ['Failed', 'VerifyFailed', 'UpdateFailed']) {
      await expect(poll(trust('t-0123456789', 'onprem.example.com', state))).rejects.toThrow(
        `CreateTrust: trust t-0123456789 to onprem.example.com is ${state}: no reason given. Check that the on-premises incoming trust exists with the same password, ` +
          'that DNS forwarding works both ways, and that the on-premises firewall allows the ports listed in lib/ad-trust/README.md.',
      );
    }
    await expect(poll({ ...trust('t-0123456789', 'onprem.example.com', 'Failed'), TrustStateReason: 'RPC unavailable' })).rejects.toThrow('is Failed: RPC unavailable. Check');
    expect(await poll(undefined, true)).toBeUndefined();
    await expect(poll(undefined, false)).rejects.toThrow('CreateTrust: trust t-0123456789 of directory d-1234567890 disappeared while it was being created');
  });

  test('checkTrustDeleted: gone, Deleted, or the directory gone is done; Deleting is not; other errors are thrown', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
    expect(await checkTrustDeleted(client, DIR, 't-0123456789')).toBe(true);
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust('t-0123456789', 'onprem.example.com', 'Deleted')] });
    expect(await checkTrustDeleted(client, DIR, 't-0123456789')).toBe(true);
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust('t-0123456789', 'onprem.example.com', 'Deleting')] });
    expect(await checkTrustDeleted(client, DIR, 't-0123456789')).toBe(false);
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust('t-0123456789', 'onprem.example.com', 'Verified')] });
    expect(await checkTrustDeleted(client, DIR, 't-0123456789')).toBe(false);
    // DescribeTrusts' EntityDoesNotExistException: the trust, or the whole directory, is gone.
    ds.on(DescribeTrustsCommand).rejects(new EntityDoesNotExistException({ message: 'Directory d-1234567890 does not exist', $metadata: {} }));
    expect(await checkTrustDeleted(client, DIR, 't-0123456789')).toBe(true);
    ds.on(DescribeTrustsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(checkTrustDeleted(client, DIR, 't-0123456789')).rejects.toThrow('denied');
  });
});
