import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT } from './cli.js';

/**
 * The shared reference data: `../shared/reference/<sub>` beside the clone, or beside the main
 * checkout when this is a git worktree.
 */
function candidates(sub: string): string[] {
  const out = [join(PROJECT, '..', 'shared', 'reference', sub)];
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: PROJECT, encoding: 'utf8' }).trim();
    out.push(join(dirname(common), '..', 'shared', 'reference', sub));
  } catch {
    // not a git checkout: only the folder beside it
  }
  return out;
}

/** A reference folder (tests check it exists and skip, saying so, when it is absent). */
export function referenceDir(name: string): string {
  const all = candidates(name);
  return all.find((c) => existsSync(c)) ?? all[0]!;
}

/** A reference file, or undefined with a warning saying what a test skips when it is absent. */
export function referencePath(sub: string, skipping: string): string | undefined {
  const found = candidates(sub).find((c) => existsSync(c));
  if (!found) console.warn(`skipping ${skipping}: ../shared/reference/${sub} is absent (it sits beside the clone in CI)`);
  return found;
}
