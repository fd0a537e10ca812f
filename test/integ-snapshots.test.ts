/**
 * The committed snapshots of the real-account integ tests (test/integ/integ.*.ts) match what the
 * apps synthesize now, so `npm run integ` deploys what was reviewed. Offline: synth only.
 * After an intended construct change, regenerate with `npm run integ:snapshot` and review the diff.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { integFiles, normalizeTemplate, snapshotDir, synthInteg, templatesIn } from './integ/run';

test('every pattern has an integ test', () => {
  const patterns = fs.readdirSync(path.join(__dirname, '..', 'lib')).sort();
  expect(integFiles().map((f) => f.replace(/^integ\.|\.ts$/g, '')).sort()).toEqual(patterns);
});

test.each(integFiles())('%s synthesizes to its committed snapshot', (file) => {
  expect(fs.existsSync(snapshotDir(file))).toBe(true);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbops-integ-'));
  try {
    synthInteg(file, tmp);
    const now = templatesIn(tmp);
    const committed = templatesIn(snapshotDir(file));
    expect(Object.keys(now)).toEqual(Object.keys(committed));
    for (const name of Object.keys(now)) {
      const a = normalizeTemplate(now[name]);
      const b = normalizeTemplate(committed[name]);
      if (a !== b) {
        const diffAt = [...a].findIndex((ch, i) => ch !== b[i]);
        throw new Error(
          `${file}: ${name} differs from test/integ/${file}.snapshot/${name} near:\n  now:       ${a.slice(Math.max(0, diffAt - 80), diffAt + 120)}\n  committed: ${b.slice(Math.max(0, diffAt - 80), diffAt + 120)}\n` +
            'If the change is intended: npm run integ:snapshot, review git diff test/integ, commit.',
        );
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
