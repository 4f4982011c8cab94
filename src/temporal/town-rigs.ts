import { fork, type ChildProcess } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';

/**
 * The town's worker keeps its rigs (those that run on the town) in a child process of their own
 * (role `town-rigs`, see worker.ts), and looks after it: the child's pid is in
 * `.gt/run/worker-rigs.pid`; a child that dies (kill -9, a deadlocked workflow thread, out of
 * memory) is started again within a second or two (backing off to 30 s while it keeps dying
 * young), and its rigs' work goes on where the engine left it, as after a worker restart. The
 * child exits as soon as its parent is gone (its IPC channel closes), so a kill -9 of the town's
 * worker takes both down and the next `gt up` starts both again: never two of them at once.
 */
export interface TownRigs {
  /** Resolves when the first child polls its queues; rejects if it exits before. */
  ready: Promise<void>;
  /** Stop the child (SIGTERM: it finishes in-flight tasks) and wait until it has exited. */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;
/** A child that ran this long before it died gets restarted at once again, not after a longer wait. */
const HEALTHY_MS = 60_000;

export function superviseTownRigs(script: string, args: string[], pidFile: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): TownRigs {
  let child: ChildProcess | undefined;
  let stopping = false;
  let everReady = false;
  let backoff = 1000;
  let restart: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  let exited: Promise<void> = Promise.resolve();

  const spawnChild = (): void => {
    const started = Date.now();
    // The parent's node flags (the activation clock) and environment (the town's), its stdout and stderr (the worker's log).
    const c = fork(script, ['--town-rigs', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child = c;
    if (c.pid) writeFileSync(pidFile, `${c.pid}\n`);
    c.on('message', (msg: { t?: string }) => {
      if (msg?.t !== 'ready') return;
      everReady = true;
      resolveReady();
    });
    exited = new Promise<void>((resolve) => {
      c.once('exit', (code, signal) => {
        resolve();
        if (child === c) child = undefined;
        if (stopping) return;
        const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
        if (!everReady) {
          rejectReady(new Error(`the town's rig worker (pid ${c.pid}) ${how} before it polled its queues`));
          return;
        }
        backoff = Date.now() - started > HEALTHY_MS ? 1000 : Math.min(backoff * 2, MAX_BACKOFF_MS);
        log(`worker: the rig worker (pid ${c.pid}) ${how}; starting another in ${backoff / 1000} s`);
        restart = setTimeout(spawnChild, backoff);
      });
    });
  };
  spawnChild();

  return {
    ready,
    async stop() {
      stopping = true;
      clearTimeout(restart);
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        // Its workers give in-flight tasks 10 s; then it is cut off.
        const cut = setTimeout(() => c.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(cut);
      }
      try {
        unlinkSync(pidFile);
      } catch {
        // none
      }
    },
  };
}

/** In the child: exit at once when the parent (the town's worker) is gone. */
export function exitWithParent(): void {
  process.on('disconnect', () => {
    process.stderr.write(`worker: the town's worker is gone; the rig worker (pid ${process.pid}) exits\n`);
    process.exit(1);
  });
}
