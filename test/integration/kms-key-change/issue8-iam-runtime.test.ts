/**
 * Issue 8: every RDS write a whole run makes is allowed by the Steps role now that the role is scoped
 * by the run tag (lib/kms-key-change grantStepPermissions), and every create, restore and copy sends
 * that tag. moto does not enforce IAM, so the test records each RDS command the real steps send to
 * moto (middleware on the run's client), with the tags the resource carries at that moment (read from
 * moto just before the call), turns it into the IAM requests RDS authorizes (the action on each
 * resource the request names, and rds:AddTagsToResource on the new resource for a create with Tags:
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/security_iam_id-based-policy-examples-grant-permissions-tags-on-create.html)
 * and evaluates them against the synthesized policy (test/kit/iam.ts evaluate()). A neighbour that
 * shares the source's name prefix is left untouched and is out of the role's reach.
 */
import { AddTagsToResourceCommand, DescribeDBInstancesCommand, ListTagsForResourceCommand, RDSClient, RemoveTagsFromResourceCommand } from '@aws-sdk/client-rds';
import { Template } from 'aws-cdk-lib/assertions';
import { KmsKeyChangeStack } from '../../../lib/kms-key-change';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { phasesFor, rollbackPhases, runPhases, StoppedBefore } from '../../../lambda/kms-key-change/runner';
import { STEPS } from '../../../lambda/kms-key-change/steps';
import { newState } from '../../../lambda/kms-key-change/state';
import { RUN_SOURCE_TAG } from '../../../lambda/kms-key-change/workflow';
import { testApp } from '../../helpers/app';
import { evaluate, IamRequest, roleStatements, Statement } from '../../kit/iam';
import { makeCluster, makeInstance, settingsOf, useMotoWorld, World } from './moto-fixtures';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
let w: World;
useMotoWorld((world) => (w = world));

const arnOf = (type: string, name: string) => (name.startsWith('arn:') ? name : `arn:aws:rds:${REGION}:${ACCOUNT}:${type}:${name}`);

interface Recorded {
  readonly command: string;
  readonly input: Record<string, any>;
  readonly requests: IamRequest[];
}

/** The resources one RDS write names, as IAM authorizes them ([type, identifier] pairs). */
function resourcesOf(command: string, i: Record<string, any>): Array<[string, string, boolean]> {
  // [type, name, is the resource this request creates]
  switch (command) {
    case 'AddTagsToResource':
    case 'RemoveTagsFromResource':
    case 'ListTagsForResource':
      return [['', i.ResourceName, false]];
    case 'CreateDBSnapshot':
      return [['db', i.DBInstanceIdentifier, false], ['snapshot', i.DBSnapshotIdentifier, true]];
    case 'CreateDBClusterSnapshot':
      return [['cluster', i.DBClusterIdentifier, false], ['cluster-snapshot', i.DBClusterSnapshotIdentifier, true]];
    case 'CopyDBSnapshot':
      return [['snapshot', i.SourceDBSnapshotIdentifier, false], ['snapshot', i.TargetDBSnapshotIdentifier, true]];
    case 'CopyDBClusterSnapshot':
      return [['cluster-snapshot', i.SourceDBClusterSnapshotIdentifier, false], ['cluster-snapshot', i.TargetDBClusterSnapshotIdentifier, true]];
    case 'RestoreDBInstanceFromDBSnapshot':
      return [['db', i.DBInstanceIdentifier, true], ['snapshot', i.DBSnapshotIdentifier, false], ...(i.DBParameterGroupName ? [['pg', i.DBParameterGroupName, false] as [string, string, boolean]] : [])];
    case 'RestoreDBClusterFromSnapshot':
      return [['cluster', i.DBClusterIdentifier, true], ['cluster-snapshot', i.SnapshotIdentifier, false]];
    case 'CreateDBInstance':
      return [['db', i.DBInstanceIdentifier, true], ['cluster', i.DBClusterIdentifier, false]];
    case 'ModifyDBInstance':
    case 'AddRoleToDBInstance':
      return [['db', i.DBInstanceIdentifier, false]];
    case 'ModifyDBCluster':
    case 'AddRoleToDBCluster':
      return [['cluster', i.DBClusterIdentifier, false]];
    default:
      throw new Error(`an RDS write this test does not map to IAM resources yet: ${command}; add it so the role is checked for it`);
  }
}

