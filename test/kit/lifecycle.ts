/**
 * Lifecycle rules (/work/shared/DESIGN.md "Lifecycle"): first deploy, failed deploy + rollback, update,
 * redeploy after destroy, destroy — each must end in a state CloudFormation can leave.
 *
 * Facts the rules rest on (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html):
 * `Retain` keeps the resource on stack deletion AND when the operation that created it rolls back
 * (`RetainExceptOnCreate` deletes it in that case); `Snapshot` snapshots and then DELETES the resource;
 * a delete of a resource with deletion protection on fails (RDS InvalidParameterCombination, DSQL
 * ValidationException), which turns a rollback into ROLLBACK_FAILED and a destroy into DELETE_FAILED.
 *
 * Rules (rule name: meaning):
 * - retained-fixed-name: a resource CloudFormation keeps (Retain, RetainExceptOnCreate) must not carry
 *   a fixed physical name (a name property that references no other resource of the stack): after a
 *   destroy (or a rolled-back first deploy) the kept resource holds the name and the redeploy fails
 *   with "already exists". A name derived from another resource's generated name, or from the stack ID
 *   (new for every deployment of a new stack), is not fixed.
 * - retained-dependency: what a kept resource needs to keep existing — the VPC, subnets, subnet group,
 *   security groups, parameter/option groups, keys, secrets, buckets, directory and clusters it references,
 *   transitively — must be kept at least as long; else CloudFormation tries to delete them under it
 *   (DELETE_FAILED for a VPC/subnet/SG in use, or a kept database whose key is scheduled for deletion).
 *   "As long": Retain needs Retain; RetainExceptOnCreate needs RetainExceptOnCreate or Retain (a Retain
 *   resource whose dependency is only RetainExceptOnCreate loses it when a later create rolls back).
 * - global-member-deleted: a cluster in an Aurora global database (GlobalClusterIdentifier set, or the
 *   source of a GlobalCluster) with DeletionPolicy Delete/Snapshot: RDS refuses to delete a member of a
 *   global cluster (it must be removed from it first), so a destroy ends DELETE_FAILED.
 *   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-managing.html#aurora-global-database-deleting
 * - deletion-protection: deletion protection on at create time is allowed only with DeletionPolicy
 *   Retain (CloudFormation then never deletes the resource, neither in a rollback nor in a destroy).
 *   With Delete, Snapshot or RetainExceptOnCreate a failed first deploy cannot roll back and a
 *   destroy cannot finish.
 * - custom-resource-delete: every custom resource whose handler is the kit's own code has a handler
 *   test that sends it a Delete event: a test file (test/**\/*.test.ts, unit or integration) that
 *   imports (or requires) one of the kit modules bundled into the handler (lambda/<pattern>/..., not lambda/shared)
 *   and builds an event with RequestType 'Delete'. An AwsCustomResource (Custom::AWS) that writes on
 *   Create/Update needs a Delete call. CDK's own handlers are listed in exceptions.ts with a reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Finding } from './findings';
import { render } from './iam';
import { ROOT, Template } from './stacks';


/** The property that IS the physical name, per type (unique in the account and Region). */
export const NAME_PROPERTY: Record<string, string> = {
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::RDS::DBCluster': 'DBClusterIdentifier',
  'AWS::RDS::DBInstance': 'DBInstanceIdentifier',
  'AWS::RDS::GlobalCluster': 'GlobalClusterIdentifier',
  'AWS::RDS::DBSubnetGroup': 'DBSubnetGroupName',
  'AWS::RDS::DBClusterParameterGroup': 'DBClusterParameterGroupName',
  'AWS::RDS::DBParameterGroup': 'DBParameterGroupName',
  'AWS::EC2::SecurityGroup': 'GroupName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::KMS::Alias': 'AliasName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::DMS::ReplicationInstance': 'ReplicationInstanceIdentifier',
  'AWS::DMS::Endpoint': 'EndpointIdentifier',
};

