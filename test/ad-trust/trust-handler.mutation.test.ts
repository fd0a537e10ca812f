/**
 * The CreateTrust custom-resource handler (lambda/ad-trust/trust-handler.ts) on the paths CloudFormation drives
 * that trust.test.ts does not: rollbacks of replacements when the trust found is being deleted, old properties
 * that fail validation, physical IDs that name no trust, the polls' data, and the log lines an operator finds
 * in CloudWatch.
 *
 * aws-sdk-client-mock is used because moto never moves a trust out of "Creating" and does not implement
 * UpdateTrust / UpdateConditionalForwarder (the moto paths are test/integration/ad-trust/trust-moto.test.ts and
 * trust-moto.mutation.test.ts). Each test sets up its own answers.
 */
import {
  CreateTrustCommand,
  DeleteTrustCommand,
  DescribeTrustsCommand,
  DirectoryServiceClient,
  Trust,
  UpdateConditionalForwarderCommand,
} from '@aws-sdk/client-directory-service';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { crEvent } from './cr-event';

process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isComplete, onEvent } = require('../../lambda/ad-trust/trust-handler') as typeof import('../../lambda/ad-trust/trust-handler');

const DIR = 'd-1234567890';
const TRUST = 't-0123456789';
const NEW = 't-9999999999';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf';
const PROPS = { DirectoryId: DIR, RemoteDomainName: 'onprem.example.com', TrustPasswordSecretArn: ARN, ConditionalForwarderIpAddrs: ['192.168.10.10'], SelectiveAuth: 'Disabled' };
const ds = mockClient(DirectoryServiceClient);
const sm = mockClient(SecretsManagerClient);
let logs: Array<Record<string, unknown>>;
let spy: jest.SpyInstance;

beforeEach(() => {
  ds.reset();
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: 'Trust-Passw0rd-Xyz' });
  logs = [];
  spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
    return true;
  });
});
afterEach(() => spy.mockRestore());

function event(type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown> = {}, extra: Partial<any> = {}): CdkCustomResourceEvent {
  return crEvent(type, { logicalId: 'Trust', resourceType: 'Custom::ForestTrust', stack: 'DbOpsAdTrustPrimary', region: 'us-east-1' }, { ...PROPS, ...props }, extra);
}
function trust(id: string, state: string, domain = 'onprem.example.com'): Trust {
  return { TrustId: id, DirectoryId: DIR, RemoteDomainName: domain, TrustState: state as Trust['TrustState'], TrustType: 'Forest', TrustDirection: 'One-Way: Outgoing', CreatedDateTime: new Date('2026-01-05T10:00:00Z') };
}
const messages = () => logs.map((l) => l.message);

describe('create', () => {
  test('an adopted trust: physical ID, data and log say so', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Verified')] });
    const before = Date.now();
    const r = await onEvent(event('Create', { AdoptExisting: 'true' }));
    expect(r).toEqual({ PhysicalResourceId: `${TRUST}/adopted`, Data: { CreatedByStack: 'false', StartedAt: expect.stringMatching(/^\d+$/) } });
    expect(Number(r.Data!.StartedAt)).toBeGreaterThanOrEqual(before);
    expect(logs).toEqual([expect.objectContaining({ message: 'Adopted an existing trust (left in place on delete)', directoryId: DIR, remoteDomain: 'onprem.example.com', trustId: TRUST, created: false })]);
  });
});

