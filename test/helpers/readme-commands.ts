/**
 * Reads the commands, flags, stack-output names and counts a README quotes, and checks them against facts
 * gathered from the code (package.json scripts, each CLI's `--help`, the CDK CLI's `--help`, the synthesized
 * templates, cdk.json context). Pure functions: test/docs-commands.test.ts gathers the facts by running things,
 * and also feeds doctored README strings through `checkReadme` to show each check can fail.
 */

/** One command shown in a README: from a fenced shell block (`$ ` prompts stripped, `\` continuations joined) or an inline code span. */
export interface ReadmeCommand {
  readonly line: number;
  readonly text: string;
}

/** One mismatch between a README and the code. `key` identifies it for the allowlist. */
export interface Finding {
  readonly readme: string;
  readonly kind: 'script' | 'flag' | 'output' | 'stack' | 'context' | 'count' | 'file' | 'default-folder';
  readonly value: string;
  readonly detail: string;
}

export const findingKey = (f: Pick<Finding, 'readme' | 'kind' | 'value'>): string => `${f.readme} ${f.kind} ${f.value}`;

export interface StackFacts {
  readonly region: string;
  readonly resources: number;
  readonly outputs: string[];
}

export interface CodeFacts {
  /** package.json scripts. */
  readonly scripts: Record<string, string>;
  /** `npm run <script> -- --help` output of each CLI script. */
  readonly cliHelp: Record<string, string>;
  /** `npx cdk <subcommand> --help` output, for the subcommands the READMEs use. */
  readonly cdkHelp: Record<string, string>;
  /** Synthesized stacks of the committed cdk.json, by stack name. */
  readonly stacks: Record<string, StackFacts>;
  /** cdk.json context keys (plus the app-level keys bin/ reads). */
  readonly contextKeys: string[];
}

const COMMAND_START = /^(npm run |npx cdk |aws )/;

/** Fenced blocks that hold shell commands or terminal transcripts (not mermaid, ts, json…). */
const SHELL_FENCE = /^(bash|sh|shell|console|text|)$/;

