/**
 * Findings of the kit-wide checks and their reconciliation with test/kit/exceptions.ts.
 *
 * A finding is `{ check, rule, resource, detail }` where `resource` is `StackName/LogicalId` (the same
 * logical ID in every prop variant counts once) or, for code-derived IAM findings, `StackName/LogicalId`
 * of the function or state machine. An exception entry matches a finding by check + rule + resource.
 * Every finding needs an entry; every entry needs a finding (a stale entry fails, so the file shrinks
 * as the patterns are fixed).
 */
import { EXCEPTIONS, KitException } from './exceptions';

export type CheckName = 'lifecycle' | 'iam' | 'iam-runtime' | 'alarm-delivery' | 'control-tower' | 'org-rules' | 'cfn-lint';

export interface Finding {
  readonly check: CheckName;
  /** Control ID (CT.S3.PR.1), rule name (retained-fixed-name) or IAM action (kms:GenerateDataKey). */
  readonly rule: string;
  /** `StackName/LogicalId`. */
  readonly resource: string;
  /** What is wrong and what to change, with the variants it appears in. */
  readonly detail: string;
  /** The prop variants the finding appears in. */
  readonly variants?: string[];
}

export const keyOf = (f: { check: string; rule: string; resource: string }) => `${f.check} ${f.rule} ${f.resource}`;

/** Merges the same finding from several variants into one, listing the variants. */
export function mergeVariants(findings: Array<Finding & { variant: string }>): Finding[] {
  const byKey = new Map<string, Finding & { variants: string[] }>();
  for (const f of findings) {
    const k = keyOf(f);
    const seen = byKey.get(k);
    if (seen) {
      if (!seen.variants.includes(f.variant)) seen.variants.push(f.variant);
    } else {
      byKey.set(k, { check: f.check, rule: f.rule, resource: f.resource, detail: f.detail, variants: [f.variant] });
    }
  }
  return [...byKey.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

export interface Reconciled {
  /** Findings with no exception entry: these fail the test. */
  readonly unexplained: string[];
  /** Exception entries of this check that no finding matches: these fail the test too. */
  readonly stale: string[];
  /** Findings accepted with a reason. */
  readonly accepted: string[];
  /** Findings a pattern still has to fix (`pending`), for the lead. */
  readonly pending: string[];
}

export function reconcile(check: CheckName, findings: Finding[], exceptions: KitException[] = EXCEPTIONS): Reconciled {
  const mine = exceptions.filter((e) => e.check === check);
  const byKey = new Map(mine.map((e) => [keyOf(e), e]));
  const found = new Set(findings.map(keyOf));
  const unexplained: string[] = [];
  const accepted: string[] = [];
  const pending: string[] = [];
  for (const f of findings) {
    const line = `${keyOf(f)} — ${f.detail}${f.variants ? ` [variants: ${f.variants.join(', ')}]` : ''}`;
    const e = byKey.get(keyOf(f));
    if (!e) unexplained.push(line);
    else if ('pending' in e) pending.push(`pending ${e.pending}: ${line}`);
    else accepted.push(line);
  }
  const stale = mine.filter((e) => !found.has(keyOf(e))).map((e) => `${keyOf(e)} (no such finding any more: delete this entry from test/kit/exceptions.ts)`);
  return { unexplained, stale, accepted, pending };
}

/** Asserts nothing is unexplained or stale; prints the pending list so it shows in the test log. */
export function expectReconciled(r: Reconciled): void {
  if (r.pending.length > 0 && process.env.KIT_CHECKS_QUIET !== '1') {
    // eslint-disable-next-line no-console
    console.log(`${r.pending.length} pending finding(s) (see test/kit/exceptions.ts):\n${r.pending.join('\n')}`);
  }
  expect({ unexplained: r.unexplained, stale: r.stale }).toEqual({ unexplained: [], stale: [] });
}