/** Types a kept resource may need to keep existing. */
export const DEPENDENCY_TYPES = new Set([
  'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::SecurityGroup', 'AWS::RDS::DBSubnetGroup', 'AWS::RDS::DBClusterParameterGroup', 'AWS::RDS::DBParameterGroup',
  'AWS::RDS::OptionGroup', 'AWS::RDS::DBCluster', 'AWS::RDS::GlobalCluster', 'AWS::KMS::Key', 'AWS::S3::Bucket', 'AWS::DirectoryService::MicrosoftAD',
  'AWS::DSQL::Cluster', 'AWS::DMS::ReplicationSubnetGroup',
  // A kept database's credential secret (MasterUserPassword resolves it): deleted on destroy, the kept database's
  // master password is gone with it (Secrets Manager's recovery window aside) and only a reset can recover access.
  'AWS::SecretsManager::Secret',
]);

/** How long CloudFormation keeps a resource: 2 = always (Retain), 1 = except when its own create rolls back, 0 = not. */
const STRENGTH: Record<string, number> = { Retain: 2, RetainExceptOnCreate: 1 };
export const keptStrength = (policy?: string): number => STRENGTH[policy ?? 'Delete'] ?? 0;

/** Logical IDs a value references (Ref, GetAtt, Sub ${X}). */
export function refsOf(v: unknown, ids: Set<string>): Set<string> {
  const out = new Set<string>();
  const visit = (x: unknown) => {
    if (Array.isArray(x)) return x.forEach(visit);
    if (!x || typeof x !== 'object') return;
    for (const [k, val] of Object.entries(x)) {
      if (k === 'Ref' && typeof val === 'string' && ids.has(val)) out.add(val);
      else if (k === 'Fn::GetAtt') {
        const id = Array.isArray(val) ? val[0] : String(val).split('.')[0];
        if (ids.has(id)) out.add(id);
      } else if (k === 'Fn::Sub') {
        const s = Array.isArray(val) ? val[0] : val;
        for (const m of String(s).matchAll(/\$\{([A-Za-z0-9]+)/g)) if (ids.has(m[1])) out.add(m[1]);
        if (Array.isArray(val)) visit(val[1]);
      } else visit(val);
    }
  };
  visit(v);
  return out;
}

/**
 * Two stack IDs of the same stack name in the same account and Region, as CloudFormation forms them
 * (`arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>`): a stack deleted and deployed again.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html#cfn-pseudo-param-stackid
 */
export const SAMPLE_STACK_IDS = [
  'arn:aws:cloudformation:us-east-1:123456789012:stack/My-Stack/1c2fa620-34ae-11f0-9b7c-0a1b2c3d4e5f',
  'arn:aws:cloudformation:us-east-1:123456789012:stack/My-Stack/e07d4b90-8f12-11f0-a2c1-12ab34cd56ef',
];

/**
 * The value of a name expression under a stack ID (pseudo parameters derived from it), for names built only
 * from literals, pseudo parameters and Fn::Join / Fn::Select / Fn::Split / Fn::Sub; undefined when it references
 * anything else (a resource, a parameter, an import).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html
 */
export function evaluateName(v: unknown, stackId: string): string | undefined {
  const [, partition, , region, account, rest] = stackId.split(':');
  const pseudo: Record<string, string> = {
    'AWS::StackId': stackId,
    'AWS::StackName': rest.split('/')[1],
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::Partition': partition,
    'AWS::URLSuffix': partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
  };
  const ev = (x: unknown, vars: Record<string, string> = {}): unknown => {
    if (typeof x === 'string' || typeof x === 'number') return String(x);
    if (Array.isArray(x)) {
      const items = x.map((i) => ev(i, vars));
      return items.some((i) => i === undefined) ? undefined : items;
    }
    if (!x || typeof x !== 'object') return undefined;
    const [[fn, arg]] = Object.entries(x);
    if (Object.keys(x).length !== 1) return undefined;
    const a = arg as any;
    switch (fn) {
      case 'Ref':
        return vars[a] ?? pseudo[a];
      case 'Fn::Join': {
        const parts = ev(a[1], vars) as string[] | undefined;
        return parts?.join(a[0]);
      }
      case 'Fn::Split': {
        const src = ev(a[1], vars);
        return typeof src === 'string' ? src.split(a[0]) : undefined;
      }
      case 'Fn::Select': {
        const list = ev(a[1], vars) as string[] | undefined;
        return list?.[Number(a[0])];
      }
      case 'Fn::Sub': {
        const [text, map] = Array.isArray(a) ? a : [a, {}];
        const local: Record<string, string> = { ...vars };
        for (const [k, mv] of Object.entries(map ?? {})) {
          const val = ev(mv, vars);
          if (typeof val !== 'string') return undefined;
          local[k] = val;
        }
        let unknown = false;
        const out = String(text).replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => local[name] ?? pseudo[name] ?? ((unknown = true), ''));
        return unknown ? undefined : out;
      }
      default:
        return undefined;
    }
  };
  const r = ev(v);
  return typeof r === 'string' ? r : undefined;
}

