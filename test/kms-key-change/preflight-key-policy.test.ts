/**
 * Which target-key policies preflight accepts: RDS creates grants on the key as a principal of the
 * source's account, so some Allow statement must give kms:CreateGrant (or a wildcard over it) to
 * that account; for a share, also to the other account. Key policies as KMS returns them, served by
 * the in-memory Region of preflight-world.ts (aws-sdk-client-mock; moto does not evaluate key
 * policies, see its header).
 */
import { GetKeyPolicyCommand } from '@aws-sdk/client-kms';
import { preflight } from '../../lambda/kms-key-change/preflight';
import { ACCOUNT, clientsOf, east, inst, NEW_KEY, OTHER_ACCOUNT, problems, Region } from './preflight-world';

let r: Region;
beforeEach(() => {
  r = east();
});

const policy = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const allow = (Principal: unknown, Action: unknown, extra: object = {}) => ({ Effect: 'Allow', Principal, Action, Resource: '*', ...extra });
const ours = `arn:aws:iam::${ACCOUNT}:root`;
const useKey = (p: string) => r.addKey(NEW_KEY, {}, p, 'alias/orders-2026');

async function codes(share?: string): Promise<string[]> {
  const s = inst({ shareWithAccount: share });
  return preflight(clientsOf(r), s).then(
    (out) => {
      expect(out.targetKeyArn).toBe(NEW_KEY);
      expect(out.warnings).toEqual([]);
      return [];
    },
    async () => (await problems(clientsOf(r), s)).map((p) => p.code),
  );
}

describe('accepted: some Allow statement lets the account create grants', () => {
  test.each<[string, string]>([
    ['Principal "*" (scoped by conditions)', policy(allow('*', 'kms:*', { Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } }))],
    ['Principal {AWS: "*"}', policy(allow({ AWS: '*' }, ['kms:Encrypt', 'kms:Decrypt', 'kms:CreateGrant']))],
    ['the bare account id', policy(allow({ AWS: ACCOUNT }, 'kms:CreateGrant'))],
    ['the account root with Action "*"', policy(allow({ AWS: ours }, '*'))],
    ['a role of the account with kms:Create*', policy(allow({ AWS: `arn:aws:iam::${ACCOUNT}:role/rds-admin` }, ['kms:Describe*', 'kms:Create*']))],
    ['a principal list with another account first', policy(allow({ AWS: ['arn:aws:iam::999999999999:root', ours] }, 'kms:CreateGrant'))],
    ['a single statement object, not a list', JSON.stringify({ Statement: allow({ AWS: ours }, 'kms:*') })],
  ])('%s', async (_name, p) => {
    useKey(p);
    expect(await codes()).toEqual([]);
  });

  test('the policy is read once, the default policy of the resolved key', async () => {
    await codes();
    expect(r.inputs(GetKeyPolicyCommand)).toEqual([{ KeyId: NEW_KEY, PolicyName: 'default' }]);
  });
});

describe('refused with KEY_POLICY_DENIES_RDS', () => {
  test.each<[string, string]>([
    ['only use actions, no grant', policy(allow({ AWS: ours }, ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey']))],
    ['grants only for a role of another account', policy(allow({ AWS: 'arn:aws:iam::999999999999:role/admin' }, 'kms:*'))],
    ['an account id that merely contains ours', policy(allow({ AWS: `arn:aws:iam::9${ACCOUNT.slice(1)}:root` }, 'kms:*'))],
    ['the account named only in a Deny statement', policy({ Effect: 'Deny', Principal: { AWS: ours }, Action: 'kms:*', Resource: '*' })],
    ['an Allow statement without a Principal', policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })],
    ['a service principal only', policy(allow({ Service: 'rds.amazonaws.com' }, 'kms:*'))],
    ['a policy that is not JSON', 'not a policy'],
  ])('%s', async (_name, p) => {
    useKey(p);
    expect(await codes()).toEqual(['KEY_POLICY_DENIES_RDS']);
  });
});

describe('a share needs the other account granted too', () => {
  test('granted in a principal list next to a third account: accepted', async () => {
    useKey(policy(allow({ AWS: ours }, 'kms:*'), allow({ AWS: [`arn:aws:iam::${OTHER_ACCOUNT}:root`, 'arn:aws:iam::333333333333:root'] }, ['kms:Decrypt', 'kms:DescribeKey', 'kms:CreateGrant'])));
    expect(await codes(OTHER_ACCOUNT)).toEqual([]);
  });

  test('granted only to a third account: KEY_NOT_SHARED', async () => {
    useKey(policy(allow({ AWS: ours }, 'kms:*'), allow({ AWS: 'arn:aws:iam::333333333333:root' }, 'kms:CreateGrant')));
    expect(await codes(OTHER_ACCOUNT)).toEqual(['KEY_NOT_SHARED']);
  });
});

test('an unreadable key policy is a warning, not a refusal', async () => {
  r.kmsStub.on(GetKeyPolicyCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
  const s = await preflight(clientsOf(r), inst());
  expect(s.warnings).toEqual([`could not read the key policy of ${NEW_KEY} (AccessDeniedException); make sure RDS may use the key`]);
});
