/**
 * CreateTrust custom resource: trust-state polling (Creating → Verified / VerifyFailed), in-place
 * updates and the password's path (Secrets Manager → CreateTrust only, never a log or a response).
 *
 * aws-sdk-client-mock is used in this file because moto never moves a trust out of "Creating" and
 * does not implement UpdateTrust or UpdateConditionalForwarder; create/describe/delete against moto
 * are covered in test/integration/ad-trust/trust-moto.test.ts.
 */
import {
  CreateTrustCommand,
  DeleteTrustCommand,
  DescribeTrustsCommand,
  DirectoryServiceClient,
  EntityDoesNotExistException,
  UpdateConditionalForwarderCommand,
  UpdateTrustCommand,
} from '@aws-sdk/client-directory-service';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { crEvent } from './cr-event';

const PASSWORD = 'Tr0ub4dor-and-3-horses!';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf';
const DIR = 'd-1234567890';
const TRUST = 't-0123456789';
const PROPS = {
  DirectoryId: DIR,
  RemoteDomainName: 'onprem.example.com',
  TrustPasswordSecretArn: SECRET_ARN,
  ConditionalForwarderIpAddrs: ['192.168.10.10', '192.168.10.11'],
  SelectiveAuth: 'Disabled',
};

// Log everything (DEBUG) so the password check below covers every log line the handler can write.
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { onEvent, isComplete } = require('../../lambda/ad-trust/trust-handler') as typeof import('../../lambda/ad-trust/trust-handler');

const ds = mockClient(DirectoryServiceClient);
const sm = mockClient(SecretsManagerClient);
let output = '';
const writes: jest.SpyInstance[] = [];

beforeEach(() => {
  ds.reset();
  sm.reset();
  sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: PASSWORD });
  ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
  ds.on(CreateTrustCommand).resolves({ TrustId: TRUST });
  output = '';
  for (const stream of [process.stdout, process.stderr]) {
    writes.push(
      jest.spyOn(stream, 'write').mockImplementation((chunk: any) => {
        output += String(chunk);
        return true;
      }),
    );
  }
});

afterEach(() => {
  while (writes.length) writes.pop()!.mockRestore();
  // The password must never reach a log line.
  expect(output).not.toContain(PASSWORD);
});

function event(type: 'Create' | 'Update' | 'Delete', extra: Partial<any> = {}): CdkCustomResourceEvent {
  return crEvent(type, { logicalId: 'Trust', resourceType: 'Custom::ForestTrust', stack: 'DbOpsAdTrustPrimary', region: 'us-east-1' }, PROPS, extra);
}

function trustState(state: string, reason = '', extra: Record<string, unknown> = {}) {
  return {
    Trusts: [
      {
        TrustId: TRUST,
        DirectoryId: DIR,
        RemoteDomainName: 'onprem.example.com',
        TrustDirection: 'One-Way: Outgoing' as const,
        TrustType: 'Forest' as const,
        TrustState: state as any,
        TrustStateReason: reason,
        CreatedDateTime: new Date('2026-01-05T10:00:00Z'),
        ...extra,
      },
    ],
  };
}

