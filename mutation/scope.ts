/**
 * `--mutate` must stay inside the folder it is run for. StrykerJS keeps every result in a folder's state file
 * (mutation/incremental/<folder>.json) until a later run of that folder replaces it, including results of files
 * outside the folder's `mutate` list (StrykerJS 9.6.1, core/dist/src/mutants/incremental-differ.js: earlier mutants
 * outside the mutated scope are carried into the new report). So `npm run mutation -- kms-key-change --mutate
 * lambda/shared/retry.ts` would leave a shared file, judged by the kms tests, in the kms score for good.
 */
import { posix } from 'node:path';

/** The part of a glob before its first wildcard: `lambda/kms-key-change/**\/*.ts` -> `lambda/kms-key-change/`. */
function staticPrefix(glob: string): string {
  const i = glob.search(/[*?{}[\]]/);
  return i < 0 ? glob : glob.slice(0, i);
}

/**
 * The `--mutate` entries (comma-separated; `file.ts:<from>-<to>` line ranges allowed) that fall outside the folder's
 * `mutate` list: an entry is inside when it names one of the listed files, or lies under the fixed part of a listed
 * glob (`lambda/kms-key-change/` for `lambda/kms-key-change/**\/*.ts`).
 */
export function outsideFolder(mutate: string, folderMutate: readonly string[]): string[] {
  return mutate
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .filter((entry) => {
      const file = posix.normalize(entry.replace(/:\d+(:\d+)?-\d+(:\d+)?$/, ''));
      return !folderMutate.some((g) => {
        const prefix = staticPrefix(g);
        if (prefix === g) return file === g;
        return file.startsWith(prefix); // a glob entry under the fixed part cannot match anything outside it
      });
    });
}
