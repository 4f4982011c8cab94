import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { GtError } from './errors.js';

/**
 * A cross-process lock file: created with O_EXCL and holding "<pid> <nonce>". A lock whose
 * holder process is gone is taken over; the take-over itself is guarded by a second short-lived
 * lock so two processes cannot both remove a dead holder's lock and then each other's.
 */
export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** What is being locked, for the error message. */
  what?: string;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process whose parent has not reaped it yet still answers signal 0: a zombie is dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * A process the kernel is already taking down: kill -9'd a moment ago (SIGKILL pending: it may
 * sit in a system call such as an fsync for a while) or past the point of exit (PF_EXITING). It
 * runs none of its own code again, but still holds its pid, its ports and its files.
 */
export function processExiting(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
    if (flags & 0x4) return true;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return ['SigPnd', 'ShdPnd'].some((key) => {
      const mask = new RegExp(`^${key}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1];
      return mask !== undefined && (BigInt(`0x${mask}`) & 0x100n) !== 0n;
    });
  } catch {
    return false;
  }
}

function tryCreate(path: string, content: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o644);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function readHolder(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Remove `path` if its holder is dead. Returns true when the lock may be retried at once. */
function takeOverIfDead(path: string, token: string): boolean {
  const holder = readHolder(path);
  if (holder === undefined) return true;
  const pid = Number(holder.split(' ')[0]);
  // A lock file being written right now may be empty for an instant: not dead. One that stays
  // empty lost its holder between create and write (a crash): dead after a few seconds.
  if (holder === '') {
    try {
      if (Date.now() - statSync(path).mtimeMs < 5_000) return false;
    } catch {
      return true;
    }
  } else if (processAlive(pid)) {
    return false;
  }
  const guard = `${path}.takeover`;
  if (!tryCreate(guard, token)) {
    try {
      if (Date.now() - statSync(guard).mtimeMs > 10_000) unlinkSync(guard);
    } catch {
      // someone else removed it
    }
    return false;
  }
  try {
    if (readHolder(path) === holder) unlinkSync(path);
  } catch {
    // already gone
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // ignore
    }
  }
  return true;
}

export function acquireLockSync(path: string, opts: LockOptions = {}): () => void {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // Its holder can only go on once this thread is free: waiting here would never end.
  if (heldHere.has(path)) {
    throw new GtError(`this process already holds the lock on ${opts.what ?? path} in an async writer: a synchronous wait for it cannot end`, { hint: 'use the Async variant (transactionAsync, withLock) in this process' });
  }
  const token = `${process.pid} ${Math.random().toString(36).slice(2)}`;
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    if (tryCreate(path, token)) break;
    if (takeOverIfDead(path, token)) continue;
    if (Date.now() > deadline) throw timedOut(path, timeoutMs, opts);
    sleepSync(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 50);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (readHolder(path) === token) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };
}

export function withLockSync<T>(path: string, fn: () => T, opts: LockOptions = {}): T {
  const release = acquireLockSync(path, opts);
  try {
    return fn();
  } finally {
    release();
  }
}

/**
 * This process's waiters for each lock path, first come first served. Only the head of a queue
 * polls the lock file (against other processes); a release hands the lock straight to the next
 * waiter here, so a busy lock in a long-lived process (the worker's rig repository lock) is
 * neither lost between polls nor taken again and again by whoever polls luckiest.
 */
const waiters = new Map<string, Array<() => void>>();
/** Lock paths an async holder of this process has (it may be awaiting I/O under the lock). */
const heldHere = new Set<string>();

function passOn(path: string): void {
  const queue = waiters.get(path);
  const next = queue?.shift();
  if (next) next();
  else waiters.delete(path);
}

function timedOut(path: string, timeoutMs: number, opts: LockOptions): GtError {
  const holder = readHolder(path)?.split(' ')[0] ?? '?';
  return new GtError(`timed out after ${timeoutMs} ms waiting for the lock on ${opts.what ?? path} (held by pid ${holder})`, {
    hint: `if no such process is running, remove ${path}`,
  });
}

/**
 * Async acquire: polls (1 ms doubling to 50 ms) without blocking the event loop, so a
 * long-lived process can wait for a lock while it keeps serving other work. Waiters of the same
 * process queue in order behind each other (see `waiters`).
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => void> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const token = `${process.pid} ${Math.random().toString(36).slice(2)}`;
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const queue = waiters.get(path);
  if (queue) {
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(turn), 1);
        reject(timedOut(path, timeoutMs, opts));
      }, timeoutMs);
      queue.push(turn);
    });
  } else {
    waiters.set(path, []);
  }
  try {
    let wait = 1;
    while (!tryCreate(path, token)) {
      if (takeOverIfDead(path, token)) continue;
      if (Date.now() > deadline) throw timedOut(path, timeoutMs, opts);
      await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
      wait = Math.min(wait * 2, 50);
    }
  } catch (err) {
    passOn(path);
    throw err;
  }
  heldHere.add(path);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(path);
    if (readHolder(path) === token) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
    passOn(path);
  };
}

/** Async variant for long-held locks (service start-up) and async callers. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    release();
  }
}

export { processAlive };