describe('create', () => {
  test('reads the password by ARN and creates a one-way outgoing forest trust with the conditional forwarder', async () => {
    const r = await onEvent(event('Create'));
    expect(r).toEqual({ PhysicalResourceId: TRUST, Data: { CreatedByStack: 'true', StartedAt: expect.stringMatching(/^\d+$/) } });
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: SECRET_ARN }]);
    expect(ds.commandCalls(CreateTrustCommand).map((c) => c.args[0].input)).toEqual([
      {
        DirectoryId: DIR,
        RemoteDomainName: 'onprem.example.com',
        TrustPassword: PASSWORD,
        TrustDirection: 'One-Way: Outgoing',
        TrustType: 'Forest',
        ConditionalForwarderIpAddrs: ['192.168.10.10', '192.168.10.11'],
        SelectiveAuth: 'Disabled',
      },
    ]);
    expect(output).toMatch(/"message":"CreateTrust"/);
  });

  test('a JSON secret {"password": …} works too', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ password: PASSWORD, note: 'x' }) });
    await onEvent(event('Create'));
    expect(ds.commandCalls(CreateTrustCommand)[0].args[0].input.TrustPassword).toBe(PASSWORD);
  });

  test('CreateTrust retried after AWS accepted a timed-out attempt (EntityAlreadyExists) keeps the trust as its own: it was created during this call', async () => {
    ds.on(DescribeTrustsCommand).resolvesOnce({ Trusts: [] }).resolves(trustState('Creating', '', { CreatedDateTime: new Date() }));
    ds.on(CreateTrustCommand)
      .rejectsOnce(Object.assign(new Error('timeout'), { name: 'TimeoutError', $metadata: { httpStatusCode: 504 } }))
      .rejects(Object.assign(new Error('trust exists'), { name: 'EntityAlreadyExistsException', $metadata: { httpStatusCode: 400 } }));
    const r = await onEvent(event('Create'));
    expect(r.PhysicalResourceId).toBe(TRUST);
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(2);
    expect(output).not.toContain(PASSWORD);
  });

  test('EntityAlreadyExists for a trust older than this call (someone else made it meanwhile) is refused, not taken as ours', async () => {
    ds.on(DescribeTrustsCommand).resolvesOnce({ Trusts: [] }).resolves(trustState('Verified'));
    ds.on(CreateTrustCommand).rejects(Object.assign(new Error('trust exists'), { name: 'EntityAlreadyExistsException', $metadata: { httpStatusCode: 400 } }));
    await expect(onEvent(event('Create'))).rejects.toThrow(/already has a trust with onprem\.example\.com that this stack did not create: t-0123456789/);
  });
});

describe('a trust that existed before the stack (made by hand from the blog, or left by another stack)', () => {
  const kinds: Array<[string, Record<string, unknown>]> = [
    ['a verified one-way outgoing forest trust', {}],
    ['a two-way trust', { TrustDirection: 'Two-Way' }],
    ['an External trust', { TrustType: 'External' }],
    ['a VerifyFailed trust', { TrustState: 'VerifyFailed', TrustStateReason: 'could not be contacted' }],
    ['a trust still Creating', { TrustState: 'Creating' }],
  ];
  test.each(kinds)('without AdoptExisting, %s is refused with its ID, kind and state and how to adopt or delete it; nothing is called', async (_name, extra) => {
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified', '', extra));
    const err = await onEvent(event('Create')).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/directory d-1234567890 already has a trust with onprem\.example\.com that this stack did not create: t-0123456789 \(/);
    expect(err?.message).toContain(`${(extra.TrustType as string) ?? 'Forest'}, ${(extra.TrustDirection as string) ?? 'One-Way: Outgoing'}, state ${(extra.TrustState as string) ?? 'Verified'}`);
    expect(err?.message).toContain('-c adTrust:adoptExistingTrust=true');
    expect(err?.message).toContain('aws ds delete-trust --trust-id t-0123456789');
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  test('with AdoptExisting, a verified one-way outgoing forest trust is adopted: no CreateTrust, no password read, the physical ID says adopted', async () => {
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified'));
    const e = event('Create', { ResourceProperties: { ...PROPS, AdoptExisting: 'true' } });
    const r = await onEvent(e);
    expect(r).toEqual({ PhysicalResourceId: `${TRUST}/adopted`, Data: { CreatedByStack: 'false', StartedAt: expect.stringMatching(/^\d+$/) } });
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(await isComplete({ ...e, ...r } as CdkCustomResourceIsCompleteEvent)).toEqual({
      IsComplete: true,
      Data: { TrustId: TRUST, TrustState: 'Verified', RemoteDomainName: 'onprem.example.com', CreatedByStack: 'false' },
    });
  });

  test.each([
    ['a two-way trust', { TrustDirection: 'Two-Way' }, /its direction is Two-Way, not One-Way: Outgoing/],
    ['an incoming trust', { TrustDirection: 'One-Way: Incoming' }, /its direction is One-Way: Incoming/],
    ['an External trust', { TrustType: 'External' }, /its type is External, not Forest/],
    ['a VerifyFailed trust', { TrustState: 'VerifyFailed' }, /its state is VerifyFailed, not Verified/],
    ['a trust still Creating', { TrustState: 'Creating' }, /its state is Creating, not Verified/],
  ])('with AdoptExisting, %s is still refused (wrong kind or unhealthy), nothing is changed', async (_name, extra, why) => {
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified', '', extra));
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, AdoptExisting: 'true' } }))).rejects.toThrow(why);
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
  });

  test('an adopted trust is left in place with its forwarder on delete (stack delete or rollback): no DeleteTrust, no polling', async () => {
    const e = event('Delete', { PhysicalResourceId: `${TRUST}/adopted` });
    await expect(onEvent(e)).resolves.toEqual({ PhysicalResourceId: `${TRUST}/adopted` });
    expect(await isComplete(e as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    expect(ds.calls()).toHaveLength(0);
    expect(output).toMatch(/adopted, not created by this stack: left in place/);
  });

  test('an adopted trust keeps its adopted physical ID through an in-place update', async () => {
    ds.on(UpdateTrustCommand).resolves({});
    const r = await onEvent(
      event('Update', { PhysicalResourceId: `${TRUST}/adopted`, OldResourceProperties: { ...PROPS, AdoptExisting: 'true' }, ResourceProperties: { ...PROPS, AdoptExisting: 'true', SelectiveAuth: 'Enabled' } }),
    );
    expect(r).toEqual({ PhysicalResourceId: `${TRUST}/adopted`, Data: { Changed: 'SelectiveAuth', CreatedByStack: 'false' } });
    expect(ds.commandCalls(UpdateTrustCommand)[0].args[0].input).toEqual({ TrustId: TRUST, SelectiveAuth: 'Enabled' });
  });

  test('AdoptExisting must be true or false', async () => {
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, AdoptExisting: 'yes' } }))).rejects.toThrow(/AdoptExisting must be true or false/);
    expect(ds.calls()).toHaveLength(0);
  });
});

