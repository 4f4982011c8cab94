import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { PROJECT } from './cli.js';

export const HISTORIES_DIR = join(PROJECT, 'test', 'fixtures', 'histories');

/** The event history of a workflow on the test server, as the JSON `temporal workflow show` writes. */
export function fetchHistory(workflowId: string): unknown {
  const out = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', inject('temporalAddress'), '-w', workflowId, '-o', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out);
}

/**
 * Keep a history as a replay fixture when GT_RECORD_HISTORIES=1 (run once after a deliberate,
 * versioned workflow change; the replay test then guards determinism against later changes).
 */
export function maybeRecordHistory(workflowId: string, name: string): void {
  if (process.env.GT_RECORD_HISTORIES !== '1') return;
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), JSON.stringify(fetchHistory(workflowId), null, 1) + '\n');
}
