/**
 * The CreateTrust custom resource against moto's Directory Service and Secrets Manager: a real
 * AWS Managed Microsoft AD (moto CreateMicrosoftAD in a moto VPC), the password read from a real
 * secret by ARN, CreateTrust/DescribeTrusts/DeleteTrust over HTTP. moto keeps trusts in "Creating"
 * forever, so completion polling is asserted to keep waiting here; Verified/VerifyFailed and
 * UpdateTrust (not in moto) are covered with aws-sdk-client-mock in test/ad-trust/trust.test.ts.
 * Because moto never verifies a trust, a successful adoption (which needs Verified) is in that mock
 * test too; here the refusal, the adopt check against moto's real answer, and delete-only-own run
 * against moto's state.
 */
import { spawnSync } from 'child_process';
import { CreateMicrosoftADCommand, CreateTrustCommand, DeleteTrustCommand, DescribeDirectoriesCommand, DescribeTrustsCommand, DirectoryServiceClient } from '@aws-sdk/client-directory-service';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { MotoServer, startMoto } from '../../helpers/moto';
import { crEvent } from '../../ad-trust/cr-event';

let moto: MotoServer;
let handler: typeof import('../../../lambda/ad-trust/trust-handler');
let ds: DirectoryServiceClient;
let directoryId: string;
let secretArn: string;

