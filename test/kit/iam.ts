/**
 * IAM coverage: what each function / state machine can call (from its code, its configuration and its
 * state definition) against what its role allows (from the synthesized template).
 *
 * Calls:
 * - code: test/kit/code-actions.ts (the staged bundle); for AwsCustomResource, the service/action of
 *   its Create/Update/Delete properties.
 * - configuration (the Lambda service acts with the function's role):
 *   LoggingConfig -> logs:CreateLogStream, logs:PutLogEvents on that log group; TracingConfig Active ->
 *   xray:PutTraceSegments, xray:PutTelemetryRecords; VpcConfig -> ec2 ENI actions
 *   (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions);
 *   DeadLetterConfig -> sqs:SendMessage / sns:Publish on the target and, when the target is encrypted
 *   with a customer managed key, kms:GenerateDataKey + kms:Decrypt on that key
 *   (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq,
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html);
 *   an SQS event source mapping -> sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on the
 *   queue + kms:Decrypt on its key (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
 * - state machines: every Task's Resource: `arn:aws:states:::aws-sdk:<service>:<action>` -> service:Action,
 *   optimized integrations (lambda:invoke, sns:publish, s3:getObject/listObjectsV2 item readers, ...)
 *   and their KMS needs; tracing and logging configuration.
 *
 * Checks:
 * - DENIED: a call whose action no Allow statement of the role grants; for calls whose resource the
 *   template names (configuration, state-machine parameters), the statement's Resource must cover it.
 * - UNUSED WRITE: a non-read action (not Describe/List/Get/...) granted to the role that nothing above
 *   calls. Actions in statements conditioned on `kms:ViaService` = <svc> count as used when the code
 *   calls <svc> (the service uses the key on the caller's behalf); iam:PassRole counts as used when the
 *   code calls an action that passes a role.
 */
import { codeCalls } from './code-actions';
import { Finding } from './findings';
import { KitStack, Resource, Template } from './stacks';

export interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: Record<string, unknown>;
  Sid?: string;
}

export interface Call {
  readonly action: string;
  /** Rendered resource (see render()) when the template names it. */
  readonly resource?: string;
  readonly site: string;
}

const arr = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Renders a CloudFormation value to a string: Ref X -> ${X}, GetAtt X.Arn -> ${X.Arn}, pseudo parameters by name. */
export function render(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v && typeof v === 'object') {
    const o = v as Record<string, any>;
    if ('Ref' in o) return o.Ref === 'AWS::Partition' ? 'aws' : o.Ref === 'AWS::URLSuffix' ? 'amazonaws.com' : `\${${o.Ref}}`;
    if ('Fn::GetAtt' in o) return `\${${arr(o['Fn::GetAtt']).join('.')}}`;
    if ('Fn::Join' in o) return (o['Fn::Join'][1] as unknown[]).map(render).join(o['Fn::Join'][0]);
    if ('Fn::Sub' in o) return String(arr(o['Fn::Sub'])[0]);
    if ('Fn::ImportValue' in o) return `\${Import:${render(o['Fn::ImportValue'])}}`;
    if ('Fn::Select' in o) return `\${Select:${JSON.stringify(o['Fn::Select'])}}`;
    if ('Fn::Split' in o) return `\${Split}`;
    if ('Fn::If' in o) return `\${If:${render(o['Fn::If'][1])}}`;
  }
  return JSON.stringify(v);
}

const glob = (pattern: string, s: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i').test(s);

/** Ref of a queue is its URL, GetAtt Arn its ARN; Ref of a topic is its ARN. Both spellings name the same resource. */
function sameResource(pattern: string, resource: string): boolean {
  if (pattern === '*' || glob(pattern, resource)) return true;
  const norm = (s: string) => s.replace(/\$\{([A-Za-z0-9]+)\.Arn\}/g, '${$1}');
  return glob(norm(pattern), norm(resource));
}

/** AWS managed policies the kit's roles attach (their documents, as of the AWS Managed Policy reference). */
const MANAGED: Record<string, Statement[]> = {
  // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
  AWSLambdaBasicExecutionRole: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: ['*'] }],
  // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html
  AWSLambdaVPCAccessExecutionRole: [
    {
      Effect: 'Allow',
      Action: [
        'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
      ],
      Resource: ['*'],
    },
  ],
};

