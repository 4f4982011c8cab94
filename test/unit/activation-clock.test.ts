import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { workerProcessArgs } from '../../src/temporal/binary.js';

/**
 * The worker's activation clock (src/temporal/activation-clock.ts), in a real process with a real
 * worker thread: calls into a V8 context run without the per-call vm timeout, and one that runs
 * past the limit still ends the process, as the SDK's timeout did.
 */
const dir = mkdtempSync(join(tmpdir(), 'gt-clock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const thread = join(dir, 'thread.cjs');
writeFileSync(
  thread,
  `const vm = require('node:vm');
const { workerData } = require('node:worker_threads');
const ctx = vm.createContext({}, { microtaskMode: 'afterEvaluate' });
// 300 ms of work in a call given a 50 ms timeout, as the SDK gives each call its timeout.
try {
  new vm.Script('const t = Date.now(); while (Date.now() - t < 300) {}').runInContext(ctx, { timeout: 50 });
  console.log('long call finished');
} catch (err) {
  console.log('long call cut: ' + err.message);
}
if (workerData.loop) new vm.Script('for (;;) {}').runInContext(ctx, { timeout: 600000 });
`,
);
const main = join(dir, 'main.mjs');
writeFileSync(
  main,
  `import { Worker } from 'node:worker_threads';
const w = new Worker(${JSON.stringify(thread)}, { workerData: { loop: process.argv[2] === 'loop' } });
w.on('exit', () => console.log('thread done'));
`,
);

function run(withClock: boolean, mode: string) {
  const [importFlag, clock] = workerProcessArgs();
  const args = withClock ? [importFlag!, clock!, main, mode] : [main, mode];
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GT_ACTIVATION_LIMIT_MS: '1500' } });
}

describe('the activation clock', () => {
  it('without it a call is cut at its vm timeout (what the SDK does to every call into a workflow)', () => {
    const r = run(false, 'once');
    expect(r.stdout).toMatch(/long call cut: Script execution timed out/);
  });

  it('with it the call runs to its end, and the thread ends normally', () => {
    const r = run(true, 'once');
    expect(r.stdout).toContain('long call finished');
    expect(r.stdout).toContain('thread done');
    expect(r.status).toBe(0);
  });

  it('a call that never yields is taken for a deadlock after the limit: the process says so and exits 70', () => {
    const t0 = Date.now();
    const r = run(true, 'loop');
    expect(r.status).toBe(70);
    expect(r.stderr).toMatch(/a workflow activation has run \d+ s without yielding \(limit 1\.5 s\): taken as a deadlock/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  });
});
