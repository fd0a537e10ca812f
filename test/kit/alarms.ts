/**
 * Alarm delivery: every CloudWatch alarm (and every EventBridge rule that targets a topic) can really
 * deliver. For each alarm: it has an action; each action is an SNS topic of the stack; the topic policy
 * allows the publisher's service principal (cloudwatch.amazonaws.com / events.amazonaws.com) to
 * sns:Publish, scoped by aws:SourceArn or aws:SourceAccount; and when the topic is encrypted with a
 * customer managed key, that key's policy allows the same principal kms:GenerateDataKey* and
 * kms:Decrypt (scoped the same way).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-actions
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
 */
import { Finding } from './findings';
import { render } from './iam';
import { Template } from './stacks';

const arr = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const idOfRef = (s: string) => /^\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}$/.exec(s)?.[1];

function principalServices(st: any): string[] {
  const p = st.Principal;
  if (p === '*') return ['*'];
  return arr(p?.Service).map(render);
}

const scoped = (st: any) => /aws:SourceArn|aws:SourceAccount/.test(JSON.stringify(st.Condition ?? {}));

function allows(statements: any[], service: string, action: RegExp, resourceOk: (r: string[]) => boolean): { ok: boolean; unscoped: boolean } {
  const hits = statements.filter(
    (st) => st.Effect === 'Allow' && principalServices(st).some((p) => p === service || p === '*') && arr(st.Action).some((a: string) => action.test(a)) && resourceOk(arr(st.Resource).map(render)),
  );
  return { ok: hits.length > 0, unscoped: hits.length > 0 && !hits.some(scoped) };
}

function topicStatements(t: Template, topicId: string): any[] {
  return Object.values(t.Resources)
    .filter((r) => r.Type === 'AWS::SNS::TopicPolicy' && arr(r.Properties?.Topics).some((x: any) => idOfRef(render(x)) === topicId))
    .flatMap((r) => arr(r.Properties?.PolicyDocument?.Statement));
}

function deliveryProblems(t: Template, topicRef: string, service: string): string[] {
  const topicId = idOfRef(topicRef);
  const topic = topicId ? t.Resources[topicId] : undefined;
  if (!topic || topic.Type !== 'AWS::SNS::Topic') return [`action ${topicRef} is not an SNS topic of this stack (cannot verify delivery)`];
  const problems: string[] = [];
  const tp = allows(topicStatements(t, topicId!), service, /^sns:(Publish|\*)$/, (rs) => rs.some((r) => r === '*' || idOfRef(r) === topicId));
  if (!tp.ok) problems.push(`topic ${topicId}: no topic policy statement allows ${service} sns:Publish`);
  else if (tp.unscoped) problems.push(`topic ${topicId}: the statement allowing ${service} is not scoped by aws:SourceArn/aws:SourceAccount`);
  const key = topic.Properties?.KmsMasterKeyId;
  if (key !== undefined) {
    const k = render(key);
    if (k.startsWith('alias/aws/sns') || k.includes('alias/aws/sns')) problems.push(`topic ${topicId} uses the AWS managed key alias/aws/sns, whose policy cannot allow ${service}`);
    else {
      const keyId = idOfRef(k);
      const keyRes = keyId ? t.Resources[keyId] : undefined;
      if (!keyRes || keyRes.Type !== 'AWS::KMS::Key') problems.push(`topic ${topicId}: key ${k} is not a key of this stack (cannot verify its policy)`);
      else {
        const sts = arr(keyRes.Properties?.KeyPolicy?.Statement);
        const gen = allows(sts, service, /^kms:(GenerateDataKey\*?|\*)$/, () => true);
        const dec = allows(sts, service, /^kms:(Decrypt|\*)$/, () => true);
        if (!gen.ok || !dec.ok) problems.push(`key ${keyId} of topic ${topicId}: the key policy does not allow ${service} ${[!gen.ok && 'kms:GenerateDataKey*', !dec.ok && 'kms:Decrypt'].filter(Boolean).join(' and ')}`);
        else if (gen.unscoped || dec.unscoped) problems.push(`key ${keyId}: the statement allowing ${service} is not scoped by aws:SourceArn/aws:SourceAccount`);
      }
    }
  }
  return problems;
}

/** Alarm-delivery findings of one template (rule: no-action, cannot-deliver, unscoped). */
export function alarmFindings(stackName: string, t: Template): Finding[] {
  const out: Finding[] = [];
  const add = (rule: string, id: string, detail: string) => out.push({ check: 'alarm-delivery', rule, resource: `${stackName}/${id}`, detail });
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type === 'AWS::CloudWatch::Alarm' || r.Type === 'AWS::CloudWatch::CompositeAlarm') {
      const actions = arr(r.Properties?.AlarmActions).map(render);
      if (actions.length === 0 || r.Properties?.ActionsEnabled === false) {
        add('no-action', id, 'alarm has no (enabled) AlarmActions: nobody is told when it fires; add the pattern\'s alarm topic');
        continue;
      }
      for (const a of actions) for (const p of deliveryProblems(t, a, 'cloudwatch.amazonaws.com')) add(/not scoped/.test(p) ? 'unscoped' : 'cannot-deliver', id, p);
    }
    if (r.Type === 'AWS::Events::Rule') {
      for (const target of arr(r.Properties?.Targets)) {
        const arn = render((target as any).Arn);
        const tid = idOfRef(arn);
        if (!tid || t.Resources[tid]?.Type !== 'AWS::SNS::Topic') continue;
        for (const p of deliveryProblems(t, arn, 'events.amazonaws.com')) add(/not scoped/.test(p) ? 'unscoped' : 'cannot-deliver', id, p);
      }
    }
  }
  return out;
}
