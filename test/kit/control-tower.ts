/**
 * AWS Control Tower proactive controls over the kit's templates: the cfn-guard rules AWS publishes
 * (https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html), run with
 * the cfn-guard binary. Both come from the npm package `@cdklabs/cdk-validator-cfnguard` (0.0.62 ships
 * cfn-guard 3.1.1 for linux/macos x64/arm64 under bin/ and the Control Tower rule set under
 * rules/control-tower/cfn-guard/). Offline: nothing is downloaded at run time.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Finding } from './findings';
import { Template } from './stacks';

const PKG = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
export const CONTROL_TOWER_RULES = path.join(PKG, 'rules', 'control-tower', 'cfn-guard');

export function cfnGuardBinary(): string {
  const osDir = process.platform === 'darwin' ? 'macos' : 'ubuntu';
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return path.join(PKG, 'bin', osDir, arch, 'cfn-guard');
}

/** Splits cfn-guard's JSON output (one JSON document per rule file and data file, concatenated). */
function jsonDocuments(s: string): any[] {
  const out: any[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) out.push(JSON.parse(s.slice(start, i + 1)));
    }
  }
  return out;
}

/** Walks a not_compliant tree: control IDs from the messages, logical IDs from the traversed paths. */
function walk(node: unknown, controls: Set<string>, resources: Set<string>, messages: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, controls, resources, messages);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'custom_message' && typeof v === 'string') {
      const m = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]:\s*([^\n]*)/.exec(v);
      if (m) {
        controls.add(m[1]);
        messages.add(m[2].trim());
      }
      const fix = /\[FIX\]:\s*([^\n]*)/.exec(v);
      if (fix) messages.add(`fix: ${fix[1].trim()}`);
    } else if (k === 'path' && typeof v === 'string') {
      const m = /^\/Resources\/([^/]+)/.exec(v);
      if (m) resources.add(m[1]);
    } else {
      // Unresolved checks nest the traversed path under `value.traversed_to`.
      walk(v, controls, resources, messages);
    }
  }
}

function guardFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return guardFiles(p);
    return /\.(guard|ruleset)$/.test(e.name) ? [p] : [];
  });
}

/**
 * The rule files that name at least one resource type present in the templates. Every Control Tower
 * rule selects its resources by type (`Resources.*[ Type == 'AWS::S3::Bucket' ]`), so a rule naming
 * none of the types would only report "not applicable"; skipping them makes cfn-guard ~4x faster.
 */
export function rulesFor(inputs: GuardInput[], rules: string): string[] {
  const all = fs.statSync(rules).isDirectory() ? guardFiles(rules) : [rules];
  const types = new Set(inputs.flatMap((i) => Object.values(i.template.Resources).map((r) => r.Type)));
  return all
    .filter((f) => {
      const named = fs.readFileSync(f, 'utf8').match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g) ?? [];
      return named.length === 0 || named.some((t) => types.has(t));
    })
    .sort();
}

export interface GuardInput {
  readonly stackName: string;
  readonly variant: string;
  readonly template: Template;
}

/**
 * Runs every Control Tower rule over the given templates (one cfn-guard process for all of them) and
 * returns one finding per control, stack and logical ID.
 */
export function controlTowerFindings(inputs: GuardInput[], rules: string = CONTROL_TOWER_RULES): Array<Finding & { variant: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-guard-'));
  try {
    const files = new Map<string, GuardInput>();
    inputs.forEach((inp, i) => {
      const f = path.join(dir, `${i}-${inp.variant}-${inp.stackName}.json`);
      fs.writeFileSync(f, JSON.stringify(inp.template));
      files.set(f, inp);
    });
    const ruleFiles = rulesFor(inputs, rules);
    if (ruleFiles.length === 0) return [];
    const args = ['validate', ...ruleFiles.flatMap((f) => ['--rules', f]), '--output-format', 'json', '--show-summary', 'none', ...[...files.keys()].flatMap((f) => ['--data', f])];
    const r = spawnSync(cfnGuardBinary(), args, { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
    if (r.error) throw new Error(`cfn-guard could not run (${cfnGuardBinary()}): ${r.error.message}`);
    // Exit codes: 0 all pass, 19 some rule failed, 5 parse error (https://github.com/cfn-guard docs: "Guard exit codes").
    if (r.status !== 0 && r.status !== 19) throw new Error(`cfn-guard exited ${r.status}: ${r.stderr}`);
    const out: Array<Finding & { variant: string }> = [];
    for (const doc of jsonDocuments(r.stdout)) {
      if (!doc.not_compliant || doc.not_compliant.length === 0) continue;
      const inp = files.get(doc.name);
      if (!inp) throw new Error(`cfn-guard reported on an unknown data file ${doc.name}`);
      for (const nc of doc.not_compliant) {
        const controls = new Set<string>();
        const resources = new Set<string>();
        const messages = new Set<string>();
        walk(nc, controls, resources, messages);
        const ruleName = nc?.Rule?.name ?? 'unknown-rule';
        const control = controls.size > 0 ? [...controls].join('+') : ruleName;
        for (const res of resources) {
          out.push({
            check: 'control-tower',
            rule: control,
            resource: `${inp.stackName}/${res}`,
            detail: `${inp.template.Resources[res]?.Type ?? '?'}: ${[...messages].join(' ')} (guard rule ${ruleName})`,
            variant: inp.variant,
          });
        }
      }
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
