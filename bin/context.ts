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

  constructor(private readonly app: App, public readonly pattern: string) {}

  private key(name: string): string {
    return `${this.pattern}:${name}`;
  }

  private raw(name: string): unknown {
    return this.app.node.tryGetContext(this.key(name));
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

  /** Throws one error naming every bad key of this pattern. Call after reading all keys. */
  check(): void {
    if (this.problems.length > 0) {
      throw new Error(
        `cdk.json context for pattern "${this.pattern}" is invalid:\n  - ${this.problems.join('\n  - ')}\n` +
          `Fix cdk.json or pass -c KEY=VALUE. To skip this pattern, remove it from "db-ops-kit:patterns".`,
      );
    }
  }
}

export const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
export const ACCOUNT_RE = /^\d{12}$/;
export const CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
export const IPV4_RE = /^(\d{1,3}\.){3}\d{1,3}$/;
