import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../helpers/cli.js';
import { HISTORIES_DIR, splitAfterLocalActivity } from '../helpers/histories.js';

/**
 * Determinism: recorded histories of real runs (a DAG run, a gated run, a failed run, ...) must
 * replay against the current workflow code. A change that breaks determinism fails here.
 * Each release keeps its own folder (test/fixtures/histories/<version>/): runs in flight when a
 * user upgrades were written by the release before, so its histories stay here. New ones are
 * recorded with GT_RECORD_HISTORIES=1 into the current version's folder.
 */
const bundle = { codePath: join(PROJECT, 'dist', 'workflow-bundle.js') };
const read = (file: string) => JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8'));
const files = readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort();

describe('workflow determinism', () => {
  it('has recorded histories to replay', () => {
    for (const name of ['molecule-dag', 'molecule-gated', 'molecule-failed']) expect(files).toContain(join('0.1.0', `${name}.json`));
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      await Worker.runReplayHistory({ workflowBundle: bundle, replayName: file }, read(file));
    });
  }
});

/**
 * A query that comes in while a workflow task waits for its local activity can make the engine
 * close the task with the activity's marker and put what the code did next in another task. On
 * replay the activity resolves in the first task, so a patch first asked after it was taken as
 * absent and the run failed as nondeterministic (a stuck merge queue or dispatcher). Workflows
 * that run local activities now ask their patches at their start: each of their histories, split
 * after each of its local activities, still replays.
 */
describe('a workflow task split after its local activity', () => {
  it('broke a run that asked its patches after the local activity (the shape is the one that fails)', async () => {
    const split = splitAfterLocalActivity(read(join('0.3.0', 'refinery-merged-gather.json')), 0)!;
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'split' }, split)).rejects.toThrow(/patch marker encountered for change batched-merge-queue/);
  });

  for (const file of files.filter((f) => f.endsWith('-patches-first.json'))) {
    it(`replays ${file} split after each local activity`, async () => {
      const history = read(file);
      let n = 0;
      for (let split; (split = splitAfterLocalActivity(history, n)); n++) {
        await Worker.runReplayHistory({ workflowBundle: bundle, replayName: `${file} split ${n}` }, split);
      }
      expect(n).toBeGreaterThan(0);
    });
  }
});