function normStatement(s: any): Statement {
  return { Effect: s.Effect, Action: arr(s.Action), Resource: arr(s.Resource).map(render), Condition: s.Condition, Sid: s.Sid };
}

/** Every statement attached to the role with this logical ID: inline, AWS::IAM::Policy/ManagedPolicy, managed. */
export function roleStatements(t: Template, roleId: string): Statement[] {
  const role = t.Resources[roleId];
  if (!role) return [];
  const out: Statement[] = [];
  for (const p of arr(role.Properties?.Policies)) out.push(...arr((p as any).PolicyDocument?.Statement).map(normStatement));
  for (const m of arr(role.Properties?.ManagedPolicyArns)) {
    const r = render(m);
    const name = /policy\/(?:service-role\/)?(.+)$/.exec(r)?.[1];
    if (name && MANAGED[name]) out.push(...MANAGED[name]);
    else if (/^\$\{[A-Za-z0-9]+\}$/.test(r)) {
      const mp = t.Resources[r.slice(2, -1)];
      if (mp?.Type === 'AWS::IAM::ManagedPolicy') out.push(...arr(mp.Properties?.PolicyDocument?.Statement).map(normStatement));
    } else out.push({ Effect: 'Unknown', Action: [`unknown managed policy ${r}`], Resource: [] });
  }
  for (const r of Object.values(t.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    if (arr(r.Properties?.Roles).some((x: any) => x?.Ref === roleId)) out.push(...arr(r.Properties?.PolicyDocument?.Statement).map(normStatement));
  }
  return out;
}

const roleIdOf = (v: unknown): string | undefined => {
  const r = render(v);
  const m = /^\$\{([A-Za-z0-9]+)(\.Arn)?\}$/.exec(r);
  return m?.[1];
};

/** The customer managed key of an SQS queue / SNS topic in the template, rendered, if any. */
function keyOf(t: Template, target: string): string | undefined {
  const id = /^\$\{([A-Za-z0-9]+)/.exec(target)?.[1];
  const r = id ? t.Resources[id] : undefined;
  const k = r?.Properties?.KmsMasterKeyId;
  if (k === undefined) return undefined;
  const s = render(k);
  return s.startsWith('alias/aws/') ? undefined : s.replace(/^\$\{([A-Za-z0-9]+)\}$/, '${$1.Arn}');
}

function kmsFor(t: Template, target: string, actions: string[], site: string): Call[] {
  const key = keyOf(t, target);
  return key ? actions.map((action) => ({ action, resource: key, site })) : [];
}

/** Calls a Lambda function makes through its configuration and code. */
export function functionCalls(stack: Pick<KitStack, 'template' | 'assemblyDir'>, fnId: string): Call[] {
  const t = stack.template;
  const p = t.Resources[fnId].Properties ?? {};
  const calls: Call[] = [];
  for (const c of codeCalls(stack.assemblyDir, p)) calls.push({ action: c.action, site: `code ${c.site}` });
  const lg = p.LoggingConfig?.LogGroup;
  if (lg) for (const a of ['logs:CreateLogStream', 'logs:PutLogEvents']) calls.push({ action: a, resource: render(lg).replace(/^\$\{([A-Za-z0-9]+)\}$/, '${$1.Arn}'), site: 'LoggingConfig (GetAtt Arn of a log group ends in :*, covering its streams)' });
  else for (const a of ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']) calls.push({ action: a, site: 'default log group /aws/lambda/<name>' });
  if (p.TracingConfig?.Mode === 'Active') for (const a of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']) calls.push({ action: a, site: 'TracingConfig Active' });
  if (p.VpcConfig) for (const a of ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses']) calls.push({ action: a, site: 'VpcConfig' });
  const dlq = p.DeadLetterConfig?.TargetArn;
  if (dlq) {
    const target = render(dlq);
    const isTopic = t.Resources[/^\$\{([A-Za-z0-9]+)/.exec(target)?.[1] ?? '']?.Type === 'AWS::SNS::Topic';
    calls.push({ action: isTopic ? 'sns:Publish' : 'sqs:SendMessage', resource: target, site: 'DeadLetterConfig' });
    calls.push(...kmsFor(t, target, ['kms:GenerateDataKey', 'kms:Decrypt'], 'DeadLetterConfig (queue/topic encrypted with a customer managed key)'));
  }
  if (p.KmsKeyArn) calls.push({ action: 'kms:Decrypt', resource: render(p.KmsKeyArn), site: 'KmsKeyArn (environment variables)' });
  for (const [, r] of Object.entries(t.Resources)) {
    if (r.Type !== 'AWS::Lambda::EventSourceMapping' || render(r.Properties?.FunctionName) !== `\${${fnId}}`) continue;
    const src = render(r.Properties?.EventSourceArn);
    for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) calls.push({ action: a, resource: src, site: 'EventSourceMapping' });
    calls.push(...kmsFor(t, src, ['kms:Decrypt'], 'EventSourceMapping (queue encrypted with a customer managed key)'));
  }
  // AwsCustomResource: the SDK calls are in its properties.
  if (render(p.Handler) === 'index.handler' && /^AWS679f53fac002430cb0da5b7982bd2287/.test(fnId)) {
    for (const r of Object.values(t.Resources)) {
      if (r.Type !== 'Custom::AWS' && !/^Custom::/.test(r.Type)) continue;
      if (!render(r.Properties?.ServiceToken).includes(fnId)) continue;
      for (const k of ['Create', 'Update', 'Delete']) {
        const raw = r.Properties?.[k];
        if (!raw) continue;
        const m = /"service":"([^"]+)","action":"([^"]+)"/.exec(render(raw).replace(/\\"/g, '"'));
        if (m) calls.push({ action: `${m[1].toLowerCase().replace(/^@aws-sdk\/client-/, '').replace('directory-service', 'ds').replace('directoryservice', 'ds')}:${m[2].replace(/Command$/, '').replace(/^./, (c) => c.toUpperCase())}`, site: `AwsCustomResource ${k}` });
      }
    }
  }
  return calls;
}

/** Calls a state machine makes (its definition and configuration). */
export function stateMachineCalls(t: Template, smId: string): Call[] {
  const p = t.Resources[smId].Properties ?? {};
  const calls: Call[] = [];
  const def = JSON.parse(render(p.DefinitionString ?? JSON.stringify(p.Definition ?? {})));
  const walk = (states: Record<string, any>) => {
    for (const [name, s] of Object.entries(states ?? {})) {
      const site = `state ${name}`;
      if (s.Type === 'Task' && typeof s.Resource === 'string') calls.push(...taskCalls(t, s.Resource, s.Parameters ?? s.Arguments ?? {}, site));
      if (s.ItemReader?.Resource) calls.push(...taskCalls(t, s.ItemReader.Resource, s.ItemReader.Parameters ?? s.ItemReader.Arguments ?? {}, `${site} ItemReader`));
      if (s.ResultWriter?.Resource) {
        calls.push(...taskCalls(t, s.ResultWriter.Resource, s.ResultWriter.Parameters ?? {}, `${site} ResultWriter`));
        // Step Functions writes the results as a multipart upload, and into an SSE-KMS bucket with the
        // state machine's role: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
        // ("IAM policies for ResultWriter"; KMS when the bucket is encrypted with a customer managed key).
        if (/:s3:putObject$/.test(s.ResultWriter.Resource)) {
          for (const a of ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 'kms:GenerateDataKey', 'kms:Decrypt']) calls.push({ action: a, site: `${site} ResultWriter (multipart upload, SSE-KMS)` });
        }
      }
      if (s.Type === 'Map') {
        walk((s.ItemProcessor ?? s.Iterator)?.States);
        if (s.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED') {
          // https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html (and redrive of a Map Run)
          for (const a of ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution', 'states:RedriveExecution']) calls.push({ action: a, site: `${site} (distributed map child executions)` });
        }
      }
      if (s.Type === 'Parallel') for (const b of s.Branches ?? []) walk(b.States);
    }
  };
  walk(def.States);
  if (p.TracingConfiguration?.Enabled) for (const a of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets']) calls.push({ action: a, site: 'TracingConfiguration' });
  if (p.LoggingConfiguration) {
    // https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy
    for (const a of ['logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups']) {
      calls.push({ action: a, site: 'LoggingConfiguration' });
    }
  }
  return calls;
}

const SFN_SERVICE_PREFIX: Record<string, string> = { sfn: 'states', directoryservice: 'ds', secretsmanager: 'secretsmanager', cloudwatchlogs: 'logs' };

function taskCalls(t: Template, resource: string, params: Record<string, any>, site: string): Call[] {
  const param = (k: string) => (params[k] ?? params[`${k}.$`]) as string | undefined;
  let m = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.waitForTaskToken)?$/.exec(resource);
  if (m) {
    const prefix = SFN_SERVICE_PREFIX[m[1]] ?? m[1];
    const op = m[2][0].toUpperCase() + m[2].slice(1);
    // https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    return [{ action: `${prefix}:${op === 'ListObjectsV2' && prefix === 's3' ? 'ListBucket' : op}`, site }];
  }
  m = /^arn:aws:states:::([a-z0-9]+):([A-Za-z0-9]+)(\.sync(:2)?|\.waitForTaskToken)?$/.exec(resource);
  if (m) {
    const [, svc, op] = m;
    if (svc === 'lambda' && op === 'invoke') return [{ action: 'lambda:InvokeFunction', resource: param('FunctionName'), site }];
    if (svc === 'sns' && op === 'publish') {
      const topic = param('TopicArn') ?? '';
      return [{ action: 'sns:Publish', resource: topic, site }, ...kmsFor(t, topic, ['kms:GenerateDataKey', 'kms:Decrypt'], `${site} (topic encrypted with a customer managed key)`)];
    }
    if (svc === 'sqs' && op === 'sendMessage') {
      const q = param('QueueUrl') ?? '';
      return [{ action: 'sqs:SendMessage', resource: q, site }, ...kmsFor(t, q, ['kms:GenerateDataKey', 'kms:Decrypt'], `${site} (queue encrypted with a customer managed key)`)];
    }
    if (svc === 's3' && op === 'listObjectsV2') return [{ action: 's3:ListBucket', site }];
    if (svc === 's3' && op === 'getObject') return [{ action: 's3:GetObject', site }];
    if (svc === 'states' && op === 'startExecution') return [{ action: 'states:StartExecution', resource: param('StateMachineArn'), site }];
    return [{ action: `${svc}:${op[0].toUpperCase()}${op.slice(1)}`, site }];
  }
  // A bare function ARN as Resource is a Lambda invoke.
  return [{ action: 'lambda:InvokeFunction', resource: resource, site }];
}

const READ = /^(Describe|List|Get|Head|Select|Search|Lookup|Query|Scan|BatchGet|Check|Validate|Preview|View|Filter|Receive)/;
// Actions that are "writes" by name but are how a principal uses (not changes) what it was given.
const USE_ONLY = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'logs:CreateLogStream', 'logs:PutLogEvents']);
/**
 * Actions an API call needs besides its own (Service Authorization Reference, "Dependent actions"
 * column; https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsdirectoryservice.html,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-creating.html#blue-green-deployments-creating-iam).
 * They count as used when the call is made (never as required: the check does not demand them).
 */
const DEPENDENT: Record<string, string[]> = {
  'ds:AddRegion': [
    'ec2:AuthorizeSecurityGroupEgress', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:CreateNetworkInterface', 'ec2:CreateSecurityGroup', 'ec2:CreateTags',
    'ec2:DeleteNetworkInterface', 'ec2:DeleteSecurityGroup', 'ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress',
  ],
  'ds:RemoveRegion': ['ec2:DeleteNetworkInterface', 'ec2:DeleteSecurityGroup', 'ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress'],
  // Tag on create: CreateSecurityGroup with TagSpecifications also needs ec2:CreateTags
  // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html).
  'ec2:CreateSecurityGroup': ['ec2:CreateTags'],
  'ds:CreateTrust': ['ds:CreateConditionalForwarder'],
  'ds:DeleteTrust': ['ds:DeleteConditionalForwarder'],
  'rds:CreateBlueGreenDeployment': ['rds:CreateDBInstanceReadReplica', 'rds:CreateDBInstance', 'rds:CreateDBCluster', 'rds:AddTagsToResource', 'rds:ModifyDBInstance', 'rds:ModifyDBCluster'],
  'rds:SwitchoverBlueGreenDeployment': ['rds:PromoteReadReplica', 'rds:PromoteReadReplicaDBCluster', 'rds:ModifyDBInstance', 'rds:ModifyDBCluster'],
};

/** Calls that pass an IAM role (Service Authorization Reference, "Dependent actions": iam:PassRole). */
const PASSES_ROLE = /^(rds:(AddRoleTo|CreateDBInstance|RestoreDB|ModifyDB|CreateDBCluster)|ds:|states:CreateStateMachine|lambda:CreateFunction)/;

export interface Principal {
  readonly kind: 'function' | 'state machine';
  readonly id: string;
  readonly roleId: string;
  readonly calls: Call[];
}

export function principals(stack: Pick<KitStack, 'template' | 'assemblyDir'>): Principal[] {
  const out: Principal[] = [];
  for (const [id, r] of Object.entries(stack.template.Resources)) {
    if (r.Type === 'AWS::Lambda::Function') {
      const roleId = roleIdOf(r.Properties?.Role);
      if (roleId) out.push({ kind: 'function', id, roleId, calls: functionCalls(stack, id) });
    } else if (r.Type === 'AWS::StepFunctions::StateMachine') {
      const roleId = roleIdOf(r.Properties?.RoleArn);
      if (roleId) out.push({ kind: 'state machine', id, roleId, calls: stateMachineCalls(stack.template, id) });
    }
  }
  return out;
}

export type IamFinding = Finding & { fromCode?: boolean };

/**
 * Findings of every variant, merged. One function's code serves every prop variant (instance and
 * cluster, snapshot and blue/green), and each variant's role grants only its own branch: a code call
 * denied in one variant but granted in another variant of the same stack is that other configuration's
 * branch, not a denied call, and is left out. A code call no variant grants is reported.
 */
export function iamFindingsAllVariants(stacks: Array<Pick<KitStack, 'template' | 'assemblyDir' | 'stackName' | 'variant'>>): Array<Finding & { variant: string }> {
  const per = stacks.map((s) => ({ s, f: iamFindings(s) }));
  const variantsOf = (stackName: string) => per.filter((x) => x.s.stackName === stackName).length;
  const out: Array<Finding & { variant: string }> = [];
  for (const { s, f } of per) {
    for (const x of f) {
      if (x.fromCode && x.rule.startsWith('denied ')) {
        const deniedIn = per.filter((y) => y.s.stackName === s.stackName && y.f.some((z) => z.rule === x.rule && z.resource === x.resource)).length;
        const hasFn = per.filter((y) => y.s.stackName === s.stackName && y.s.template.Resources[x.resource.split('/')[1]]).length;
        if (deniedIn < hasFn && hasFn <= variantsOf(s.stackName)) continue;
      }
      const { fromCode: _ignored, ...rest } = x;
      out.push({ ...rest, variant: s.variant });
    }
  }
  return out;
}

const actionMatches = (pattern: string, action: string) => glob(pattern, action);

/** IAM findings of one stack: `denied` and `unused-write` (rule = the action). */
export function iamFindings(stack: Pick<KitStack, 'template' | 'assemblyDir' | 'stackName'>): IamFinding[] {
  const t = stack.template;
  const out: IamFinding[] = [];
  const ps = principals(stack);
  const rolesShared = new Map<string, Principal[]>();
  for (const p of ps) rolesShared.set(p.roleId, [...(rolesShared.get(p.roleId) ?? []), p]);
  for (const p of ps) {
    const stmts = roleStatements(t, p.roleId);
    const allows = stmts.filter((s) => s.Effect === 'Allow');
    for (const c of dedupe(p.calls)) {
      const byAction = allows.filter((s) => s.Action.some((a) => actionMatches(a, c.action)));
      const ok = c.resource === undefined ? byAction.length > 0 : byAction.some((s) => s.Resource.some((r) => sameResource(r, c.resource!)));
      if (!ok) {
        const granted = byAction.length ? ` (granted only on ${byAction.flatMap((s) => s.Resource).join(', ')})` : '';
        out.push({
          check: 'iam',
          rule: `denied ${c.action}`,
          resource: `${stack.stackName}/${p.id}`,
          fromCode: c.site.startsWith('code '),
          detail: `${p.kind} ${p.id} calls ${c.action}${c.resource ? ` on ${c.resource}` : ''} (${c.site}); role ${p.roleId} does not allow it${granted}`,
        });
      }
    }
    // Unused writes: against the calls of every principal that shares the role.
    const sharers = rolesShared.get(p.roleId)!;
    if (sharers[0] !== p) continue;
    const direct = sharers.flatMap((x) => x.calls.map((c) => c.action));
    const called = [...direct, ...direct.flatMap((a) => DEPENDENT[a] ?? [])];
    const calledServices = new Set(called.map((a) => a.split(':')[0]));
    for (const s of allows) {
      const via = JSON.stringify(s.Condition ?? {}).match(/kms:ViaService[^\]]*?"([a-z0-9-]+)\./);
      for (const a of s.Action) {
        const op = a.split(':')[1] ?? '';
        if (READ.test(op) || USE_ONLY.has(a)) continue;
        if (called.some((c) => actionMatches(a, c))) continue;
        if (via && a.startsWith('kms:') && calledServices.has(via[1])) continue;
        if (a === 'iam:PassRole' && called.some((c) => PASSES_ROLE.test(c))) continue;
        out.push({
          check: 'iam',
          rule: `unused-write ${a}`,
          resource: `${stack.stackName}/${sharers.map((x) => x.id).join('+')}`,
          detail: `role ${p.roleId} grants ${a}${s.Sid ? ` (Sid ${s.Sid})` : ''} on ${s.Resource.join(', ')} but no code, configuration or state of ${sharers.map((x) => x.id).join(', ')} calls it`,
        });
      }
    }
  }
  return out;
}

function dedupe(calls: Call[]): Call[] {
  return [...new Map(calls.map((c) => [`${c.action}|${c.resource ?? ''}`, c])).values()];
}

export type { Resource };

/** One request as IAM evaluates it. */
export interface IamRequest {
  readonly action: string;
  readonly resource: string;
  /** Condition context, e.g. `aws:TagKeys` -> the keys in the request. */
  readonly context: Record<string, string[]>;
}

/**
 * Evaluates one request against identity-policy statements (rendered with `render()`; `${AWS::AccountId}`
 * and `${AWS::Region}` are substituted). Explicit Deny wins; an Allow needs action, resource and every
 * condition to match. Supported operators: StringEquals, StringLike, ArnLike, ArnEquals, each with
 * ForAllValues:/ForAnyValue: qualifiers. A condition key missing from the context fails the
 * condition, as IAM does for single-valued keys; any unsupported operator makes the statement not
 * match and is reported, so the evaluator never allows by guessing.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 */
export function evaluate(statements: Statement[], req: IamRequest, env: { account: string; region: string }): { allowed: boolean; why: string } {
  const sub = (s: string) => s.replace(/\$\{AWS::AccountId\}/g, env.account).replace(/\$\{AWS::Region\}/g, env.region);
  const matches = (st: Statement) => st.Action.some((a) => glob(a, req.action)) && st.Resource.some((r) => glob(sub(r), req.resource));
  const condOk = (st: Statement): boolean | string => {
    for (const [op, kv] of Object.entries(st.Condition ?? {})) {
      const m = /^(ForAllValues:|ForAnyValue:)?(StringEquals|StringLike|ArnLike|ArnEquals)$/.exec(op);
      if (!m) return `unsupported condition operator ${op}`;
      const like = m[2] === 'StringLike' || m[2] === 'ArnLike';
      for (const [key, raw] of Object.entries(kv as Record<string, unknown>)) {
        const wanted = arr(raw as string | string[]).map((x) => sub(render(x)));
        const have = req.context[key];
        const eq = (v: string) => wanted.some((w) => (like ? glob(w, v) : w === v));
        if (m[1] === 'ForAllValues:') {
          if (have && !have.every(eq)) return false;
        } else if (m[1] === 'ForAnyValue:') {
          if (!have || !have.some(eq)) return false;
        } else if (!have || !have.some(eq)) return false;
      }
    }
    return true;
  };
  const deny = statements.find((st) => st.Effect === 'Deny' && matches(st) && condOk(st) === true);
  if (deny) return { allowed: false, why: `explicit Deny${deny.Sid ? ` (Sid ${deny.Sid})` : ''}` };
  const candidates = statements.filter((st) => st.Effect === 'Allow' && matches(st));
  if (candidates.some((st) => condOk(st) === true)) return { allowed: true, why: 'allowed' };
  if (candidates.length === 0) {
    const byAction = statements.filter((st) => st.Effect === 'Allow' && st.Action.some((a) => glob(a, req.action)));
    return { allowed: false, why: byAction.length ? `action granted only on ${byAction.flatMap((s) => s.Resource.map(sub)).join(', ')}` : 'no statement grants the action' };
  }
  return { allowed: false, why: `granted on this resource only under ${candidates.map((st) => `${st.Sid ?? 'a statement'} ${JSON.stringify(st.Condition)}${typeof condOk(st) === 'string' ? ` (${condOk(st)})` : ''}`).join('; ')}` };
}
