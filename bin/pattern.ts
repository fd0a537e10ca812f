import * as fs from 'fs';
import * as path from 'path';
import { App, Environment, Stack } from 'aws-cdk-lib';
import { ACCOUNT_RE, PatternContext } from './context';

/** One pattern of the kit as the app sees it: a context namespace and the stack(s) it builds. */
export interface PatternDefinition {
  /** Context namespace and the name used in `db-ops-kit:patterns`, e.g. `rdsProxyLambda`. */
  readonly key: string;
  /** Stack names this pattern creates, for `npm start` and the docs. */
  readonly stackNames: string[];
  /** Reads `<key>:*` context (collecting problems in `ctx`) and builds the stack(s). */
  build(app: App, ctx: PatternContext, account: string | undefined): Stack[];
}

/** The account for every stack: context `db-ops-kit:account`, else the CLI's default account, else env-agnostic. */
export function accountFromContext(app: App): string | undefined {
  const fromCtx = app.node.tryGetContext('db-ops-kit:account');
  if (fromCtx !== undefined && fromCtx !== null && fromCtx !== '') {
    const s = String(fromCtx);
    if (!ACCOUNT_RE.test(s)) {
      throw new Error(`context key "db-ops-kit:account" must be a 12-digit AWS account ID, got "${s}" (example: 123456789012)`);
    }
    return s;
  }
  return process.env.CDK_DEFAULT_ACCOUNT;
}

export function envFor(account: string | undefined, region: string): Environment {
  return account ? { account, region } : { region };
}

/** The `context` block of cdk.json, for running the app outside the CDK CLI (npm start, tests). */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context ?? {};
}
