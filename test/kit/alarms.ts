/**
 * Alarm delivery: every CloudWatch alarm, and every EventBridge rule that targets a topic, can really
 * deliver. ONE evaluator (used by the kit-wide test and by test/rds-proxy-lambda/alarm-delivery.test.ts)
 * walks the path a notification takes:
 *
 *   alarm (or rule) → AlarmActions/OKActions/InsufficientDataActions (rule Targets) → SNS topic →
 *   topic policy (sns:Publish by the publishing service) → the topic's KMS key → key policy
 *   (kms:GenerateDataKey* and kms:Decrypt by the same service)
 *
 * and evaluates each resource policy for the request the service really makes: principal service
 * `cloudwatch.amazonaws.com` (alarms) or `events.amazonaws.com` (rules), `aws:SourceAccount` = the
 * stack's account, `aws:SourceArn` = the alarm's / rule's ARN, over TLS. A hop fails when no statement
 * allows the request or a statement denies it (an explicit Deny wins, otherwise an Allow is needed).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 *
 * Why both policies matter:
 * - An AWS::SNS::TopicPolicy REPLACES the topic's default policy (which allows the owner account only,
 *   never a service principal), so the service needs its own Allow.
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
 * - A topic encrypted with a customer managed key needs the key policy to let the publishing service use
 *   the key, or the publish is dropped; the AWS managed key alias/aws/sns cannot be given to it.
 *   https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 *
 * Scoping (confused deputy): the same request is evaluated once more as if it came from ANOTHER account's
 * alarm / rule. If that one is allowed too, the Allow is not scoped by aws:SourceArn / aws:SourceAccount
 * and any account's alarm could publish through it (rule `unscoped`).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
 *
 * Condition operators: StringEquals/StringLike/ArnEquals/ArnLike/Bool, their Not forms and IfExists. An
 * operator it does not know makes an Allow not apply and a Deny apply, so it errs towards a failure.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Finding } from './findings';
import { KitStack, Template } from './stacks';

type Json = any;
export type DeliveryRule = 'no-action' | 'cannot-deliver' | 'unscoped';

export interface Hop {
  /** Logical ID of the alarm or rule. */
  readonly alarm: string;
  readonly rule: DeliveryRule;
  readonly problem: string;
}

export interface WalkOptions {
  readonly account: string;
  readonly region: string;
  readonly partition?: string;
  readonly stackName: string;
}

const OTHER_ACCOUNT = '999999999999';

