/**
 * The AWS API actions a Lambda function's shipped code can call, derived from the asset CDK staged
 * (the bundle that is deployed), not from a hand list:
 *
 * - The kit's own functions (NodejsFunction, source maps on): the bundle's source map lists every
 *   module esbuild put in the bundle, with its source text. For each of the kit's modules (everything
 *   outside node_modules) the TypeScript parser finds the imports (and `require`s) from
 *   `@aws-sdk/client-*` of `XxxCommand`, `paginateXxx` and `waitUntilXxx`, and the signers and
 *   Powertools utilities: `@aws-sdk/rds-signer` -> rds-db:connect, `@aws-sdk/dsql-signer`
 *   getDbConnectAuthToken -> dsql:DbConnect / getDbConnectAdminAuthToken -> dsql:DbConnectAdmin,
 *   `@aws-lambda-powertools/parameters/secrets` getSecret -> secretsmanager:GetSecretValue,
 *   `.../parameters/ssm` getParameter(s) -> ssm:GetParameter(s). (The SDK bundled into the asset
 *   carries every command of a client whether called or not, so the bundle's SDK strings alone would
 *   over-approximate: the kit's modules are what decide which commands run.)
 * - CDK's own handlers (custom-resource providers, bucket notifications; no source map): the asset
 *   JS (or the inline Python) is scanned for the SDK client it loads and the operations called on it.
 *
 * Operation -> IAM action: the operation name under the client's IAM prefix, except where the Service
 * Authorization Reference names the action differently (S3, STS below).
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/** npm client package -> IAM service prefix. An unknown client fails loudly so the table grows with the kit. */
export const CLIENT_PREFIX: Record<string, string> = {
  'client-rds': 'rds',
  'client-kms': 'kms',
  'client-s3': 's3',
  'client-sqs': 'sqs',
  'client-sns': 'sns',
  'client-sfn': 'states',
  'client-sts': 'sts',
  'client-secrets-manager': 'secretsmanager',
  'client-directory-service': 'ds',
  'client-dsql': 'dsql',
  'client-ssm': 'ssm',
  'client-ec2': 'ec2',
  'client-cloudwatch': 'cloudwatch',
  'client-lambda': 'lambda',
  'client-cloudwatch-logs': 'logs',
};

/**
 * Operations whose IAM action has another name (Service Authorization Reference, "Actions defined by
 * Amazon S3" / "AWS STS"). `null`: no permission needed.
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html ("No permissions are required")
 */
const RENAMED: Record<string, string[] | null> = {
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:ListObjects': ['s3:ListBucket'],
  's3:HeadObject': ['s3:GetObject'],
  's3:HeadBucket': ['s3:ListBucket'],
  's3:DeleteObjects': ['s3:DeleteObject'],
  's3:CopyObject': ['s3:GetObject', 's3:PutObject'],
  's3:CreateMultipartUpload': ['s3:PutObject'],
  's3:UploadPart': ['s3:PutObject'],
  's3:CompleteMultipartUpload': ['s3:PutObject'],
  's3:PutBucketNotificationConfiguration': ['s3:PutBucketNotification'],
  's3:GetBucketNotificationConfiguration': ['s3:GetBucketNotification'],
  'sts:GetCallerIdentity': null,
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html (Invoke -> lambda:InvokeFunction)
  'lambda:Invoke': ['lambda:InvokeFunction'],
};

export function iamActionsOf(prefix: string, operation: string): string[] {
  const k = `${prefix}:${operation}`;
  if (k in RENAMED) return RENAMED[k] ?? [];
  return [k];
}

export interface CodeCall {
  readonly action: string;
  /** Where it was found: `lambda/dsql-loader/s3-source.ts: GetObjectCommand`. */
  readonly site: string;
}

function prefixOf(pkg: string, site: string): string {
  const m = /^@aws-sdk\/(client-[a-z0-9-]+)$/.exec(pkg);
  if (!m) throw new Error(`${site}: not an SDK client package: ${pkg}`);
  const p = CLIENT_PREFIX[m[1]];
  if (!p) throw new Error(`${site}: no IAM prefix known for ${pkg}: add it to CLIENT_PREFIX in test/kit/code-actions.ts`);
  return p;
}

