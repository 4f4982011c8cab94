import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inject } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { PROJECT } from './cli.js';

/** One folder per release: the histories its workflows wrote, which every later release must replay. */
export const HISTORIES_DIR = join(PROJECT, 'test', 'fixtures', 'histories');
const RELEASE = (JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version;

/** The event history of a workflow on the test server, as the JSON `temporal workflow show` writes. */
export function fetchHistory(workflowId: string): unknown {
  const out = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', inject('temporalAddress'), '-w', workflowId, '-o', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out);
}

/**
 * Keep a history as a replay fixture of this release (test/fixtures/histories/<version>/) when
 * GT_RECORD_HISTORIES=1; the replay test then guards determinism against later changes.
 * GT_RECORD_SUFFIX (e.g. "-local-first") keeps a change's new histories beside the ones before it.
 */
export function maybeRecordHistory(workflowId: string, name: string): void {
  if (process.env.GT_RECORD_HISTORIES !== '1') return;
  mkdirSync(join(HISTORIES_DIR, RELEASE), { recursive: true });
  // Stack traces name where the project was checked out: a fixture says <project> instead.
  // (node_modules may be a link to another checkout: its real folder is named the same way.)
  let text = JSON.stringify(fetchHistory(workflowId), null, 1);
  for (const dir of new Set([PROJECT, dirname(realpathSync(join(PROJECT, 'node_modules')))])) text = text.split(`file://${dir}/`).join('<project>/').split(`${dir}/`).join('<project>/');
  writeFileSync(join(HISTORIES_DIR, RELEASE, `${name}${process.env.GT_RECORD_SUFFIX ?? ''}.json`), text + '\n');
}