/** Every problem on every alarm's and topic-targeting rule's delivery path; empty when all can notify. */
export function alarmDeliveryProblems(template: Json, o: WalkOptions): Hop[] {
  const partition = o.partition ?? 'aws';
  const resources: Record<string, Json> = template.Resources ?? {};
  const generated = (id: string) => `${o.stackName}-${id}-ABCDEF123456`;
  const arnOf = (logicalId: string, account = o.account): string | undefined => {
    const r = resources[logicalId];
    if (!r) return undefined;
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::SNS::Topic':
        return `arn:${partition}:sns:${o.region}:${account}:${p.TopicName ?? generated(logicalId)}`;
      case 'AWS::KMS::Key':
        return `arn:${partition}:kms:${o.region}:${account}:key/${logicalId}`;
      case 'AWS::CloudWatch::Alarm':
      case 'AWS::CloudWatch::CompositeAlarm':
        return `arn:${partition}:cloudwatch:${o.region}:${account}:alarm:${typeof p.AlarmName === 'string' ? p.AlarmName : generated(logicalId)}`;
      case 'AWS::Events::Rule':
        return `arn:${partition}:events:${o.region}:${account}:rule/${typeof p.Name === 'string' ? p.Name : generated(logicalId)}`;
      default:
        return `arn:${partition}:unknown:${o.region}:${account}:${logicalId}`;
    }
  };
  const resolve = (v: Json): Json => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(resolve);
    if ('Ref' in v) {
      const ref = v.Ref as string;
      const pseudo: Record<string, string> = { 'AWS::Partition': partition, 'AWS::Region': o.region, 'AWS::AccountId': o.account, 'AWS::URLSuffix': 'amazonaws.com', 'AWS::StackName': o.stackName };
      if (pseudo[ref]) return pseudo[ref];
      const r = resources[ref];
      if (r?.Type === 'AWS::KMS::Key') return ref; // Ref of a key is its id; keep the logical id to look it up
      if (r?.Type === 'AWS::CloudWatch::Alarm' || r?.Type === 'AWS::Events::Rule') return String(arnOf(ref)).split(/[:/]/).pop();
      return arnOf(ref) ?? `<unresolved Ref ${ref}>`;
    }
    if ('Fn::GetAtt' in v) {
      const [id, attr] = Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'] : String(v['Fn::GetAtt']).split('.');
      if (['Arn', 'TopicArn'].includes(attr)) return arnOf(id) ?? `<unresolved GetAtt ${id}.${attr}>`;
      if (attr === 'TopicName') return String(arnOf(id)).split(':').pop();
      return `<unresolved GetAtt ${id}.${attr}>`;
    }
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'];
      return (resolve(parts) as Json[]).map(String).join(sep);
    }
    if ('Fn::Sub' in v && typeof v['Fn::Sub'] === 'string') {
      return (v['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_m, name: string) => String(resolve(name.includes('.') ? { 'Fn::GetAtt': name.split('.') } : { Ref: name })));
    }
    const out: Record<string, Json> = {};
    for (const [k, val] of Object.entries(v)) out[k] = resolve(val);
    return out;
  };
  /** The logical id of the resource an action/key reference points to, if it is in this template. */
  const targetId = (v: Json): string | undefined => {
    if (v && typeof v === 'object') {
      if (typeof v.Ref === 'string' && resources[v.Ref]) return v.Ref;
      if (Array.isArray(v['Fn::GetAtt']) && resources[v['Fn::GetAtt'][0]]) return v['Fn::GetAtt'][0];
    }
    return undefined;
  };

  const problems: Hop[] = [];
  const walk = (sourceId: string, service: string, destinations: Json[]) => {
    const say = (rule: DeliveryRule, problem: string) => {
      if (!problems.some((x) => x.alarm === sourceId && x.problem === problem)) problems.push({ alarm: sourceId, rule, problem });
    };
    const request = (account: string): Record<string, string> => ({
      'aws:SourceAccount': account,
      'aws:SourceArn': arnOf(sourceId, account)!,
      'aws:SecureTransport': 'true',
      'aws:PrincipalServiceName': service,
    });
    const own = request(o.account);
    const foreign = request(OTHER_ACCOUNT);
    /** One hop: the service's own request must be allowed; another account's must not be. */
    const hop = (statements: Json[], action: string, resource: string, what: string, noPolicyNote = '') => {
      const d = evaluate(statements, service, action, resource, own);
      if (d !== 'allow') say('cannot-deliver', `${what}: ${action} by ${service} is ${d}${noPolicyNote}`);
      else if (evaluate(statements, service, action, resource, foreign) === 'allow') {
        say('unscoped', `${what}: the statement allowing ${service} ${action} is not scoped by aws:SourceArn/aws:SourceAccount (another account's ${service === 'events.amazonaws.com' ? 'rule' : 'alarm'} would be allowed too)`);
      }
    };
    for (const action of destinations) {
      const topicId = targetId(action);
      const resolvedAction = resolve(action);
      if (!topicId || resources[topicId].Type !== 'AWS::SNS::Topic') {
        if (typeof resolvedAction === 'string' && /^arn:[^:]+:sns:/.test(resolvedAction)) {
          say('cannot-deliver', `action ${resolvedAction} is a topic outside this template: its policy cannot be checked here`);
        }
        continue; // Auto Scaling / EC2 / SSM / Lambda targets are not SNS deliveries
      }
      const topicPolicies = Object.values(resources).filter(
        (r) => r.Type === 'AWS::SNS::TopicPolicy' && (r.Properties?.Topics ?? []).some((t: Json) => targetId(t) === topicId),
      );
      // Without any TopicPolicy the topic keeps SNS's default policy, which names only the owner account.
      hop(
        topicPolicies.flatMap((tp) => resolve(tp.Properties.PolicyDocument).Statement ?? []),
        'sns:Publish',
        arnOf(topicId)!,
        `topic ${topicId}`,
        topicPolicies.length === 0 ? ' (no AWS::SNS::TopicPolicy: the default policy allows only the owner account)' : '',
      );
      const keyRef = resources[topicId].Properties?.KmsMasterKeyId;
      if (keyRef === undefined) continue; // unencrypted topic: no key hop
      const keyId = targetId(keyRef);
      if (!keyId || resources[keyId].Type !== 'AWS::KMS::Key') {
        const resolvedKey = resolve(keyRef);
        if (typeof resolvedKey === 'string' && /alias\/aws\/sns$/.test(resolvedKey)) say('cannot-deliver', `topic ${topicId} uses the AWS managed key alias/aws/sns, whose policy cannot allow ${service}`);
        else say('cannot-deliver', `topic ${topicId} is encrypted with key ${JSON.stringify(resolvedKey)} outside this template: its policy cannot be checked here`);
        continue;
      }
      const keyStatements = resolve(resources[keyId].Properties?.KeyPolicy)?.Statement ?? [];
      for (const kmsAction of ['kms:GenerateDataKey', 'kms:Decrypt']) hop(keyStatements, kmsAction, arnOf(keyId)!, `key ${keyId} (of topic ${topicId})`);
    }
  };

  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::CloudWatch::Alarm' || r.Type === 'AWS::CloudWatch::CompositeAlarm') {
      if ((p.AlarmActions ?? []).length === 0 || p.ActionsEnabled === false) {
        problems.push({ alarm: id, rule: 'no-action', problem: "has no (enabled) AlarmActions: nobody is told when it fires; add the pattern's alarm topic" });
      }
      walk(id, 'cloudwatch.amazonaws.com', [...(p.AlarmActions ?? []), ...(p.OKActions ?? []), ...(p.InsufficientDataActions ?? [])]);
    }
    if (r.Type === 'AWS::Events::Rule') walk(id, 'events.amazonaws.com', (p.Targets ?? []).map((t: Json) => t.Arn));
  }
  return problems;
}

