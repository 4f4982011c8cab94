import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, processAlive, processExiting, withLock } from '../../src/lock.js';

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'gt-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('acquireLock', () => {
  it('hands the lock to this process’s waiters in the order they asked, one at a time', async () => {
    const path = join(scratch(), 'repo.lock');
    const release = await acquireLock(path);
    const order: number[] = [];
    let inside = 0;
    let most = 0;
    const waiters = [1, 2, 3, 4, 5].map((n) =>
      withLock(path, async () => {
        inside += 1;
        most = Math.max(most, inside);
        order.push(n);
        await new Promise((r) => setTimeout(r, 5));
        inside -= 1;
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(1);
    expect(existsSync(path)).toBe(false);
  });

  it('a waiter that times out in the queue leaves it; the one behind it still gets the lock', async () => {
    const path = join(scratch(), 'repo.lock');
    const release = await acquireLock(path, { what: 'the test repository' });
    const impatient = acquireLock(path, { timeoutMs: 50, what: 'the test repository' });
    const patient = acquireLock(path, { timeoutMs: 10_000 });
    await expect(impatient).rejects.toThrow(/timed out after 50 ms waiting for the lock on the test repository/);
    release();
    const next = await patient;
    expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    next();
    expect(existsSync(path)).toBe(false);
  });

  it('waits for a lock another process holds, and takes over one whose holder died', async () => {
    const dir = scratch();
    const path = join(dir, 'repo.lock');
    // Another process holds the lock for a while, then lets it go.
    const holder = spawn(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(path)}, process.pid + ' x'); setTimeout(() => { require('fs').unlinkSync(${JSON.stringify(path)}); process.exit(0); }, 300)`]);
    const exited = new Promise((r) => holder.once('exit', r));
    while (!existsSync(path)) await new Promise((r) => setTimeout(r, 5));
    const got: number[] = [];
    const a = acquireLock(path).then((rel) => (got.push(1), rel));
    const b = acquireLock(path).then((rel) => (got.push(2), rel));
    const relA = await a;
    expect(got).toEqual([1]);
    relA();
    (await b)();
    expect(got).toEqual([1, 2]);
    await exited;

    // A lock file left by a process that is gone is taken over.
    writeFileSync(path, '999999999 dead');
    const rel = await acquireLock(path, { timeoutMs: 2000 });
    expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    rel();
  });
});

describe('processExiting', () => {
  it('is false for a running process and true for one past its exit (a zombie), which is not alive', async () => {
    // `sleep 0` exits at once and its parent, exec'd into `sleep 30`, never reaps it: a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 30'], { stdio: 'ignore' });
    try {
      const children = () => readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim();
      let zombie = 0;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && !zombie; ) {
        const pid = Number(children().split(' ')[0]);
        if (pid && readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')) zombie = pid;
        else await new Promise((r) => setTimeout(r, 20));
      }
      expect(zombie).toBeGreaterThan(0);
      expect(processExiting(zombie)).toBe(true);
      expect(processAlive(zombie)).toBe(false);
      expect(processExiting(parent.pid!)).toBe(false);
      expect(processAlive(parent.pid!)).toBe(true);
      expect(processExiting(process.pid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
    await new Promise((r) => parent.once('exit', r));
    expect(processExiting(parent.pid!)).toBe(false);
  });
});
