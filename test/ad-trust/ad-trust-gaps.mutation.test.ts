/**
 * Paths of the ad-trust runtime that the first mutation runs showed untested: CreateTrust's answer to its own
 * retried call at the clock-skew boundary, DeleteTrust's result, the password-read hints, replacements to an
 * adopted Region, and inputs that are only nearly valid (mixed lists, anchored IDs, a null stack in the outputs).
 *
 * aws-sdk-client-mock for Directory Service (no emulator has AddRegion/DescribeRegions; moto never verifies a trust
 * and cannot answer EntityAlreadyExists for a retried CreateTrust) and for the Secrets Manager errors moto cannot
 * produce (AccessDenied, DecryptionFailure); the moto Secrets Manager paths are in trust-moto.mutation.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  AddRegionCommand,
  CreateTrustCommand,
  DeleteTrustCommand,
  DescribeDirectoriesCommand,
  DescribeRegionsCommand,
  DescribeTrustsCommand,
  DirectoryServiceClient,
  EntityDoesNotExistException,
  RemoveRegionCommand,
  Trust,
} from '@aws-sdk/client-directory-service';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { checkRegionActive, networkChanged, parseAddRegionProps, pollRegionRemoval } from '../../lambda/ad-trust/add-region';
import { runCli } from '../../lambda/ad-trust/krb5-conf-cli';
import { CLOCK_SKEW_MS, createTrust, deleteTrust, parseTrustProps, readTrustPassword, TrustProps } from '../../lambda/ad-trust/trust';
import { crEvent } from './cr-event';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const regionHandler = require('../../lambda/ad-trust/add-region-handler') as typeof import('../../lambda/ad-trust/add-region-handler');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const trustHandler = require('../../lambda/ad-trust/trust-handler') as typeof import('../../lambda/ad-trust/trust-handler');

const DIR = 'd-1234567890';
const TRUST = 't-0123456789';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf';
const TRUST_RAW = { DirectoryId: DIR, RemoteDomainName: 'onprem.example.com', TrustPasswordSecretArn: ARN, ConditionalForwarderIpAddrs: ['192.168.10.10'], SelectiveAuth: 'Disabled' };
const TP: TrustProps = { ...TRUST_RAW, SelectiveAuth: 'Disabled', AdoptExisting: false };
const REGION_RAW = { DirectoryId: DIR, PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] };

const ds = mockClient(DirectoryServiceClient);
const sm = mockClient(SecretsManagerClient);
const dsc = new DirectoryServiceClient({ region: 'us-east-1' });
const smc = new SecretsManagerClient({ region: 'us-east-1' });
beforeEach(() => {
  ds.reset();
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: 'Trust-Passw0rd-Xyz' });
});

const exists = () => Object.assign(new Error('trust exists'), { name: 'EntityAlreadyExistsException', $metadata: { httpStatusCode: 400 } });
function trust(state: string, created?: Date, extra: Partial<Trust> = {}): Trust {
  return { TrustId: TRUST, RemoteDomainName: 'onprem.example.com', TrustType: 'Forest', TrustDirection: 'One-Way: Outgoing', TrustState: state as Trust['TrustState'], CreatedDateTime: created, ...extra };
}

describe('createTrust after EntityAlreadyExists (its own retried call, or someone else\'s trust)', () => {
  const T0 = Date.parse('2026-06-01T12:00:00Z');
  const after = (t: Trust | undefined, props = TP) => {
    ds.on(DescribeTrustsCommand).resolvesOnce({ Trusts: [] }).resolves({ Trusts: t ? [t] : [] });
    ds.on(CreateTrustCommand).rejects(exists());
    return createTrust(dsc, smc, props, () => T0);
  };

  test('created exactly one clock skew before the call is still ours; a millisecond earlier is not', async () => {
    expect(await after(trust('Creating', new Date(T0 - CLOCK_SKEW_MS)))).toEqual({ trustId: TRUST, created: true });
    ds.reset();
    await expect(after(trust('Creating', new Date(T0 - CLOCK_SKEW_MS - 1)))).rejects.toThrow(/that this stack did not create: t-0123456789/);
  });

  test('an older trust without AdoptExisting is refused; with it, adopted when healthy, refused with "wait" when being deleted', async () => {
    await expect(after(trust('Verified', undefined))).rejects.toThrow(/that this stack did not create/);
    ds.reset();
    expect(await after(trust('Verified', new Date(0)), { ...TP, AdoptExisting: true })).toEqual({ trustId: TRUST, created: false });
    ds.reset();
    await expect(after(trust('Verified', new Date(0), { TrustType: 'External' }), { ...TP, AdoptExisting: true })).rejects.toThrow(/its type is External, not Forest/);
    ds.reset();
    await expect(after(trust('Deleting', new Date(0)), { ...TP, AdoptExisting: true })).rejects.toThrow(/it is being deleted: wait until aws ds describe-trusts/);
  });

  test('no trust found afterwards: the original error is passed on', async () => {
    const err = await after(undefined).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('EntityAlreadyExistsException');
  });

  test('CreateTrust that returns no TrustId is an error naming the domain', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
    ds.on(CreateTrustCommand).resolves({});
    await expect(createTrust(dsc, smc, TP)).rejects.toThrow('CreateTrust: no TrustId returned for onprem.example.com');
  });
});

test('deleteTrust: deleted, absent when AWS says it does not exist, other errors thrown', async () => {
  ds.on(DeleteTrustCommand).resolves({});
  expect(await deleteTrust(dsc, TRUST)).toBe('deleted');
  expect(ds.commandCalls(DeleteTrustCommand)[0].args[0].input).toEqual({ TrustId: TRUST, DeleteAssociatedConditionalForwarder: true });
  ds.on(DeleteTrustCommand).rejects(new EntityDoesNotExistException({ message: 'no trust', $metadata: {} }));
  expect(await deleteTrust(dsc, TRUST)).toBe('absent');
  ds.on(DeleteTrustCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
  await expect(deleteTrust(dsc, TRUST)).rejects.toThrow('denied');
});

test('readTrustPassword: the whole message for an error without a hint, the trailing period of AWS\'s message dropped once', async () => {
  sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('The key could not decrypt it.'), { name: 'DecryptionFailure', $metadata: { httpStatusCode: 400 } }));
  await expect(readTrustPassword(smc, ARN)).rejects.toThrow(
    `CreateTrust: cannot read the trust password from secret ${ARN} (DecryptionFailure: The key could not decrypt it). No trust was created. ` +
      `Check it with: aws secretsmanager describe-secret --secret-id ${ARN} ; then deploy again.`,
  );
  sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('Access to KMS is not allowed'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
  await expect(readTrustPassword(smc, ARN)).rejects.toThrow(
    `(AccessDeniedException: Access to KMS is not allowed). No trust was created. The handler role needs secretsmanager:GetSecretValue on the secret and, for a secret encrypted with a customer managed key, ` +
      'kms:Decrypt on that key (an imported secret gets no key grant: pass encryptionKey or grant it). Check it with',
  );
});

describe('nearly valid properties', () => {
  test('trust: IDs must be anchored; one bad forwarder IP among good ones is refused', () => {
    for (const id of ['d-1234567890x', 'xd-1234567890']) expect(() => parseTrustProps({ ...TRUST_RAW, DirectoryId: id })).toThrow(`DirectoryId must look like d-1234567890 (got "${id}")`);
    expect(() => parseTrustProps({ ...TRUST_RAW, ConditionalForwarderIpAddrs: ['10.0.0.1', 'dc1.example.com'] })).toThrow(/ConditionalForwarderIpAddrs must be 1 to 4 IPv4 addresses/);
  });

  test('Region: subnet IDs must be anchored', () => {
    for (const bad of [['xsubnet-0a', 'subnet-0b'], ['subnet-0a', 'subnet-0bZ']]) expect(() => parseAddRegionProps({ ...REGION_RAW, SubnetIds: bad })).toThrow(/SubnetIds must be exactly two/);
  });

  test('Region: the old subnets in another order are no network change', () => {
    const p = parseAddRegionProps(REGION_RAW);
    expect(networkChanged({ ...p, SubnetIds: ['subnet-0b', 'subnet-0a'] }, p)).toBe(false);
  });

  test('krb5-conf CLI: a stack without outputs (null) in the outputs file is skipped', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'krb5-gaps-'));
    try {
      const f = path.join(dir, 'outputs.json');
      fs.writeFileSync(f, JSON.stringify({ A: null, B: { OnPremDomainName: 'onprem.example.com', DirectoryDomainName: 'corp.aws.example.com' } }));
      expect(runCli(['--outputs', f, '--what', 'sql']).stdout).toContain('CREATE USER "alice@ONPREM.EXAMPLE.COM" WITH LOGIN;');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Region edges', () => {
  test('an Active Region whose directory answer has no VPC settings: no security group, no crash', async () => {
    ds.on(DescribeRegionsCommand).resolves({ RegionsDescription: [{ RegionName: 'us-west-2', Status: 'Active' }] });
    ds.on(DescribeDirectoriesCommand).resolves({ DirectoryDescriptions: [{ DirectoryId: DIR, DnsIpAddrs: ['10.30.0.10'] }] });
    expect(await checkRegionActive(dsc, dsc, REGION_RAW)).toEqual({ RegionName: 'us-west-2', Status: 'Active', DnsIpAddrs: '10.30.0.10', SecurityGroupId: '' });
  });

  test('a removal poll sends RemoveRegion only for an Active Region, not for one with no status', async () => {
    ds.on(DescribeRegionsCommand).resolves({ RegionsDescription: [{ RegionName: 'us-west-2' }] });
    ds.on(RemoveRegionCommand).resolves({});
    expect(await pollRegionRemoval(dsc, dsc, REGION_RAW)).toBe(false);
    expect(ds.commandCalls(RemoveRegionCommand)).toHaveLength(0);
  });

  const rEvent = (type: 'Update', props: Record<string, unknown>, extra: Partial<any>): CdkCustomResourceEvent =>
    crEvent(type, { logicalId: 'DirectoryRegion', resourceType: 'Custom::DirectoryRegion', stack: 'DbOpsAdTrustReplica', region: 'us-west-2' }, { ...REGION_RAW, ...props }, extra);

  test('a replacement to a Region that exists is adopted when asked: physical ID and data say adopted, no AddRegion', async () => {
    ds.on(DescribeRegionsCommand).resolves({ RegionsDescription: [{ RegionName: 'eu-west-1', Status: 'Active', VpcSettings: { VpcId: 'vpc-0abc', SubnetIds: [] } }] });
    const r = await regionHandler.onEvent(rEvent('Update', { RegionName: 'eu-west-1', AdoptExisting: 'true' }, { PhysicalResourceId: `${DIR}/us-west-2`, OldResourceProperties: { ...REGION_RAW } }));
    expect(r).toEqual({ PhysicalResourceId: `${DIR}/eu-west-1/adopted/replaces/${DIR}/us-west-2`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'false' } });
    expect(ds.commandCalls(AddRegionCommand)).toHaveLength(0);
  });

  test('invalid old properties and a physical ID that names no Region: the Region is added, recording nothing it replaces', async () => {
    ds.on(DescribeRegionsCommand).rejects(new EntityDoesNotExistException({ message: 'no region', $metadata: {} }));
    ds.on(AddRegionCommand).resolves({});
    const r = await regionHandler.onEvent(rEvent('Update', {}, { PhysicalResourceId: 'req-1', OldResourceProperties: { ...REGION_RAW, VpcId: 'bad' } }));
    expect(r).toEqual({ PhysicalResourceId: `${DIR}/us-west-2`, Data: { StartedAt: expect.stringMatching(/^\d+$/), CreatedByStack: 'true' } });
  });
});

describe('trust handler edges', () => {
  const tEvent = (type: 'Update', props: Record<string, unknown>, extra: Partial<any>): CdkCustomResourceEvent =>
    crEvent(type, { logicalId: 'Trust', resourceType: 'Custom::ForestTrust', stack: 'DbOpsAdTrustPrimary', region: 'us-east-1' }, { ...TRUST_RAW, ...props }, extra);

  test('a replacement\'s rollback with no trust found for the old domain creates it again (nothing to return to)', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
    ds.on(CreateTrustCommand).resolves({ TrustId: 't-1111111111' });
    const r = await trustHandler.onEvent(tEvent('Update', {}, { PhysicalResourceId: `t-9999999999/replaces/${TRUST}`, OldResourceProperties: { ...TRUST_RAW, RemoteDomainName: 'emea.example.com' } }));
    expect(r.PhysicalResourceId).toBe('t-1111111111/replaces/t-9999999999');
  });

  test('invalid old properties: a named trust that is gone, or has no domain, is not kept', async () => {
    for (const answer of [{ Trusts: [] }, { Trusts: [{ TrustId: TRUST, TrustState: 'Verified' as const }] }]) {
      ds.reset();
      ds.on(DescribeTrustsCommand, { TrustIds: [TRUST] }).resolves(answer);
      ds.on(DescribeTrustsCommand, { NextToken: undefined }).resolves({ Trusts: [] });
      ds.on(CreateTrustCommand).resolves({ TrustId: 't-1111111111' });
      const r = await trustHandler.onEvent(tEvent('Update', {}, { PhysicalResourceId: TRUST, OldResourceProperties: { ...TRUST_RAW, SelectiveAuth: 'x' } }));
      expect(r.PhysicalResourceId).toBe(`t-1111111111/replaces/${TRUST}`);
    }
  });

  test('an update poll without Data (nothing recorded by onEvent) is Unchanged', async () => {
    const e = tEvent('Update', {}, { PhysicalResourceId: TRUST });
    expect(await trustHandler.isComplete(e as CdkCustomResourceIsCompleteEvent)).toEqual({
      IsComplete: true,
      Data: { TrustId: TRUST, TrustState: 'Unchanged', RemoteDomainName: 'onprem.example.com', CreatedByStack: 'true' },
    });
    expect(ds.calls()).toHaveLength(0);
  });

  test('a create poll of a Verified trust completes with its data', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust('Verified', new Date(0))] });
    const e = { ...tEvent('Update', {}, { PhysicalResourceId: TRUST }), RequestType: 'Create' } as CdkCustomResourceIsCompleteEvent;
    expect(await trustHandler.isComplete(e)).toEqual({ IsComplete: true, Data: { TrustId: TRUST, TrustState: 'Verified', RemoteDomainName: 'onprem.example.com', CreatedByStack: 'true' } });
  });
});