describe('update', () => {
  test('an in-place update is logged with what changed', async () => {
    ds.on(UpdateConditionalForwarderCommand).resolves({});
    const r = await onEvent(event('Update', { ConditionalForwarderIpAddrs: ['192.168.10.12'] }, { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS } }));
    expect(r).toEqual({ PhysicalResourceId: TRUST, Data: { Changed: 'ConditionalForwarderIpAddrs', CreatedByStack: 'true' } });
    expect(logs).toEqual([expect.objectContaining({ message: 'UpdateTrust', trustId: TRUST, changed: ['ConditionalForwarderIpAddrs'] })]);
  });

  test('a physical ID that names no trust cannot be updated in place: the error says what to do', async () => {
    await expect(onEvent(event('Update', { SelectiveAuth: 'Enabled' }, { PhysicalResourceId: 'req-1', OldResourceProperties: { ...PROPS } }))).rejects.toThrow(
      'CreateTrust: physical ID req-1 names no trust; delete the trust resource from the stack and deploy again',
    );
    expect(ds.calls()).toHaveLength(0);
  });

  test('a new password secret is refused with the whole procedure; nothing is called', async () => {
    await expect(
      onEvent(event('Update', { TrustPasswordSecretArn: `${ARN}-2` }, { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS } })),
    ).rejects.toThrow(
      `CreateTrust: the trust password secret of trust ${TRUST} changed; AWS cannot change a trust's password in place. Nothing was changed. ` +
        'Keep the old secret, or delete the trust yourself (aws ds delete-trust), reset the on-premises side with the new password, and deploy again.',
    );
    expect(ds.calls()).toHaveLength(0);
  });

  test('invalid old properties: the named trust is kept only if it is the one these properties describe, alive', async () => {
    const invalidOld = { ...PROPS, SelectiveAuth: 'maybe' };
    // The trust the physical ID names, same domain in other case: kept, adopted flag from the ID.
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Verified', 'OnPrem.Example.com')] });
    expect(await onEvent(event('Update', {}, { PhysicalResourceId: `${TRUST}/adopted`, OldResourceProperties: invalidOld }))).toEqual({
      PhysicalResourceId: `${TRUST}/adopted`,
      Data: { Changed: '', CreatedByStack: 'false' },
    });
    expect(messages()).toEqual(['Previous properties were invalid (rollback of an update that failed validation); trust kept unchanged']);
    expect(ds.commandCalls(DescribeTrustsCommand)[0].args[0].input).toEqual({ DirectoryId: DIR, TrustIds: [TRUST] });
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);

    // The named trust is another domain's, or is being deleted: a trust for these properties is created.
    for (const named of [trust(TRUST, 'Verified', 'emea.example.com'), trust(TRUST, 'Deleting')]) {
      ds.reset();
      ds.on(DescribeTrustsCommand, { TrustIds: [TRUST] }).resolves({ Trusts: [named] });
      ds.on(DescribeTrustsCommand, { NextToken: undefined }).resolves({ Trusts: [] });
      ds.on(CreateTrustCommand).resolves({ TrustId: NEW });
      const r = await onEvent(event('Update', {}, { PhysicalResourceId: TRUST, OldResourceProperties: invalidOld }));
      expect(r.PhysicalResourceId).toBe(`${NEW}/replaces/${TRUST}`);
      expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(1);
    }

    // No trust named at all (a physical ID from a failed create): a new trust, nothing described by ID.
    ds.reset();
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
    ds.on(CreateTrustCommand).resolves({ TrustId: NEW });
    expect((await onEvent(event('Update', {}, { PhysicalResourceId: 'req-1', OldResourceProperties: invalidOld }))).PhysicalResourceId).toBe(NEW);
    expect(ds.commandCalls(DescribeTrustsCommand).map((c) => c.args[0].input.TrustIds)).toEqual([undefined]);
  });

  test('a replacement: CreateTrust for the new domain, logged, data says replacement', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Verified')] });
    ds.on(CreateTrustCommand).resolves({ TrustId: NEW });
    const r = await onEvent(event('Update', { RemoteDomainName: 'emea.example.com' }, { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS } }));
    expect(r).toEqual({ PhysicalResourceId: `${NEW}/replaces/${TRUST}`, Data: { Changed: 'replacement', CreatedByStack: 'true', StartedAt: expect.stringMatching(/^\d+$/) } });
    expect(logs).toEqual([
      expect.objectContaining({ message: 'CreateTrust (replacement)', directoryId: DIR, remoteDomain: 'emea.example.com', trustId: NEW, created: true, replaces: TRUST }),
    ]);
  });

  test('the rollback of a failed replacement keeps this resource\'s own trust, unless it is being deleted', async () => {
    // Forward update onprem -> emea failed in onEvent; rollback sends the old properties with the unchanged ID.
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Verified')] });
    const back = await onEvent(event('Update', {}, { PhysicalResourceId: `${TRUST}/adopted`, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }));
    expect(back).toEqual({ PhysicalResourceId: `${TRUST}/adopted`, Data: { Changed: 'rollback', CreatedByStack: 'false' } });
    expect(messages()).toEqual(["The trust for these properties is this resource's own; kept (rollback of a failed replacement)"]);

    ds.reset();
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Deleting')] });
    await expect(onEvent(event('Update', {}, { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }))).rejects.toThrow(
      /it is being deleted: wait until/,
    );
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
  });

  test('the rollback of a replacement returns to the old adopted trust; one being deleted is not returned to', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Verified')] });
    const back = await onEvent(event('Update', {}, { PhysicalResourceId: `${NEW}/replaces/${TRUST}/adopted`, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }));
    expect(back).toEqual({ PhysicalResourceId: `${TRUST}/adopted`, Data: { Changed: 'rollback', CreatedByStack: 'false' } });
    expect(logs).toEqual([expect.objectContaining({ message: 'Back to the trust this resource had before the replacement (rollback)', trustId: TRUST, created: false, from: `${NEW}/replaces/${TRUST}/adopted` })]);

    ds.reset();
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Deleting')] });
    await expect(onEvent(event('Update', {}, { PhysicalResourceId: `${NEW}/replaces/${TRUST}`, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }))).rejects.toThrow(
      /it is being deleted: wait until/,
    );
  });
});