function operationOfIdentifier(name: string): string | undefined {
  let m = /^([A-Z][A-Za-z0-9]+)Command$/.exec(name);
  if (m) return m[1];
  m = /^paginate([A-Z][A-Za-z0-9]+)$/.exec(name);
  if (m) return m[1];
  // Waiters poll a Describe/Get/Head operation: waitUntilDBInstanceAvailable -> DescribeDBInstances.
  return undefined;
}

/** Calls in one TypeScript module (source text from the bundle's source map). */
export function callsInModule(file: string, text: string): CodeCall[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const calls: CodeCall[] = [];
  const imported: Array<{ name: string; pkg: string }> = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      if (n.importClause?.isTypeOnly) return;
      const pkg = n.moduleSpecifier.text;
      const b = n.importClause?.namedBindings;
      if (b && ts.isNamedImports(b)) for (const el of b.elements) if (!el.isTypeOnly) imported.push({ name: (el.propertyName ?? el.name).text, pkg });
    }
    // const { Signer } = require('@aws-sdk/rds-signer')
    if (ts.isVariableDeclaration(n) && n.initializer && ts.isObjectBindingPattern(n.name)) {
      let init: ts.Expression = n.initializer;
      while (ts.isAsExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
      if (ts.isCallExpression(init) && ts.isIdentifier(init.expression) && init.expression.text === 'require' && ts.isStringLiteral(init.arguments[0])) {
        const pkg = init.arguments[0].text;
        for (const el of n.name.elements) imported.push({ name: (el.propertyName && ts.isIdentifier(el.propertyName) ? el.propertyName : (el.name as ts.Identifier)).text, pkg });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const uses = (name: string) => (text.match(new RegExp(`\\b${name}\\b`, 'g')) ?? []).length > 1;
  for (const { name, pkg } of imported) {
    const site = `${file}: ${name}`;
    if (pkg.startsWith('@aws-sdk/client-')) {
      const op = operationOfIdentifier(name);
      if (op && uses(name)) for (const action of iamActionsOf(prefixOf(pkg, site), op)) calls.push({ action, site });
    } else if (pkg === '@aws-sdk/rds-signer' && name === 'Signer' && uses(name)) {
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
      calls.push({ action: 'rds-db:connect', site });
    } else if (pkg === '@aws-sdk/dsql-signer' && uses(name)) {
      // https://docs.aws.amazon.com/aurora-dsql/latest/userguide/authentication-authorization.html
      if (/getDbConnectAdminAuthToken/.test(text)) calls.push({ action: 'dsql:DbConnectAdmin', site: `${site}.getDbConnectAdminAuthToken` });
      if (/getDbConnectAuthToken/.test(text)) calls.push({ action: 'dsql:DbConnect', site: `${site}.getDbConnectAuthToken` });
    } else if (pkg === '@aws-lambda-powertools/parameters/secrets' && name === 'getSecret' && uses(name)) {
      calls.push({ action: 'secretsmanager:GetSecretValue', site });
    } else if (pkg === '@aws-lambda-powertools/parameters/ssm' && /^getParameters?$/.test(name) && uses(name)) {
      calls.push({ action: name === 'getParameter' ? 'ssm:GetParameter' : 'ssm:GetParameters', site });
    }
  }
  return calls;
}

const pascal = (s: string) => s[0].toUpperCase() + s.slice(1);
const fromSnake = (s: string) => s.split('_').map(pascal).join('');

/** Calls in a JS handler without a source map (CDK's own handlers, minified or not). */
export function callsInPlainJs(file: string, text: string): CodeCall[] {
  // ns = require("@aws-sdk/client-x")  (possibly wrapped: R(require(...)), __importStar(require(...)))
  const nsPkg = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)\s*=\s*(?:[\w$]+\()?require\("(@aws-sdk\/client-[a-z0-9-]+)"\)/g)) nsPkg.set(m[1], m[2]);
  if (nsPkg.size === 0) {
    if (/require\("@aws-sdk\/client-/.test(text)) throw new Error(`${file}: loads an SDK client in a way this scan does not follow`);
    return [];
  }
  const calls: CodeCall[] = [];
  const add = (pkg: string, op: string) => {
    for (const action of iamActionsOf(prefixOf(pkg, file), op)) calls.push({ action, site: `${file}: ${op}` });
  };
  for (const [ns, pkg] of nsPkg) {
    // client = new ns.Client(...) then client.operation(...)
    for (const m of text.matchAll(new RegExp(`([\\w$]+)\\s*=\\s*new ${ns}\\.[A-Z][A-Za-z0-9]*\\(`, 'g'))) {
      for (const c of text.matchAll(new RegExp(`(?<![\\w$.])${m[1].replace('$', '\\$')}\\.([a-z][A-Za-z0-9]+)\\(`, 'g'))) add(pkg, pascal(c[1]));
    }
    // new ns.XxxCommand(...), (0, ns.paginateXxx)(...), (0, ns.waitUntilXxx)(...)
    for (const m of text.matchAll(new RegExp(`\\b${ns}\\.([A-Za-z0-9]+)`, 'g'))) {
      const op = operationOfIdentifier(m[1]);
      if (op) add(pkg, op);
      const w = WAITERS[`${CLIENT_PREFIX[pkg.replace('@aws-sdk/', '')]}:${m[1]}`];
      if (w) calls.push({ action: w, site: `${file}: ${m[1]}` });
    }
  }
  // A file that loads one client and hands it to helper functions (minified CDK handlers do): every
  // `.operation({...})` call with an AWS-verb name is attributed to that client.
  if (nsPkg.size === 1) {
    const pkg = [...nsPkg.values()][0];
    for (const m of text.matchAll(/\.([a-z][A-Za-z0-9]+)\(\{/g)) if (OP_VERB.test(pascal(m[1]))) add(pkg, pascal(m[1]));
  }
  return [...new Map(calls.map((c) => [`${c.action} ${c.site}`, c])).values()];
}

const OP_VERB = /^(Describe|List|Get|Put|Delete|Create|Update|Add|Remove|Revoke|Authorize|Modify|Tag|Untag|Start|Stop|Send|Receive|Change|Copy|Restore)[A-Z]/;

/** Waiters poll one operation (the SDK's waiter definitions, e.g. client-lambda waitForFunctionActiveV2 polls GetFunction). */
const WAITERS: Record<string, string> = {
  'lambda:waitUntilFunctionActiveV2': 'lambda:GetFunction',
  'lambda:waitUntilFunctionActive': 'lambda:GetFunctionConfiguration',
};

/** Calls in inline Python (Code.ZipFile, e.g. CDK's BucketNotificationsHandler): `x = boto3.client("s3")` then `x.op_name(`. */
export function callsInPython(file: string, text: string): CodeCall[] {
  const calls: CodeCall[] = [];
  for (const m of text.matchAll(/(\w+)\s*=\s*boto3\.client\(\s*["']([a-z0-9-]+)["']/g)) {
    const [, v, service] = m;
    const prefix = CLIENT_PREFIX[`client-${service}`];
    if (!prefix) throw new Error(`${file}: no IAM prefix known for boto3 client ${service}`);
    for (const c of text.matchAll(new RegExp(`\\b${v}\\.([a-z_]+)\\(`, 'g'))) {
      for (const action of iamActionsOf(prefix, fromSnake(c[1]))) calls.push({ action, site: `${file}: ${c[1]}` });
    }
  }
  return calls;
}

/** Every call the function's code can make, from its staged asset (or inline code). */
export function codeCalls(assemblyDir: string, fnProps: Record<string, any>): CodeCall[] {
  const code = fnProps.Code ?? {};
  if (typeof code.ZipFile === 'string') return callsInPython('inline ZipFile', code.ZipFile);
  const key = code.S3Key;
  if (typeof key !== 'string') throw new Error(`function code is neither an asset nor inline: ${JSON.stringify(code).slice(0, 200)}`);
  const dir = path.join(assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
  if (!fs.existsSync(dir)) throw new Error(`asset ${dir} not staged`);
  const mapFile = path.join(dir, 'index.js.map');
  if (fs.existsSync(mapFile)) {
    const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    if (!map.sourcesContent) throw new Error(`${mapFile} has no sourcesContent`);
    const calls: CodeCall[] = [];
    map.sources.forEach((src, i) => {
      if (src.includes('node_modules')) return;
      const rel = src.replace(/^(\.\.\/)+/, '/').replace(/^.*?\/(lambda\/)/, '$1');
      calls.push(...callsInModule(rel, map.sourcesContent![i] ?? ''));
    });
    return calls;
  }
  const calls: CodeCall[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.js') && x !== '__entrypoint__.js')) {
    calls.push(...callsInPlainJs(`asset/${f}`, fs.readFileSync(path.join(dir, f), 'utf8')));
  }
  return calls;
}
