/**
 * The synthesized state machine runs end to end on this machine: its ASL, taken from the
 * CloudFormation template, is executed by `aws-local-stepfunctions` (Choice, Wait, Retry, Catch,
 * ResultPath, task tokens), with every Lambda task calling the real handler in-process against
 * moto. The SNS tasks (approval with task token, parity notice) are recorded by local handlers:
 * the approval handler plays the operator who sends SendTaskSuccess. Failed executions reach SNS
 * through an EventBridge rule (asserted in the template tests); here a failure is checked to stop
 * the execution at the failed step, and a redrive (re-running the definition from that step with
 * the same input, which is what RedriveExecution does) to finish the run. moto's Step Functions is not
 * used: its `aws-sdk:` integrations use other parameter casing, and it does not run Lambda tasks
 * in-process.
 *
 * aws-local-stepfunctions 3.0.0 (the only published version) declares node >= 22 and uses
 * Promise.withResolvers (ES2024); on Node 20 the standard polyfill below is all it needs.
 */
import { testApp } from '../../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import { DisableKeyCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { DescribeDBInstancesCommand, ListTagsForResourceCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { handleStep, StepEvent } from '../../../lambda/kms-key-change/handler';
import { handlePoll } from '../../../lambda/kms-key-change/poll-handler';
import { breakLock, holderIn } from '../../../lambda/kms-key-change/lock';
import { runIdFrom } from '../../../lambda/kms-key-change/state';
import { KmsKeyChangeStack } from '../../../lib/kms-key-change';
import { makeInstance, useMotoWorld, World } from './moto-fixtures';

if (!(Promise as unknown as { withResolvers?: unknown }).withResolvers) {
  (Promise as unknown as { withResolvers: () => unknown }).withResolvers = function withResolvers<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
/** The package's ESM-only type declarations cannot be imported from this CommonJS test; the surface used here. */
interface LocalStateMachine {
  run(input: unknown, options: unknown): { result: Promise<any> };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine } = require('aws-local-stepfunctions') as { StateMachine: new (definition: unknown, options?: unknown) => LocalStateMachine };

let w: World;
useMotoWorld((world) => (w = world));

/** Flattens CloudFormation intrinsics in the definition to plain placeholder strings. */
function resolveDefinition(t: Template): { asl: any; env: Record<string, string> } {
  const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
  const parts: unknown[] = sm.Properties.DefinitionString['Fn::Join'][1];
  const text = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      const s = JSON.stringify(p);
      if (s.includes('Steps')) return 'arn:aws:lambda:us-east-1:123456789012:function:kms-key-change-steps';
      // The read-only checks run on the Poll function (poll-handler.ts, read-only role).
      if (s.includes('KmsKeyChangePoll')) return 'arn:aws:lambda:us-east-1:123456789012:function:kms-key-change-poll';
      if (s.includes('ApprovalTopic')) return 'arn:aws:sns:us-east-1:123456789012:approval';
      if (s.includes('FailureTopic')) return 'arn:aws:sns:us-east-1:123456789012:failure';
      if (s.includes('Partition')) return 'aws';
      throw new Error(`unexpected intrinsic in definition: ${s}`);
    })
    .join('');
  const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0] as any;
  const asl = JSON.parse(text);
  // aws-local-stepfunctions arms a Node timer for TimeoutSeconds; Node fires timers above 2^31-1 ms
  // (24.8 days) at once, so the 120-day timeout would end every local run immediately. The real
  // timeout is asserted in history.test.ts; locally one day is plenty.
  asl.TimeoutSeconds = Math.min(asl.TimeoutSeconds, 86_400);
  return { asl, env: { ...fn.Properties.Environment.Variables, AWS_REGION: 'us-east-1' } };
}

interface Run {
  output?: any;
  error?: Error;
  approvals: any[];
  failures: any[];
  lambdaSteps: string[];
}

interface RunOpts {
  /** Throw after this state's handler has run once (the side effect happened, the task "crashed"). */
  crashAfter?: string;
  /** Start at this state with this input (a redrive of a failed execution). */
  redrive?: { from: string; input: unknown };
  /** The operator's SendTaskSuccess output per gate state. @default {"approved": true} */
  gateOutput?: Record<string, unknown>;
}

