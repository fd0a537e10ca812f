/**
 * Walks every CloudWatch alarm of a synthesized template along the path a notification takes:
 *
 *   alarm → AlarmActions/OKActions/InsufficientDataActions → SNS topic → topic policy (sns:Publish by
 *   cloudwatch.amazonaws.com) → the topic's KMS key → key policy (kms:GenerateDataKey* and kms:Decrypt by
 *   cloudwatch.amazonaws.com)
 *
 * and evaluates each resource policy for the request CloudWatch really makes: principal service
 * `cloudwatch.amazonaws.com`, `aws:SourceAccount` = the alarm's account, `aws:SourceArn` = the alarm's
 * ARN, over TLS. A hop fails when no statement allows the request or a statement denies it (IAM policy
 * evaluation: an explicit Deny wins, otherwise an Allow is needed).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 *
 * Why both policies matter:
 * - An AWS::SNS::TopicPolicy REPLACES the topic's default policy (which would have allowed the owner
 *   account only, never a service principal), so CloudWatch needs its own Allow.
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
 * - A topic encrypted with a customer managed key needs the key policy to let the publishing service use
 *   the key, or the publish is dropped.
 *   https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 *
 * A small evaluator (condition operators StringEquals/StringLike/ArnEquals/ArnLike/Bool and their
 * IfExists/ForAnyValue-free forms), written for templates; an operator it does not know makes an Allow
 * not apply and a Deny apply, so it errs towards reporting a failure.
 */

export interface Hop {
  readonly alarm: string;
  readonly problem: string;
}

type Json = any;

export interface WalkOptions {
  readonly account: string;
  readonly region: string;
  readonly partition?: string;
  readonly stackName: string;
}

/** Every problem on every alarm's delivery path; empty when all alarms can notify. */
export function alarmDeliveryProblems(template: Json, o: WalkOptions): Hop[] {
  const partition = o.partition ?? 'aws';
  const resources: Record<string, Json> = template.Resources ?? {};
  const arnOf = (logicalId: string): string | undefined => {
    const r = resources[logicalId];
    if (!r) return undefined;
    if (r.Type === 'AWS::SNS::Topic') return `arn:${partition}:sns:${o.region}:${o.account}:${r.Properties?.TopicName ?? `${o.stackName}-${logicalId}-ABCDEF`}`;
    if (r.Type === 'AWS::KMS::Key') return `arn:${partition}:kms:${o.region}:${o.account}:key/${logicalId}`;
    return `arn:${partition}:unknown:${o.region}:${o.account}:${logicalId}`;
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
      return arnOf(ref) ?? `<unresolved Ref ${ref}>`;
    }
    if ('Fn::GetAtt' in v) {
      const [id, attr] = v['Fn::GetAtt'];
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
  for (const [alarmId, alarm] of Object.entries(resources)) {
    if (alarm.Type !== 'AWS::CloudWatch::Alarm' && alarm.Type !== 'AWS::CloudWatch::CompositeAlarm') continue;
    const p = alarm.Properties ?? {};
    const alarmArn = `arn:${partition}:cloudwatch:${o.region}:${o.account}:alarm:${p.AlarmName ?? `${o.stackName}-${alarmId}-ABCDEF123456`}`;
    const actions: Json[] = [...(p.AlarmActions ?? []), ...(p.OKActions ?? []), ...(p.InsufficientDataActions ?? [])];
    const say = (problem: string) => {
      if (!problems.some((x) => x.alarm === alarmId && x.problem === problem)) problems.push({ alarm: alarmId, problem });
    };
    if ((p.AlarmActions ?? []).length === 0) say('has no AlarmActions: it can never notify anyone');
    const ctx: Record<string, string> = {
      'aws:SourceAccount': o.account,
      'aws:SourceArn': alarmArn,
      'aws:SecureTransport': 'true',
      'aws:PrincipalServiceName': 'cloudwatch.amazonaws.com',
    };
    for (const action of actions) {
      const topicId = targetId(action);
      const resolvedAction = resolve(action);
      if (!topicId || resources[topicId].Type !== 'AWS::SNS::Topic') {
        if (typeof resolvedAction === 'string' && /^arn:[^:]+:sns:/.test(resolvedAction)) {
          say(`action ${resolvedAction} is a topic outside this template: its policy cannot be checked here`);
        }
        continue; // Auto Scaling / EC2 / SSM actions are not SNS deliveries
      }
      const topicArn = arnOf(topicId)!;
      const topicPolicies = Object.values(resources).filter(
        (r) => r.Type === 'AWS::SNS::TopicPolicy' && (r.Properties?.Topics ?? []).some((t: Json) => targetId(t) === topicId),
      );
      // Without any TopicPolicy the topic keeps SNS's default policy, which names only the owner account.
      const topicStatements = topicPolicies.flatMap((tp) => resolve(tp.Properties.PolicyDocument).Statement ?? []);
      const topicDecision = evaluate(topicStatements, 'cloudwatch.amazonaws.com', 'sns:Publish', topicArn, ctx);
      if (topicDecision !== 'allow') {
        say(`topic ${topicId}: sns:Publish by cloudwatch.amazonaws.com is ${topicDecision} by its topic policy${topicPolicies.length === 0 ? ' (no AWS::SNS::TopicPolicy: the default policy allows only the owner account)' : ''}`);
      }
      const keyRef = resources[topicId].Properties?.KmsMasterKeyId;
      if (keyRef === undefined) continue; // unencrypted topic: no key hop
      const keyId = targetId(keyRef);
      const resolvedKey = resolve(keyRef);
      if (!keyId) {
        if (typeof resolvedKey === 'string' && /alias\/aws\/sns$/.test(resolvedKey)) {
          say(`topic ${topicId} uses the AWS managed key alias/aws/sns, whose policy cannot allow CloudWatch`);
        } else {
          say(`topic ${topicId} is encrypted with key ${JSON.stringify(resolvedKey)} outside this template: its policy cannot be checked here`);
        }
        continue;
      }
      const keyStatements = resolve(resources[keyId].Properties?.KeyPolicy)?.Statement ?? [];
      const keyArn = arnOf(keyId)!;
      for (const kmsAction of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        const d = evaluate(keyStatements, 'cloudwatch.amazonaws.com', kmsAction, keyArn, ctx);
        if (d !== 'allow') say(`key ${keyId} (of topic ${topicId}): ${kmsAction} by cloudwatch.amazonaws.com is ${d} by the key policy`);
      }
    }
  }
  return problems;
}

type Decision = 'allow' | 'denied (explicit Deny)' | 'denied (no statement allows it)';

function evaluate(statements: Json[], service: string, action: string, resource: string, ctx: Record<string, string>): Decision {
  let allowed = false;
  for (const s of [].concat(statements as never)) {
    const st = s as Json;
    const isDeny = st.Effect === 'Deny';
    if (!principalMatches(st.Principal, service)) continue;
    if (!list(st.Action).some((a) => wildcard(String(a), action, true))) continue;
    if (st.NotAction && list(st.NotAction).some((a) => wildcard(String(a), action, true))) continue;
    if (st.Resource !== undefined && !list(st.Resource).some((r) => wildcard(String(r), resource, false))) continue;
    const cond = conditionsHold(st.Condition, ctx, isDeny);
    if (!cond) continue;
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
