/**
 * The cross-Region and cross-account variants of the snapshot method against moto: the copy is
 * made in the other Region with that Region's key (SourceRegion → presigned URL) and restored
 * there under the original identifier; a shared copy is encrypted with a customer key and the
 * other account gets the restore attribute, and the run ends there.
 */
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateDBParameterGroupCommand, CreateDBSubnetGroupCommand, DescribeDBInstancesCommand, DescribeDBSnapshotAttributesCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { PreflightError } from '../../../lambda/kms-key-change/preflight';
import { phasesFor, runPhases } from '../../../lambda/kms-key-change/runner';
import { newState } from '../../../lambda/kms-key-change/state';
import { makeInstance, useMotoWorld, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));

test('cross-Region: copy with the other Region\'s key, restore there under the same identifier, source untouched', async () => {
  await makeInstance(w, 'geo');
  const west = new RDSClient({ region: 'us-west-2' });
  const westKey = (await new KMSClient({ region: 'us-west-2' }).send(new CreateKeyCommand({ Description: 'west' }))).KeyMetadata!.Arn!;
  let s = newState({ kind: 'instance', sourceId: 'geo', kmsKey: westKey, region: 'us-east-1', targetRegion: 'us-west-2', targetSecurityGroupIds: ['sg-0f00000000000west'] });

  // The subnet and parameter groups are Regional: preflight refuses until they exist in us-west-2.
  const refused = await runPhases(clientsFor('us-east-1', 'us-west-2'), s, phasesFor(s, { cutover: false }), { pollMs: 0 }).catch((e) => e);
  expect(refused).toBeInstanceOf(PreflightError);
  expect(refused.problems.map((p: { code: string; resource: string }) => `${p.code} ${p.resource}`)).toEqual(['CROSS_REGION_GROUP_MISSING db-private', 'CROSS_REGION_GROUP_MISSING geo-pg17']);
  await west.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'geo-pg17', DBParameterGroupFamily: 'postgres17', Description: 'same as us-east-1' }));
  const westEc2 = new EC2Client({ region: 'us-west-2' });
  const vpc = (await westEc2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }))).Vpc!.VpcId!;
  const subnets = [];
  for (const [i, az] of ['us-west-2a', 'us-west-2b'].entries()) subnets.push((await westEc2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.30.${i}.0/24`, AvailabilityZone: az }))).Subnet!.SubnetId!);
  await west.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: 'db-private', DBSubnetGroupDescription: 'same as us-east-1', SubnetIds: subnets }));

  s = await runPhases(clientsFor('us-east-1', 'us-west-2'), s, phasesFor(s, { cutover: false }), { pollMs: 0 });
  expect(s.parityClean).toBe(true);
  expect(s.parity!.find((l) => l.setting === 'securityGroupIds')).toMatchObject({ target: ['sg-0f00000000000west'], result: 'expected' });
  const copy = (await west.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: s.names!.copySnapshot }))).DBSnapshots![0];
  expect(copy.KmsKeyId).toBe(westKey);
  const restored = (await west.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'geo' }))).DBInstances![0];
  expect(restored.KmsKeyId).toBe(westKey);
  expect(restored.DBParameterGroups![0].DBParameterGroupName).toBe('geo-pg17');
  const source = (await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'geo' }))).DBInstances![0];
  expect(source.KmsKeyId).toBe(w.oldKey);
  expect(s.cutover).toBeUndefined();
});

test('cross-account: share a customer-key copy with the other account, then stop', async () => {
  await makeInstance(w, 'shared');
  const other = '210987654321';
  const kms = new KMSClient({ region: 'us-east-1' });
  const shareKey = (await kms.send(new CreateKeyCommand({ Description: 'shareable' }))).KeyMetadata!.Arn!;
  let s = newState({ kind: 'instance', sourceId: 'shared', kmsKey: shareKey, region: 'us-east-1', shareWithAccount: other });
  // The default key policy names only this account: refused until the other account is granted.
  const refused = await runPhases(clientsFor('us-east-1'), s, phasesFor(s, { cutover: false }), { pollMs: 0 }).catch((e) => e);
  expect(refused.problems.map((p: { code: string }) => p.code)).toEqual(['KEY_NOT_SHARED']);
  await kms.send(
    new PutKeyPolicyCommand({
      KeyId: shareKey.split('/').pop(),
      PolicyName: 'default',
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' },
          { Sid: 'Let the other account copy', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${other}:root` }, Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:CreateGrant', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'], Resource: '*' },
        ],
      }),
    }),
  );
  s = await runPhases(clientsFor('us-east-1'), s, phasesFor(s, { cutover: false }), { pollMs: 0 });
  expect(s.lastStep).toBe('finalize');
  const attrs = (await w.rds.send(new DescribeDBSnapshotAttributesCommand({ DBSnapshotIdentifier: s.names!.copySnapshot }))).DBSnapshotAttributesResult!.DBSnapshotAttributes!;
  expect(attrs.find((a) => a.AttributeName === 'restore')?.AttributeValues).toEqual([other]);
  const copy = (await w.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: s.names!.copySnapshot }))).DBSnapshots![0];
  expect(copy.KmsKeyId).toBe(shareKey);
  // No restore in this account.
  await expect(w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: s.names!.newId }))).rejects.toThrow();
});
