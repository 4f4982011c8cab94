import { Context } from '@temporalio/activity';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { processAlive } from '../lock.js';

/**
 * Run a child process for an activity: in its own process group (so it can be stopped whole),
 * output appended to a log file, heartbeating while it runs, stopped when the activity is
 * cancelled. A pid file lets the next attempt stop a leftover of an attempt whose worker died,
 * so a command never runs twice at the same time.
 */
export interface ChildSpec {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  pidFile: string;
  /** Called on every heartbeat tick; return true to stop waiting (the work is done). */
  onTick?: () => boolean | Promise<boolean>;
  tickMs?: number;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when onTick ended the wait before the process exited. */
  finishedByTick: boolean;
  tail: string;
}

export function stopLeftover(pidFile: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (processAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    unlinkSync(pidFile);
  } catch {
    // gone
  }
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function tailOf(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function runChild(spec: ChildSpec): Promise<ChildResult> {
  const ctx = Context.current();
  stopLeftover(spec.pidFile);
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  const log = openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) {
    await new Promise((r) => child.once('error', r));
    throw new Error(`could not start ${spec.command}: not found or not executable`);
  }
  writeFileSync(spec.pidFile, `${pid}\n`);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', () => {
      exited = exited ?? { code: 127, signal: null };
      resolve();
    });
  });
  const cancelled = new Promise<void>((resolve) => ctx.cancellationSignal.addEventListener('abort', () => resolve()));
  let finishedByTick = false;
  try {
    while (!exited) {
      ctx.heartbeat();
      if (spec.onTick && (await spec.onTick())) {
        finishedByTick = true;
        break;
      }
      const aborted = await Promise.race([
        exitPromise.then(() => false),
        cancelled.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), spec.tickMs ?? 1000)),
      ]);
      if (aborted) break;
    }
  } finally {
    if (!exited) {
      killGroup(pid, 'SIGTERM');
      const grace = setTimeout(() => killGroup(pid, 'SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(grace);
    } else {
      // The shell is gone; stop anything it left running in its group.
      killGroup(pid, 'SIGKILL');
    }
    try {
      unlinkSync(spec.pidFile);
    } catch {
      // gone
    }
  }
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
  return { code: exited?.code ?? null, signal: exited?.signal ?? null, finishedByTick, tail: tailOf(spec.logFile) };
}
