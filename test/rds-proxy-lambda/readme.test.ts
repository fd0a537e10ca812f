/**
 * lib/rds-proxy-lambda/README.md stays true to the template: the teardown table lists exactly the resources
 * CloudFormation keeps (DeletionPolicy Retain or Snapshot), and the alarm table lists exactly the alarms.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CfnDeletionPolicy, CfnResource } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { RdsProxyLambdaStack } from '../../lib/rds-proxy-lambda/stack';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'rds-proxy-lambda', 'README.md'), 'utf8');

/** First-column backticked names of the first table under `## <heading>`. */
function tableNames(heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]).sort();
}

test.each(['iam', 'secret'] as const)('teardown table = resources kept after destroy (%s mode)', (credentialMode) => {
  const stack = new RdsProxyLambdaStack(testApp(), 'DbOpsRdsProxyLambda', { env: { account: '123456789012', region: 'us-east-1' }, pattern: { availabilityZones: ['us-east-1a', 'us-east-1b'], credentialMode } });
  const kept = stack.node
    .findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && [CfnDeletionPolicy.RETAIN, CfnDeletionPolicy.SNAPSHOT, CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE].includes(c.cfnOptions.deletionPolicy as CfnDeletionPolicy))
    // Path inside the pattern construct, without the L1's own `Resource`/`Default` id (e.g. `Vpc/isolatedSubnet1`).
    .map((c) => c.node.path.slice(stack.pattern.node.path.length + 1).replace(/\/(Resource|Default|Subnet)$/, ''))
    .sort();
  expect(tableNames('Teardown')).toEqual(kept);
});

test('alarm table = the alarms of the construct', () => {
  const stack = new RdsProxyLambdaStack(testApp(), 'DbOpsRdsProxyLambda', { env: { account: '123456789012', region: 'us-east-1' }, pattern: { availabilityZones: ['us-east-1a', 'us-east-1b'] } });
  expect(tableNames('Alarms')).toEqual(stack.pattern.alarms.map((a) => a.node.id).sort());
});
