import { NativeConnection, Worker } from '@temporalio/worker';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createActivities } from '../activities/index.js';
import { lazyClient } from '../activities/client.js';
import { startRelay } from '../relay/server.js';
import { useLauncher } from '../activities/launcher.js';
import { readRigs } from '../town/layout.js';
import { freezeProcessEnv } from '../town/env.js';
import { readRigSettings } from '../town/settings.js';
import { rigTaskQueue, type EngineConfig } from './config.js';

/** Where a rig's agents run: on the town's own worker (default) or only on `gt worker` hosts. */
export type RunOn = 'town' | 'workers';
export const RUN_ON_VALUES: readonly RunOn[] = ['town', 'workers'];

export function rigRunsOn(root: string, rig: string): RunOn {
  return readRigSettings(root, rig).run_on === 'workers' ? 'workers' : 'town';
}

/**
 * What a worker process serves.
 * - `town`: the town's orchestration queue (convoys, dispatchers, formulas, mountains): what
 *   `gt up` starts, as the parent of the `town-rigs` process.
 * - `town-rigs`: the queues of the rigs that run on the town (their refineries and agents), in a
 *   process of their own beside the town's, so a merge batch's git work and agent sessions
 *   starting and stopping never hold up a dispatch (they share the machine's cores, not one
 *   event loop). Rigs added or moved here (`gt rig run-on <rig> town`) are picked up.
 * - `rig-host`: `gt worker` on any machine: only `rigs` (undefined: every rig that runs on workers).
 */
export type WorkerRole = 'town' | 'town-rigs' | 'rig-host';

export interface WorkerOptions {
  root: string;
  config: EngineConfig;
  role: WorkerRole;
  /** A rig host: only these rigs' queues (undefined: every rig that runs on workers). */
  rigs?: string[];
  /** How this host is named in `gt status` (default: the machine's host name). */
  host?: string;
  /** `--workflow-bundle <file>`: run another build's workflows (a rolling upgrade, or its test). */
  codePath: string;
  /** Called once every queue this process serves at start is polled. */
  onReady?: (queues: string[]) => void;
}

/** The identity a worker shows the server: `<pid>@<host>`, as the SDK's default, with our host name. */
export function workerIdentity(host: string = hostname()): string {
  return `${process.pid}@${host}`;
}

