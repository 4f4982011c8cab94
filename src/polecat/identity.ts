import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { currentActor } from '../actor.js';
import { readRigs, rigPaths } from '../town/layout.js';
import { polecatAddress } from './state.js';

/**
 * Who is running a command: an agent started by Gas Town carries GT_ROLE/GT_RIG/GT_POLECAT in
 * its environment; anyone else is known by the folder they stand in (a polecat worktree, a crew
 * clone, the refinery worktree, the town itself).
 */
export interface Identity {
  role: 'polecat' | 'crew' | 'refinery' | 'mayor' | 'overseer';
  rig?: string;
  name?: string;
  /** The agent address used as assignee and BD_ACTOR, e.g. `myrig/polecats/furiosa`. */
  address: string;
  /** Where this came from: "env" or "cwd". */
  source: 'env' | 'cwd';
  /** For a polecat or crew member: its folder. */
  home?: string;
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** The identity the folder `cwd` gives, inside town `root`. */
export function identityFromCwd(root: string, cwd: string = process.cwd()): Identity {
  const rel = relative(real(root), real(cwd));
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) {
    // The town root (or outside the town) is where a person works: the overseer, never the Mayor
    // (the Mayor's session says so by GT_ROLE).
    return { role: 'overseer', address: currentActor(), source: 'cwd' };
  }
  const parts = rel.split(sep);
  if (parts[0] === 'mayor') return { role: 'mayor', address: 'mayor', source: 'cwd' };
  const rig = parts[0]!;
  if (!(rig in readRigs(root).rigs)) return { role: 'overseer', address: currentActor(), source: 'cwd' };
  const p = rigPaths(root, rig);
  if (parts[1] === 'polecats' && parts[2]) {
    return { role: 'polecat', rig, name: parts[2], address: polecatAddress(rig, parts[2]), source: 'cwd', home: join(p.polecats, parts[2]) };
  }
  if (parts[1] === 'crew' && parts[2]) {
    return { role: 'crew', rig, name: parts[2], address: `${rig}/crew/${parts[2]}`, source: 'cwd', home: join(p.crew, parts[2]) };
  }
  if (parts[1] === 'refinery') return { role: 'refinery', rig, address: `${rig}/refinery`, source: 'cwd', home: p.refinery };
  return { role: 'overseer', rig, address: currentActor(), source: 'cwd' };
}

/** GT_* from the environment when they name a known role, else the folder. */
export function currentIdentity(root: string, cwd: string = process.cwd()): Identity {
  const role = process.env.GT_ROLE;
  const rig = process.env.GT_RIG;
  if (role === 'polecat' && rig && process.env.GT_POLECAT) {
    const name = process.env.GT_POLECAT;
    return { role, rig, name, address: polecatAddress(rig, name), source: 'env', home: join(rigPaths(root, rig).polecats, name) };
  }
  if (role === 'crew' && rig && process.env.GT_CREW) {
    return { role, rig, name: process.env.GT_CREW, address: `${rig}/crew/${process.env.GT_CREW}`, source: 'env', home: join(rigPaths(root, rig).crew, process.env.GT_CREW) };
  }
  if (role === 'refinery' && rig) return { role, rig, address: `${rig}/refinery`, source: 'env', home: rigPaths(root, rig).refinery };
  if (role === 'mayor') return { role, address: 'mayor', source: 'env' };
  return identityFromCwd(root, cwd);
}

/** Whether `cwd` is inside the polecat worktree `home`. */
export function isInside(home: string, cwd: string = process.cwd()): boolean {
  const rel = relative(real(home), real(cwd));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
