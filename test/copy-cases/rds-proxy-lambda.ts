import { CopyCase } from '../helpers/copy-app';

export const copyCase: CopyCase = {
  pattern: 'rds-proxy-lambda',
  folders: ['lib/rds-proxy-lambda', 'lambda/rds-proxy-query', 'lambda/shared'],
  appSource: `
import { App } from 'aws-cdk-lib';
import { RdsProxyLambdaStack } from './lib/rds-proxy-lambda/stack';
const app = new App();
new RdsProxyLambdaStack(app, 'CopiedRdsProxy', {
  env: { account: '123456789012', region: 'eu-west-1' },
  pattern: { availabilityZones: ['eu-west-1a', 'eu-west-1b'], credentialMode: 'secret' },
});
app.synth();
`,
  check(templates) {
    const t = templates.CopiedRdsProxy;
    const types = Object.values<any>(t.Resources).map((r) => r.Type);
    expect(types).toEqual(expect.arrayContaining(['AWS::RDS::DBCluster', 'AWS::RDS::DBProxy', 'AWS::Lambda::Function', 'Custom::DbOpsAppRole']));
    const fn = Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler');
    expect(fn.Properties.Environment.Variables.CREDENTIAL_MODE).toBe('secret');
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
  },
};
