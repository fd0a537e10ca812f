/**
 * The Steps function's view of RDS for the break-it tests of the run lock and the Aurora member run tag
 * (lock-members-breakit.test.ts, lock-release-breakit.test.ts): the in-memory fake of ./fake-rds.ts
 * behind the Steps role's IAM for a same-Region Aurora snapshot run on `ledger`, as
 * lib/kms-key-change grantStepPermissions writes it (ModifyDB* only on run-tagged resources,
 * ListTagsForResource only on cluster:<id>[-*], AddTagsToResource per RunTagOnSource /
 * RunTagOnSourceMembers / RunLockTag / TagOnCreate / TagRunResources, RemoveTagsFromResource per
 * RunLockTag), with a cluster rename moving its members (RDS reports the new cluster identifier) and
 * an optional crash right after a call went through. An emulation: IAM itself cannot run here.
 */
import { AddTagsToResourceCommand, DBCluster, DBInstance, ListTagsForResourceCommand, ModifyDBClusterCommand, ModifyDBInstanceCommand, RDSClient, RemoveTagsFromResourceCommand, RestoreDBClusterFromSnapshotCommand, Tag } from '@aws-sdk/client-rds';
import { AwsStub } from 'aws-sdk-client-mock';
import { Clients } from '../../lambda/kms-key-change/clients';
import { RekeyState } from '../../lambda/kms-key-change/state';
import { STEPS } from '../../lambda/kms-key-change/steps';
import { LOCK_TAG, RUN_SOURCE_TAG, StepName } from '../../lambda/kms-key-change/workflow';
import { FakeRds } from './fake-rds';
import { ACCOUNT, clients, cluster, member, NEW_KEY, preflighted } from './fixtures';

export const SRC = 'ledger';
export const RUN = '20261130030405';
export const LATER = '20261205000000';
export const LATER_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/00000000-0000-0000-0000-00000000000c`;
export const PRE = `ledger-pre-rekey-${RUN}`;
export const MEMBERS = ['ledger-1', 'ledger-2'];
export const carn = (id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:${id}`;
export const iarn = (id: string) => `arn:aws:rds:us-east-1:${ACCOUNT}:db:${id}`;
export const tag = (d: DBInstance | DBCluster | undefined, key: string) => d?.TagList?.find((t) => t.Key === key)?.Value;
export const runTag = (d: DBInstance | DBCluster | undefined) => tag(d, RUN_SOURCE_TAG);
export const RUN_TAGS = (run: string): Tag[] => [{ Key: 'db-ops-kit:rekey-run', Value: run }, { Key: RUN_SOURCE_TAG, Value: SRC }];

type Cmd = { input: Record<string, unknown> };