export function extractCommands(markdown: string): ReadmeCommand[] {
  const lines = markdown.split('\n');
  const out: ReadmeCommand[] = [];
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const f = /^\s*```(\S*)/.exec(line);
    if (f) {
      fence = fence === undefined ? f[1] : undefined;
      continue;
    }
    if (fence !== undefined) {
      if (!SHELL_FENCE.test(fence)) continue;
      let text = line.trim().replace(/^\$ /, '');
      const start = i;
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1).trim()} ${lines[++i].trim()}`;
      for (const part of splitShell(stripComment(text))) if (COMMAND_START.test(part)) out.push({ line: start + 1, text: part });
      continue;
    }
    for (const m of line.matchAll(/`([^`]+)`/g)) {
      for (const part of splitShell(m[1].trim())) if (COMMAND_START.test(part)) out.push({ line: i + 1, text: part });
    }
  }
  return out;
}

function stripComment(s: string): string {
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i).trim();
  }
  return s;
}

/** Splits on `&&`, `;` and `|` (a pipe to another program) outside quotes. */
function splitShell(s: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (s.startsWith('&&', i) || c === ';' || (c === '|' && s[i + 1] === ' ' && s[i - 1] === ' ' && !/[[(]/.test(cur))) {
      parts.push(cur.trim());
      cur = '';
      if (s.startsWith('&&', i)) i++;
    } else cur += c;
  }
  parts.push(cur.trim());
  return parts.filter(Boolean);
}

/** Long flags (`--name`) in a command's arguments, also inside usage syntax like `(--a <x> | --b)` or `[--c]`. */
export function longFlags(args: string): string[] {
  return [...new Set([...args.matchAll(/(?:^|[\s([|])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]))];
}

export function helpHasFlag(help: string, flag: string): boolean {
  return new RegExp(`(^|[\\s\\[(|,])${flag.replace(/-/g, '\\-')}(?![a-z0-9-])`, 'm').test(help);
}

/** Stack output names a text quotes: `<FooBar>` / `<FooBar output>` placeholders and "FooBar (and Baz) output(s)" phrases. */
export function quotedOutputs(text: string): string[] {
  const camel = '[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+';
  const names = new Set<string>();
  for (const m of text.matchAll(new RegExp(`<(${camel})(?: output)?>`, 'g'))) names.add(m[1]);
  const phrase = new RegExp(`((?:\`?${camel}\`?(?:\\s*(?:,|\\+|and|or)\\s*)?)+)\\s*\\(?(?:stack\\s+)?outputs?\\b`, 'g');
  for (const m of text.matchAll(phrase)) for (const n of m[1].matchAll(new RegExp(camel, 'g'))) names.add(n[0]);
  return [...names];
}

function withoutMermaid(markdown: string): string {
  return markdown.replace(/```mermaid[\s\S]*?```/g, '');
}

/**
 * Checks one README against the code. `stackNames` are the stacks the README is about (its pattern's stacks;
 * every stack for the root README).
 */
export function checkReadme(readme: string, markdown: string, facts: CodeFacts, stackNames: string[]): Finding[] {
  const findings: Finding[] = [];
  const add = (kind: Finding['kind'], value: string, detail: string) => {
    if (!findings.some((f) => f.kind === kind && f.value === value)) findings.push({ readme, kind, value, detail });
  };
  for (const c of extractCommands(markdown)) {
    const where = `line ${c.line}: \`${c.text.length > 90 ? `${c.text.slice(0, 90)}…` : c.text}\``;
    const npm = /^npm run (\S+)(?:\s+--(?:\s+(.*))?)?$/.exec(c.text) ?? /^npm run (\S+)()/.exec(c.text);
    if (npm) {
      const [, script, args = ''] = npm;
      if (!(script in facts.scripts)) {
        add('script', script, `${where}: package.json has no script "${script}"`);
        continue;
      }
      const help = facts.cliHelp[script];
      if (help !== undefined) {
        // `--help` itself is proven by running it (the help text is what it printed), whether or not it lists itself.
        for (const flag of longFlags(args).filter((f) => f !== '--help')) {
          if (!helpHasFlag(help, flag)) add('flag', `${script} ${flag}`, `${where}: \`npm run ${script} -- --help\` does not list ${flag}`);
        }
      }
      continue;
    }
    const cdk = /^npx cdk (\S+)(.*)$/.exec(c.text);
    if (cdk) {
      const [, sub, rest] = cdk;
      const help = facts.cdkHelp[sub];
      if (help !== undefined) {
        for (const flag of longFlags(rest)) if (!helpHasFlag(help, flag)) add('flag', `cdk ${sub} ${flag}`, `${where}: \`npx cdk ${sub} --help\` does not list ${flag}`);
      }
      for (const m of rest.matchAll(/(?:^|\s)-c\s+([^\s=]+)=/g)) {
        if (!facts.contextKeys.includes(m[1])) add('context', m[1], `${where}: no context key "${m[1]}" in cdk.json or bin/`);
      }
      for (const tok of rest.trim().split(/\s+/)) {
        if (/^DbOps[A-Za-z0-9]+$/.test(tok) && !(tok in facts.stacks)) add('stack', tok, `${where}: the app has no stack ${tok}`);
      }
    }
  }
  const prose = withoutMermaid(markdown);
  const outputs = new Set(stackNames.flatMap((s) => facts.stacks[s]?.outputs ?? []));
  for (const name of quotedOutputs(prose)) {
    if (!outputs.has(name)) {
      add('output', name, `quoted as a stack output, but the synthesized ${stackNames.join('/')} template(s) have no Output "${name}" (they have: ${[...outputs].sort().join(', ')})`);
    }
  }
  // The `npm start` table: one row per stack with its Region and resource count, then "Synthesized N stack(s)".
  for (const m of prose.matchAll(/^\| (DbOps[A-Za-z0-9]+)\s*\| ([a-z0-9-]+)\s*\| (\d+)\s*\|/gm)) {
    const s = facts.stacks[m[1]];
    if (!s) add('stack', m[1], `the npm start table lists ${m[1]}, which the app does not build`);
    else if (s.region !== m[2] || s.resources !== Number(m[3])) {
      add('count', `${m[1]} resources`, `the npm start table says ${m[2]}, ${m[3]} resources; the template has ${s.region}, ${s.resources}`);
    }
  }
  for (const m of prose.matchAll(/Synthesized (\d+) stack\(s\)/g)) {
    const n = Object.keys(facts.stacks).length;
    if (Number(m[1]) !== n) add('count', 'stacks', `"Synthesized ${m[1]} stack(s)" but the app builds ${n}`);
  }
  return findings;
}

/**
 * Default file locations a CLI's `--help` names (`(default ./x)`, `(default: ./x)`): each must be under
 * `out/<cli>/` (the kit's rule: CLIs write into out/, which is gitignored).
 */
export function checkDefaultFolders(script: string, help: string): Finding[] {
  const out: Finding[] = [];
  for (const m of help.matchAll(/^\s*(--[a-z-]+)[^\n]*?\(default:? (\.\/[^\s),]+)/gm)) {
    const [, flag, p] = m;
    if (!p.replace(/^\.\//, '').startsWith(`out/${script}/`)) {
      out.push({ readme: `npm run ${script} -- --help`, kind: 'default-folder', value: `${script} ${flag}`, detail: `${flag} defaults to ${p}, not under ./out/${script}/` });
    }
  }
  return out;
}
