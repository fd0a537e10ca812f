/**
 * bench/run.ts writes the benchmark tables into README.md itself (`npm run bench -- --readme`), so a table in
 * the README is always the output of a real run with the date, machine, Node version and load it ran under.
 * These tests drive the writer with a small fake result (the real benchmarks are too heavy for `npm test`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { benchNames, BenchResult, END_MARKER, missedTarget, renderSection, RunConditions, START_MARKER, updateReadme } from '../bench/run';

const root = path.join(__dirname, '..');
const fake: BenchResult = {
  title: 'fake: a tiny benchmark',
  header: ['case', 'ms', 'ratio'],
  rows: [['baseline', '10.0', '1.00×'], ['kit', '12.5', '1.25×']],
  notes: ['Target met: kit ≤ 1.5× baseline.'],
};
const conditions: RunConditions = {
  startedAt: '2026-11-30T22:41:07.123Z',
  machine: '2 × Test CPU, 24 GiB',
  node: 'v20.20.2',
  loadStart: [1.5, 1.25, 1],
  loadEnd: [2, 1.5, 1.125],
  seconds: 12.4,
};
const readme = ['# x', '', '## Benchmarks', '', 'intro', '', START_MARKER, 'a table typed by hand', END_MARKER, '', '## After', ''].join('\n');

test('a section carries the title, date, machine, Node version and load average of its run, then the table and notes', () => {
  const text = renderSection('fake', fake, conditions);
  expect(text).toBe(
    [
      '### fake: a tiny benchmark',
      '',
      'Run 2026-11-30 22:41 UTC by `npm run bench -- --readme fake` on 2 × Test CPU, 24 GiB, Node v20.20.2; load average (1/5/15 min) 1.50 / 1.25 / 1.00 at start, 2.00 / 1.50 / 1.13 at end; 12 s.',
      '',
      '| case | ms | ratio |',
      '|---|---|---|',
      '| baseline | 10.0 | 1.00× |',
      '| kit | 12.5 | 1.25× |',
      '',
      '- Target met: kit ≤ 1.5× baseline.',
    ].join('\n'),
  );
});

test('the writer replaces hand-written text between the markers with the printed section, byte for byte, and keeps the rest of the README', () => {
  const section = renderSection('fake', fake, conditions);
  const out = updateReadme(readme, new Map([['fake', section]]));
  expect(out).not.toContain('a table typed by hand');
  expect(out.startsWith('# x\n\n## Benchmarks\n\nintro\n\n<!-- bench:start -->\n')).toBe(true);
  expect(out.endsWith('<!-- bench:end -->\n\n## After\n')).toBe(true);
  expect(out).toContain(`\n${section}\n`);
});

test('a run of one benchmark replaces only its own section; the others stay as their runs wrote them, sorted by name', () => {
  const a1 = renderSection('a-bench', { ...fake, title: 'A first' }, conditions);
  const b1 = renderSection('b-bench', { ...fake, title: 'B first' }, conditions);
  const first = updateReadme(readme, new Map([['b-bench', b1], ['a-bench', a1]]));
  const a2 = renderSection('a-bench', { ...fake, title: 'A second' }, { ...conditions, loadStart: [0.1, 0.1, 0.1] });
  const second = updateReadme(first, new Map([['a-bench', a2]]));
  expect(second).toContain(a2);
  expect(second).not.toContain('A first');
  expect(second).toContain(b1);
  expect(second.indexOf('A second')).toBeLessThan(second.indexOf('B first'));
  // Idempotent: writing the same sections again changes nothing.
  expect(updateReadme(second, new Map([['a-bench', a2]]))).toBe(second);
});

test('a README without the markers is refused, not appended to', () => {
  expect(() => updateReadme('# no markers\n', new Map([['fake', 'x']]))).toThrow(/no <!-- bench:start --> … <!-- bench:end --> region/);
});

test('a note starting with MISSED fails the run (exit code 1); met targets do not', () => {
  expect(missedTarget(fake)).toBe(false);
  expect(missedTarget({ ...fake, notes: ['MISSED (instance): API calls 14.0× the bare script, target ≤ 12×'] })).toBe(true);
});

test('the README region holds only sections written by the bench, one per benchmark file, each with its run conditions', () => {
  const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const region = text.slice(text.indexOf(START_MARKER) + START_MARKER.length, text.indexOf(END_MARKER));
  // Rewriting the region with no new sections must reproduce it exactly: nothing in it was typed by hand.
  expect(updateReadme(text, new Map())).toBe(text);
  const names = [...region.matchAll(/<!-- bench:section (\S+) -->/g)].map((m) => m[1]);
  expect(names.length).toBeGreaterThan(0);
  for (const n of names) expect(benchNames()).toContain(n);
  for (const m of region.matchAll(/<!-- bench:section (\S+) -->\n([\s\S]*?)\n<!-- bench:section-end/g)) {
    expect(m[2]).toMatch(new RegExp(`^### .+\\n\\nRun \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC by \`npm run bench -- --readme ${m[1]}\` on .+, Node v\\d+\\.\\d+\\.\\d+; load average \\(1/5/15 min\\) [\\d. /]+ at start, [\\d. /]+ at end; \\d+ s\\.\\n\\n\\|`));
  }
});
