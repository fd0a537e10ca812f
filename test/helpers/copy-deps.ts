/**
 * What a copied pattern needs from npm, derived from what its code imports (the TypeScript import
 * graph of every .ts file in the folders a user copies), and what its README's "Copy into your app"
 * block installs. `copy.test.ts` compares the two offline; `test/integration/copy/` installs the
 * block for real into a scratch app.
 */
import { builtinModules } from 'module';
import * as fs from 'fs';
import * as path from 'path';
import * as esbuild from 'esbuild';
import * as ts from 'typescript';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Packages no file imports but a copied pattern still needs to build and synthesize, with why.
 * `aws-cdk-lib`/`constructs` are imported and so derived, not listed here.
 */
export const TOOLCHAIN: Record<string, string> = {
  // NodejsFunction bundles with a local esbuild; without it the CDK falls back to Docker.
  // https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_lambda_nodejs-readme.html#local-bundling
  esbuild: 'bundles the Lambda code at synth (NodejsFunction local bundling)',
  typescript: 'type-checks the copied code (tsc --noEmit)',
  'aws-cdk': 'the cdk CLI (cdk synth / deploy)',
  tsx: 'runs the TypeScript CDK app (cdk.json "app": "npx tsx ...")',
};

export interface Requirement {
  readonly name: string;
  readonly dev: boolean;
  /** Files (repo-relative) whose imports need it, or the toolchain reason. */
  readonly because: string[];
}