async function runWorkflow(dbId: string, targetKey: string, input: object, opts: RunOpts & { approverArn?: string } = {}): Promise<Run & { inputs: Record<string, unknown> }> {
  const app = testApp();
  const stack = new KmsKeyChangeStack(app, 'DbOpsKmsKeyChange', { env: { account: '123456789012', region: 'us-east-1' }, dbInstanceIdentifier: dbId, sourceKeyArn: w.oldKey, targetKeyArn: targetKey, approverArn: opts.approverArn });
  const { asl, env } = resolveDefinition(Template.fromStack(stack));
  const run: Run & { inputs: Record<string, unknown> } = { approvals: [], failures: [], lambdaSteps: [], inputs: {} };
  const handlers: Record<string, (input: any) => Promise<any>> = {};
  const waits: Record<string, number> = {};
  for (const [name, st] of Object.entries<any>(asl.States)) {
    if (st.Type === 'Wait') waits[name] = 0;
    if (st.Type !== 'Task') continue;
    if (String(st.Resource).includes(':function:')) {
      let crashed = false;
      handlers[name] = async (event: StepEvent) => {
        run.lambdaSteps.push(event.step);
        run.inputs[name] = JSON.parse(JSON.stringify(event));
        const out = String(st.Resource).endsWith(':kms-key-change-poll') ? await handlePoll(JSON.parse(JSON.stringify(event)), env) : await handleStep(JSON.parse(JSON.stringify(event)), env);
        if (opts.crashAfter === name && !crashed) {
          crashed = true;
          throw Object.assign(new Error(`injected crash in ${name}`), { name: 'InjectedCrash' });
        }
        return out;
      };
    } else if (String(st.Resource).endsWith('sns:publish.waitForTaskToken')) {
      handlers[name] = async (params: any) => {
        run.approvals.push({ state: name, topic: params.TopicArn, message: typeof params.Message === "string" ? JSON.parse(params.Message) : params.Message });
        return opts.gateOutput?.[name] ?? { approved: true }; // the operator's SendTaskSuccess output
      };
    } else if (String(st.Resource).endsWith('sns:publish')) {
      handlers[name] = async (params: any) => {
        run.failures.push({ topic: params.TopicArn, subject: params.Subject, message: typeof params.Message === "string" ? JSON.parse(params.Message) : params.Message });
        return { MessageId: 'local' };
      };
    } else {
      throw new Error(`task ${name} has a resource this test does not emulate: ${st.Resource}`);
    }
  }
  const definition = opts.redrive ? { ...asl, StartAt: opts.redrive.from } : asl;
  // A redrive starts mid-definition, so the states before it are unreachable; the full definition
  // was validated by the other runs.
  const sm = new StateMachine(definition, { validationOptions: opts.redrive ? { noValidate: true } : { checkArn: false } });
  const execution = sm.run(opts.redrive ? opts.redrive.input : input, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((k) => [k, 0])) },
    context: { Execution: { Id: 'arn:aws:states:us-east-1:123456789012:execution:kms-key-change:local' }, Task: { Token: 'local-task-token-1' } } as any,
  });
  try {
    run.output = await execution.result;
  } catch (e) {
    run.error = e as Error;
  }
  return run;
}

/**
 * The steps run, with a check step's repeats collapsed: a check step polls until RDS or CloudWatch
 * shows what it waits for, and how often depends on timing (checkFreeze waits for the first
 * DatabaseConnections datapoint since the freeze, which the fixture publishes every 250 ms; a loaded
 * CI machine saw it poll three times). The order of the steps is the behaviour under test; the
 * number of polls is not.
 */
function stepsOnce(steps: string[]): string[] {
  return steps.filter((st, i) => !(st.startsWith('check') && steps[i - 1] === st));
}

const key = async (id: string) => (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].KmsKeyId;

test('with {"cutover": true}: every step, polling, the approval gate with a task token, cutover, finalize', async () => {
  await makeInstance(w, 'sfn-orders');
  const r = await runWorkflow('sfn-orders', w.newKey, { cutover: true });
  expect(r.error).toBeUndefined();
  expect(r.failures).toEqual([]);
  expect(stepsOnce(r.lambdaSteps)).toEqual([
    'preflight', 'freezeSource', 'checkFreeze', 'createSnapshot', 'checkSnapshot', 'copySnapshot', 'checkCopy', 'restore', 'checkRestore', 'applySettings', 'checkApply', 'verify',
    'renameSource', 'checkRenameSource', 'renameTarget', 'checkRenameTarget', 'finalize',
  ]);
  // Two gates: writes stopped before the snapshot, then the cutover itself after a clean verify.
  expect(r.approvals.map((a) => a.state)).toEqual(['ConfirmWritesStopped', 'ApproveCutover']);
  expect(r.approvals[0]).toMatchObject({ topic: 'arn:aws:sns:us-east-1:123456789012:approval', message: { database: 'instance sfn-orders', taskToken: 'local-task-token-1', approve: expect.stringMatching(/On approval the kit FREEZES the source/) } });
  expect(r.approvals[1]).toMatchObject({ topic: 'arn:aws:sns:us-east-1:123456789012:approval', message: { database: 'instance sfn-orders', taskToken: 'local-task-token-1', targetKey: w.newKey, dataAsOf: r.output.state.snapshotStartedAt } });
  expect(r.output.state.snapshotWritesStopped).toBe(true);
  expect(r.output.state.parityClean).toBe(true);
  expect(r.output.state.cutover.done).toBe(true);
  expect(await key('sfn-orders')).toBe(w.newKey);
  expect(await key(`sfn-orders-pre-rekey-${r.output.state.runId}`)).toBe(w.oldKey);
  // The original stays frozen after cutover: only the kit's group, until the operator releases it.
  expect(await groups(`sfn-orders-pre-rekey-${r.output.state.runId}`)).toEqual([r.output.state.freeze.groupId]);
});

