import { Context } from '@temporalio/activity';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { tailOf } from '../fsutil.js';
import { processAlive } from '../lock.js';
import { launch } from './launcher.js';

export { tailOf };

/**
 * Run a child process for an activity, so that a worker crash never runs a command twice:
 * - the child runs in its own process group (stopped whole on cancel) and a wrapper shell writes
 *   its exit code to `exitFile` when it ends;
 * - its pid is kept in `pidFile` (written by the wrapper as it starts). The next attempt (after
 *   a worker died) first looks there: a child that already finished is taken at its recorded
 *   exit code, one still running is adopted and waited for; only when neither exists does it
 *   start the command again.
 * The activity heartbeats while it waits and stops the child when the activity is cancelled.
 */
/** What runs: a program with its arguments, or a shell command line. */
export type ChildCommand =
  | { command: string; args: string[]; shell?: undefined }
  /** Run by the wrapper shell itself, in a subshell: one process start less than `/bin/sh -c`. */
  | { shell: string; command?: undefined; args?: undefined };

export type ChildSpec = ChildCommand & {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** Where the pid and exit code are kept, as `<stateFile>.pid` and `<stateFile>.exit`. */
  stateFile: string;
  /** Called on every heartbeat tick; return true to stop waiting (the work is done). */
  onTick?: () => boolean | Promise<boolean>;
  tickMs?: number;
  /** Stop the child after this long (counted from its start, also across an adoption). */
  timeoutMs?: number;
  /** A file the child reads as its standard input (default: none). */
  stdinFile?: string;
  /**
   * Give the child back after this long if it is still running: it goes on, its pid and start
   * records in place, and the result says `handedOver` (a local activity's quick look hands a
   * longer command to a regular activity, which adopts it).
   */
  handOverAfterMs?: number;
};

export interface ChildResult {
  code: number | null;
  /** True when onTick ended the wait before the process exited. */
  finishedByTick: boolean;
  /** True when this attempt took over a child started by an earlier attempt. */
  adopted: boolean;
  /** True when the child was stopped because it ran past timeoutMs. */
  timedOut: boolean;
  /** True when the child still runs, handed back after handOverAfterMs (code is null then). */
  handedOver?: boolean;
  tail: string;
}

/**
 * The wrapper: runs "$@" and records its exit code. The command is never pasted into shell text.
 * The code is one write of a few bytes by the shell itself (no `mv`: one process less a step);
 * a reader that comes between the file's creation and that write sees it empty, which every
 * reader takes as "no code yet".
 */
export const EXIT_RECORDING_WRAPPER = '"$@"; code=$?; printf "%s" "$code" > "$GT_EXIT_FILE"; exit $code';
/**
 * Runs "$@" at the nice value $1, for the whole of its session: the process's own nice, and on
 * Linux with autogroups (most desktops and servers) its session's autogroup too, since there a
 * process's nice weighs only against its own session, and each agent session is one of its own.
 * Where /proc/self/autogroup cannot be written the process's nice is all there is.
 */
export const NICE_WRAPPER = 'n=$1; shift; (printf "%s" "$n" > /proc/self/autogroup) 2>/dev/null; exec nice -n "$n" "$@"';
/**
 * runChild's wrapper also records its own pid first thing, so the record exists from the
 * command's start, whichever process started it and whatever happens to that one right after.
 */
const RECORD_PID = 'printf "%s\\n" "$$" > "$GT_PID_FILE"; ';
const PID_AND_EXIT_RECORDING_WRAPPER = RECORD_PID + EXIT_RECORDING_WRAPPER;
/**
 * The same for a shell command line: run in a subshell of the wrapper (a fork of a small shell,
 * not a start of a new one), with no positional parameters, as `sh -c` would have it; an
 * `exit` or `exec` in it ends the subshell only, so its code is recorded all the same. (`$$` in
 * it is the wrapper's pid.)
 */
const SHELL_LINE_WRAPPER = RECORD_PID + 'c=$1; set --; (eval "$c"); code=$?; printf "%s" "$code" > "$GT_EXIT_FILE"; exit $code';

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}


/**
 * Stop a child that runChild started under `stateFile` and left running (its attempt was cut
 * off without the workflow's cancel reaching it, as a local activity's can be): its group gets
 * SIGTERM, then SIGKILL after `graceMs`, and its records go.
 */
export async function stopChild(stateFile: string, graceMs = 3000): Promise<boolean> {
  const pid = readNumber(`${stateFile}.pid`);
  const running = pid !== undefined && processAlive(pid);
  if (running) {
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    killGroup(pid, 'SIGKILL');
  }
  for (const suffix of ['.pid', '.exit', '.start']) remove(`${stateFile}${suffix}`);
  return running;
}

/** A number kept in a small state file (pid, exit code, time), or undefined when absent or empty. */
export function readNumber(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (!text) return undefined;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Remove a state file that may already be gone. */
export function remove(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone
  }
}