/** The Steps role over the fake `rds()` gives; `denied` lists every call the role refused (cleared by the caller). */
export function stepsRoleOver(rds: () => FakeRds) {
  const denied: string[] = [];
  const byArn = (arn: string): DBInstance | DBCluster | undefined =>
    [...rds().instances.values()].find((d) => d.DBInstanceArn === arn) ?? [...rds().clusters.values()].find((d) => d.DBClusterArn === arn);

  function authorize(cmd: Cmd): void {
    const tagged = (d: DBInstance | DBCluster | undefined) => runTag(d) === SRC;
    const deny = (action: string, resource: string) => {
      denied.push(`${action} ${resource}`);
      throw Object.assign(new Error(`not authorized: ${action} on ${resource}`), { name: 'AccessDenied' });
    };
    if (cmd instanceof ModifyDBInstanceCommand) {
      const d = rds().instances.get(cmd.input.DBInstanceIdentifier!);
      if (d && !tagged(d)) deny('rds:ModifyDBInstance', d.DBInstanceArn!);
    } else if (cmd instanceof ModifyDBClusterCommand) {
      const d = rds().clusters.get(cmd.input.DBClusterIdentifier!);
      if (d && !tagged(d)) deny('rds:ModifyDBCluster', d.DBClusterArn!);
    } else if (cmd instanceof ListTagsForResourceCommand) {
      const arn = cmd.input.ResourceName!;
      if (arn !== carn(SRC) && !arn.startsWith(carn(`${SRC}-`))) deny('rds:ListTagsForResource', arn);
    } else if (cmd instanceof AddTagsToResourceCommand) {
      const arn = cmd.input.ResourceName!;
      const keys = (cmd.input.Tags ?? []).map((t) => t.Key!);
      const within = (allowed: string[]) => keys.every((k) => allowed.includes(k));
      const requestTagged = (cmd.input.Tags ?? []).some((t) => t.Key === RUN_SOURCE_TAG && t.Value === SRC);
      const isDb = arn.includes(':db:');
      const name = arn.split(':').pop()!;
      const allowed =
        (isDb && requestTagged && within([RUN_SOURCE_TAG])) || // RunTagOnSourceMembers
        (!isDb && (name === SRC || name.startsWith(`${SRC}-pre-rekey-`)) && requestTagged && within([RUN_SOURCE_TAG, LOCK_TAG])) || // RunTagOnSource
        (!isDb && tagged(byArn(arn)) && within([LOCK_TAG])) || // RunLockTag
        (requestTagged && (isDb ? /-rekey-/.test(name) : name.startsWith(`${SRC}-rekey-`))) || // TagOnCreate
        (tagged(byArn(arn)) && requestTagged && within(['db-ops-kit:rekey-run', RUN_SOURCE_TAG, 'db-ops-kit:rekey-role', 'db-ops-kit:rekey-kept'])); // TagRunResources
      if (!allowed) deny('rds:AddTagsToResource', arn);
    } else if (cmd instanceof RemoveTagsFromResourceCommand) {
      const arn = cmd.input.ResourceName!;
      if (arn.includes(':db:') || !tagged(byArn(arn)) || !(cmd.input.TagKeys ?? []).every((k) => k === LOCK_TAG)) deny('rds:RemoveTagsFromResource', arn);
    }
  }

  /** Clients as the Steps function has them: the role's IAM, RDS cluster renames, and an optional crash right after a call. */
  function stepsRole(opts: { iam?: boolean; crashAfter?: (cmd: Cmd) => boolean } = {}): Clients {
    const base = clients();
    const inner = base.rds;
    const send = async (cmd: Cmd) => {
      if (opts.iam !== false) authorize(cmd);
      const out = await inner.send(cmd as never);
      if (cmd instanceof ModifyDBClusterCommand && cmd.input.NewDBClusterIdentifier && cmd.input.ApplyImmediately) {
        for (const i of rds().instances.values()) if (i.DBClusterIdentifier === cmd.input.DBClusterIdentifier) i.DBClusterIdentifier = cmd.input.NewDBClusterIdentifier;
      }
      if (opts.crashAfter?.(cmd)) throw Object.assign(new Error('Task timed out after the call went through'), { name: 'Crash' });
      return out;
    };
    const proxy = { send, config: inner.config } as unknown as RDSClient;
    return { ...base, rds: proxy, targetRds: proxy };
  }

  /** One workflow step through the Steps role; it must finish (done). */
  async function step(name: StepName, s: RekeyState, c: Clients = stepsRole()): Promise<RekeyState> {
    const r = await STEPS[name](c, JSON.parse(JSON.stringify(s)));
    expect({ step: name, done: r.done }).toEqual({ step: name, done: true });
    return r.state;
  }

  return { denied, byArn, stepsRole, step };
}

/** This run after a clean verify, cutover asked, same Region; freeze opted out so only the renames and tags are in play. */
export function ourRun(over: Partial<RekeyState> = {}): RekeyState {
  const s = preflighted({}, 'cluster');
  return { ...s, names: { ...s.names!, preRekeyId: PRE }, cutoverRequested: true, parityClean: true, freezeOptOut: 'break-it test', snapshotWritesStopped: true, lastStep: 'verify', ...over };
}

/**
 * The restore of run RUN's copy: the cluster with the tags the step asks for, and its members as checkRestore
 * would create them (`<m>-rekey-<run>`, on the new key, with the kit tags, run tag among them).
 */
export function fakeAuroraRestore(stub: AwsStub<any, any, any>, rds: FakeRds): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  stub.on(RestoreDBClusterFromSnapshotCommand).callsFake(async (i: { DBClusterIdentifier: string; Tags: Tag[] }) => {
    rds.addCluster(cluster({ DBClusterIdentifier: i.DBClusterIdentifier, DBClusterArn: carn(i.DBClusterIdentifier), KmsKeyId: NEW_KEY, TagList: i.Tags }));
    for (const m of MEMBERS) rds.addInstance(member(`${m}-rekey-${RUN}`, { DBClusterIdentifier: i.DBClusterIdentifier, KmsKeyId: NEW_KEY, TagList: RUN_TAGS(RUN) }));
    return {};
  });
}