describe('polling', () => {
  test('isComplete waits while Creating/Verifying, completes when Verified', async () => {
    const e = { ...event('Create'), PhysicalResourceId: TRUST } as CdkCustomResourceIsCompleteEvent;
    ds.on(DescribeTrustsCommand).resolvesOnce(trustState('Creating')).resolvesOnce(trustState('Verifying')).resolves(trustState('Verified'));
    expect(await isComplete(e)).toEqual({ IsComplete: false });
    expect(await isComplete(e)).toEqual({ IsComplete: false });
    expect(await isComplete(e)).toEqual({ IsComplete: true, Data: { TrustId: TRUST, TrustState: 'Verified', RemoteDomainName: 'onprem.example.com', CreatedByStack: 'true' } });
  });

  test('VerifyFailed fails the deployment with AWS\'s reason and what to check', async () => {
    ds.on(DescribeTrustsCommand).resolves(trustState('VerifyFailed', 'The specified domain either does not exist or could not be contacted'));
    await expect(isComplete({ ...event('Create'), PhysicalResourceId: TRUST } as CdkCustomResourceIsCompleteEvent)).rejects.toThrow(
      /is VerifyFailed: The specified domain either does not exist or could not be contacted\. Check that the on-premises incoming trust exists/,
    );
  });

  test('properties carrying a password, or more than 4 forwarder IPs, are rejected before any call', async () => {
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, TrustPassword: PASSWORD } }))).rejects.toThrow(/TrustPassword must never be a custom-resource property/);
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, ConditionalForwarderIpAddrs: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5'] } }))).rejects.toThrow(
      /ConditionalForwarderIpAddrs must be 1 to 4 IPv4 addresses/,
    );
    expect(ds.calls()).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  test('an empty secret is a clear error naming the secret (not its value)', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(onEvent(event('Create'))).rejects.toThrow(`secret ${SECRET_ARN} has no string value`);
  });
});

