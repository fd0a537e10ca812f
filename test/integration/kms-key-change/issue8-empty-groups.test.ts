/**
 * Issue 8: rollback/abort of a freeze when the source's original security-group list was empty (a
 * database created without VpcSecurityGroupIds, as moto and some API views report it; RDS itself puts
 * the VPC's default group on such a database). The freeze records "(none)" as the originals; lifting it
 * must not leave the source frozen with no way back: the kit puts the VPC's default security group
 * back, which is what RDS gives a database created without groups ("Default: The default EC2 VPC
 * security group for the DB subnet group's VPC",
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
 */
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { clientsFor } from '../../../lambda/kms-key-change/clients';
import { PREFLIGHT_PHASE, rollbackPhases, runPhases } from '../../../lambda/kms-key-change/runner';
import { newState } from '../../../lambda/kms-key-change/state';
import { SNAPSHOT_PHASES } from '../../../lambda/kms-key-change/workflow';
import { useMotoWorld, World } from './moto-fixtures';

let w: World;
useMotoWorld((world) => (w = world));

const groupsOf = async (id: string) => ((await w.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0].VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId);

test('a source whose original security-group list is empty: freeze, then abort puts the VPC default group back instead of failing with the source frozen', async () => {
  w.connections.set('nogroups', 0);
  await w.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'nogroups',
      DBInstanceClass: 'db.t4g.medium',
      Engine: 'postgres',
      EngineVersion: '17.2',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'not-a-real-password-1',
      StorageEncrypted: true,
      KmsKeyId: w.oldKey,
      DBSubnetGroupName: w.subnetGroup,
    }),
  );
  const defaultGroup = (await w.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [w.vpcId] }, { Name: 'group-name', Values: ['default'] }] }))).SecurityGroups![0].GroupId;
  // moto gives the new instance a group; RDS rejects an empty list, moto accepts it: that is how the
  // "no group reported" view is produced here.
  await w.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'nogroups', VpcSecurityGroupIds: [], ApplyImmediately: true }));
  expect(await groupsOf('nogroups')).toEqual([]); // moto reports no group: the case under test
  const c = clientsFor('us-east-1');
  let s = newState({ kind: 'instance', sourceId: 'nogroups', kmsKey: w.newKey, region: 'us-east-1', now: new Date(Date.UTC(2026, 10, 30, 8, 0, 0)) });
  s.cutoverRequested = true;
  s = await runPhases(c, s, [PREFLIGHT_PHASE, SNAPSHOT_PHASES[0]], { pollMs: 0 });
  expect(s.freeze?.originalSecurityGroupIds).toEqual([]);
  expect(await groupsOf('nogroups')).toEqual([s.freeze!.groupId]);
  s = await runPhases(c, s, rollbackPhases(), { pollMs: 0 });
  expect(defaultGroup).toMatch(/^sg-/);
  expect(await groupsOf('nogroups')).toEqual([defaultGroup]);
  expect(s.freeze?.released?.on).toBe('nogroups');
  expect(s.rolledBack?.done).toBe(true);
  expect(s.warnings.join('\n')).toMatch(/had no security group before the freeze; put back the VPC's default security group sg-/);
}, 120_000);
