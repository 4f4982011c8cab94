import { execFile as nodeExecFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { processAlive } from '../lock.js';

/**
 * How activities start processes (step commands, agent sessions' wrappers, git, tmux). In the
 * worker they are started from the launcher (src/launcher.ts), a small process of its own, once
 * `useLauncher` has been called: a fork of the worker itself blocks its one thread for 15-25 ms
 * (it costs in proportion to the worker's memory), holding up every workflow task and activity
 * of every run while it lasts. Elsewhere (the CLI, tests) they are started directly.
 *
 * If the launcher dies, commands it started keep running: a detached one is then followed by
 * its pid until it is gone (its exit code unknown, as for a command adopted after a worker
 * crash; runChild reads the wrapper's record), a captured one fails as a command that could not
 * be run. The next start brings a new launcher up.
 */
export interface LaunchRequest {
  t: 'spawn';
  id: number;
  command: string;
  args: string[];
  cwd?: string;
  /** The command's environment, as the variables that differ from the launcher's base (see LaunchBase). */
  env: EnvDelta;
  /** In a process group of its own (stopped whole with a signal to -pid). */
  detached?: boolean;
  /** A file appended to with the command's stdout and stderr (default: discarded). */
  out?: string;
  /** A file read as its stdin (default: none). */
  stdin?: string;
  /** Collect stdout and stderr and send them with the exit (execFile's way). */
  capture?: boolean;
  maxBuffer?: number;
  timeoutMs?: number;
}

/**
 * The first message to a launcher: the environment its requests are told against. A command's
 * environment is mostly the worker's own, and sent whole it was most of each request's bytes:
 * writing requests to the launcher took 1.39 s of the worker's thread in a 200-bead mountain
 * (3,700 commands), 1.16 s told this way (the rest is the write to the pipe a message).
 */
export interface LaunchBase {
  t: 'base';
  env: Record<string, string>;
}

export interface EnvDelta {
  set: Record<string, string>;
  unset: string[];
}

/** What turns `base` into `env`. */
export function envDelta(base: Record<string, string>, env: NodeJS.ProcessEnv): EnvDelta {
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && base[k] !== v) set[k] = v;
  const unset = Object.keys(base).filter((k) => env[k] === undefined);
  return { set, unset };
}

/** `base` with `delta` applied. */
export function applyEnvDelta(base: Record<string, string>, delta: EnvDelta): Record<string, string> {
  const env = { ...base, ...delta.set };
  for (const k of delta.unset) delete env[k];
  return env;
}

export type LaunchReply =
  | { t: 'started'; id: number; pid: number }
  | { t: 'error'; id: number; message: string; code?: string }
  | {
      t: 'exit';
      id: number;
      code: number | null;
      signal: string | null;
      stdout?: string;
      stderr?: string;
      error?: { message: string; code?: string | number; killed?: boolean };
    };

export interface Launched {
  pid: number;
  /** The exit code (null when killed by a signal, or when the launcher died and only the pid could be followed). */
  exited: Promise<number | null>;
}

let entry: string | undefined;
let launcher: ChildProcess | undefined;
/** The environment the running launcher was told as its base. */
let base: Record<string, string> = {};
let nextId = 0;
interface Pending {
  started: (pid: number) => void;
  failed: (err: Error) => void;
  exited: (reply: Extract<LaunchReply, { t: 'exit' }>) => void;
  pid?: number;
  capture: boolean;
}
const pending = new Map<number, Pending>();

/** Start processes from the launcher whose entry script is `script` (the worker calls this once). */
export function useLauncher(script: string): void {
  entry = script;
}

function theLauncher(): ChildProcess | undefined {
  if (!entry) return undefined;
  if (launcher && launcher.connected) return launcher;
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  launcher = child;
  base = envDelta({}, process.env).set;
  child.send({ t: 'base', env: base } satisfies LaunchBase);
  child.on('message', (reply: LaunchReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    if (reply.t !== 'started') settle(reply.id);
    if (reply.t === 'started') {
      p.pid = reply.pid;
      p.started(reply.pid);
    } else if (reply.t === 'error') {
      const err = new Error(reply.message) as Error & { code?: string };
      err.code = reply.code;
      p.failed(err);
    } else {
      p.exited(reply);
    }
  });
  const lost = () => {
    if (launcher === child) launcher = undefined;
    for (const [id, p] of pending) {
      settle(id);
      if (p.pid === undefined || p.capture) {
        p.failed(new Error('the launcher process ended before the command did'));
        continue;
      }
      // A detached command outlives the launcher: follow it by its pid.
      const pid = p.pid;
      const timer = setInterval(() => {
        if (processAlive(pid)) return;
        clearInterval(timer);
        p.exited({ t: 'exit', id, code: null, signal: null });
      }, 200);
    }
  };
  child.once('exit', lost);
  child.once('disconnect', lost);
  child.once('error', (err) => process.stderr.write(`worker: the launcher process failed: ${err.message}\n`));
  // An idle launcher never keeps its user from exiting; one with commands under way does.
  child.unref();
  channelOf(child)?.unref();
  return child;
}