describe('update', () => {
  test('selective authentication and forwarder IPs change in place and are then waited for', async () => {
    ds.on(UpdateTrustCommand).resolves({});
    ds.on(UpdateConditionalForwarderCommand).resolves({});
    const e = event('Update', {
      PhysicalResourceId: TRUST,
      OldResourceProperties: { ...PROPS },
      ResourceProperties: { ...PROPS, SelectiveAuth: 'Enabled', ConditionalForwarderIpAddrs: ['192.168.10.12'] },
    });
    const r = await onEvent(e);
    expect(r).toEqual({ PhysicalResourceId: TRUST, Data: { Changed: 'SelectiveAuth,ConditionalForwarderIpAddrs', CreatedByStack: 'true' } });
    expect(ds.commandCalls(UpdateTrustCommand)[0].args[0].input).toEqual({ TrustId: TRUST, SelectiveAuth: 'Enabled' });
    expect(ds.commandCalls(UpdateConditionalForwarderCommand)[0].args[0].input).toEqual({ DirectoryId: DIR, RemoteDomainName: 'onprem.example.com', DnsIpAddrs: ['192.168.10.12'] });
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
    ds.on(DescribeTrustsCommand).resolvesOnce(trustState('Updating')).resolves(trustState('Updated'));
    const ie = { ...e, ...r } as CdkCustomResourceIsCompleteEvent;
    expect((await isComplete(ie)).IsComplete).toBe(false);
    expect((await isComplete(ie)).IsComplete).toBe(true);
  });

  test('an update without changes completes at once', async () => {
    const e = event('Update', { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS } });
    const r = await onEvent(e);
    expect(await isComplete({ ...e, ...r } as CdkCustomResourceIsCompleteEvent)).toMatchObject({ IsComplete: true });
    expect(ds.calls()).toHaveLength(0);
  });

  test('a new remote domain creates a new trust (CloudFormation deletes the old one afterwards)', async () => {
    ds.on(CreateTrustCommand).resolves({ TrustId: 't-9999999999' });
    const r = await onEvent(
      event('Update', { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS }, ResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }),
    );
    // The new physical ID records the one it replaces (what a rollback returns to).
    expect(r).toEqual({ PhysicalResourceId: `t-9999999999/replaces/${TRUST}`, Data: { Changed: 'replacement', CreatedByStack: 'true', StartedAt: expect.stringMatching(/^\d+$/) } });
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
  });

  test('a different password secret is refused with the procedure, the trust stays', async () => {
    const e = event('Update', {
      PhysicalResourceId: TRUST,
      OldResourceProperties: { ...PROPS },
      ResourceProperties: { ...PROPS, TrustPasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123' },
    });
    await expect(onEvent(e)).rejects.toThrow(/AWS cannot change a trust's password in place/);
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
  });
});