const groups = async (id: string) => (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId);

test('redrive after the security groups were changed by hand since the final snapshot: cutover refused, the failure says what exists; the rollback execution lifts the freeze', async () => {
  await makeInstance(w, 'sfn-reopen');
  const first = await runWorkflow('sfn-reopen', w.newKey, { cutover: true }, { crashAfter: 'Verify' });
  expect(first.error?.message).toMatch(/injected crash in Verify/);
  const state = (first.inputs.Verify as { state: { freeze: { groupId: string; originalSecurityGroupIds: string[] } } }).state;
  expect(await groups('sfn-reopen')).toEqual([state.freeze.groupId]);
  // Someone re-opens the database while the execution waits for its redrive.
  await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'sfn-reopen', VpcSecurityGroupIds: w.sg, ApplyImmediately: true }));
  const verified = await handleStep({ step: 'verify', state: state as never }, envOf('sfn-reopen'));
  const redriven = await runWorkflow('sfn-reopen', w.newKey, {}, { redrive: { from: 'RenameSource', input: { state: verified.state } } });
  expect(redriven.error?.message).toMatch(/FreezeNotHeld|the security groups of sfn-reopen are now .* not only the freeze group/);
  expect(redriven.error?.message).toMatch(/What exists now \(described from AWS\): sfn-reopen: exists, available, source key .*security groups sg-/);
  expect(redriven.error?.message).toMatch(/sfn-reopen-pre-rekey-\d{14}: does not exist/);
  expect(redriven.error?.message).toMatch(/or abort \(lifts the freeze, releases the lock, keeps every copy\): aws stepfunctions get-execution-history/);
  expect(stepsOnce(redriven.lambdaSteps)).toEqual(['renameSource']);
  expect(await key('sfn-reopen')).toBe(w.oldKey);

  // The workflow's rollback path: a new execution with {"rollback": true, "state": <last state>}.
  const back = await runWorkflow('sfn-reopen', w.newKey, { rollback: true, state: verified.state });
  expect(back.error).toBeUndefined();
  expect(stepsOnce(back.lambdaSteps)).toEqual(['rollbackRenameNew', 'checkRollbackNew', 'rollbackRenameSource', 'checkRollbackSource', 'rollbackUnfreeze', 'finalize']);
  expect(await key('sfn-reopen')).toBe(w.oldKey);
  const tags = (await w.rds.send(new ListTagsForResourceCommand({ ResourceName: (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'sfn-reopen' }))).DBInstances![0].DBInstanceArn }))).TagList;
  expect(holderIn(tags)).toBeUndefined();
});

test('rollback execution after a cutover: the original is back under its name with its own security groups', async () => {
  await makeInstance(w, 'sfn-undo');
  const before = await groups('sfn-undo');
  const r = await runWorkflow('sfn-undo', w.newKey, { cutover: true });
  expect(r.output.state.cutover.done).toBe(true);
  const back = await runWorkflow('sfn-undo', w.newKey, { rollback: true, state: r.output.state });
  expect(back.error).toBeUndefined();
  expect(await key('sfn-undo')).toBe(w.oldKey);
  expect((await groups('sfn-undo')).sort()).toEqual([...before].sort());
  expect(await key(r.output.state.names.newId)).toBe(w.newKey);
});

/** The function environment the construct sets for `dbId`. */
function envOf(dbId: string): NodeJS.ProcessEnv {
  return { REKEY_KIND: 'instance', REKEY_SOURCE_ID: dbId, REKEY_TARGET_KEY_ARN: w.newKey, REKEY_METHOD: 'snapshot', AWS_REGION: 'us-east-1' };
}