/**
 * A worker process: the prebuilt workflow bundle plus our activities, polling the town's
 * orchestration task queue or the task queues of rigs (a rig's refinery and agents run where
 * its worktrees are), as its role says. Rigs added while it runs are picked up, and a rig moved
 * to or from the rig hosts (`gt rig run-on`) is dropped or taken. Stops cleanly on SIGTERM;
 * resolves when every queue's worker has stopped, and throws the error of a worker that failed.
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const { root, config } = opts;
  freezeProcessEnv();
  const connection = await NativeConnection.connect({ address: config.address });
  // Commands are started from a small process of their own, never forked from this big one.
  useLauncher(fileURLToPath(new URL('../launcher.js', import.meta.url)));
  const activities = createActivities(root);
  const town = opts.role === 'town';
  // The agents this process starts send their `gt done`/`gt handoff` here, and they go on over
  // this process's engine connection (the town's worker starts no agents).
  const relay = town ? undefined : await startRelay(root, lazyClient(root));
  const identity = workerIdentity(opts.host);

  const createWorker = (taskQueue: string): Promise<Worker> =>
    Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue,
      identity,
      workflowBundle: { codePath: opts.codePath },
      activities,
      // An agent session is an activity for as long as the agent works: with one slot each, a
      // rig of 200 busy agents would leave no slot for their own `gt done` (the sessions wait on
      // it, it waits on a slot). Slots are cheap; sessions are capped by max_polecats_per_rig.
      maxConcurrentActivityTaskExecutions: 1000,
      maxConcurrentWorkflowTaskExecutions: 100,
      shutdownGraceTime: '10s',
      // A worker that died leaves its sticky queue behind; fall back to the shared queue quickly.
      stickyQueueScheduleToStartTimeout: '2s',
      // A workflow activation still running after this long is taken for a deadlock and cut off,
      // and on Node 20 the cut can corrupt the workflow thread's async hooks and kill the whole
      // worker ("async hook stack has become corrupted"). The SDK's 5 s was hit at 200 agents on
      // two cores (load 25), where activations of a few ms of CPU waited seconds for a core. Our
      // workflows never loop without awaiting; a minute still catches one that did. (An option
      // of the SDK's compiled options, not yet in WorkerOptions' type.) A worker started with
      // workerProcessArgs() runs its workflow threads without this per-call timer and keeps the
      // same minute with the activation clock instead (temporal/activation-clock.ts): cheaper.
      ...({ isolateExecutionTimeout: '60s' } as Record<string, unknown>),
    });

  const running = new Map<string, { worker: Worker; done: Promise<void> }>();
  let stopping = false;
  let failure: unknown;
  // The town-rigs process may serve no queue for a while (a town without rigs yet): it lives
  // until it is told to stop, or one of its workers fails.
  let wake = (): void => undefined;
  const stopAsked = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (): void => wake();
  if (opts.role === 'town-rigs') for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, onSignal);

  /** A worker that fails takes the others down with it, so the process exits and can be restarted whole. */
  const start = (queue: string, worker: Worker): void => {
    const done = worker.run().catch((err) => {
      failure ??= err;
      stopping = true;
      wake();
      for (const { worker: w } of running.values()) if (w.getState() === 'RUNNING') w.shutdown();
    });
    running.set(queue, { worker, done });
  };

  /** The rig queues this process should serve now. */
  const wantedRigQueues = (): Map<string, string> => {
    if (town) return new Map();
    const rigs = Object.keys(readRigs(root).rigs);
    const mine = opts.role === 'town-rigs'
      ? rigs.filter((r) => rigRunsOn(root, r) === 'town')
      : (opts.rigs ?? rigs.filter((r) => rigRunsOn(root, r) === 'workers'));
    return new Map(mine.map((r) => [rigTaskQueue(config, r), r]));
  };

  const syncRigQueues = async (): Promise<void> => {
    let wanted: Map<string, string>;
    try {
      wanted = wantedRigQueues();
    } catch {
      // rigs.json or a rig's settings is being rewritten; look again on the next tick
      return;
    }
    for (const queue of wanted.keys()) {
      if (stopping || running.has(queue)) continue;
      const worker = await createWorker(queue);
      if (stopping) return;
      start(queue, worker);
    }
    // A rig moved to the rig hosts: the town's rig process lets go of its queue (in-flight tasks finish).
    if (opts.role === 'town-rigs') {
      for (const [queue, entry] of running) {
        if (wanted.has(queue)) continue;
        running.delete(queue);
        if (entry.worker.getState() === 'RUNNING') entry.worker.shutdown();
        void entry.done;
      }
    }
  };

  if (town) start(config.taskQueue, await createWorker(config.taskQueue));
  await syncRigQueues();
  let syncing = false;
  const watcher = town ? undefined : setInterval(() => {
    if (syncing || stopping) return;
    syncing = true;
    syncRigQueues()
      .catch((err) => process.stderr.write(`worker: cannot poll a rig queue: ${(err as Error).message}\n`))
      .finally(() => (syncing = false));
  }, 2000);
  opts.onReady?.([...running.keys()]);
  // Every worker stops on SIGTERM/SIGINT (the SDK's runtime handles the signal for all of them).
  // The town's worker lives as long as its orchestration queue's; the town-rigs process until it
  // is stopped; a rig host as long as any of its queues'.
  if (town) await running.get(config.taskQueue)!.done;
  else if (opts.role === 'town-rigs') await stopAsked;
  else await Promise.race([...running.values()].map((r) => r.done));
  stopping = true;
  clearInterval(watcher);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.off(signal, onSignal);
  for (const { worker } of running.values()) if (worker.getState() === 'RUNNING') worker.shutdown();
  await Promise.allSettled([...running.values()].map((r) => r.done));
  await relay?.close();
  await connection.close();
  if (failure) throw failure;
}