describe('delete', () => {
  test('DeleteTrust is logged with its result', async () => {
    ds.on(DeleteTrustCommand).resolves({});
    await onEvent(event('Delete', {}, { PhysicalResourceId: TRUST }));
    expect(logs).toEqual([expect.objectContaining({ message: 'DeleteTrust', trustId: TRUST, result: 'deleted' })]);
  });

  test('a failed create\'s ID is logged as never created and touches nothing', async () => {
    await onEvent(event('Delete', {}, { PhysicalResourceId: 'req-1' }));
    expect(logs).toEqual([expect.objectContaining({ message: 'Delete of a trust that was never created; nothing to do', physicalResourceId: 'req-1' })]);
    expect(ds.calls()).toHaveLength(0);
  });

  test('the delete poll reads the trust of the directory in the properties; without a readable directory ID it completes at once', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Deleting')] });
    const e = event('Delete', {}, { PhysicalResourceId: TRUST }) as CdkCustomResourceIsCompleteEvent;
    expect(await isComplete(e)).toEqual({ IsComplete: false });
    expect(ds.commandCalls(DescribeTrustsCommand)[0].args[0].input).toEqual({ DirectoryId: DIR, TrustIds: [TRUST] });
    expect(logs).toEqual([expect.objectContaining({ message: 'DeleteTrust poll', trustId: TRUST, done: false })]);
    ds.reset();
    for (const bad of ['d-123', 42, undefined]) {
      expect(await isComplete(event('Delete', { DirectoryId: bad }, { PhysicalResourceId: TRUST }) as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    }
    expect(ds.calls()).toHaveLength(0);
  });
});

describe('create/update polls', () => {
  test('a physical ID that names no trust is an error', async () => {
    await expect(isComplete(event('Create', {}, { PhysicalResourceId: 'req-1' }) as CdkCustomResourceIsCompleteEvent)).rejects.toThrow('CreateTrust: physical ID req-1 names no trust');
  });

  test('an update that changed nothing completes at once with state Unchanged and the owner from the ID', async () => {
    const r = await isComplete(event('Update', {}, { PhysicalResourceId: `${TRUST}/adopted`, Data: { Changed: '' } }) as CdkCustomResourceIsCompleteEvent);
    expect(r).toEqual({ IsComplete: true, Data: { TrustId: TRUST, TrustState: 'Unchanged', RemoteDomainName: 'onprem.example.com', CreatedByStack: 'false' } });
    expect(ds.calls()).toHaveLength(0);
  });

  test('a create polls even without Data.Changed; the poll is logged', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Creating')] });
    expect(await isComplete(event('Create', {}, { PhysicalResourceId: TRUST }) as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: false });
    expect(logs).toEqual([expect.objectContaining({ message: 'CreateTrust poll', trustId: TRUST, ready: false })]);
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [trust(TRUST, 'Verified')] });
    expect(await isComplete(event('Update', {}, { PhysicalResourceId: TRUST, Data: { Changed: 'SelectiveAuth' } }) as CdkCustomResourceIsCompleteEvent)).toEqual({
      IsComplete: true,
      Data: { TrustId: TRUST, TrustState: 'Verified', RemoteDomainName: 'onprem.example.com', CreatedByStack: 'true' },
    });
  });

  test('a trust not listed yet is waited for only within 5 minutes of a known start', async () => {
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
    const at = (startedAt?: number) =>
      isComplete(event('Create', {}, { PhysicalResourceId: TRUST, ...(startedAt === undefined ? {} : { Data: { StartedAt: String(startedAt) } }) }) as CdkCustomResourceIsCompleteEvent);
    expect(await at(Date.now() - 290_000)).toEqual({ IsComplete: false });
    await expect(at(Date.now() - 301_000)).rejects.toThrow(/disappeared while it was being created/);
    await expect(at()).rejects.toThrow(/disappeared while it was being created/);
  });
});