/**
 * A name is per deployment when it evaluates differently under two stack IDs of the same stack name: a
 * redeploy after destroy, or after deleting a stack whose first deploy rolled back (ROLLBACK_COMPLETE stacks
 * cannot be updated), runs under a new stack ID. A name that only mentions `AWS::StackId` but keeps a constant
 * part of it (the ARN's head, the stack name) is fixed, like one built from `AWS::StackName`.
 */
export const perDeployment = (v: unknown): boolean => {
  const [a, b] = SAMPLE_STACK_IDS.map((id) => evaluateName(v, id));
  return a !== undefined && b !== undefined && a !== b;
};

const PROTECTION = ['DeletionProtection', 'DeletionProtectionEnabled', 'DisableApiTermination'];

export function lifecycleFindings(stackName: string, t: Template): Finding[] {
  const out: Finding[] = [];
  const ids = new Set(Object.keys(t.Resources));
  const add = (rule: string, id: string, detail: string) => out.push({ check: 'lifecycle', rule, resource: `${stackName}/${id}`, detail });
  for (const [id, r] of Object.entries(t.Resources)) {
    const policy = r.DeletionPolicy ?? 'Delete';
    const p = r.Properties ?? {};
    // retained-fixed-name
    const nameProp = NAME_PROPERTY[r.Type];
    if (keptStrength(policy) > 0 && nameProp && p[nameProp] !== undefined && refsOf(p[nameProp], ids).size === 0 && !perDeployment(p[nameProp])) {
      add('retained-fixed-name', id, `${r.Type} is kept (${policy}) with the fixed ${nameProp} "${render(p[nameProp])}": a redeploy after destroy (or after a rolled-back first deploy) fails because the kept resource holds the name. Let CloudFormation generate the name, or derive it from a generated one — or document how a redeploy adopts the kept resource and list it in exceptions.ts`);
    }
    // retained-dependency
    const kept = keptStrength(policy);
    if (kept > 0) {
      const seen = new Set<string>();
      const queue = [...refsOf(p, ids)];
      while (queue.length) {
        const d = queue.shift()!;
        if (seen.has(d)) continue;
        seen.add(d);
        const dr = t.Resources[d];
        if (!DEPENDENCY_TYPES.has(dr.Type)) continue;
        if (keptStrength(dr.DeletionPolicy) < kept) {
          const when = keptStrength(dr.DeletionPolicy) === 0 ? 'a destroy deletes' : 'a rolled-back create deletes';
          add('retained-dependency', `${id}->${d}`, `${r.Type} ${id} is kept (${policy}) but depends on ${dr.Type} ${d}, which ${when} (${dr.DeletionPolicy ?? 'Delete'}): give ${d} RemovalPolicy.RETAIN too, or do not keep ${id}`);
          continue; // reported; its own dependencies follow once it is kept
        }
        queue.push(...refsOf(dr.Properties ?? {}, ids));
      }
    }
    // global-member-deleted
    const globalSource = r.Type === 'AWS::RDS::GlobalCluster' ? [...refsOf(p.SourceDBClusterIdentifier, ids)] : [];
    for (const member of [...globalSource, ...(r.Type === 'AWS::RDS::DBCluster' && p.GlobalClusterIdentifier !== undefined ? [id] : [])]) {
      const mp = t.Resources[member].DeletionPolicy ?? 'Delete';
      if ((mp === 'Delete' || mp === 'Snapshot') && !out.some((f) => f.rule === 'global-member-deleted' && f.resource === `${stackName}/${member}`)) {
        add('global-member-deleted', member, `AWS::RDS::DBCluster ${member} is a member of a global database with DeletionPolicy ${mp}: RDS refuses to delete a global cluster member (DELETE_FAILED); keep it (RemovalPolicy.RETAIN) and document how to detach and delete it`);
      }
    }
    // deletion-protection
    const prot = PROTECTION.find((k) => p[k] === true || p[k] === 'true');
    if (prot && policy !== 'Retain') {
      add('deletion-protection', id, `${r.Type} has ${prot}=true with DeletionPolicy ${policy}: a failed first deploy cannot roll back (the delete is refused: ROLLBACK_FAILED) and a destroy ends DELETE_FAILED. Either RemovalPolicy.RETAIN (kept, never deleted by CloudFormation; no fixed name) or deletion protection off by default, turned on by a documented prop or after the first deploy`);
    }
  }
  return out;
}

