import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { personName } from '../actor.js';
import { initLedger } from '../beads/ledger.js';
import { GtError } from '../errors.js';
import { HQ_PREFIX, isDirectory, townPaths, writeJsonFile, type RigsJson, type TownJson } from './layout.js';
import { defaultTownSettings, writeTownSettings } from './settings.js';
import { mayorContext } from './roles.js';

export interface InstallOptions {
  git?: boolean;
  name?: string;
  owner?: string;
}

/** What a `--git` town keeps out of history: runtime state, clones and worktrees. */
const TOWN_GITIGNORE = `# Gas Town runtime state (engine database, pid files, logs)
.gt/
# Clones and worktrees: each has its own git history
*/.repo.git/
*/polecats/
*/crew/
*/refinery/
# Ledger lock and scratch files
.beads/*.lock
*/.beads/*.lock
.beads/*.tmp-*
*/.beads/*.tmp-*
`;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Create a town at `path` with the layout of SPEC.md. Refuses a non-empty folder. */
export function installTown(path: string, opts: InstallOptions = {}): string {
  const root = resolve(path);
  if (existsSync(root)) {
    if (!isDirectory(root)) throw new GtError(`${root} exists and is not a folder`, { hint: 'choose a new path for the town' });
    if (readdirSync(root).length > 0) {
      throw new GtError(`${root} is not empty`, { hint: 'choose a new or empty folder for the town' });
    }
  }
  const name = opts.name ?? basename(root);
  if (!NAME_RE.test(name)) {
    throw new GtError(`town name "${name}" may hold only letters, digits, '.', '_' and '-'`, { hint: 'pass --name <name>' });
  }
  const p = townPaths(root);
  mkdirSync(join(root, 'mayor'), { recursive: true });
  const now = new Date().toISOString();
  const town: TownJson = { type: 'town', version: 1, name, owner: opts.owner ?? personName(), created_at: now };
  writeJsonFile(p.townJson, town);
  const rigs: RigsJson = { version: 1, rigs: {} };
  writeJsonFile(p.rigsJson, rigs);
  writeTownSettings(root, defaultTownSettings());
  initLedger(p.beads, HQ_PREFIX);
  for (const dir of [p.gt, p.temporal, p.logs, p.run]) mkdirSync(dir, { recursive: true });
  const context = mayorContext(name);
  writeFileSync(join(root, 'CLAUDE.md'), context);
  writeFileSync(join(root, 'AGENTS.md'), context);
  writeFileSync(join(root, '.gitignore'), TOWN_GITIGNORE);
  if (opts.git) {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, stdio: 'pipe' });
    git('init', '-q');
    git('add', '-A');
    git('-c', 'user.name=gt', '-c', 'user.email=gt@localhost', 'commit', '-q', '-m', `gt install: town ${name}`);
  }
  return root;
}