export async function runChild(spec: ChildSpec): Promise<ChildResult> {
  const ctx = Context.current();
  const pidFile = `${spec.stateFile}.pid`;
  const exitFile = `${spec.stateFile}.exit`;
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(dirname(spec.stateFile), { recursive: true });

  const startFile = `${spec.stateFile}.start`;
  const finish = (code: number | null, finishedByTick: boolean, adopted: boolean, timedOut = false): ChildResult => {
    remove(pidFile);
    remove(exitFile);
    remove(startFile);
    return { code, finishedByTick, adopted, timedOut, tail: tailOf(spec.logFile) };
  };

  // An earlier attempt's child that finished after its worker died: take its result.
  const recorded = readNumber(exitFile);
  if (recorded !== undefined) return finish(recorded, false, true);

  let pid = readNumber(pidFile);
  const adopted = pid !== undefined && processAlive(pid);
  let exited: { code: number | null } | undefined;
  let exitPromise: Promise<void>;
  if (adopted) {
    exitPromise = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (!processAlive(pid!)) {
          clearInterval(timer);
          exited = { code: readNumber(exitFile) ?? null };
          resolve();
        }
      }, 200);
    });
  } else {
    remove(exitFile);
    const child = await launch({
      command: '/bin/sh',
      args: spec.shell !== undefined ? ['-c', SHELL_LINE_WRAPPER, 'gt-step', spec.shell] : ['-c', PID_AND_EXIT_RECORDING_WRAPPER, 'gt-step', spec.command, ...spec.args],
      cwd: spec.cwd,
      env: { ...spec.env, GT_PID_FILE: pidFile, GT_EXIT_FILE: exitFile },
      detached: true,
      out: spec.logFile,
      stdin: spec.stdinFile,
    }).catch((err: Error) => {
      throw new Error(`could not start ${spec.command ?? '/bin/sh'} in ${spec.cwd}: ${err.message}`);
    });
    pid = child.pid;
    writeFileSync(startFile, `${Date.now()}\n`);
    exitPromise = child.exited.then((code) => {
      exited = { code };
    });
  }

  const cancelled = new Promise<void>((resolve) => ctx.cancellationSignal.addEventListener('abort', () => resolve()));
  let finishedByTick = false;
  let timedOut = false;
  let handedOver = false;
  const startedAt = readNumber(startFile) ?? Date.now();
  const handOverAt = spec.handOverAfterMs !== undefined ? Date.now() + spec.handOverAfterMs : undefined;
  try {
    // The first beat comes after the first tick: a child that ends sooner costs the engine no
    // heartbeat at all (the first one would go to the server at once). A local activity has no
    // heartbeat of its own.
    for (let tick = 0; !exited; tick++) {
      if (tick > 0 && !ctx.info.isLocal) ctx.heartbeat();
      if (spec.timeoutMs !== undefined && Date.now() - startedAt > spec.timeoutMs) {
        timedOut = true;
        break;
      }
      if (spec.onTick && (await spec.onTick())) {
        finishedByTick = true;
        break;
      }
      if (handOverAt !== undefined && Date.now() >= handOverAt) {
        handedOver = true;
        break;
      }
      const waitMs = Math.min(spec.tickMs ?? 1000, handOverAt !== undefined ? Math.max(0, handOverAt - Date.now()) : Infinity);
      const aborted = await Promise.race([
        exitPromise.then(() => false),
        cancelled.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), waitMs)),
      ]);
      if (aborted) break;
    }
  } finally {
    // Cancelled by the workflow: stop the command. Cancelled because this attempt lost touch
    // with the server (heartbeat timed out, worker shutting down): leave it running for the
    // retry to adopt, so no work is started twice. Handed over: it goes on, for its adopter.
    const abandoned = ctx.cancellationSignal.aborted && !ctx.cancellationDetails?.cancelRequested;
    if (abandoned || (handedOver && !ctx.cancellationSignal.aborted)) {
      // the pid and exit files stay: the next attempt finds them
    } else if (!exited) {
      killGroup(pid!, 'SIGTERM');
      const grace = setTimeout(() => killGroup(pid!, 'SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(grace);
    } else {
      // The command is over; stop anything it left running in its group.
      killGroup(pid!, 'SIGKILL');
    }
  }
  if (ctx.cancellationSignal.aborted) {
    if (ctx.cancellationDetails?.cancelRequested) {
      remove(pidFile);
      remove(exitFile);
    }
    throw ctx.cancellationSignal.reason ?? new Error('cancelled');
  }
  if (handedOver) return { code: null, finishedByTick: false, adopted, timedOut: false, handedOver: true, tail: '' };
  // The wrapper's record is the truth (a shell killed by a signal has no code of its own).
  if (timedOut) return finish(null, false, adopted, true);
  return finish(readNumber(exitFile) ?? exited?.code ?? null, finishedByTick, adopted);
}