// ------------------------------------------------------------------ custom resources

function testFiles(dir = path.join(ROOT, 'test')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'kit' || e.name === 'node_modules' ? [] : testFiles(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Kit modules (lambda/<pattern>/x, no extension, not lambda/shared) bundled into a function's asset. */
export function kitModulesOf(assemblyDir: string, t: Template, fnId: string): string[] {
  const key = t.Resources[fnId]?.Properties?.Code?.S3Key;
  if (typeof key !== 'string') return [];
  const map = path.join(assemblyDir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js.map');
  if (!fs.existsSync(map)) return [];
  const sources: string[] = JSON.parse(fs.readFileSync(map, 'utf8')).sources;
  return sources
    .filter((s) => !s.includes('node_modules'))
    .map((s) => /(lambda\/[^/]+\/[^/]+?)\.ts$/.exec(s)?.[1])
    .filter((s): s is string => !!s && !s.startsWith('lambda/shared/'));
}

/** The function that really handles a custom resource: through CDK's Provider framework when present. */
export function handlerFunctionOf(t: Template, serviceToken: unknown): string | undefined {
  const id = /^\$\{([A-Za-z0-9]+)(\.Arn)?\}$/.exec(render(serviceToken))?.[1];
  const fn = id ? t.Resources[id] : undefined;
  if (!fn || fn.Type !== 'AWS::Lambda::Function') return undefined;
  const user = fn.Properties?.Environment?.Variables?.USER_ON_EVENT_FUNCTION_ARN;
  if (user) return /^\$\{([A-Za-z0-9]+)/.exec(render(user))?.[1];
  return id;
}

const DELETE_EVENT = /RequestType\s*:\s*['"]Delete['"]|\(\s*['"]Delete['"]/;

/** Which test files send a Delete event to a handler made of these modules. */
export function deleteTestsFor(modules: string[], files: string[] = testFiles()): string[] {
  return files.filter((f) => {
    const text = fs.readFileSync(f, 'utf8');
    if (!DELETE_EVENT.test(text)) return false;
    return modules.some((m) => new RegExp(`(from\\s*|require\\(\\s*)['"][./]*${m.replace(/\//g, '\\/')}['"]`).test(text));
  });
}

export function customResourceFindings(stackName: string, assemblyDir: string, t: Template, files?: string[]): Finding[] {
  const out: Finding[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    if (!r.Type.startsWith('Custom::') && r.Type !== 'AWS::CloudFormation::CustomResource') continue;
    const p = r.Properties ?? {};
    if (r.Type === 'Custom::AWS') {
      const call = (k: string) => (p[k] ? /"action":"([^"]+)"/.exec(render(p[k]).replace(/\\"/g, '"'))?.[1] : undefined);
      const writes = ['Create', 'Update'].map(call).filter((a): a is string => !!a && !/^(describe|list|get)/i.test(a));
      if (writes.length && !p.Delete) out.push({ check: 'lifecycle', rule: 'custom-resource-delete', resource: `${stackName}/${id}`, detail: `AwsCustomResource writes (${writes.join(', ')}) on Create/Update but has no onDelete call: a destroy leaves what it made` });
      continue;
    }
    const fnId = handlerFunctionOf(t, p.ServiceToken);
    const modules = fnId ? kitModulesOf(assemblyDir, t, fnId) : [];
    if (modules.length === 0) {
      out.push({ check: 'lifecycle', rule: 'custom-resource-delete', resource: `${stackName}/${r.Type}`, detail: `${r.Type} is handled by ${fnId ?? 'an unknown function'}, which is not the kit's own code (no kit modules in its bundle): its delete path is not tested here` });
      continue;
    }
    const tests = deleteTestsFor(modules, files);
    if (tests.length === 0) {
      out.push({ check: 'lifecycle', rule: 'custom-resource-delete', resource: `${stackName}/${r.Type}`, detail: `${r.Type} (handler modules ${modules.join(', ')}): no test imports them and sends a Delete event; add one (what exists after Delete, what is refused)` });
    }
  }
  return out;
}
