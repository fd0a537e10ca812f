/**
 * readTrustPassword (lambda/ad-trust/trust.ts) against moto's Secrets Manager (one server for this file): the
 * trust password read from real secrets in every shape a user may store it, and the errors when it cannot be.
 * Secrets only: a moto directory needs moto's EC2 backend and a boto3 VPC (measured ~20 s per start on this
 * machine under load, which every mutant covered here would pay again); CreateTrust / DescribeTrusts /
 * DeleteTrust against a moto directory run in test/integration/ad-trust/trust-moto.test.ts, and their command
 * inputs are asserted in trust.test.ts and trust-functions.mutation.test.ts.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readTrustPassword } from '../../lambda/ad-trust/trust';
import { MotoServer, startMoto } from '../helpers/moto';

let moto: MotoServer;
let sm: SecretsManagerClient;

let n = 0;
/** A new secret per call (tests do not share data). */
async function secret(value: { SecretString?: string; SecretBinary?: Uint8Array }): Promise<string> {
  n += 1;
  return (await sm.send(new CreateSecretCommand({ Name: `trust-password-${n}-${Date.now()}`, ...value }))).ARN!;
}

beforeAll(async () => {
  moto = await startMoto();
  sm = new SecretsManagerClient({ region: 'us-east-1', endpoint: moto.endpoint });
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

describe('readTrustPassword (moto Secrets Manager)', () => {
  test('a plain string secret is the password', async () => {
    expect(await readTrustPassword(sm, await secret({ SecretString: 'Tr0ub4dor-and-3' }))).toBe('Tr0ub4dor-and-3');
  });

  test('a JSON secret gives its "password" key (leading blanks allowed); a password that merely starts with "{" must be JSON then', async () => {
    expect(await readTrustPassword(sm, await secret({ SecretString: JSON.stringify({ username: 'trust', password: 'P@ss-w0rd' }) }))).toBe('P@ss-w0rd');
    expect(await readTrustPassword(sm, await secret({ SecretString: `  \n${JSON.stringify({ password: 'P@ss-w0rd-2' })}` }))).toBe('P@ss-w0rd-2');
    // Not JSON-looking: kept whole, braces and all.
    expect(await readTrustPassword(sm, await secret({ SecretString: 'x{"password":"no"}' }))).toBe('x{"password":"no"}');
  });

  test('JSON without a string "password" key is refused naming the secret, never its value', async () => {
    for (const value of [JSON.stringify({ pass: 'Secret-Value-1' }), JSON.stringify({ password: 12345678 }), '{"password": "Secret-Value-1"', '{Secret-Value-1}']) {
      const arn = await secret({ SecretString: value });
      const err = await readTrustPassword(sm, arn).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toBe(`CreateTrust: secret ${arn} holds JSON without a string "password" key`);
      expect(err?.message).not.toContain('Secret-Value-1');
    }
  });

  test('1 to 128 characters (the CreateTrust TrustPassword limit)', async () => {
    // https://docs.aws.amazon.com/directoryservice/latest/devguide/API_CreateTrust.html (TrustPassword: length 1-128)
    expect(await readTrustPassword(sm, await secret({ SecretString: 'p'.repeat(128) }))).toBe('p'.repeat(128));
    expect(await readTrustPassword(sm, await secret({ SecretString: JSON.stringify({ password: 'q' }) }))).toBe('q');
    for (const value of ['p'.repeat(129), JSON.stringify({ password: '' }), JSON.stringify({ password: 'q'.repeat(129) })]) {
      const arn = await secret({ SecretString: value });
      await expect(readTrustPassword(sm, arn)).rejects.toThrow(`CreateTrust: the trust password in ${arn} must be 1 to 128 characters`);
    }
  });

  test('a binary secret has no string value', async () => {
    const arn = await secret({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(readTrustPassword(sm, arn)).rejects.toThrow(`CreateTrust: secret ${arn} has no string value; store the trust password as a string or as JSON {"password": "..."}`);
  });

  test('a secret that does not exist: the error names it, says nothing was created, how to restore and check it', async () => {
    const arn = (await secret({ SecretString: 'x' })).replace(/trust-password-\d+-\d+/, 'no-such-secret');
    const err = await readTrustPassword(sm, arn).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      new RegExp(
        `^CreateTrust: cannot read the trust password from secret ${arn} \\(ResourceNotFoundException: [^)]*[^.]\\)\\. No trust was created\\. ` +
          `The secret does not exist \\(or is scheduled for deletion: aws secretsmanager restore-secret --secret-id ${arn}\\)\\. ` +
          `Check it with: aws secretsmanager describe-secret --secret-id ${arn} ; then deploy again\\.$`,
      ),
    );
  });
});
