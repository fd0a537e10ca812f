#!/usr/bin/env -S npx tsx
import { App } from 'aws-cdk-lib';
import { adTrustPattern } from './ad-trust';
import { ContextError, PatternContext } from './context';
import { dsqlBridgePattern } from './dsql-bridge';
import { kmsKeyChangePattern } from './kms-key-change';
import { accountFromContext, PatternDefinition } from './pattern';
import { rdsProxyLambdaPattern } from './rds-proxy-lambda';

/** Every pattern of the kit, in the order `npm start` prints them. */
export const PATTERNS: PatternDefinition[] = [rdsProxyLambdaPattern, kmsKeyChangePattern, dsqlBridgePattern, adTrustPattern];

/**
 * Builds one stack per enabled pattern from cdk.json context. `db-ops-kit:patterns` (a list, or
 * `-c db-ops-kit:patterns=rdsProxyLambda,kmsKeyChange`) selects patterns; by default all are built.
 * Synth needs no credentials and makes no lookups: every environment value comes from context.
 */
export function buildApp(app: App = new App()): App {
  const account = accountFromContext(app);
  const selected = selectedPatterns(app);
  const failures: { pattern: string; lines: string[] }[] = [];
  // Every selected pattern is built even after one fails, so one synth reports every bad pattern.
  for (const p of PATTERNS) {
    if (!selected.includes(p.key)) continue;
    const ctx = new PatternContext(app, p.key);
    try {
      p.build(app, ctx, account);
      ctx.check();
    } catch (e) {
      failures.push({ pattern: p.key, lines: failureLines(e, ctx) });
    }
  }
  if (failures.length > 0) throw new Error(contextFailureMessage(failures, selected));
  return app;
}

/** The lines of one pattern's failure: context problems as they are, a construct's errors with the keys they are about. */
function failureLines(e: unknown, ctx: PatternContext): string[] {
  if (e instanceof ContextError) return e.problems.map((p) => `- ${p}`);
  const message = e instanceof Error ? e.message : String(e);
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  // Construct validation throws "<path>: invalid props:" then "  - <problem>" lines; other errors are one block.
  const head = /invalid props:?$/.test(lines[0] ?? '') && lines.length > 1 ? lines.shift()! : undefined;
  const problems = lines.map((l) => l.replace(/^- /, ''));
  const out = head ? [`${head} (a construct rejected values taken from context)`] : [];
  for (const p of problems) {
    const keys = ctx.keysMentionedIn(p);
    out.push(`- ${p} [${keys.length > 0 ? `context key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}` : `no single context key; see the "${ctx.pattern}:*" keys in cdk.json`}]`);
  }
  return out;
}

function contextFailureMessage(failures: { pattern: string; lines: string[] }[], selected: string[]): string {
  const bad = failures.map((f) => f.pattern);
  const others = selected.filter((k) => !bad.includes(k));
  const skip =
    others.length > 0
      ? `To build only the other patterns, select them: -c db-ops-kit:patterns=${others.join(',')}`
      : `To build a subset, select it: -c db-ops-kit:patterns=<keys>, comma-separated from ${PATTERNS.map((p) => p.key).join(', ')}`;
  return (
    `cdk.json context is invalid for ${failures.length} pattern(s): ${bad.join(', ')}\n` +
    failures.map((f) => `pattern "${f.pattern}":\n  ${f.lines.join('\n  ')}`).join('\n') +
    `\nFix cdk.json or pass -c KEY=VALUE. ${skip} ` +
    `(or set that list as "db-ops-kit:patterns" in cdk.json, where "all" builds every pattern).`
  );
}

export function selectedPatterns(app: App): string[] {
  const raw = app.node.tryGetContext('db-ops-kit:patterns');
  const all = PATTERNS.map((p) => p.key);
  if (raw === undefined || raw === null || raw === '' || raw === 'all') return all;
  const list: string[] = Array.isArray(raw) ? raw.map(String) : String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = list.filter((k) => !all.includes(k));
  if (unknown.length > 0) {
    throw new Error(`context key "db-ops-kit:patterns" names unknown pattern(s) ${unknown.join(', ')}; known: ${all.join(', ')}`);
  }
  return list;
}

if (require.main === module) {
  buildApp().synth();
}