describe('delete', () => {
  test('deletes the trust and its conditional forwarder, then waits until it is gone', async () => {
    ds.on(DeleteTrustCommand).resolves({ TrustId: TRUST });
    const e = event('Delete', { PhysicalResourceId: TRUST });
    await onEvent(e);
    expect(ds.commandCalls(DeleteTrustCommand)[0].args[0].input).toEqual({ TrustId: TRUST, DeleteAssociatedConditionalForwarder: true });
    ds.on(DescribeTrustsCommand).resolvesOnce(trustState('Deleting')).resolves({ Trusts: [] });
    expect((await isComplete(e as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(false);
    expect((await isComplete(e as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(true);
  });

  test('a trust that is already gone is fine', async () => {
    ds.on(DeleteTrustCommand).rejects(new EntityDoesNotExistException({ message: 'no trust', $metadata: {} }));
    await expect(onEvent(event('Delete', { PhysicalResourceId: TRUST }))).resolves.toEqual({ PhysicalResourceId: TRUST });
  });

  test('a physical ID from a failed create touches nothing', async () => {
    const e = event('Delete', { PhysicalResourceId: 'req-1' });
    await onEvent(e);
    expect((await isComplete(e as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(true);
    expect(ds.calls()).toHaveLength(0);
  });
});

describe('failure paths CloudFormation drives (break-it review)', () => {
  const MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';

  test('a Delete after a create that failed on bad properties (the framework marker, the same bad properties) touches nothing and succeeds', async () => {
    // CloudFormation sends the failed create's properties with the Delete; refusing them would leave the stack in DELETE_FAILED.
    const e = event('Delete', { PhysicalResourceId: MARKER, ResourceProperties: { ...PROPS, ServiceToken: 'x', ConditionalForwarderIpAddrs: ['not-an-ip'] } });
    await expect(onEvent(e)).resolves.toEqual({ PhysicalResourceId: MARKER });
    expect(await isComplete(e as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    expect(ds.calls()).toHaveLength(0);
  });

  test('a Delete of the stack\'s own trust still deletes it when its stored properties no longer pass today\'s validation (kit upgrade)', async () => {
    ds.on(DeleteTrustCommand).resolves({ TrustId: TRUST });
    const e = event('Delete', { PhysicalResourceId: TRUST, ResourceProperties: { ...PROPS, ServiceToken: 'x', SelectiveAuth: 'enabled' } });
    await onEvent(e);
    expect(ds.commandCalls(DeleteTrustCommand).map((c) => c.args[0].input)).toEqual([{ TrustId: TRUST, DeleteAssociatedConditionalForwarder: true }]);
    ds.on(DescribeTrustsCommand).resolves({ Trusts: [] });
    expect(await isComplete(e as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
  });

  test('the rollback of an update that failed on bad new properties (they come back as OldResourceProperties) succeeds without touching the trust', async () => {
    const e = event('Update', { PhysicalResourceId: TRUST, ResourceProperties: { ...PROPS }, OldResourceProperties: { ...PROPS, ConditionalForwarderIpAddrs: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'] } });
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified'));
    const r = await onEvent(e);
    expect(r.PhysicalResourceId).toBe(TRUST);
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
    expect(ds.commandCalls(UpdateTrustCommand)).toHaveLength(0);
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
    expect(await isComplete({ ...e, ...r } as CdkCustomResourceIsCompleteEvent)).toMatchObject({ IsComplete: true });
  });

  test('the rollback of a replacement (new domain) returns to the stack\'s own old trust instead of refusing it as foreign', async () => {
    // Forward: onprem -> emea creates t-9999999999 and records what it replaces.
    ds.on(CreateTrustCommand).resolves({ TrustId: 't-9999999999' });
    const fwd = await onEvent(event('Update', { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS }, ResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }));
    expect(fwd.PhysicalResourceId).toMatch(/^t-9999999999/);
    // A later resource fails; CloudFormation rolls back: Update with the old properties, the NEW physical ID.
    // The old trust still exists (CloudFormation deletes it only in the cleanup phase of a successful update).
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified'));
    const back = await onEvent(
      event('Update', { PhysicalResourceId: fwd.PhysicalResourceId, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' }, ResourceProperties: { ...PROPS } }),
    );
    // Back to the old physical ID: CloudFormation then deletes t-9999999999 (the stack's own), and t-0123456789 stays the stack's own.
    expect(back.PhysicalResourceId).toBe(TRUST);
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(1);
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
  });

  test('after a replacement, a trust to the old domain made by someone else (another ID) is still refused', async () => {
    ds.on(CreateTrustCommand).resolves({ TrustId: 't-9999999999' });
    const fwd = await onEvent(event('Update', { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS }, ResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }));
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified', '', { TrustId: 't-5555555555' }));
    await expect(
      onEvent(event('Update', { PhysicalResourceId: fwd.PhysicalResourceId, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' }, ResourceProperties: { ...PROPS } })),
    ).rejects.toThrow(/that this stack did not create: t-5555555555/);
  });

  test('a missing or unreadable secret fails with the ARN, what exists now and the next command', async () => {
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error("Secrets Manager can't find the specified secret."), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }));
    await expect(onEvent(event('Create'))).rejects.toThrow(/secret arn:aws:secretsmanager:us-east-1:123456789012:secret:trust-AbCdEf .*ResourceNotFoundException.*No trust was created.*aws secretsmanager describe-secret --secret-id/);
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('Access to KMS is not allowed'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    await expect(onEvent(event('Create'))).rejects.toThrow(/AccessDeniedException.*kms:Decrypt/);
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
  });

  test('CloudFormation\'s Delete of a replacement physical ID deletes only the trust it names, never the one it replaced', async () => {
    ds.on(DeleteTrustCommand).resolves({});
    await onEvent(event('Delete', { PhysicalResourceId: `t-9999999999/replaces/${TRUST}` }));
    expect(ds.commandCalls(DeleteTrustCommand).map((c) => c.args[0].input.TrustId)).toEqual(['t-9999999999']);
    ds.reset();
    await onEvent(event('Delete', { PhysicalResourceId: `t-9999999999/adopted/replaces/${TRUST}` }));
    expect(ds.commandCalls(DeleteTrustCommand)).toHaveLength(0);
  });
});

describe('hand-made trusts in every state, and names in other cases (break-it review)', () => {
  const ALL_STATES = ['Creating', 'Created', 'Verifying', 'VerifyFailed', 'Verified', 'Updating', 'UpdateFailed', 'Updated', 'Deleting', 'Failed'];
  test.each(ALL_STATES)('a one-way outgoing forest trust in state %s: refused without AdoptExisting; with it adopted only when Verified/Updated; never created, deleted or updated', async (state) => {
    ds.on(DescribeTrustsCommand).resolves(trustState(state));
    await expect(onEvent(event('Create'))).rejects.toThrow(new RegExp(`t-0123456789 \\(Forest, One-Way: Outgoing, state ${state}`));
    const adopt = onEvent(event('Create', { ResourceProperties: { ...PROPS, AdoptExisting: 'true' } }));
    if (state === 'Verified' || state === 'Updated') await expect(adopt).resolves.toMatchObject({ PhysicalResourceId: `${TRUST}/adopted` });
    // A trust being deleted never becomes Verified again: the answer is to wait, adopt or not (not "verify it in the console").
    else if (state === 'Deleting') await expect(adopt).rejects.toThrow(/state Deleting, created [^)]*\); it is being deleted: wait until aws ds describe-trusts/);
    else await expect(adopt).rejects.toThrow(new RegExp(`its state is ${state}, not Verified`));
    for (const c of [CreateTrustCommand, DeleteTrustCommand, UpdateTrustCommand, UpdateConditionalForwarderCommand]) expect(ds.commandCalls(c as any)).toHaveLength(0);
  });

  test('a trust to the same domain in other letter case (ONPREM.Example.com) is the same trust: refused, or adopted with AdoptExisting', async () => {
    ds.on(DescribeTrustsCommand).resolves(trustState('Verified', '', { RemoteDomainName: 'ONPREM.Example.com' }));
    await expect(onEvent(event('Create'))).rejects.toThrow(/that this stack did not create: t-0123456789/);
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, RemoteDomainName: 'OnPrem.EXAMPLE.com', AdoptExisting: 'true' } }))).resolves.toMatchObject({ PhysicalResourceId: `${TRUST}/adopted` });
    expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
  });

  test('a trust that is being deleted is refused with "wait", not with advice to delete it again', async () => {
    ds.on(DescribeTrustsCommand).resolves(trustState('Deleting'));
    const err = await onEvent(event('Create')).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/state Deleting.*is being deleted: wait until aws ds describe-trusts --directory-id d-1234567890 --trust-ids t-0123456789 no longer lists it/);
    expect(err?.message).not.toContain('aws ds delete-trust');
  });

  test('next to a trust that is being deleted, the live trust to the same domain is the one refused or adopted', async () => {
    ds.on(DescribeTrustsCommand).resolves({
      Trusts: [trustState('Deleting', '', { TrustId: 't-1111111111' }).Trusts[0], trustState('Verified', '', { TrustId: 't-2222222222' }).Trusts[0]],
    });
    await expect(onEvent(event('Create'))).rejects.toThrow(/did not create: t-2222222222/);
    await expect(onEvent(event('Create', { ResourceProperties: { ...PROPS, AdoptExisting: 'true' } }))).resolves.toMatchObject({ PhysicalResourceId: 't-2222222222/adopted' });
  });

  test('an update that only flips AdoptExisting keeps who owns the trust: created stays created (deleted with the stack), adopted stays adopted', async () => {
    const flip = async (physicalId: string, from: string, to: string) =>
      onEvent(event('Update', { PhysicalResourceId: physicalId, OldResourceProperties: { ...PROPS, AdoptExisting: from }, ResourceProperties: { ...PROPS, AdoptExisting: to } }));
    expect(await flip(TRUST, 'false', 'true')).toMatchObject({ PhysicalResourceId: TRUST, Data: { Changed: '', CreatedByStack: 'true' } });
    expect(await flip(`${TRUST}/adopted`, 'true', 'false')).toMatchObject({ PhysicalResourceId: `${TRUST}/adopted`, Data: { Changed: '', CreatedByStack: 'false' } });
    expect(ds.calls()).toHaveLength(0);
  });
});

test('Directory Service throttling (ThrottlingException) on DescribeTrusts and CreateTrust is retried: one trust, the stack\'s own (aws-sdk-client-mock: moto cannot throttle)', async () => {
  const throttle = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
  ds.on(DescribeTrustsCommand).rejectsOnce(throttle()).resolves({ Trusts: [] });
  ds.on(CreateTrustCommand).rejectsOnce(throttle()).resolves({ TrustId: TRUST });
  await expect(onEvent(event('Create'))).resolves.toEqual({ PhysicalResourceId: TRUST, Data: { CreatedByStack: 'true', StartedAt: expect.stringMatching(/^\d+$/) } });
  expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(2);
});

test('a trust left by an earlier deployment of this stack is refused with a hint that it may be the stack\'s own earlier trust, and how to adopt it', async () => {
  ds.on(DescribeTrustsCommand).resolves(trustState('Verified'));
  await expect(onEvent(event('Create'))).rejects.toThrow(/earlier deployment of this stack created is kept when the stack is deleted or createTrust is turned off.*adopt it the same way/);
});

test('right after CreateTrust, a trust that DescribeTrusts does not list yet (eventual consistency) is waited for; minutes later it is an error (break-it review)', async () => {
  const r = await onEvent(event('Create'));
  expect((r.Data as Record<string, string>).StartedAt).toMatch(/^\d+$/);
  ds.on(DescribeTrustsCommand).rejects(new EntityDoesNotExistException({ message: 'no trust', $metadata: {} }));
  const poll = (startedAt: number) => isComplete({ ...event('Create'), PhysicalResourceId: TRUST, Data: { ...r.Data, StartedAt: String(startedAt) } } as unknown as CdkCustomResourceIsCompleteEvent);
  expect(await poll(Date.now() - 30_000)).toEqual({ IsComplete: false });
  await expect(poll(Date.now() - 600_000)).rejects.toThrow(/disappeared while it was being created/);
});

test('the rollback of a replacement that failed in onEvent (the physical ID never changed) keeps the stack\'s own trust instead of refusing it (break-it review)', async () => {
  // Forward: onprem -> emea is refused (a foreign emea trust exists); CloudFormation keeps physical ID t-0123456789.
  ds.on(DescribeTrustsCommand).resolves(trustState('Verified', '', { TrustId: 't-5555555555', RemoteDomainName: 'emea.example.com' }));
  await expect(onEvent(event('Update', { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS }, ResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' } }))).rejects.toThrow(/did not create: t-5555555555/);
  // Rollback: the old properties, the same physical ID; the trust found for onprem is the one this resource holds.
  ds.on(DescribeTrustsCommand).resolves(trustState('Verified'));
  const back = await onEvent(event('Update', { PhysicalResourceId: TRUST, OldResourceProperties: { ...PROPS, RemoteDomainName: 'emea.example.com' }, ResourceProperties: { ...PROPS } }));
  expect(back.PhysicalResourceId).toBe(TRUST);
  expect(ds.commandCalls(CreateTrustCommand)).toHaveLength(0);
});