/** Alarm-delivery findings of one kit template (rules: no-action, cannot-deliver, unscoped). */
export function alarmFindings(stackName: string, t: Template, env: { account: string; region: string }): Finding[] {
  return alarmDeliveryProblems(t, { ...env, stackName }).map((h) => ({ check: 'alarm-delivery', rule: h.rule, resource: `${stackName}/${h.alarm}`, detail: h.problem }));
}

/**
 * Account and Region a kit stack is synthesized for (the cloud assembly's manifest): an environment-agnostic
 * account is evaluated as 123456789012 (the template then says AWS::AccountId, resolved to the same value).
 */
export function stackEnv(s: Pick<KitStack, 'assemblyDir' | 'stackName'>): { account: string; region: string } {
  const manifest = JSON.parse(fs.readFileSync(path.join(s.assemblyDir, 'manifest.json'), 'utf8'));
  const env = String(manifest.artifacts?.[s.stackName]?.environment ?? '');
  const m = /^aws:\/\/([^/]+)\/(.+)$/.exec(env);
  const account = m && /^\d{12}$/.test(m[1]) ? m[1] : '123456789012';
  const region = m && !m[2].startsWith('unknown') ? m[2] : 'us-east-1';
  return { account, region };
}

type Decision = 'allow' | 'denied (explicit Deny)' | 'denied (no statement allows it)';

function evaluate(statements: Json[], service: string, action: string, resource: string, ctx: Record<string, string>): Decision {
  let allowed = false;
  for (const st of list(statements)) {
    const isDeny = st.Effect === 'Deny';
    if (!principalMatches(st.Principal, service)) continue;
    if (!list(st.Action).some((a) => wildcard(String(a), action, true))) continue;
    if (st.NotAction && list(st.NotAction).some((a) => wildcard(String(a), action, true))) continue;
    if (st.Resource !== undefined && !list(st.Resource).some((r) => wildcard(String(r), resource, false))) continue;
    if (!conditionsHold(st.Condition, ctx, isDeny)) continue;
    if (isDeny) return 'denied (explicit Deny)';
    allowed = true;
  }
  return allowed ? 'allow' : 'denied (no statement allows it)';
}

function principalMatches(p: Json, service: string): boolean {
  if (p === '*') return true;
  if (!p || typeof p !== 'object') return false;
  if (list(p.AWS).includes('*')) return true;
  return list(p.Service).includes(service);
}

function conditionsHold(cond: Json, ctx: Record<string, string>, forDeny: boolean): boolean {
  if (!cond) return true;
  for (const [opRaw, block] of Object.entries(cond as Record<string, Record<string, Json>>)) {
    const ifExists = opRaw.endsWith('IfExists');
    const op = opRaw.replace(/IfExists$/, '');
    for (const [key, wanted] of Object.entries(block)) {
      const actual = ctx[key] ?? ctx[Object.keys(ctx).find((k) => k.toLowerCase() === key.toLowerCase()) ?? ''];
      if (actual === undefined) {
        if (ifExists) continue;
        return false; // a key missing from the request never satisfies a condition (Allow or Deny)
      }
      const values = list(wanted).map(String);
      let ok: boolean;
      switch (op) {
        case 'StringEquals':
        case 'ArnEquals':
          ok = values.includes(actual);
          break;
        case 'StringNotEquals':
        case 'ArnNotEquals':
          ok = !values.includes(actual);
          break;
        case 'StringLike':
        case 'ArnLike':
          ok = values.some((v) => wildcard(v, actual, false));
          break;
        case 'StringNotLike':
        case 'ArnNotLike':
          ok = !values.some((v) => wildcard(v, actual, false));
          break;
        case 'Bool':
          ok = values.map((v) => v.toLowerCase()).includes(actual.toLowerCase());
          break;
        default:
          return forDeny; // unknown operator: assume the worst
      }
      if (!ok) return false;
    }
  }
  return true;
}

function list(v: Json): Json[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function wildcard(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.split('?').map(escapeRe).join('.')).join('.*')}$`, caseInsensitive ? 'i' : '');
  return re.test(value);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
