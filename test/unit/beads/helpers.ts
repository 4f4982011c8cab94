import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initLedger, Ledger } from '../../../src/beads/ledger.js';

/** A fresh ledger in a temp folder, with BD_ACTOR set for the test. */
export function tempLedger(prefix = 'tt'): { dir: string; ledger: Ledger } {
  const root = mkdtempSync(join(tmpdir(), 'beads-unit-'));
  const dir = join(root, '.beads');
  initLedger(dir, prefix);
  return { dir, ledger: Ledger.open(dir) };
}
