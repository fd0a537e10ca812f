/**
 * Documentation lint (design card, "Construct style"): every optional prop of every props interface in lib/
 * carries a `@default` that says what happens (never empty, `undefined` or a bare `-`), every required prop has a
 * doc comment, and every exported class and interface has a doc comment.
 *
 * "Props interfaces" are the exported interfaces whose name ends in `Props` or `Options`, plus every lib/
 * interface they reach: through property types (also inside arrays, unions, generics and inline object types)
 * and through `extends`. Types are resolved with the TypeScript checker over lib/ alone (no lib.d.ts, no
 * node_modules: aws-cdk-lib types stay unresolved, which is fine — only lib/ interfaces are checked).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const root = path.join(__dirname, '..');
const libDir = path.join(root, 'lib');

function listTs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTs(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : []))
    .sort();
}

const files = listTs(libDir);
const program = ts.createProgram(files, {
  noLib: true,
  noResolve: true,
  types: [],
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  noEmit: true,
});
const checker = program.getTypeChecker();
const sources = files.map((f) => program.getSourceFile(f)!);

function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return `${path.relative(root, sf.fileName)}:${line + 1}`;
}

function isExported(node: ts.Node): boolean {
  return (ts.getCombinedModifierFlags(node as ts.Declaration) & ts.ModifierFlags.Export) !== 0;
}

/** The JSDoc blocks directly attached to a declaration (not those of a parent). */
function jsDocs(node: ts.Node): ts.JSDoc[] {
  return ts.getJSDocCommentsAndTags(node).filter((d): d is ts.JSDoc => ts.isJSDoc(d) && d.parent === node);
}

function hasDocText(node: ts.Node): boolean {
  return jsDocs(node).some(
    (d) => (ts.getTextOfJSDocComment(d.comment) ?? '').trim() !== '' || (d.tags ?? []).some((t) => (ts.getTextOfJSDocComment(t.comment) ?? '').trim() !== ''),
  );
}

/** Text of the `@default` tag(s), or undefined when there is none. */
function defaultText(node: ts.Node): string | undefined {
  const tags = jsDocs(node).flatMap((d) => (d.tags ?? []).filter((t) => t.tagName.text === 'default'));
  if (tags.length === 0) return undefined;
  return tags.map((t) => ts.getTextOfJSDocComment(t.comment) ?? '').join(' ').trim();
}

const UNINFORMATIVE_DEFAULT = /^(-\s*)?(undefined)?$/i;

/** lib/ interface declarations a type node mentions, anywhere inside it. */
function referencedInterfaces(typeNode: ts.Node): ts.InterfaceDeclaration[] {
  const found: ts.InterfaceDeclaration[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isTypeReferenceNode(n) || ts.isExpressionWithTypeArguments(n)) {
      const nameNode = ts.isTypeReferenceNode(n) ? n.typeName : n.expression;
      let sym = checker.getSymbolAtLocation(nameNode);
      if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
      for (const decl of sym?.declarations ?? []) {
        if (ts.isInterfaceDeclaration(decl) && files.includes(decl.getSourceFile().fileName)) found.push(decl);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(typeNode);
  return found;
}

function collectProblems(): { props: string[]; decls: string[]; checked: string[] } {
  const queue: ts.InterfaceDeclaration[] = [];
  for (const sf of sources) {
    ts.forEachChild(sf, (n) => {
      if (ts.isInterfaceDeclaration(n) && isExported(n) && /(Props|Options)$/.test(n.name.text)) queue.push(n);
    });
  }
  const seen = new Set<ts.InterfaceDeclaration>();
  const props: string[] = [];

  const checkMembers = (members: ts.NodeArray<ts.TypeElement>, owner: string): void => {
    for (const m of members) {
      if (!ts.isPropertySignature(m)) continue;
      const name = `${owner}.${m.name.getText()}`;
      if (m.questionToken) {
        const text = defaultText(m);
        if (text === undefined) props.push(`${where(m)} ${name}: optional, no @default`);
        else if (UNINFORMATIVE_DEFAULT.test(text)) props.push(`${where(m)} ${name}: \`@default ${text}\` does not say what happens`);
      } else if (!hasDocText(m)) {
        props.push(`${where(m)} ${name}: required, no doc comment`);
      }
      if (m.type) {
        queue.push(...referencedInterfaces(m.type));
        // Inline object types (`foo?: { bar?: string }`) are checked member by member.
        const inline = (n: ts.Node): void => {
          if (ts.isTypeLiteralNode(n)) checkMembers(n.members, name);
          else if (!ts.isTypeReferenceNode(n)) ts.forEachChild(n, inline);
        };
        inline(m.type);
      }
    }
  };

  while (queue.length > 0) {
    const decl = queue.shift()!;
    if (seen.has(decl)) continue;
    seen.add(decl);
    for (const clause of decl.heritageClauses ?? []) for (const t of clause.types) queue.push(...referencedInterfaces(t));
    checkMembers(decl.members, decl.name.text);
  }

  const decls: string[] = [];
  for (const sf of sources) {
    ts.forEachChild(sf, (n) => {
      if ((ts.isInterfaceDeclaration(n) || ts.isClassDeclaration(n)) && n.name && isExported(n) && !hasDocText(n)) {
        decls.push(`${where(n)} ${ts.isClassDeclaration(n) ? 'class' : 'interface'} ${n.name.text}: no doc comment`);
      }
    });
  }
  return { props, decls, checked: [...seen].map((d) => d.name.text).sort() };
}

const result = collectProblems();

function report(title: string, lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.length} ${title}:\n  ${lines.join('\n  ')}\n`;
}

test('the scan finds the props interfaces of every pattern', () => {
  const patterns = fs.readdirSync(libDir).filter((d) => fs.statSync(path.join(libDir, d)).isDirectory());
  expect(result.checked.length).toBeGreaterThanOrEqual(patterns.length);
  // An interface reached only as a property type (not named *Props/*Options) is checked too.
  expect(result.checked.some((n) => !/(Props|Options)$/.test(n))).toBe(true);
});

test('every optional prop has an informative @default and every required prop a doc comment', () => {
  expect(report('props interface members need docs (optional: `@default - <what happens>`; required: a doc comment)', result.props)).toBe('');
});

test('every exported class and interface in lib/ has a doc comment', () => {
  expect(report('exported declarations need a doc comment', result.decls)).toBe('');
});