test('without cutover: stops after verify and finalize, no approval requested, source untouched', async () => {
  await makeInstance(w, 'sfn-dry');
  const r = await runWorkflow('sfn-dry', w.newKey, {});
  expect(r.error).toBeUndefined();
  expect(r.approvals).toEqual([]);
  expect(r.lambdaSteps.slice(-2)).toEqual(['verify', 'finalize']);
  expect(await key('sfn-dry')).toBe(w.oldKey);
  expect(await key(r.output.state.names.newId)).toBe(w.newKey);
});

test('a gate answered without {"approved": true} fails the execution and changes nothing there', async () => {
  await makeInstance(w, 'sfn-noapprove');
  const before = await runWorkflow('sfn-noapprove', w.newKey, { cutover: true }, { gateOutput: { ConfirmWritesStopped: { approved: false } } });
  expect(before.error?.message).toMatch(/WritesNotConfirmedStopped/);
  expect(before.lambdaSteps).toEqual(['preflight']);
  // The failed execution is redrivable, so its run keeps the run lock: a new execution is refused
  // and told how to proceed. The operator abandons it and breaks the lock explicitly.
  const held = holderIn((await w.rds.send(new ListTagsForResourceCommand({ ResourceName: (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'sfn-noapprove' }))).DBInstances![0].DBInstanceArn }))).TagList)!;
  expect(held).toMatch(/^\d{14}$/);
  while (runIdFrom(new Date()) === held) await new Promise((r) => setTimeout(r, 100)); // run ids have one-second resolution
  const refused = await runWorkflow('sfn-noapprove', w.newKey, { cutover: true });
  expect(refused.error?.message).toMatch(new RegExp(`RUN_IN_PROGRESS sfn-noapprove: key-change run ${held} .*--break-lock ${held}`));
  expect(refused.lambdaSteps).toEqual(['preflight']);
  expect((await breakLock(w.rds, { kind: 'instance', sourceId: 'sfn-noapprove' }, held)).released).toEqual(['sfn-noapprove']);
  const after = await runWorkflow('sfn-noapprove', w.newKey, { cutover: true }, { gateOutput: { ApproveCutover: { ok: 'yes' } } });
  expect(after.error?.message).toMatch(/CutoverNotApproved/);
  expect(after.lambdaSteps).not.toContain('renameSource');
  expect(await key('sfn-noapprove')).toBe(w.oldKey);
});

test('a refused preflight fails the execution at Preflight; the source is untouched', async () => {
  await makeInstance(w, 'sfn-bad');
  const disabled = (await w.kms.send(new CreateKeyCommand({ Description: 'disabled' }))).KeyMetadata!.Arn!;
  await w.kms.send(new DisableKeyCommand({ KeyId: disabled.split('/').pop() }));
  const r = await runWorkflow('sfn-bad', disabled, { cutover: true });
  expect(r.error?.message).toMatch(/KEY_NOT_ENABLED/);
  expect(r.lambdaSteps).toEqual(['preflight']);
  expect(r.approvals).toEqual([]);
  expect(await key('sfn-bad')).toBe(w.oldKey);
});

test('a crash in Restore stops the execution there; redriving from Restore finishes without a second restore', async () => {
  await makeInstance(w, 'sfn-redrive');
  const first = await runWorkflow('sfn-redrive', w.newKey, { cutover: true }, { crashAfter: 'Restore' });
  expect(first.error?.message).toMatch(/injected crash in Restore/);
  expect(first.lambdaSteps.at(-1)).toBe('restore');
  expect(await key('sfn-redrive')).toBe(w.oldKey);
  const second = await runWorkflow('sfn-redrive', w.newKey, {}, { redrive: { from: 'Restore', input: { state: (first.inputs.Restore as { state: unknown }).state } } });
  expect(second.error).toBeUndefined();
  expect(second.lambdaSteps[0]).toBe('restore');
  expect(second.approvals).toHaveLength(1);
  expect(second.output.state.cutover.done).toBe(true);
  expect(await key('sfn-redrive')).toBe(w.newKey);
  const restored = second.output.state.artifacts.filter((a: { type: string }) => a.type === 'db-instance').map((a: { id: string }) => a.id);
  expect(restored).toEqual(['sfn-redrive', `sfn-redrive-pre-rekey-${second.output.state.runId}`]);
});

