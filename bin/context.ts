import { App } from 'aws-cdk-lib';

/**
 * Reads the flat, namespaced context keys of one pattern (`<pattern>:<key>`) from cdk.json or
 * `-c key=value`, validates them, and collects every problem so synth fails once with a message
 * that names each bad key and shows an accepted value.
 *
 * Context given on the command line always arrives as a string, so numbers, booleans and lists
 * are parsed here (lists are comma-separated strings or JSON arrays).
 */
export class PatternContext {
  private readonly problems: string[] = [];
  /** Every key read so far and the value it had, to name keys in errors a construct raises later. */
  private readonly read = new Map<string, unknown>();

  constructor(private readonly app: App, public readonly pattern: string) {}

  private key(name: string): string {
    return `${this.pattern}:${name}`;
  }

  private raw(name: string): unknown {
    const v = this.app.node.tryGetContext(this.key(name));
    this.read.set(name, v);
    return v;
  }

  /** The problems recorded so far, each naming its context key. */
  get problemList(): readonly string[] {
    return this.problems;
  }

  /**
   * The context keys (full `<pattern>:<name>`) an error message of a construct is about: a key read by this
   * pattern whose name is a word of the message (`edition Standard …` → `adTrust:edition`) or whose value
   * appears in it as a whole token (`replica Region af-south-1 …` → `adTrust:replicaRegion`). Values that
   * are too generic to point at one key (booleans, numbers, strings under 4 characters) are not matched by value.
   */
  keysMentionedIn(message: string): string[] {
    const found: string[] = [];
    const words = new Set(message.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w.toLowerCase()));
    for (const [name, value] of this.read) {
      if (words.has(name.toLowerCase())) {
        found.push(this.key(name));
        continue;
      }
      const values = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',').map((v) => v.trim()) : [];
      const specific = values.filter((v) => v.length >= 4 && !/^(true|false|-?\d+(\.\d+)?)$/.test(v));
      const escape = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (specific.some((v) => new RegExp(`(^|[^A-Za-z0-9.-])${escape(v)}($|[^A-Za-z0-9-])`).test(message))) found.push(this.key(name));
    }
    return found;
  }

  /** True when the value is present (not undefined, null or an empty string). */
  has(name: string): boolean {
    const v = this.raw(name);
    return v !== undefined && v !== null && v !== '';
  }

  private fail(name: string, what: string, example: string): void {
    this.problems.push(`context key "${this.key(name)}" ${what} (example: ${example})`);
  }

  /** Records a problem found by a check across keys (e.g. AZs outside the Region); reported by `check()`. */
  problem(name: string, what: string, example: string): void {
    this.fail(name, what, example);
  }

  string(name: string, opts: { example: string; pattern?: RegExp; description?: string }): string {
    const v = this.raw(name);
    if (v === undefined || v === null || v === '') {
      this.fail(name, `is missing${opts.description ? `: ${opts.description}` : ''}`, opts.example);
      return opts.example;
    }
    const s = String(v);
    if (opts.pattern && !opts.pattern.test(s)) {
      this.fail(name, `has the invalid value "${s}"${opts.description ? `: ${opts.description}` : ''}`, opts.example);
    }
    return s;
  }

  optionalString(name: string, opts: { example: string; pattern?: RegExp; description?: string }): string | undefined {
    return this.has(name) ? this.string(name, opts) : undefined;
  }

  number(name: string, opts: { example: number; min?: number; max?: number; default?: number }): number {
    const v = this.raw(name);
    if (v === undefined || v === null || v === '') {
      if (opts.default !== undefined) return opts.default;
      this.fail(name, 'is missing', String(opts.example));
      return opts.example;
    }
    const n = typeof v === 'number' ? v : Number(String(v));
    if (!Number.isFinite(n) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
      const range = `${opts.min ?? '-∞'}..${opts.max ?? '∞'}`;
      this.fail(name, `must be a number in ${range}, got "${String(v)}"`, String(opts.example));
      return opts.example;
    }
    return n;
  }

  boolean(name: string, opts: { default: boolean }): boolean {
    const v = this.raw(name);
    if (v === undefined || v === null || v === '') return opts.default;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    this.fail(name, `must be true or false, got "${String(v)}"`, String(opts.default));
    return opts.default;
  }

  stringList(
    name: string,
    opts: { example: string[]; pattern?: RegExp; required?: boolean; description?: string },
  ): string[] {
    const v = this.raw(name);
    if (v === undefined || v === null || v === '') {
      if (opts.required) this.fail(name, 'is missing', JSON.stringify(opts.example));
      return opts.required ? opts.example : [];
    }
    let list: unknown;
    if (Array.isArray(v)) list = v;
    else if (typeof v === 'string' && v.trim().startsWith('[')) {
      try {
        list = JSON.parse(v);
      } catch {
        list = undefined;
      }
    } else if (typeof v === 'string') list = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
      this.fail(name, `must be a list of strings, got ${JSON.stringify(v)}`, JSON.stringify(opts.example));
      return opts.example;
    }
    const bad = opts.pattern ? (list as string[]).filter((s) => !opts.pattern!.test(s)) : [];
    if (bad.length > 0) {
      this.fail(name, `has invalid entries ${JSON.stringify(bad)}${opts.description ? `: ${opts.description}` : ''}`, JSON.stringify(opts.example));
    }
    return list as string[];
  }

  /**
   * Throws a ContextError naming every bad key of this pattern. Call after reading all keys, before building
   * constructs. The app (bin/db-ops-kit.ts) collects the errors of every selected pattern into one message.
   */
  check(): void {
    if (this.problems.length > 0) throw new ContextError(this.pattern, [...this.problems]);
  }
}

/** Bad context of one pattern: every problem names its context key. */
export class ContextError extends Error {
  constructor(public readonly pattern: string, public readonly problems: string[]) {
    super(`cdk.json context for pattern "${pattern}" is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ContextError';
  }
}

export const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
export const ACCOUNT_RE = /^\d{12}$/;
export const CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
export const IPV4_RE = /^(\d{1,3}\.){3}\d{1,3}$/;
