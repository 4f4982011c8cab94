import { Client, Connection } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, inject } from 'vitest';
import { submitMergeRequest, queryRefinery } from '../../src/refinery/client.js';
import type { MergeRequest, RefineryState } from '../../src/refinery/types.js';
import { engineConfig } from '../../src/temporal/config.js';
import { git, makeRemote, makeTown, waitFor, type TestTown } from '../helpers/town.js';

/**
 * A town with one rig whose remote is a bare repository in a temp folder, its worker running,
 * and a Temporal client for submitting merge requests the way `gt done` does. Each fixture has
 * its own task queue and rig name, so tests running side by side on the one test server never
 * pick up each other's workflows.
 */
export interface RigFixture {
  t: TestTown;
  rig: string;
  remote: string;
  repo: string;
  client: Client;
  /** A polecat branch in its own worktree, branched from the remote's main, with `files` committed. */
  branch(polecat: string, bead: string, files: Record<string, string>, message?: string): MergeRequest;
  submit(mr: MergeRequest): Promise<void>;
  /** Submit all while the worker is down, so the queue sees them at once (one batch). */
  submitTogether(mrs: MergeRequest[]): Promise<void>;
  queue(): Promise<RefineryState | undefined>;
  /** Wait until these beads' requests are finished (merged or sent back). */
  settled(beads: string[], timeoutMs?: number): Promise<RefineryState>;
  createBead(title: string, assignee?: string): string;
  bead(id: string): { id: string; status: string; assignee?: string; close_reason?: string; comments?: { text: string }[]; metadata?: Record<string, unknown> };
  rigSettings(patch: (s: Record<string, any>) => void): void;
  remoteLog(): string[];
  /** Pushes that moved the remote's main since the fixture was made (its reflog, newest first). */
  remotePushes(): string[];
  /** Commit `files` straight onto the remote's main (someone else's push). */
  pushToMain(files: Record<string, string>, message: string): void;
  close(): Promise<void>;
}

export const LINES = 'one\ntwo\nthree\n';

export async function rigFixture(): Promise<RigFixture> {
  const t = makeTown();
  const id = Math.random().toString(36).slice(2, 8);
  t.settings((s) => {
    s.temporal = { ...s.temporal, task_queue: `gt-mqtest-${id}` };
  });
  const remote = makeRemote({ 'lines.txt': LINES });
  git(remote, 'config', 'core.logAllRefUpdates', 'always');
  const rig = `mq${id}`;
  const added = t.gt(['rig', 'add', rig, remote, '--prefix', 'mq']);
  if (added.code !== 0) throw new Error(`gt rig add failed: ${added.stderr}`);
  const up = t.gt(['up']);
  if (up.code !== 0) throw new Error(`gt up failed: ${up.stderr}`);
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection });
  const config = engineConfig(t.root);
  const repo = join(t.root, rig, '.repo.git');
  const rigDir = join(t.root, rig);

  const fx: RigFixture = {
    t,
    rig,
    remote,
    repo,
    client,
    branch(polecat, bead, files, message = `work on ${bead}`) {
      const worktree = join(rigDir, 'polecats', polecat);
      const branch = `polecat/${polecat}/${bead}`;
      mkdirSync(join(rigDir, 'polecats'), { recursive: true });
      git(repo, 'worktree', 'add', '-q', '-b', branch, worktree, 'refs/remotes/origin/main');
      for (const [file, text] of Object.entries(files)) writeFileSync(join(worktree, file), text);
      git(worktree, 'add', '-A');
      git(worktree, 'commit', '-qm', message);
      return { bead, branch, polecat, worktree, submittedAt: new Date().toISOString() };
    },
    submit: (mr) => submitMergeRequest(client, config, rig, mr),
    async submitTogether(mrs) {
      const down = t.gt(['down']);
      if (down.code !== 0) throw new Error(`gt down failed: ${down.stderr}`);
      for (const mr of mrs) await submitMergeRequest(client, config, rig, mr);
      const again = t.gt(['up']);
      if (again.code !== 0) throw new Error(`gt up failed: ${again.stderr}`);
    },
    queue: () => queryRefinery(client, rig),
    async settled(beads, timeoutMs = 90_000) {
      return waitFor(async () => {
        const q = await queryRefinery(client, rig, 5000);
        if (!q) return undefined;
        const done = q.recent.map((r) => r.bead);
        return beads.every((b) => done.includes(b)) ? q : undefined;
      }, timeoutMs, `merge requests ${beads.join(', ')} to finish`);
    },
    createBead(title, assignee) {
      const b = t.bdJson<{ id: string }>(['create', title], { cwd: rigDir });
      if (assignee) {
        const r = t.bd(['update', b.id, '-a', assignee, '-s', 'in_progress'], { cwd: rigDir });
        if (r.code !== 0) throw new Error(r.stderr);
      }
      return b.id;
    },
    bead: (beadId) => t.bdJson<any[]>(['show', beadId], { cwd: rigDir })[0],
    rigSettings(patch) {
      const file = join(rigDir, 'settings', 'config.json');
      const s = JSON.parse(readFileSync(file, 'utf8'));
      patch(s);
      writeFileSync(file, JSON.stringify(s, null, 2));
    },
    remoteLog: () => git(remote, 'log', '--format=%s', 'main').trim().split('\n'),
    remotePushes: () => {
      const r = spawnSync('git', ['reflog', 'show', '--format=%H', 'refs/heads/main'], { cwd: remote, encoding: 'utf8' });
      return r.status === 0 ? r.stdout.trim().split('\n').filter(Boolean) : [];
    },
    pushToMain(files, message) {
      const seed = join(dirname(remote), 'seed');
      git(seed, 'pull', '-q', '--ff-only', 'origin', 'main');
      for (const [file, text] of Object.entries(files)) writeFileSync(join(seed, file), text);
      git(seed, 'add', '-A');
      git(seed, '-c', 'user.name=seed', '-c', 'user.email=seed@localhost', 'commit', '-qm', message);
      git(seed, 'push', '-q', 'origin', 'HEAD:main');
    },
    async close() {
      await connection.close();
      t.stop();
    },
  };
  return fx;
}

export function refExists(cwd: string, ref: string): boolean {
  return spawnSync('git', ['rev-parse', '--verify', '--quiet', ref], { cwd }).status === 0;
}

/** A maker of rig fixtures for a test file: each one made is closed after its test. */
export function rigFixtures(): () => Promise<RigFixture> {
  const made: RigFixture[] = [];
  afterEach(async () => {
    for (const fx of made.splice(0)) await fx.close();
  });
  return async () => {
    const fx = await rigFixture();
    made.push(fx);
    return fx;
  };
}
