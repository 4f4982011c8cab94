import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { workerProcessArgs } from '../../src/temporal/binary.js';
import { PROJECT } from '../helpers/cli.js';
import { fetchHistory, maybeRecordHistory } from '../helpers/histories.js';
import { git, waitFor } from '../helpers/town.js';
import { createIn, gtJson, makeRigTown, mergesOf, waitClosed, type RigTown } from './convoy-helpers.js';

/**
 * Upgrading gt mid-convoy: a convoy started on one build lands on a worker of the next, whose
 * change to the convoy workflow is versioned (patched()); the same change unversioned cannot
 * replay the run (so the test would notice a build that breaks runs in flight).
 */
const towns: RigTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

const quiet = { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} };

async function bundle(file: string): Promise<string> {
  return (await bundleWorkflowCode({ workflowsPath: join(PROJECT, 'test', 'fixtures', 'build-b', file), logger: quiet })).code;
}

/** A worker of another build for this town, started as `gt up` would (its pid file, so agents' gt calls find it). */
function startWorker(t: RigTown, bundleFile: string): () => void {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GT_') && !k.startsWith('BEADS_') && k !== 'BD_ACTOR' && k !== 'TEMPORAL_ADDRESS') env[k] = v;
  const log = openSync(join(t.root, '.gt', 'logs', 'worker-build-b.log'), 'a');
  const child = spawn(process.execPath, workerProcessArgs(['--workflow-bundle', bundleFile]), {
    cwd: t.root,
    env: { ...env, ...t.env } as NodeJS.ProcessEnv,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pidFile = join(t.root, '.gt', 'run', 'worker.pid');
  writeFileSync(pidFile, `${child.pid}\n`);
  // Nothing else may serve this town now: a build A worker started in the moment between is stopped.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)) {
    if (pid === child.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join('dist', 'worker.js')) && readlinkSync(`/proc/${pid}/cwd`) === t.root) process.kill(pid, 'SIGKILL');
    } catch {
      // gone, or not ours to read
    }
  }
  return () => {
    child.kill('SIGTERM');
    rmSync(pidFile, { force: true });
  };
}

describe('upgrades', { timeout: 300_000 }, () => {
  it('a convoy started on build A lands on a worker of build B (a versioned change); the unversioned change cannot replay it', async () => {
    const t = makeRigTown();
    towns.push(t);
    const first = t.create('First, slowly', 'slow');
    const after = createIn(t, t.rig, 'After the first', { deps: [first] });
    const alone = t.create('On its own');
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Upgrade', first, after, alone]);
    await waitFor(() => t.bead(first).status === 'hooked', 60_000, 'the first bead to be slung on build A');

    // Build A's worker stops; build B's takes over the same queues at once (an agent's gt call
    // in between would start build A again).
    const codeB = await bundle('workflows.mjs');
    const fileB = join(t.root, '.gt', 'build-b-bundle.js');
    writeFileSync(fileB, codeB);
    expect(t.gt(['down']).code).toBe(0);
    const stop = startWorker(t, fileB);
    try {
      await waitClosed(t, convoy, 240_000);
      for (const id of [first, after, alone]) expect(mergesOf(t.remote, id), id).toBe(1);
      const subjects = git(t.remote, 'log', '--reverse', '--format=%s', 'main').split('\n');
      expect(subjects.findIndex((s) => s.startsWith(`${first}:`))).toBeLessThan(subjects.findIndex((s) => s.startsWith(`${after}:`)));

      // A convoy started on build B takes the new path.
      const fresh = t.create('Started on build B');
      const b = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'On build B', fresh]);
      await waitClosed(t, b.convoy, 120_000);
      const hb = JSON.stringify(fetchHistory(b.convoy));
      expect(hb).toContain('EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED');
    } finally {
      stop();
    }
    const history = fetchHistory(convoy);
    // The run from build A never took build B's new path (no memo written), yet landed on build B.
    expect(JSON.stringify(history)).not.toContain('EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED');
    await Worker.runReplayHistory({ workflowBundle: { code: codeB }, replayName: 'build B' }, history);
    await expect(Worker.runReplayHistory({ workflowBundle: { code: await bundle('unversioned.mjs') }, replayName: 'unversioned' }, history)).rejects.toThrow(/determinism/i);
    maybeRecordHistory(convoy, 'convoy-upgraded');
  });
});