/** moto's EC2 has no Node client installed here; boto3 (installed with moto) creates the VPC and subnets. */
function createVpc(endpoint: string): { vpcId: string; subnetIds: string[] } {
  const py = `
import boto3, json
ec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url='${endpoint}')
vpc = ec2.create_vpc(CidrBlock='10.10.0.0/16')['Vpc']['VpcId']
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f'10.10.{i}.0/24', AvailabilityZone=az)['Subnet']['SubnetId'] for i, az in enumerate(['us-east-1a', 'us-east-1b'])]
print(json.dumps({'vpcId': vpc, 'subnetIds': subnets}))
`;
  const r = spawnSync('python3', ['-c', py], { encoding: 'utf8', env: { ...process.env } });
  if (r.status !== 0) throw new Error(`creating the VPC in moto failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function event(type: 'Create' | 'Update' | 'Delete', extra: Partial<any> = {}): CdkCustomResourceEvent {
  return crEvent(
    type,
    { logicalId: 'Trust', resourceType: 'Custom::ForestTrust', stack: 'DbOpsAdTrustPrimary', region: 'us-east-1' },
    {
      DirectoryId: directoryId,
      RemoteDomainName: 'onprem.example.com',
      TrustPasswordSecretArn: secretArn,
      ConditionalForwarderIpAddrs: ['192.168.10.10', '192.168.10.11'],
      SelectiveAuth: 'Disabled',
    },
    extra,
  );
}

beforeAll(async () => {
  moto = await startMoto();
  process.env.AWS_REGION = 'us-east-1';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  // Imported after moto is up so the handler's module-scope clients pick up AWS_ENDPOINT_URL.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  handler = require('../../../lambda/ad-trust/trust-handler');
  ds = new DirectoryServiceClient({ region: 'us-east-1' });
  const { vpcId, subnetIds } = createVpc(moto.endpoint);
  directoryId = (
    await ds.send(new CreateMicrosoftADCommand({ Name: 'corp.aws.example.com', Password: 'Admin-Passw0rd-1', Edition: 'Enterprise', VpcSettings: { VpcId: vpcId, SubnetIds: subnetIds } }))
  ).DirectoryId!;
  const sm = new SecretsManagerClient({ region: 'us-east-1' });
  secretArn = (await sm.send(new CreateSecretCommand({ Name: 'trust-password', SecretString: 'Trust-Passw0rd-Xyz' }))).ARN!;
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

test('the directory security group the stack opens the trust ports on is where the stack looks for it', async () => {
  const d = await ds.send(new DescribeDirectoriesCommand({ DirectoryIds: [directoryId] }));
  // Same path as the AwsCustomResource outputPaths in lib/ad-trust/custom-resources.ts.
  expect(d.DirectoryDescriptions?.[0]?.VpcSettings?.SecurityGroupId).toMatch(/^sg-/);
  expect(d.DirectoryDescriptions?.[0]?.Edition).toBe('Enterprise');
});

async function trusts() {
  return (await ds.send(new DescribeTrustsCommand({ DirectoryId: directoryId }))).Trusts ?? [];
}

test('create → describe → a second create is refused (not adopted) → delete → delete again', async () => {
  const created = await handler.onEvent(event('Create'));
  const trustId = created.PhysicalResourceId!;
  expect(trustId).toMatch(/^t-[0-9a-f]{10}$/);
  expect(created.Data).toEqual({ CreatedByStack: 'true', StartedAt: expect.stringMatching(/^\d+$/) });

  expect(await trusts()).toHaveLength(1);
  expect((await trusts())[0]).toMatchObject({ TrustId: trustId, RemoteDomainName: 'onprem.example.com', TrustDirection: 'One-Way: Outgoing', TrustType: 'Forest', SelectiveAuth: 'Disabled' });

  // moto never verifies a trust: the Provider framework would keep polling.
  expect(await handler.isComplete({ ...event('Create'), PhysicalResourceId: trustId } as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: false });

  // A second create (another stack, or a redeploy that lost its state) does not take the trust over.
  await expect(handler.onEvent(event('Create'))).rejects.toThrow(`already has a trust with onprem.example.com that this stack did not create: ${trustId} (Forest, One-Way: Outgoing, state Creating`);
  expect(await trusts()).toHaveLength(1);

  const del = event('Delete', { PhysicalResourceId: trustId });
  await handler.onEvent(del);
  expect(await trusts()).toEqual([]);
  expect((await handler.isComplete(del as CdkCustomResourceIsCompleteEvent)).IsComplete).toBe(true);
  // Deleting again (CloudFormation retries) is fine.
  await expect(handler.onEvent(del)).resolves.toEqual({ PhysicalResourceId: trustId });
});

describe('a trust made by hand before the stack', () => {
  let handMade: string;
  beforeEach(async () => {
    handMade = (
      await ds.send(
        new CreateTrustCommand({
          DirectoryId: directoryId,
          RemoteDomainName: 'onprem.example.com',
          TrustPassword: 'Hand-Made-Passw0rd',
          TrustDirection: 'One-Way: Outgoing',
          TrustType: 'Forest',
          ConditionalForwarderIpAddrs: ['192.168.10.10'],
        }),
      )
    ).TrustId!;
  });
  afterEach(async () => {
    for (const t of await trusts()) await ds.send(new DeleteTrustCommand({ TrustId: t.TrustId! }));
  });

  test('is refused without AdoptExisting, named with the state moto reports, and kept', async () => {
    await expect(handler.onEvent(event('Create'))).rejects.toThrow(`that this stack did not create: ${handMade} (Forest, One-Way: Outgoing, state Creating`);
    expect((await trusts()).map((t) => t.TrustId)).toEqual([handMade]);
  });

  test('with AdoptExisting, is checked against what moto returns (still Creating there: not healthy) and kept', async () => {
    const e = event('Create');
    await expect(handler.onEvent({ ...e, ResourceProperties: { ...e.ResourceProperties, AdoptExisting: 'true' } } as CdkCustomResourceEvent)).rejects.toThrow(
      `cannot adopt the existing trust ${handMade}`,
    );
    expect((await trusts()).map((t) => t.TrustId)).toEqual([handMade]);
  });

  test('an adopted physical ID deletes nothing on stack delete or rollback', async () => {
    const del = event('Delete', { PhysicalResourceId: `${handMade}/adopted` });
    await handler.onEvent(del);
    expect(await handler.isComplete(del as CdkCustomResourceIsCompleteEvent)).toEqual({ IsComplete: true });
    expect((await trusts()).map((t) => t.TrustId)).toEqual([handMade]);
  });
});

test('a secret that does not exist fails the create with the ARN, and creates nothing', async () => {
  const missing = secretArn.replace('trust-password', 'no-such-secret');
  await expect(handler.onEvent(event('Create', { ResourceProperties: { ...event('Create').ResourceProperties, TrustPasswordSecretArn: missing } }))).rejects.toThrow(
    /Secrets Manager can't find the specified secret|ResourceNotFound/,
  );
  expect((await ds.send(new DescribeTrustsCommand({ DirectoryId: directoryId }))).Trusts).toEqual([]);
});

test('an update to a new domain that rolls back returns to the stack\'s own old trust; the cleanup deletes only the new one', async () => {
  const created = await handler.onEvent(event('Create'));
  const oldId = created.PhysicalResourceId!;
  const base = event('Update').ResourceProperties;
  const emea = { ...base, RemoteDomainName: 'emea.example.com' };
  const fwd = await handler.onEvent(event('Update', { PhysicalResourceId: oldId, OldResourceProperties: base, ResourceProperties: emea }));
  const newTrust = (await trusts()).find((t) => t.RemoteDomainName === 'emea.example.com')!.TrustId!;
  expect(fwd.PhysicalResourceId).toBe(`${newTrust}/replaces/${oldId}`);
  // Rollback: the old properties with the new physical ID, while the old trust still exists in moto.
  const back = await handler.onEvent(event('Update', { PhysicalResourceId: fwd.PhysicalResourceId, OldResourceProperties: emea, ResourceProperties: base }));
  expect(back.PhysicalResourceId).toBe(oldId);
  // UPDATE_ROLLBACK_COMPLETE_CLEANUP: Delete for the replacement's physical ID.
  await handler.onEvent(event('Delete', { PhysicalResourceId: fwd.PhysicalResourceId }));
  expect((await trusts()).map((t) => t.TrustId)).toEqual([oldId]);
  await handler.onEvent(event('Delete', { PhysicalResourceId: oldId }));
  expect(await trusts()).toEqual([]);
});
