import { CopyCase } from '../helpers/copy-app';

export const copyCase: CopyCase = {
  pattern: 'dsql-bridge',
  folders: ['lib/dsql-bridge', 'lambda/dsql-loader', 'lambda/shared'],
  appSource: `
import { App, Stack } from 'aws-cdk-lib';
import { DsqlBridge } from './lib/dsql-bridge';
const app = new App();
const stack = new Stack(app, 'CopiedDsqlBridge', { env: { account: '123456789012', region: 'eu-west-1' } });
new DsqlBridge(stack, 'Bridge', { landingPrefix: 'cdc', databaseRole: 'loader', backfillMaxConcurrency: 4 });
app.synth();
`,
  check(templates) {
    const t = templates.CopiedDsqlBridge;
    const res = Object.values<any>(t.Resources);
    const types = res.map((r) => r.Type);
    expect(types).toEqual(expect.arrayContaining(['AWS::DSQL::Cluster', 'AWS::DMS::Endpoint', 'AWS::SQS::Queue', 'AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine']));
    const fn = res.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.DSQL_DB_ROLE);
    expect(fn.Properties.Environment.Variables).toMatchObject({ DSQL_DB_ROLE: 'loader', LANDING_PREFIX: 'cdc' });
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    const endpoint = res.find((r) => r.Type === 'AWS::DMS::Endpoint');
    expect(endpoint.Properties.S3Settings.BucketFolder).toBe('cdc');
  },
};
