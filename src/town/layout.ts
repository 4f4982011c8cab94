import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GtError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';

/** A town is found by this file; names follow the original Gas Town layout. */
export const TOWN_MARKER = join('mayor', 'town.json');
export const HQ_PREFIX = 'hq';

export interface TownJson {
  type: 'town';
  version: number;
  name: string;
  owner: string;
  created_at: string;
}

export interface RigEntry {
  git_url: string;
  default_branch: string;
  prefix: string;
  added_at: string;
}

export interface RigsJson {
  version: number;
  rigs: Record<string, RigEntry>;
}

export function townPaths(root: string) {
  const gt = join(root, '.gt');
  return {
    root,
    townJson: join(root, TOWN_MARKER),
    rigsJson: join(root, 'mayor', 'rigs.json'),
    settings: join(root, 'settings', 'config.json'),
    beads: join(root, '.beads'),
    gt,
    temporal: join(gt, 'temporal'),
    logs: join(gt, 'logs'),
    run: join(gt, 'run'),
    events: join(gt, 'events.jsonl'),
  };
}

export function rigPaths(root: string, rig: string) {
  const dir = join(root, rig);
  return {
    dir,
    config: join(dir, 'config.json'),
    settings: join(dir, 'settings', 'config.json'),
    repo: join(dir, '.repo.git'),
    beads: join(dir, '.beads'),
    refinery: join(dir, 'refinery', 'rig'),
    polecats: join(dir, 'polecats'),
    crew: join(dir, 'crew'),
  };
}

/** The town containing `cwd` (or `GT_ROOT`), or undefined when there is none. */
export function findTownRoot(cwd: string = process.cwd()): string | undefined {
  const fromEnv = process.env.GT_ROOT;
  if (fromEnv) {
    const root = resolve(fromEnv);
    if (existsSync(join(root, TOWN_MARKER))) return root;
    throw new GtError(`GT_ROOT=${fromEnv} is not a Gas Town town (no ${TOWN_MARKER} there)`, {
      hint: 'unset GT_ROOT or point it at a folder made by `gt install`',
    });
  }
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, TOWN_MARKER))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function requireTownRoot(cwd: string = process.cwd()): string {
  const root = findTownRoot(cwd);
  if (!root) {
    throw new GtError(`not inside a Gas Town town (looked for ${TOWN_MARKER} in ${resolve(cwd)} and its parents)`, {
      hint: 'run `gt install <path>` to make one, cd into it, or set GT_ROOT',
    });
  }
  return root;
}

export function readJsonFile<T>(path: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new GtError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new GtError(`${path} is not valid JSON: ${(err as Error).message}`, { hint: 'fix or restore the file' });
  }
}

export function writeJsonFile(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export function readTownJson(root: string): TownJson {
  return readJsonFile<TownJson>(townPaths(root).townJson);
}

export function readRigs(root: string): RigsJson {
  const path = townPaths(root).rigsJson;
  if (!existsSync(path)) return { version: 1, rigs: {} };
  return readJsonFile<RigsJson>(path);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
