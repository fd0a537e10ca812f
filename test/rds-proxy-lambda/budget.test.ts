/**
 * The query function's timeouts sit above the proxy's borrow timeout and fit in the Lambda timeout, in the
 * synthesized template (what Lambda and RDS Proxy really get), for the default and for custom budgets.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { Template } from 'aws-cdk-lib/assertions';
import { RdsProxyLambda, RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';
import { BUDGET_MARGIN_MS, timeoutBudget } from '../../lib/rds-proxy-lambda/budget';

const env = { account: '123456789012', region: 'us-east-1' };

/** Checks the rules on the template alone: borrow from the target group, timeouts from the function and the bootstrap. */
function budgetProblems(t: any): string[] {
  const r = Object.values(t.Resources) as any[];
  const borrowMs = r.find((x) => x.Type === 'AWS::RDS::DBProxyTargetGroup').Properties.ConnectionPoolConfigurationInfo.ConnectionBorrowTimeout * 1000;
  const fn = r.find((x) => x.Type === 'AWS::Lambda::Function' && x.Properties.Handler === 'index.handler').Properties;
  const v = fn.Environment.Variables;
  const role = r.find((x) => x.Type === 'Custom::DbOpsAppRole').Properties;
  const [connect, query, secret, stmt, idle] = [v.CONNECT_TIMEOUT_MS, v.QUERY_TIMEOUT_MS, v.SECRET_TIMEOUT_MS, role.StatementTimeoutMs, role.IdleInTransactionTimeoutMs].map(Number);
  const problems: string[] = [];
  if (!(connect > borrowMs)) problems.push(`connect ${connect} ms not above borrow ${borrowMs} ms`);
  if (!(query > borrowMs + stmt)) problems.push(`query ${query} ms not above borrow + statement ${borrowMs + stmt} ms`);
  if (!(stmt < query && idle < query)) problems.push('server timeouts not below the client query timeout');
  if (!(secret > 0 && secret + connect + query <= fn.Timeout * 1000)) problems.push(`secret ${secret} + connect ${connect} + query ${query} > function ${fn.Timeout * 1000} ms`);
  return problems;
}

function synth(props: RdsProxyLambdaProps) {
  const stack = new Stack(testApp(), 'Budget', { env });
  new RdsProxyLambda(stack, 'P', { availabilityZones: ['us-east-1a', 'us-east-1b'], ...props });
  return Template.fromStack(stack).toJSON();
}

test.each([
  ['defaults (15 s function)', {}],
  ['60 s function', { functionTimeout: Duration.seconds(60) }],
  ['custom borrow + statement', { functionTimeout: Duration.seconds(40), borrowTimeout: Duration.seconds(10), statementTimeout: Duration.seconds(5) }],
] as Array<[string, RdsProxyLambdaProps]>)('%s: connect > borrow, query > borrow + statement_timeout, all inside the function timeout', (_n, props) => {
  expect(budgetProblems(synth(props))).toEqual([]);
});

test('the template check catches a client timeout at or below the borrow timeout (the old 2.5 s connect vs 7 s borrow)', () => {
  const t = synth({});
  const tg = Object.values(t.Resources).find((x: any) => x.Type === 'AWS::RDS::DBProxyTargetGroup') as any;
  tg.Properties.ConnectionPoolConfigurationInfo.ConnectionBorrowTimeout = 7;
  const fn = Object.values(t.Resources).find((x: any) => x.Type === 'AWS::Lambda::Function' && x.Properties.Handler === 'index.handler') as any;
  fn.Properties.Environment.Variables.CONNECT_TIMEOUT_MS = '2500';
  fn.Properties.Environment.Variables.QUERY_TIMEOUT_MS = '6000';
  expect(budgetProblems(t)).toEqual(expect.arrayContaining([expect.stringMatching(/^connect 2500 ms not above borrow 7000 ms/), expect.stringMatching(/^query 6000 ms/)]));
});

test('budget arithmetic: defaults for a 15 s function', () => {
  expect(timeoutBudget({ functionTimeoutMs: 15_000 }).budget).toEqual({
    functionMs: 15_000, borrowMs: 3000, connectMs: 3000 + BUDGET_MARGIN_MS, statementMs: 4500, idleInTransactionMs: 4500, queryMs: 8500, secretMs: 1500, marginMs: 1000,
  });
  expect(timeoutBudget({ functionTimeoutMs: 3000 }).problems).toEqual([expect.stringMatching(/functionTimeout \(3 s\) is too short/)]);
});