test('a named approver: a gate answer that does not name it fails; its answer passes and the run state records it', async () => {
  const approverArn = 'arn:aws:iam::123456789012:role/dba-oncall';
  await makeInstance(w, 'sfn-approver');
  const anon = await runWorkflow('sfn-approver', w.newKey, { cutover: true }, { approverArn });
  expect(anon.error?.message).toMatch(/WritesNotConfirmedStopped/);
  expect(anon.approvals[0].message).toMatchObject({ approver: approverArn, requiredAnswer: `{"approved":true,"approver":"${approverArn}"}` });
  await breakLock(w.rds, { kind: 'instance', sourceId: 'sfn-approver' }, anon.lambdaSteps.length ? holderIn((await w.rds.send(new ListTagsForResourceCommand({ ResourceName: (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'sfn-approver' }))).DBInstances![0].DBInstanceArn }))).TagList)! : '');
  while (runIdFrom(new Date()) === anon.output?.state?.runId) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1100)); // a fresh run id (one-second resolution)
  const answer = { approved: true, approver: approverArn };
  const ok = await runWorkflow('sfn-approver', w.newKey, { cutover: true }, { approverArn, gateOutput: { ConfirmWritesStopped: answer, ApproveCutover: answer } });
  expect(ok.error).toBeUndefined();
  expect(ok.output.state.approvedBy).toMatchObject({ approver: approverArn });
  expect(ok.output.state.cutover.done).toBe(true);
});

test('issue 8: a rollback execution after clients used the copy is refused until the input says {"rollbackWritesSinceCutoverStayInCopy": true}; the confirmation is recorded', async () => {
  await makeInstance(w, 'sfn-strand');
  const r = await runWorkflow('sfn-strand', w.newKey, { cutover: true });
  expect(r.output.state.cutover.done).toBe(true);
  // Clients now use the re-keyed copy under sfn-strand (the publisher plays CloudWatch).
  w.connections.set('sfn-strand', 4);
  await new Promise((res) => setTimeout(res, 1200));
  const refused = await runWorkflow('sfn-strand', w.newKey, { rollback: true, state: r.output.state });
  expect(refused.error?.message).toMatch(/clients used the re-keyed instance under sfn-strand since the cutover/);
  expect(refused.error?.message).toContain('"rollbackWritesSinceCutoverStayInCopy": true');
  expect(await key('sfn-strand')).toBe(w.newKey); // nothing renamed
  const back = await runWorkflow('sfn-strand', w.newKey, { rollback: true, rollbackWritesSinceCutoverStayInCopy: true, state: r.output.state });
  expect(back.error).toBeUndefined();
  expect(await key('sfn-strand')).toBe(w.oldKey);
  expect(back.output.state.rollbackStrandsWrites).toMatch(/^execution input rollbackWritesSinceCutoverStayInCopy at .*: writes clients made to the re-keyed copy under sfn-strand stay only in the copy$/);
  expect(back.output.message).toContain('rollback confirmed although writes stay in the copy');
  w.connections.set('sfn-strand', 0);
}, 180_000);

test('issue 8: {"cutover": true, "noFreezeWritesAfterSnapshotAreLost": true} runs without the kit freeze; the opt-out is in the state and the final report', async () => {
  await makeInstance(w, 'sfn-nofreeze');
  const before = await groups('sfn-nofreeze');
  const r = await runWorkflow('sfn-nofreeze', w.newKey, { cutover: true, noFreezeWritesAfterSnapshotAreLost: true });
  expect(r.error).toBeUndefined();
  expect(r.output.state.cutover.done).toBe(true);
  expect(r.output.state.freeze).toBeUndefined();
  expect(r.output.state.freezeOptOut).toMatch(/^execution input noFreezeWritesAfterSnapshotAreLost at .*: the kit did not block clients/);
  expect(r.output.message).toContain('NO ENFORCED WRITE FREEZE');
  // Both gates tell the truth: no kit freeze, no freeze proof, what the operator gave up.
  expect(r.approvals.map((a) => a.state)).toEqual(['ConfirmWritesStoppedNoFreeze', 'ApproveCutoverNoFreeze']);
  for (const a of r.approvals) {
    expect(a.message.approve).not.toMatch(/FREEZES|froze|freeze still holds/);
    expect(a.message.approve).toMatch(/noFreezeWritesAfterSnapshotAreLost/);
    expect(a.message.freezeOptOut).toBe(r.output.state.freezeOptOut);
    expect(a.message.taskToken).toBe('local-task-token-1');
  }
  expect(r.approvals[0].message.approve).toMatch(/Stop every writer yourself/);
  // The original kept its own groups (no freeze group was ever put on it).
  expect((await groups(r.output.state.cutover.sourceRenamedTo)).sort()).toEqual([...before].sort());
}, 180_000);