const channelOf = (child: ChildProcess) => (child as unknown as { channel?: { ref(): void; unref(): void } }).channel;

function settle(id: number): void {
  pending.delete(id);
  if (pending.size === 0 && launcher) channelOf(launcher)?.unref();
}

function request(req: Omit<LaunchRequest, 't' | 'id' | 'env'> & { env: NodeJS.ProcessEnv }, on: Omit<Pending, 'capture' | 'pid'>): boolean {
  const via = theLauncher();
  if (!via) return false;
  const id = nextId++;
  if (pending.size === 0) channelOf(via)?.ref();
  pending.set(id, { ...on, capture: req.capture === true });
  via.send({ t: 'spawn', id, ...req, env: envDelta(base, req.env) } satisfies LaunchRequest);
  return true;
}

/**
 * Start a command whose output goes to a file (or nowhere) and whose exit is all the caller
 * waits for. Resolves once it has started (with its pid); rejects when it could not be started.
 */
export function launch(spec: { command: string; args: string[]; cwd?: string; env: NodeJS.ProcessEnv; detached?: boolean; out?: string; stdin?: string }): Promise<Launched> {
  return new Promise<Launched>((resolve, reject) => {
    let exited!: (code: number | null) => void;
    const exit = new Promise<number | null>((r) => (exited = r));
    const viaLauncher = request(spec, {
      started: (pid) => resolve({ pid, exited: exit }),
      failed: (err) => {
        reject(err);
        exited(null);
      },
      exited: (reply) => exited(reply.code),
    });
    if (viaLauncher) return;
    const out = spec.out !== undefined ? openSync(spec.out, 'a') : undefined;
    const input = spec.stdin !== undefined ? openSync(spec.stdin, 'r') : undefined;
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: spec.detached, stdio: [input ?? 'ignore', out ?? 'ignore', out ?? 'ignore'] });
    } finally {
      if (out !== undefined) closeSync(out);
      if (input !== undefined) closeSync(input);
    }
    child.once('exit', (code) => exited(code));
    if (child.pid === undefined) {
      child.once('error', (err) => reject(err));
      return;
    }
    resolve({ pid: child.pid, exited: exit });
  });
}

export interface ExecError extends Error {
  code?: string | number;
  killed?: boolean;
  signal?: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Node's `execFile` (text output, an error for a non-zero exit or a command that could not be
 * run, carrying `code`, `stdout` and `stderr`), started from the launcher when there is one.
 */
export function execFile(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; maxBuffer?: number; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const fail = (message: string, fields: Partial<ExecError>) => reject(Object.assign(new Error(message), { stdout: '', stderr: '', ...fields }) as ExecError);
    const viaLauncher = request(
      { command, args, cwd: opts.cwd, env: opts.env ?? process.env, capture: true, maxBuffer: opts.maxBuffer ?? 1024 * 1024, timeoutMs: opts.timeoutMs },
      {
        started: () => undefined,
        failed: (err) => fail(err.message, { code: (err as { code?: string }).code ?? 'ELAUNCHER' }),
        exited: (reply) => {
          const stdout = reply.stdout ?? '';
          const stderr = reply.stderr ?? '';
          if (!reply.error) resolve({ stdout, stderr });
          else fail(reply.error.message, { code: reply.error.code, killed: reply.error.killed, signal: reply.signal, stdout, stderr });
        },
      },
    );
    if (viaLauncher) return;
    nodeExecFile(command, args, { cwd: opts.cwd, env: opts.env, maxBuffer: opts.maxBuffer ?? 1024 * 1024, timeout: opts.timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) resolve({ stdout, stderr });
      else reject(Object.assign(err, { stdout, stderr }));
    });
  });
}
