/**
 * Issue 8 / DESIGN.md Lifecycle: "a role that only polls cannot write". The workflow's read-only checks
 * (workflow.ts POLL_STEPS) run on their own function (poll-handler.ts) with their own role; derived
 * from the synthesized template and from the staged bundle (test/kit/code-actions.ts via functionCalls),
 * not from a hand list of actions.
 *
 * This file: the template side (synthesizes the kit's stacks via test/kit/stacks.ts); the runtime side
 * (the poll entry's step table and refusals) is in issue8-poll-role.test.ts.
 */
import { POLL_STEPS } from '../../lambda/kms-key-change/workflow';
import { functionCalls, render, roleStatements, Statement } from '../kit/iam';
import { kitStacks } from '../kit/stacks';

const READ_ONLY = /^([a-z0-9-]+:(Describe|List|Get)[A-Za-z]*|logs:(CreateLogStream|PutLogEvents)|xray:(PutTraceSegments|PutTelemetryRecords))$/;

const kmsStacks = kitStacks().filter((s) => /DbOpsKmsKeyChange/.test(s.id));

/** Logical ids of the Poll and Steps functions, and the step each state-machine task invokes on which function. */
function layout(t: any) {
  const fnId = (re: RegExp) => Object.keys(t.Resources).find((k) => t.Resources[k].Type === 'AWS::Lambda::Function' && re.test(k))!;
  const poll = fnId(/KmsKeyChangePoll[0-9A-F]{8}$/);
  const steps = fnId(/KmsKeyChangeSteps[0-9A-F]{8}$/);
  const sm = Object.values(t.Resources).find((r: any) => r.Type === 'AWS::StepFunctions::StateMachine') as any;
  const def = JSON.parse(render(sm.Properties.DefinitionString));
  const invokes: Array<{ step: string; fn: string }> = [];
  for (const st of Object.values(def.States) as any[]) {
    // payloadResponseOnly: the task's Resource is the function ARN and its Parameters are the payload.
    if (st.Type !== 'Task' || !st.Parameters?.step) continue;
    invokes.push({ step: st.Parameters.step, fn: String(st.Resource) });
  }
  return { poll, steps, invokes };
}

test.each(kmsStacks.map((s) => [s.id, s] as const))('%s: every read-only check runs on the Poll function, everything else on Steps', (_id, stack) => {
  const { poll, steps, invokes } = layout(stack.template);
  expect(poll).toBeDefined();
  expect(invokes.length).toBeGreaterThan(3);
  for (const i of invokes) expect([i.step, i.fn.includes(POLL_STEPS.includes(i.step as any) ? poll : steps)]).toEqual([i.step, true]);
  expect(invokes.some((i) => i.fn.includes(poll))).toBe(true);
});

test.each(kmsStacks.map((s) => [s.id, s] as const))('%s: the Poll role allows no write, and its bundle calls no write', (_id, stack) => {
  const { poll } = layout(stack.template);
  const roleId: string = stack.template.Resources[poll].Properties!.Role['Fn::GetAtt'][0];
  const st: Statement[] = roleStatements(stack.template, roleId).filter((s) => s.Effect === 'Allow');
  const granted = st.flatMap((s) => s.Action);
  expect(granted.length).toBeGreaterThan(3);
  expect(granted.filter((a) => !READ_ONLY.test(a))).toEqual([]);
  const called = functionCalls(stack, poll).filter((c) => c.site.startsWith('code ')).map((c) => c.action);
  expect(called).toEqual(expect.arrayContaining(['rds:DescribeDBInstances', 'rds:DescribeBlueGreenDeployments']));
  expect([...new Set(called.filter((a) => !READ_ONLY.test(a)))]).toEqual([]);
  // ... while the Steps bundle of the same stack does call writes (the scan is not blind).
  const { steps } = layout(stack.template);
  expect(functionCalls(stack, steps).some((c) => c.action === 'rds:ModifyDBInstance')).toBe(true);
});
