import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { GtError } from '../errors.js';
import { findTownRoot, HQ_PREFIX, readRigs, rigPaths, townPaths } from './layout.js';

/** A ledger folder (`.../.beads`) and the id prefix its beads carry. */
export interface LedgerRoute {
  prefix: string;
  dir: string;
}

/** Every ledger of the town: the HQ ledger and one per rig. */
export function townRoutes(root: string): LedgerRoute[] {
  const routes: LedgerRoute[] = [{ prefix: HQ_PREFIX, dir: townPaths(root).beads }];
  for (const [name, rig] of Object.entries(readRigs(root).rigs)) {
    routes.push({ prefix: rig.prefix, dir: rigPaths(root, name).beads });
  }
  return routes;
}

/**
 * The ledger a command run in `cwd` works on: `BEADS_DIR` if set; inside a town, the ledger of
 * the rig the folder belongs to (or the HQ ledger at the town level); elsewhere the nearest
 * `.beads` folder above `cwd`.
 */
export function ledgerDirForCwd(cwd: string = process.cwd()): string | undefined {
  if (process.env.BEADS_DIR) return resolve(process.env.BEADS_DIR);
  const root = findTownRoot(cwd);
  if (root) {
    const rel = relative(root, resolve(cwd));
    const first = rel.split(sep)[0];
    if (first && !first.startsWith('..')) {
      const rigs = readRigs(root).rigs;
      if (first in rigs) return rigPaths(root, first).beads;
    }
    return townPaths(root).beads;
  }
  let dir = resolve(cwd);
  for (;;) {
    // A `.beads` folder without config.json (such as ~/.beads holding only formulas) is no ledger.
    if (existsSync(join(dir, '.beads', 'config.json'))) return join(dir, '.beads');
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function requireLedgerDirForCwd(cwd: string = process.cwd()): string {
  const dir = ledgerDirForCwd(cwd);
  if (!dir) {
    throw new GtError(`no beads ledger here (looked for .beads in ${resolve(cwd)} and its parents)`, {
      hint: 'run `bd init` to make one here, cd into a town or rig, or set BEADS_DIR',
    });
  }
  return dir;
}

/**
 * The ledger that holds bead `id`, chosen by its prefix (`hq-…` → town, `gt-…` → the rig whose
 * prefix is `gt`). Outside a town, or for an unknown prefix, the ledger of `cwd`.
 */
export function ledgerDirForId(id: string, cwd: string = process.cwd()): string {
  const root = findTownRoot(cwd);
  if (root) {
    const routes = townRoutes(root).sort((a, b) => b.prefix.length - a.prefix.length);
    const hit = routes.find((r) => id.startsWith(r.prefix + '-'));
    if (hit) return hit.dir;
  }
  return requireLedgerDirForCwd(cwd);
}
