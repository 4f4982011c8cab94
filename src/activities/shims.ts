import { mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../temporal/binary.js';
import { townPaths } from '../town/layout.js';

/**
 * `gt` and `bd` for agents: links to the same build the worker runs, in `<town>/.gt/bin`, which
 * goes first on an agent's PATH so its `gt done` or `bd close` talks to this town's engine.
 */
export function agentBinDir(root: string): string {
  const dir = join(townPaths(root).gt, 'bin');
  mkdirSync(dir, { recursive: true });
  for (const bin of ['gt', 'bd']) {
    const link = join(dir, bin);
    const target = join(PROJECT_ROOT, 'bin', `${bin}.js`);
    let current: string | undefined;
    try {
      current = readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current === target) continue;
    try {
      unlinkSync(link);
    } catch {
      // none yet
    }
    try {
      symlinkSync(target, link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return dir;
}

/** PATH with the agent bin folder first. */
export function agentPath(root: string): string {
  return `${agentBinDir(root)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}
