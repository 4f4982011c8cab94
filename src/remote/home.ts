import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RigsJson, TownJson } from '../town/layout.js';
import { rigPaths, townPaths } from '../town/layout.js';
import { cloneRepo } from '../town/rigs.js';
import { RIG_HOST_HOME_MARKER } from './commands.js';

/**
 * A rig host home (`gt worker --town <name> --home <dir>`): what a rig host without the town
 * folder keeps of the town, laid out like a town folder so the rig's activities run there as
 * they do in the town: the town's and its rigs' settings as the town has them, each rig served
 * cloned from its git URL (its worktrees and refinery worktree beside it), and the host's own
 * run files, logs and events. No ledger: what reads or writes one, the town runs (forward.ts).
 */

/** What the town tells a rig host when it starts (the town's activity rigHostSetup). */
export interface RigHostSetup {
  townJson: TownJson;
  rigsJson: RigsJson;
  /** The town's settings/config.json. */
  settings: Record<string, unknown>;
  /** The town's task queue (its settings or its environment's). */
  taskQueue: string;
  /** The rigs this host serves: their config.json and settings/config.json. */
  rigs: Record<string, { config: Record<string, unknown>; settings: Record<string, unknown> }>;
}

/** Write (or bring up to date) a rig host home for `setup`, reaching the engine at `address`. */
export function writeRigHostHome(home: string, setup: RigHostSetup, engine: { address: string; namespace: string }, progress?: (m: string) => void): void {
  const p = townPaths(home);
  const json = (file: string, value: unknown) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
  };
  json(p.townJson, setup.townJson);
  json(p.rigsJson, setup.rigsJson);
  json(join(home, RIG_HOST_HOME_MARKER), { town: setup.townJson.name, address: engine.address, namespace: engine.namespace, written_at: new Date().toISOString() });
  const temporal = { ...((setup.settings.temporal as Record<string, unknown> | undefined) ?? {}), address: engine.address, namespace: engine.namespace, task_queue: setup.taskQueue };
  json(p.settings, { ...setup.settings, temporal });
  for (const [rig, files] of Object.entries(setup.rigs)) {
    const r = rigPaths(home, rig);
    const entry = setup.rigsJson.rigs[rig]!;
    json(r.config, files.config);
    json(r.settings, files.settings);
    if (!existsSync(r.repo)) {
      progress?.(`cloning ${entry.git_url} for rig ${rig}`);
      cloneRepo(entry.git_url, r.repo, entry.default_branch);
    } else {
      execFileSync('git', ['fetch', '--quiet', '--prune', 'origin'], { cwd: r.repo, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    if (!existsSync(join(r.refinery, '.git'))) {
      mkdirSync(dirname(r.refinery), { recursive: true });
      execFileSync('git', ['worktree', 'add', '--quiet', '--force', r.refinery, entry.default_branch], { cwd: r.repo, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    mkdirSync(r.polecats, { recursive: true });
  }
}