/**
 * Records every RDS write of the run's client with the IAM requests it means, and ListTagsForResource
 * (the run lock's read): the role grants it on named ARNs only, unlike the Describe* reads (on *).
 */
let recorders = 0;
function record(rds: RDSClient, reader: RDSClient): Recorded[] {
  const seen: Recorded[] = [];
  rds.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String((context as { commandName?: string }).commandName ?? '').replace(/Command$/, '');
      if (!/^(Describe|List)/.test(command) || command === 'ListTagsForResource') {
        const input = args.input as Record<string, any>;
        const tags = (input.Tags ?? []) as Array<{ Key: string; Value: string }>;
        const requestCtx: Record<string, string[]> = {};
        const keys: string[] = input.TagKeys ?? tags.map((t) => t.Key);
        if (keys.length) requestCtx['aws:TagKeys'] = keys;
        for (const t of tags) requestCtx[`aws:RequestTag/${t.Key}`] = [t.Value];
        const requests: IamRequest[] = [];
        for (const [type, name, created] of resourcesOf(command, input)) {
          const resource = arnOf(type, name);
          const ctx = { ...requestCtx };
          if (!created) {
            const have = await reader.send(new ListTagsForResourceCommand({ ResourceName: resource })).then((r) => r.TagList ?? [], () => []);
            for (const t of have) ctx[`aws:ResourceTag/${t.Key}`] = [t.Value ?? ''];
          }
          requests.push({ action: `rds:${command}`, resource, context: ctx });
          if (created && tags.length) requests.push({ action: 'rds:AddTagsToResource', resource, context: ctx });
        }
        seen.push({ command, input, requests });
      }
      return next(args);
    },
    { step: 'initialize', name: `issue8RecordWrites${++recorders}` },
  );
  return seen;
}

function stepsStatements(props: { dbInstanceIdentifier?: string; dbClusterIdentifier?: string }): Statement[] {
  const t = Template.fromStack(
    new KmsKeyChangeStack(testApp(), 'DbOpsKmsKeyChange', {
      env: { account: ACCOUNT, region: REGION },
      ...props,
      sourceKeyArn: w.oldKey,
      targetKeyArn: w.newKey,
    }),
  ).toJSON() as any;
  const [, fn] = Object.entries(t.Resources).find(([, r]: [string, any]) => r.Type === 'AWS::Lambda::Function' && /Steps/.test(JSON.stringify(r.Properties.Role)))! as [string, any];
  return roleStatements(t, fn.Properties.Role['Fn::GetAtt'][0]);
}

const denied = (st: Statement[], seen: Recorded[]) =>
  seen.flatMap((r) => r.requests.map((q) => ({ q, v: evaluate(st, q, { account: ACCOUNT, region: REGION }) }))).filter((x) => !x.v.allowed).map((x) => `${x.q.action} ${x.q.resource}: ${x.v.why}`);

/** Every create/restore/copy sent the run tag with the source id. */
function createsWithoutRunTag(seen: Recorded[], id: string): string[] {
  return seen
    .filter((r) => /^(Create|Copy|Restore)/.test(r.command))
    .filter((r) => !(r.input.Tags ?? []).some((t: { Key: string; Value: string }) => t.Key === RUN_SOURCE_TAG && t.Value === id))
    .map((r) => r.command);
}

