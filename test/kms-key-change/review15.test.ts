/**
 * Review of issue 15: hand-injected bugs in lambda/kms-key-change that no other unit test caught,
 * each test first shown to fail with the bug in place. Mocked RDS/KMS (aws-sdk-client-mock), as in
 * preflight.test.ts: preflight reads a cluster's lock tag from DescribeDBClusters' TagList, and the
 * combinations needed here (a lock of another run on the cluster with healthy members, a key policy)
 * are staged exactly; the two-run lock race runs on moto in test/integration/kms-key-change/run-lock.test.ts.
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBProxiesCommand,
  DescribeDBSnapshotsCommand,
  DescribeGlobalClustersCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { LOCK_TAG } from '../../lambda/kms-key-change/lock';
import { preflight, PreflightError } from '../../lambda/kms-key-change/preflight';
import { newState } from '../../lambda/kms-key-change/state';
import { ACCOUNT, clients, cluster, DEFAULT_POLICY, instance, member, NEW_KEY, notFound, OLD_KEY } from './fixtures';

const rds = mockClient(RDSClient);
const kms = mockClient(KMSClient);
const NOW = new Date('2026-11-30T03:04:05Z');
const RUN = '20261130030405';
const OTHER = '20261129220000';

function aurora(tags: Array<{ Key: string; Value: string }>): void {
  rds.reset();
  kms.reset();
  rds.on(DescribeDBInstancesCommand).rejects(notFound());
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders' }).resolves({ DBInstances: [instance()] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-1' }).resolves({ DBInstances: [member('ledger-1')] });
  rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'ledger-2' }).resolves({ DBInstances: [member('ledger-2')] });
  rds.on(DescribeDBClustersCommand).rejects(notFound('DBClusterNotFoundFault'));
  rds.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'ledger' }).resolves({ DBClusters: [cluster({ TagList: [...(cluster().TagList ?? []), ...tags] })] });
  rds.on(DescribeDBSnapshotsCommand).rejects(notFound('DBSnapshotNotFoundFault'));
  rds.on(DescribeDBClusterSnapshotsCommand).rejects(notFound('DBClusterSnapshotNotFoundFault'));
  rds.on(DescribeDBProxiesCommand).resolves({ DBProxies: [] });
  rds.on(DescribeGlobalClustersCommand).resolves({ GlobalClusters: [] });
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'b', Arn: NEW_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyPolicyCommand).resolves({ Policy: DEFAULT_POLICY });
}

const clus = () => newState({ kind: 'cluster', sourceId: 'ledger', kmsKey: NEW_KEY, region: 'us-east-1', now: NOW });

describe('preflight of an Aurora cluster whose run lock another run holds', () => {
  // Injected: the cluster branch of preflight no longer looked at the lock tag. The dry run
  // (preflight only) then reported a clean plan for a cluster another run is re-keying.
  test('is refused with RUN_IN_PROGRESS naming the holder and the --break-lock command for a cluster', async () => {
    aurora([{ Key: LOCK_TAG, Value: OTHER }]);
    const e = await preflight(clients(), clus()).catch((x) => x);
    expect(e).toBeInstanceOf(PreflightError);
    const p = (e as PreflightError).problems.find((x) => x.code === 'RUN_IN_PROGRESS');
    expect(p).toMatchObject({ resource: 'ledger' });
    expect(p!.message).toContain(`${LOCK_TAG}=${OTHER}`);
    expect(p!.next).toContain(`--db-cluster ledger --region us-east-1 --break-lock ${OTHER}`);
  });

  test('its own lock (a resumed run) is no refusal', async () => {
    aurora([{ Key: LOCK_TAG, Value: RUN }]);
    const s = await preflight(clients(), clus());
    expect(s.lastStep).toBe('preflight');
  });
});

describe('preflight of a share with another account when the source already uses the chosen key', () => {
  // Injected: ALREADY_ON_TARGET_KEY without the `!s.shareWithAccount` exception. Sharing needs a copy
  // of the snapshot even when the key does not change (the other account copies it with its own key),
  // so such a run must not be refused as "nothing to do".
  test('is not refused as ALREADY_ON_TARGET_KEY (a same-account run with that key is)', async () => {
    const OTHER_ACCOUNT = '210987654321';
    aurora([]);
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'a', Arn: OLD_KEY, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    kms.on(GetKeyPolicyCommand).resolves({
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER_ACCOUNT}:root` }, Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:CreateGrant', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'], Resource: '*' },
        ],
      }),
    });
    const inst = (share?: string) => newState({ kind: 'instance', sourceId: 'orders', kmsKey: OLD_KEY, region: 'us-east-1', now: NOW, shareWithAccount: share });
    const s = await preflight(clients(), inst(OTHER_ACCOUNT));
    expect(s.targetKeyArn).toBe(OLD_KEY);
    expect(s.names?.copySnapshot).toBe(`orders-rekey-${RUN}-new`);
    // The same key without a share still is "nothing to do" (the rule itself is intact).
    const e = await preflight(clients(), inst()).catch((x) => x);
    expect((e as PreflightError).problems.map((p) => p.code)).toEqual(['ALREADY_ON_TARGET_KEY']);
  });
});
