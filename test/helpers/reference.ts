import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT } from './cli.js';

/**
 * A folder of the shared reference data, `../shared/reference/<name>` beside the clone (or beside
 * the main checkout when this is a git worktree). Tests skip, saying so, when it is absent.
 */
export function referenceDir(name: string): string {
  const beside = join(PROJECT, '..', 'shared', 'reference', name);
  if (existsSync(beside)) return beside;
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: PROJECT, encoding: 'utf8' }).trim();
    return join(dirname(common), '..', 'shared', 'reference', name);
  } catch {
    return beside;
  }
}