test('instance: every RDS write of a cutover run (lock, freeze, snapshot, copy, restore, settings, renames, finalize) is allowed by the tag-scoped role; the neighbour orders-like prefix is untouched', async () => {
  await makeInstance(w, 'iamsrc');
  await makeInstance(w, 'iamsrc-reporting');
  const neighbourBefore = await settingsOf(w, 'instance', 'iamsrc-reporting');
  const c = clientsFor(REGION);
  const seen = record(c.rds, w.rds);
  let s = newState({ kind: 'instance', sourceId: 'iamsrc', kmsKey: w.newKey, region: REGION, now: new Date(Date.UTC(2026, 10, 30, 7, 0, 0)) });
  s = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  expect(s.cutover?.done).toBe(true);
  const commands = new Set(seen.map((r) => r.command));
  expect([...commands].sort()).toEqual(expect.arrayContaining(['AddTagsToResource', 'CopyDBSnapshot', 'CreateDBSnapshot', 'ModifyDBInstance', 'RemoveTagsFromResource', 'RestoreDBInstanceFromDBSnapshot']));
  expect(createsWithoutRunTag(seen, 'iamsrc')).toEqual([]);
  // The first write of the run: lock + run tag on exactly the source.
  expect(seen.filter((r) => r.command !== 'ListTagsForResource')[0]).toMatchObject({ command: 'AddTagsToResource', input: { ResourceName: arnOf('db', 'iamsrc'), Tags: [{ Key: 'db-ops-kit:rekey-lock', Value: s.runId }, { Key: RUN_SOURCE_TAG, Value: 'iamsrc' }] } });
  const st = stepsStatements({ dbInstanceIdentifier: 'iamsrc' });
  expect(denied(st, seen)).toEqual([]);
  // The neighbour: never written to, and the role could not have.
  expect(seen.flatMap((r) => r.requests).filter((q) => q.resource.endsWith(':iamsrc-reporting'))).toEqual([]);
  expect(await settingsOf(w, 'instance', 'iamsrc-reporting')).toEqual(neighbourBefore);
  const onNeighbour = seen.filter((r) => r.command === 'ModifyDBInstance').map((r) => ({ ...r.requests[0], resource: arnOf('db', 'iamsrc-reporting'), context: {} }));
  expect(onNeighbour.length).toBeGreaterThan(0);
  for (const q of onNeighbour) expect(evaluate(st, q, { account: ACCOUNT, region: REGION }).allowed).toBe(false);
}, 120_000);

test('Aurora cluster with two members: every RDS write of a cutover run is allowed by the tag-scoped role and every create carries the run tag', async () => {
  await makeCluster(w, 'iamcl');
  const c = clientsFor(REGION);
  const seen = record(c.rds, w.rds);
  let s = newState({ kind: 'cluster', sourceId: 'iamcl', kmsKey: w.newKey, region: REGION, now: new Date(Date.UTC(2026, 10, 30, 7, 30, 0)) });
  s = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  expect(s.cutover?.done).toBe(true);
  const commands = seen.map((r) => r.command);
  expect(commands.filter((x) => x === 'CreateDBInstance')).toHaveLength(2);
  expect(commands).toEqual(expect.arrayContaining(['CreateDBClusterSnapshot', 'RestoreDBClusterFromSnapshot', 'ModifyDBCluster']));
  expect(createsWithoutRunTag(seen, 'iamcl')).toEqual([]);
  expect(denied(stepsStatements({ dbClusterIdentifier: 'iamcl' }), seen)).toEqual([]);
}, 120_000);

/**
 * Review (kms8): another principal strips the run tag from the source mid-run (a tag-policy
 * clean-up, an operator tidying tags). Every later write of the tag-scoped role on the source would
 * be denied, for the CLI resume and for a workflow redrive (which re-runs only the failed step), and
 * the source would stay frozen. The run re-asserts its tag on the resources it holds the lock on.
 */
async function stripRunTag(id: string, value?: string): Promise<void> {
  const arn = arnOf('db', id);
  if (value) await w.rds.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: RUN_SOURCE_TAG, Value: value }] }));
  else await w.rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: [RUN_SOURCE_TAG] }));
  const have = (await w.rds.send(new ListTagsForResourceCommand({ ResourceName: arn }))).TagList ?? [];
  expect(have.find((t) => t.Key === RUN_SOURCE_TAG)?.Value).toBe(value);
}

test.each([
  ['removed', undefined],
  ['overwritten with another database\'s id', 'billing'],
])('run tag %s on the frozen source mid-run: the CLI resume finishes with every write allowed by the tag-scoped role', async (_how, value) => {
  const id = `strip${value ? 'o' : 'r'}`;
  await makeInstance(w, id);
  const c = clientsFor(REGION);
  let s = newState({ kind: 'instance', sourceId: id, kmsKey: w.newKey, region: REGION, now: new Date(Date.UTC(2026, 10, 30, 8, 0, 0)) });
  const e = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0, stopBefore: 'restore' }).catch((x) => x);
  expect(e).toBeInstanceOf(StoppedBefore);
  s = (e as StoppedBefore).state;
  expect(s.freeze?.groupId).toBeDefined();
  await stripRunTag(id, value);
  const seen = record(c.rds, w.rds);
  s = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  expect(s.cutover?.done).toBe(true);
  expect(denied(stepsStatements({ dbInstanceIdentifier: id }), seen)).toEqual([]);
}, 120_000);

