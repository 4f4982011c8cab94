/**
 * The launcher: a small process the worker starts its commands from (see
 * activities/launcher.ts). Starting a process forks its parent, and a fork costs in proportion
 * to the parent's memory: 15-25 ms of the worker's one thread (300-400 MB) a command, during
 * which no workflow task or activity of any run moves on. Forked from this process (a few tens
 * of MB) the same start costs a few ms, on the other core, and the worker only sends a message.
 *
 * Messages (IPC, JSON): first the `base` environment, then `spawn` requests (their environment told against it); `started` (with the pid) or `error`, then `exit`.
 * SIGTERM and SIGINT are the worker's to handle (its shutdown waits for in-flight commands
 * started here): this process ends when the worker's end of the channel closes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { applyEnvDelta, type LaunchBase, type LaunchReply, type LaunchRequest } from './activities/launcher.js';

const send = (reply: LaunchReply): void => {
  if (process.connected) process.send!(reply);
};

/** The environment requests are told against (the worker's first message). */
let base: Record<string, string> = {};

function start(req: LaunchRequest): void {
  const env = applyEnvDelta(base, req.env);
  if (req.capture) {
    const child = execFile(req.command, req.args, { cwd: req.cwd, env, maxBuffer: req.maxBuffer, timeout: req.timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; killed?: boolean; signal?: string }) | null;
      send({ t: 'exit', id: req.id, code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr, ...(e ? { error: { message: e.message, code: e.code as string | number | undefined, killed: e.killed } } : {}) });
    });
    if (child.pid !== undefined) send({ t: 'started', id: req.id, pid: child.pid });
    return;
  }
  let out: number | undefined;
  let input: number | undefined;
  let child: ChildProcess;
  try {
    out = req.out ? openSync(req.out, 'a') : undefined;
    input = req.stdin ? openSync(req.stdin, 'r') : undefined;
    child = spawn(req.command, req.args, { cwd: req.cwd, env, detached: req.detached, stdio: [input ?? 'ignore', out ?? 'ignore', out ?? 'ignore'] });
  } catch (err) {
    send({ t: 'error', id: req.id, message: (err as Error).message, code: (err as { code?: string }).code });
    return;
  } finally {
    if (out !== undefined) closeSync(out);
    if (input !== undefined) closeSync(input);
  }
  child.once('error', (err) => {
    if (child.pid === undefined) send({ t: 'error', id: req.id, message: err.message, code: (err as { code?: string }).code });
  });
  if (child.pid !== undefined) send({ t: 'started', id: req.id, pid: child.pid });
  child.once('exit', (code, signal) => send({ t: 'exit', id: req.id, code, signal }));
}

process.on('message', (msg: LaunchRequest | LaunchBase) => {
  if (msg.t === 'base') base = msg.env;
  else start(msg);
});
process.on('disconnect', () => process.exit(0));
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);