export interface ImportGraph {
  /** Package name -> files importing it, and whether every import of it is type-only. */
  readonly packages: Map<string, { files: Set<string>; typeOnly: boolean }>;
  readonly usesNodeBuiltins: Set<string>;
  /** Relative imports that leave the copied folders (a copy of only those folders would break). */
  readonly escapes: string[];
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || builtinModules.includes(packageName(spec));
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Every module specifier of one file, with whether that import is erased at compile time. */
function specifiers(file: string): { spec: string; typeOnly: boolean }[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: { spec: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const allNamedTypeOnly =
        !!clause && !clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) &&
        clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly);
      out.push({ spec: node.moduleSpecifier.text, typeOnly: !!clause?.isTypeOnly || allNamedTypeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      out.push({ spec: node.moduleReference.expression.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) {
        out.push({ spec: node.arguments[0].text, typeOnly: false });
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ spec: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The import graph of every .ts file under `folders` (repo-relative), as copied. */
export function importGraph(folders: string[], root = REPO_ROOT): ImportGraph {
  const packages = new Map<string, { files: Set<string>; typeOnly: boolean }>();
  const usesNodeBuiltins = new Set<string>();
  const escapes: string[] = [];
  const inside = folders.map((f) => path.join(root, f) + path.sep);
  for (const folder of folders) {
    for (const file of tsFiles(path.join(root, folder))) {
      const rel = path.relative(root, file);
      for (const { spec, typeOnly } of specifiers(file)) {
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          if (!inside.some((d) => (target + path.sep).startsWith(d) || target.startsWith(d))) escapes.push(`${rel} imports ${spec}`);
          continue;
        }
        if (isBuiltin(spec)) {
          usesNodeBuiltins.add(rel);
          continue;
        }
        const name = packageName(spec);
        const entry = packages.get(name) ?? { files: new Set<string>(), typeOnly: true };
        entry.files.add(rel);
        entry.typeOnly = entry.typeOnly && typeOnly;
        packages.set(name, entry);
      }
    }
  }
  return { packages, usesNodeBuiltins, escapes };
}

/**
 * Packages the Lambda bundles pull in that npm would NOT install by itself: esbuild bundles every
 * .ts file of the copied lambda folders (metafile), and each import from package Q of package P is
 * checked against Q's package.json. P must be installed explicitly when Q does not declare it as a
 * dependency or a required peer (e.g. `@aws-lambda-powertools/parameters/secrets` imports
 * `@aws-sdk/client-secrets-manager`, an OPTIONAL peer: npm does not install it, bundling then fails).
 */
export function undeclaredBundleImports(folders: string[], root = REPO_ROOT): Map<string, Set<string>> {
  const entryPoints = folders.filter((f) => f.startsWith('lambda/')).flatMap((f) => tsFiles(path.join(root, f)));
  const out = new Map<string, Set<string>>();
  if (entryPoints.length === 0) return out;
  const { metafile } = esbuild.buildSync({
    entryPoints, bundle: true, write: false, metafile: true, platform: 'node', format: 'cjs',
    outdir: path.join(root, 'cdk.out', '.copy-deps'), absWorkingDir: root, logLevel: 'silent',
  });
  const pkgOf = (file: string) => file.match(/^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//);
  for (const [file, input] of Object.entries(metafile!.inputs)) {
    const from = pkgOf(file);
    if (!from) continue; // the kit's own files: their imports are the import graph
    const manifest = JSON.parse(fs.readFileSync(path.join(root, from[1], 'package.json'), 'utf8'));
    for (const imp of input.imports) {
      const to = pkgOf(imp.path);
      if (!to || to[2] === from[2]) continue;
      const name = to[2];
      const declared =
        name in (manifest.dependencies ?? {}) || name in (manifest.optionalDependencies ?? {}) ||
        (name in (manifest.peerDependencies ?? {}) && !manifest.peerDependenciesMeta?.[name]?.optional);
      if (!declared) out.set(name, (out.get(name) ?? new Set()).add(`${from[2]} (${imp.original})`));
    }
  }
  return out;
}

/** True when the installed package carries its own .d.ts (so no @types/<name> is needed). */
function shipsTypes(name: string, root: string): boolean {
  const dir = path.join(root, 'node_modules', name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  if (pkg.types || pkg.typings) return true;
  if (fs.existsSync(path.join(dir, 'index.d.ts'))) return true;
  const hasTypesCondition = (x: unknown): boolean =>
    !!x && typeof x === 'object' && Object.entries(x as Record<string, unknown>).some(([k, v]) => k === 'types' || hasTypesCondition(v));
  return hasTypesCondition(pkg.exports);
}

function typesPackage(name: string): string {
  return name.startsWith('@') ? `@types/${name.slice(1).replace('/', '__')}` : `@types/${name}`;
}

/**
 * The npm packages a copy of `folders` needs: runtime packages for every runtime import, `-D` for
 * type packages (@types/...) and the toolchain. Problems (an import the kit itself does not declare,
 * a relative import leaving the copied folders) are returned, not thrown.
 */
const requiredCache = new Map<string, { requirements: Requirement[]; problems: string[] }>();

export function requiredPackages(folders: string[], root = REPO_ROOT): { requirements: Requirement[]; problems: string[] } {
  const key = JSON.stringify([root, folders]);
  if (!requiredCache.has(key)) requiredCache.set(key, computeRequiredPackages(folders, root));
  return requiredCache.get(key)!;
}

function computeRequiredPackages(folders: string[], root: string): { requirements: Requirement[]; problems: string[] } {
  const graph = importGraph(folders, root);
  const kit = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const deps: Record<string, string> = kit.dependencies ?? {};
  const devDeps: Record<string, string> = kit.devDependencies ?? {};
  const req = new Map<string, Requirement>();
  const need = (name: string, dev: boolean, because: string[]) => {
    const prev = req.get(name);
    req.set(name, { name, dev: (prev?.dev ?? true) && dev, because: [...(prev?.because ?? []), ...because] });
  };
  const problems = graph.escapes.map((e) => `${e}, outside the copied folders ${folders.join(', ')}`);
  for (const [name, { files, typeOnly }] of graph.packages) {
    const sorted = [...files].sort();
    const types = typesPackage(name);
    if (name in deps) {
      need(name, false, sorted);
      if (!shipsTypes(name, root)) {
        if (types in devDeps) need(types, true, sorted);
        else problems.push(`${name} ships no types and ${types} is not in the kit's devDependencies`);
      }
    } else if (typeOnly && types in devDeps) {
      need(types, true, sorted); // e.g. `import type { Handler } from 'aws-lambda'`: only @types/aws-lambda
    } else {
      problems.push(`${name} is imported by ${sorted.join(', ')} but is not in the kit's dependencies`);
    }
  }
  for (const [name, importers] of undeclaredBundleImports(folders, root)) {
    const because = [...importers].sort().map((i) => `bundled: optional peer of / undeclared by ${i}`);
    if (name in deps) need(name, false, because);
    else problems.push(`${name} is bundled (${because.join(', ')}) but is not in the kit's dependencies`);
  }
  if (graph.usesNodeBuiltins.size > 0) need('@types/node', true, [...graph.usesNodeBuiltins].sort());
  for (const [name, why] of Object.entries(TOOLCHAIN)) need(name, true, [why]);
  for (const r of req.values()) {
    if (!(r.name in deps) && !(r.name in devDeps)) problems.push(`${r.name} is needed but is not in the kit's package.json`);
  }
  return { requirements: [...req.values()].sort((a, b) => a.name.localeCompare(b.name)), problems };
}

/** name -> exact version the kit tests with (package.json). */
export function kitVersions(root = REPO_ROOT): Record<string, string> {
  const kit = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  return { ...kit.devDependencies, ...kit.dependencies };
}

/** The README block a pattern should carry: one `npm install -E` for runtime packages, one `-E -D` for the rest. */
export function expectedInstallBlock(folders: string[], root = REPO_ROOT): string {
  const { requirements, problems } = requiredPackages(folders, root);
  if (problems.length) throw new Error(problems.join('\n'));
  const versions = kitVersions(root);
  const line = (dev: boolean) =>
    `npm install -E${dev ? ' -D' : ''} ` + requirements.filter((r) => r.dev === dev).map((r) => `${r.name}@${versions[r.name]}`).join(' ');
  return [line(false), line(true)].join('\n');
}

export const COPY_SECTION = 'Copy into your app';

/** The text of the first ```bash block inside the README's "## Copy into your app" section. */
export function readmeInstallBlock(readme: string): string | undefined {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => /^#{2,3}\s+/.test(l) && l.replace(/^#+\s+/, '').trim() === COPY_SECTION);
  if (start < 0) return undefined;
  const level = lines[start].match(/^#+/)![0].length;
  let i = start + 1;
  for (; i < lines.length; i++) {
    const h = lines[i].match(/^(#+)\s/);
    if (h && h[1].length <= level) return undefined;
    if (lines[i].trim() === '```bash') break;
  }
  const body: string[] = [];
  for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
  return i < lines.length ? body.join('\n') : undefined;
}

export interface InstallSpec {
  readonly name: string;
  readonly version: string;
  readonly dev: boolean;
}

/**
 * What a block of `npm install` commands installs. Anything in the block that is not an
 * `npm install [-E] [-D] name@version ...` command (or a comment) is reported as a problem, so the
 * block stays something the copy test can run literally.
 */
export function parseInstallBlock(block: string): { specs: InstallSpec[]; problems: string[] } {
  const specs: InstallSpec[] = [];
  const problems: string[] = [];
  const commands = block.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const cmd of commands) {
    const words = cmd.split(/\s+/);
    if (words[0] !== 'npm' || !['install', 'i'].includes(words[1])) {
      problems.push(`not an npm install command: ${cmd}`);
      continue;
    }
    const flags = words.slice(2).filter((w) => w.startsWith('-'));
    const dev = flags.some((f) => f === '-D' || f === '--save-dev');
    if (!flags.some((f) => f === '-E' || f === '--save-exact')) problems.push(`missing -E (exact versions): ${cmd}`);
    for (const w of words.slice(2).filter((x) => !x.startsWith('-'))) {
      const at = w.lastIndexOf('@');
      if (at <= 0) {
        problems.push(`no version on ${w} in: ${cmd}`);
        continue;
      }
      specs.push({ name: w.slice(0, at), version: w.slice(at + 1), dev });
    }
  }
  return { specs, problems };
}

/**
 * Everything wrong with a README block for `folders`: packages the code needs that it does not
 * install, packages it installs that nothing needs, versions other than the kit's, runtime/-D mix-ups.
 */
export function checkInstallBlock(block: string, folders: string[], root = REPO_ROOT): string[] {
  const { specs, problems } = parseInstallBlock(block);
  const { requirements, problems: graphProblems } = requiredPackages(folders, root);
  const versions = kitVersions(root);
  const out = [...graphProblems, ...problems];
  const installed = new Map(specs.map((s) => [s.name, s]));
  for (const r of requirements) {
    const s = installed.get(r.name);
    if (!s) out.push(`missing ${r.dev ? '-D ' : ''}${r.name}@${versions[r.name]} (needed by ${r.because.join(', ')})`);
    else {
      if (s.version !== versions[r.name]) out.push(`${r.name}@${s.version}: the kit tests with ${versions[r.name]}`);
      if (s.dev !== r.dev) out.push(`${r.name} should be installed ${r.dev ? 'with -D (build/type only)' : 'as a runtime dependency (without -D)'}`);
    }
  }
  const needed = new Set(requirements.map((r) => r.name));
  for (const s of specs) if (!needed.has(s.name)) out.push(`${s.name} is installed but nothing in ${folders.join(', ')} needs it`);
  return out;
}