test('run tag removed from the frozen source before cutover: a workflow redrive of RenameSource (no preflight, no lock step) is allowed by the role', async () => {
  await makeInstance(w, 'stripwf');
  const c = clientsFor(REGION);
  let s = newState({ kind: 'instance', sourceId: 'stripwf', kmsKey: w.newKey, region: REGION, now: new Date(Date.UTC(2026, 10, 30, 8, 30, 0)) });
  const e = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0, stopBefore: 'renameSource' }).catch((x) => x);
  s = (e as StoppedBefore).state;
  await stripRunTag('stripwf');
  const seen = record(c.rds, w.rds);
  const r = await STEPS.renameSource(c, s);
  expect(seen.map((x) => x.command)).toContain('ModifyDBInstance');
  expect(denied(stepsStatements({ dbInstanceIdentifier: 'stripwf' }), seen)).toEqual([]);
  expect(r.state.cutover?.sourceRenamedTo).toBe(s.names!.preRekeyId);
}, 120_000);

test('run tag removed from the kept original (<id>-pre-rekey-<run>) after the run: the rollback is still allowed by the role', async () => {
  await makeInstance(w, 'striprb');
  const c = clientsFor(REGION);
  let s = newState({ kind: 'instance', sourceId: 'striprb', kmsKey: w.newKey, region: REGION, now: new Date(Date.UTC(2026, 10, 30, 9, 0, 0)) });
  s = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0 });
  await stripRunTag(s.names!.preRekeyId!);
  const seen = record(c.rds, w.rds);
  s = await runPhases(c, { ...s, lastStep: undefined }, rollbackPhases(), { pollMs: 0 });
  expect((await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'striprb' }))).DBInstances![0].KmsKeyId).toBe(w.oldKey);
  expect(denied(stepsStatements({ dbInstanceIdentifier: 'striprb' }), seen)).toEqual([]);
}, 120_000);

/**
 * The Aurora cutover renames member instances too (ModifyDBInstance, scoped by the run tag). A tag
 * clean-up that strips the run tag from a member mid-run (the source's, or the copy's
 * `<member>-rekey-<run>`) must not leave a workflow redrive of the rename denied forever: the redrive
 * re-runs only that step (STEPS, no lock step), which re-tags the run's members first.
 */
test('Aurora: run tag stripped from a source member and a copy member before the renames; a redrive of each rename step is allowed', async () => {
  await makeCluster(w, 'memstrip');
  const c = clientsFor(REGION);
  let s = newState({ kind: 'cluster', sourceId: 'memstrip', kmsKey: w.newKey, region: REGION, now: new Date(Date.UTC(2026, 10, 30, 8, 30, 0)) });
  const e = await runPhases(c, s, phasesFor(s, { cutover: true }), { pollMs: 0, stopBefore: 'renameSource' }).catch((x) => x);
  expect(e).toBeInstanceOf(StoppedBefore);
  s = (e as StoppedBefore).state;
  const copyMember = s.names!.memberIds!['memstrip-1'];
  expect(copyMember).toBe(`memstrip-1-rekey-${s.runId}`);
  await stripRunTag('memstrip-1');
  await stripRunTag(copyMember);
  const seen = record(c.rds, w.rds);
  const st = stepsStatements({ dbClusterIdentifier: 'memstrip' });
  for (const step of ['renameSource', 'checkRenameSource', 'renameTarget', 'checkRenameTarget'] as const) {
    s = (await STEPS[step](c, s)).state;
  }
  expect(s.cutover?.done).toBe(true);
  expect(seen.filter((r) => r.command === 'ModifyDBInstance').map((r) => r.input.DBInstanceIdentifier).sort()).toEqual([copyMember, 'memstrip-1', 'memstrip-2', s.names!.memberIds!['memstrip-2']].sort());
  expect(denied(st, seen)).toEqual([]);
  // Both members carry the run tag again under their new names.
  for (const id of [`memstrip-1-pre-rekey-${s.runId}`, 'memstrip-1']) {
    const have = (await w.rds.send(new ListTagsForResourceCommand({ ResourceName: arnOf('db', id) }))).TagList ?? [];
    expect([id, have.find((t) => t.Key === RUN_SOURCE_TAG)?.Value]).toEqual([id, 'memstrip']);
  }
}, 120_000);
