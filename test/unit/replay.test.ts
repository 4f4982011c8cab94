import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../helpers/cli.js';
import { HISTORIES_DIR } from '../helpers/histories.js';

/**
 * Determinism: recorded histories of real runs (a DAG run, a gated run, a failed run, ...) must
 * replay against the current workflow code. A change that breaks determinism fails here.
 * Re-record with GT_RECORD_HISTORIES=1 only for a deliberate, versioned change.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

describe('workflow determinism', () => {
  it('has recorded histories to replay', () => {
    for (const name of ['molecule-dag', 'molecule-gated', 'molecule-failed']) expect(files).toContain(`${name}.json`);
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
