import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../helpers/cli.js';
import { HISTORIES_DIR } from '../helpers/histories.js';

/**
 * Determinism: recorded histories of real runs (a DAG run, a gated run, a failed run, ...) must
 * replay against the current workflow code. A change that breaks determinism fails here.
 * Each release keeps its own folder (test/fixtures/histories/<version>/): runs in flight when a
 * user upgrades were written by the release before, so its histories stay here. New ones are
 * recorded with GT_RECORD_HISTORIES=1 into the current version's folder.
 */
const files = readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort();

describe('workflow determinism', () => {
  it('has recorded histories to replay', () => {
    for (const name of ['molecule-dag', 'molecule-gated', 'molecule-failed']) expect(files).toContain(join('0.1.0', `${name}.json`));
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      const history = JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8'));
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: join(PROJECT, 'dist', 'workflow-bundle.js') }, replayName: file },
        history,
      );
    });
  }
});
