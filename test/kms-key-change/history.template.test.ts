/**
 * Bounded execution history. Step Functions Standard workflows keep at most 25,000 history events
 * per execution (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum
 * execution history size"); past it the execution fails and cannot be redriven. The worst case here
 * is a 64 TiB instance copied cross-Region at the plan's own throughput (lambda/kms-key-change/plan.ts
 * ESTIMATE), and a 64 TiB same-Region cutover with both approval gates. The synthesized definition's
 * Wait states must take their pause from the step output (back-off), and the run must end within the
 * execution timeout.
 *
 * CDK template tests (they synthesize the stack); the runtime back-off test is in history.test.ts.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Template } from 'aws-cdk-lib/assertions';
import { ESTIMATE } from '../../lambda/kms-key-change/plan';
import { EVENTS_PER_POLL, nextWaitSeconds } from '../../lambda/kms-key-change/workflow';
import { KmsKeyChangeStack, KmsKeyChangeStackProps, KmsKeyChangeWorkflow } from '../../lib/kms-key-change';

const QUOTA = 25_000;
const env = { account: '123456789012', region: 'us-east-1' };
const base: KmsKeyChangeStackProps = {
  env,
  dbInstanceIdentifier: 'orders-db',
  sourceKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd',
  targetKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/5555eeee-6666-ffff-7777-888899990000',
};

function synth(props: Partial<KmsKeyChangeStackProps> = {}) {
  const t = Template.fromStack(new KmsKeyChangeStack(testApp(), 'DbOpsKmsKeyChange', { ...base, ...props }));
  const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
  const asl = JSON.parse(sm.Properties.DefinitionString['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'arn')).join(''));
  const fnEnv = (Object.values(t.findResources('AWS::Lambda::Function'))[0] as any).Properties.Environment.Variables;
  return { asl, initial: Number(fnEnv.REKEY_POLL_SECONDS), max: Number(fnEnv.REKEY_MAX_POLL_SECONDS) };
}

/** Polls (and seconds) a check loop needs to see a phase of `minutes` finish. */
function pollsFor(minutes: number, initial: number, max: number): { polls: number; seconds: number } {
  let waited = 0;
  let polls = 0;
  while (waited < minutes * 60) waited += nextWaitSeconds(polls++, initial, max);
  return { polls, seconds: waited };
}

/** Events of one run: each task ~5 (entered, scheduled, started, succeeded, exited), each Choice 2, each poll 9. */
function runEvents(phaseMinutes: number[], initial: number, max: number, gates: number): { events: number; seconds: number } {
  let events = 2 + 5; // execution started + Preflight
  let seconds = 0;
  for (const m of phaseMinutes) {
    const p = pollsFor(m, initial, max);
    events += 5 + p.polls * EVENTS_PER_POLL;
    seconds += p.seconds;
  }
  events += 5 + 2 + gates * (5 + 2) + 5 + 2; // verify + ParityClean?, gates + their Choices, finalize + end
  return { events, seconds };
}

const TIB64 = 64 * 1024;
const crossRegion = [TIB64 / ESTIMATE.snapshotGiBPerMin, (TIB64 / ESTIMATE.copyGiBPerMin) * ESTIMATE.crossRegionFactor, ESTIMATE.restoreMin, 5];
const sameRegionCutover = [1, TIB64 / ESTIMATE.snapshotGiBPerMin, TIB64 / ESTIMATE.copyGiBPerMin, ESTIMATE.restoreMin, 5, ESTIMATE.renameMin, ESTIMATE.renameMin];

test('every Wait of the definition takes its pause from the step output (back-off), none is fixed', () => {
  const { asl } = synth();
  const waits = Object.entries<any>(asl.States).filter(([, s]) => s.Type === 'Wait');
  expect(waits.length).toBeGreaterThan(5);
  for (const [, s] of waits) expect(s).toMatchObject({ SecondsPath: '$.waitSeconds' });
  expect(waits.some(([, s]) => 'Seconds' in s)).toBe(false);
});

test('64 TiB cross-Region copy at the plan throughput stays under 25,000 history events and inside the execution timeout', () => {
  const { initial, max, asl } = synth({ targetRegion: 'us-west-2', targetKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/5555eeee-6666-ffff-7777-888899990000', targetSecurityGroupIds: ['sg-1'] });
  const r = runEvents(crossRegion, initial, max, 0);
  expect(r.events).toBeLessThan(QUOTA);
  expect(r.seconds).toBeLessThan(asl.TimeoutSeconds);
  // The same run with the old fixed one-minute polling would have run out of history: the check can fail.
  expect(runEvents(crossRegion, 60, 60, 0).events).toBeGreaterThan(QUOTA);
});

test('64 TiB same-Region cutover with both approval gates (at their full timeout) fits the history and the timeout', () => {
  const { initial, max, asl } = synth();
  const r = runEvents(sameRegionCutover, initial, max, 2);
  expect(r.events).toBeLessThan(QUOTA);
  expect(r.seconds + 2 * 7 * 86400).toBeLessThan(asl.TimeoutSeconds);
});

test('the gates must fit inside the execution timeout; the back-off cap is validated', () => {
  const stack = new Stack(testApp(), 'Y', { env });
  expect(
    () =>
      new KmsKeyChangeWorkflow(stack, 'W', {
        dbInstanceIdentifier: 'orders-db',
        sourceKey: kms.Key.fromKeyArn(stack, 'S', base.sourceKeyArn),
        targetKey: kms.Key.fromKeyArn(stack, 'T', base.targetKeyArn),
        approvalTimeout: Duration.days(7),
        executionTimeout: Duration.days(10),
        pollInterval: Duration.minutes(5),
        maxPollInterval: Duration.minutes(1),
      }),
  ).toThrow(/maxPollInterval must be at least pollInterval[\s\S]*the two approval gates \(2 x approvalTimeout = 14 days\) must fit inside executionTimeout \(10 days\)/);
});
