import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../helpers/cli.js';

/**
 * Crash trials, as a hostile user would run them: a convoy of beads with dependencies, worked by
 * the scripted agent, and at a random moment kill -9 of the worker, the Temporal server, both,
 * or a running agent; then `gt up`. Judged by content on the remote's main branch: every bead's
 * work there, merged exactly once, no bead merged before one it depends on, the convoy landed,
 * and no work redone because of an engine fault.
 * Each trial is one process (bench/_chaos.mjs, shared with `npm run bench -- chaos`); its seed is
 * printed, so a failing trial can be run again: node bench/_chaos.mjs <fault> <seed> <beads>.
 */
interface Trial {
  fault: string;
  seed: number;
  landed: boolean;
  lost: number;
  twice: number;
  redone: number;
  outOfOrder: number;
  landingMs?: number;
  recoveryMs?: number;
  note: string;
}

function trial(fault: string, seed: number): Trial {
  const r = spawnSync(process.execPath, [join(PROJECT, 'bench', '_chaos.mjs'), fault, String(seed), '6'], { encoding: 'utf8', timeout: 420_000 });
  if (r.status !== 0) throw new Error(`chaos trial ${fault} seed ${seed} failed to run: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Trial;
}

describe('chaos: kill -9 at random moments during a convoy with dependencies', { timeout: 480_000 }, () => {
  for (const fault of ['worker', 'server', 'both', 'rigs', 'agent']) {
    it(`kill -9 of the ${fault}: the convoy lands, each bead merged exactly once, in dependency order`, () => {
      const seed = Math.floor(Math.random() * 100_000);
      const r = trial(fault, seed);
      console.log(`chaos ${fault} seed ${seed}: ${JSON.stringify(r)}`);
      expect(r, `seed ${seed}`).toMatchObject({ landed: true, lost: 0, twice: 0, outOfOrder: 0 });
      // An engine fault never makes an agent do its work again; a killed agent's next session may.
      if (fault !== 'agent') expect(r.redone, `seed ${seed}`).toBe(0);
    });
  }
});
