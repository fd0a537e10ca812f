/**
 * Edges of the two custom-resource handlers (lambda/ad-trust/add-region-handler.ts, trust-handler.ts) that need a
 * fixed clock or a particular sequence of Directory Service answers: the 5-minute grace for a new Region/trust
 * that is not listed yet, exactly at its end; a directory that disappears during a delete's last poll; and
 * directory IDs that only look right.
 *
 * aws-sdk-client-mock: no local emulator implements AddRegion/DescribeRegions/RemoveRegion, and moto never moves
 * a trust out of "Creating" (see add-region.test.ts and trust.test.ts). Date.now is fixed per test with a spy.
 */
import { DescribeRegionsCommand, DescribeTrustsCommand, DirectoryDoesNotExistException, DirectoryServiceClient, EntityDoesNotExistException } from '@aws-sdk/client-directory-service';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { crEvent } from './cr-event';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const region = require('../../lambda/ad-trust/add-region-handler') as typeof import('../../lambda/ad-trust/add-region-handler');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const trust = require('../../lambda/ad-trust/trust-handler') as typeof import('../../lambda/ad-trust/trust-handler');

const DIR = 'd-1234567890';
const TRUST = 't-0123456789';
const NOW = Date.parse('2026-06-01T12:00:00Z');
const GRACE = 5 * 60 * 1000;
const REGION_PROPS = { DirectoryId: DIR, PrimaryRegion: 'us-east-1', RegionName: 'us-west-2', VpcId: 'vpc-0abc', SubnetIds: ['subnet-0a', 'subnet-0b'] };
const TRUST_PROPS = {
  DirectoryId: DIR,
  RemoteDomainName: 'onprem.example.com',
  TrustPasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf',
  ConditionalForwarderIpAddrs: ['192.168.10.10'],
  SelectiveAuth: 'Disabled',
};
const ds = mockClient(DirectoryServiceClient);

beforeEach(() => {
  ds.reset();
  jest.spyOn(Date, 'now').mockReturnValue(NOW);
});
afterEach(() => jest.restoreAllMocks());

function regionPoll(type: 'Create' | 'Delete', startedAt: number, props: Record<string, unknown> = {}) {
  const e = crEvent(type, { logicalId: 'DirectoryRegion', resourceType: 'Custom::DirectoryRegion', stack: 'DbOpsAdTrustReplica', region: 'us-west-2' }, { ...REGION_PROPS, ...props });
  return region.isComplete({ ...e, PhysicalResourceId: `${DIR}/us-west-2`, Data: { StartedAt: String(startedAt) } } as CdkCustomResourceIsCompleteEvent);
}
function trustPoll(type: 'Create' | 'Delete', startedAt: number | undefined, props: Record<string, unknown> = {}) {
  const e: CdkCustomResourceEvent = crEvent(type, { logicalId: 'Trust', resourceType: 'Custom::ForestTrust', stack: 'DbOpsAdTrustPrimary', region: 'us-east-1' }, { ...TRUST_PROPS, ...props });
  return trust.isComplete({ ...e, PhysicalResourceId: TRUST, ...(startedAt === undefined ? {} : { Data: { StartedAt: String(startedAt) } }) } as CdkCustomResourceIsCompleteEvent);
}

test('a new Region not listed yet: waited for until just before 5 minutes after AddRegion; at 5 minutes it is an error', async () => {
  ds.on(DescribeRegionsCommand).rejects(new EntityDoesNotExistException({ message: 'not listed', $metadata: {} }));
  expect(await regionPoll('Create', NOW - GRACE + 1)).toEqual({ IsComplete: false });
  await expect(regionPoll('Create', NOW - GRACE)).rejects.toThrow(/has no Region us-west-2 although AddRegion was accepted/);
});

test('a new trust not listed yet: waited for until just before 5 minutes after CreateTrust; at 5 minutes it is an error', async () => {
  ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
  expect(await trustPoll('Create', NOW - GRACE + 1)).toEqual({ IsComplete: false });
  await expect(trustPoll('Create', NOW - GRACE)).rejects.toThrow(/disappeared while it was being created/);
});

test('a removal that is complete makes one read, also past the hand-over time', async () => {
  ds.on(DescribeRegionsCommand).rejects(new EntityDoesNotExistException({ message: 'gone', $metadata: {} }));
  expect(await regionPoll('Delete', NOW - 3_500_000, { RoundSeconds: '3300' })).toEqual({ IsComplete: true });
  expect(ds.commandCalls(DescribeRegionsCommand)).toHaveLength(1);
});

test('past the hand-over, a directory that is gone by the second read means nothing is left to wait for: keep polling (the next poll completes), no error', async () => {
  ds.on(DescribeRegionsCommand)
    .resolvesOnce({ RegionsDescription: [{ DirectoryId: DIR, RegionName: 'us-west-2', Status: 'Creating' }] })
    .rejects(new DirectoryDoesNotExistException({ message: 'Directory d-1234567890 does not exist', $metadata: {} }));
  expect(await regionPoll('Delete', NOW - 3_500_000, { RoundSeconds: '3300' })).toEqual({ IsComplete: false });
  expect(await regionPoll('Delete', NOW - 3_500_000, { RoundSeconds: '3300' })).toEqual({ IsComplete: true });
});

test('a trust delete poll only reads with a directory ID that is exactly d- and 10 hex digits', async () => {
  for (const bad of ['d-1234567890x', 'xd-1234567890', 'd-12345678ZZ']) {
    expect(await trustPoll('Delete', undefined, { DirectoryId: bad })).toEqual({ IsComplete: true });
  }
  expect(ds.calls()).toHaveLength(0);
  ds.on(DescribeTrustsCommand).resolves({ Trusts: [{ TrustId: TRUST, TrustState: 'Deleting' }] });
  expect(await trustPoll('Delete', undefined)).toEqual({ IsComplete: false });
});
