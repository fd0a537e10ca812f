#!/usr/bin/env -S npx tsx
import { App } from 'aws-cdk-lib';
import { adTrustPattern } from './ad-trust';
import { PatternContext } from './context';
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
  for (const p of PATTERNS) {
    if (!selected.includes(p.key)) continue;
    const ctx = new PatternContext(app, p.key);
    p.build(app, ctx, account);
    ctx.check();
  }
  return app;
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
