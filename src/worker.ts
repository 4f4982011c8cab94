import { NativeConnection, Worker } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActivities } from './activities/index.js';
import { engineConfig, rigTaskQueue } from './temporal/config.js';
import { serviceFiles } from './temporal/services.js';
import { readRigs, requireTownRoot } from './town/layout.js';

/**
 * The worker process: the prebuilt workflow bundle plus our activities, polling the town's
 * orchestration task queue and one task queue per rig (a rig's refinery and agents run where
 * its worktrees are). Rigs added while it runs are picked up. Started in the background by
 * `gt up`; stops cleanly on SIGTERM.
 */
const root = requireTownRoot();
const config = engineConfig(root);
const connection = await NativeConnection.connect({ address: config.address });
const activities = createActivities(root);
// `--workflow-bundle <file>`: run another build's workflows (a rolling upgrade, or its test).
const bundleFlag = process.argv.indexOf('--workflow-bundle');
const codePath = bundleFlag > 0 ? process.argv[bundleFlag + 1]! : join(fileURLToPath(new URL('.', import.meta.url)), 'workflow-bundle.js');

async function createWorker(taskQueue: string): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue,
    workflowBundle: { codePath },
    activities,
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    shutdownGraceTime: '10s',
    // A worker that died leaves its sticky queue behind; fall back to the shared queue quickly.
    stickyQueueScheduleToStartTimeout: '2s',
  });
}

const running = new Map<string, Promise<void>>();
const workers: Worker[] = [];
let stopping = false;
let failure: unknown;

/** A worker that fails takes the others down with it, so the process exits and can be restarted whole. */
function start(queue: string, worker: Worker): void {
  workers.push(worker);
  running.set(queue, worker.run().catch((err) => {
    failure ??= err;
    stopping = true;
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  }));
}

async function pollRigQueues(): Promise<void> {
  let rigs: string[];
  try {
    rigs = Object.keys(readRigs(root).rigs);
  } catch {
    // rigs.json is being rewritten by `gt rig add`; look again on the next tick
    return;
  }
  for (const rig of rigs) {
    const queue = rigTaskQueue(config, rig);
    if (stopping || running.has(queue)) continue;
    const worker = await createWorker(queue);
    if (stopping) return;
    start(queue, worker);
  }
}

start(config.taskQueue, await createWorker(config.taskQueue));
await pollRigQueues();
let polling = false;
const watcher = setInterval(() => {
  if (polling) return;
  polling = true;
  pollRigQueues()
    .catch((err) => process.stderr.write(`worker: cannot poll a new rig queue: ${(err as Error).message}\n`))
    .finally(() => (polling = false));
}, 2000);
writeFileSync(serviceFiles(root, 'worker').ready, `${process.pid}\n`);
// Every worker stops on SIGTERM/SIGINT (the SDK's runtime handles the signal for all of them).
await running.get(config.taskQueue);
stopping = true;
clearInterval(watcher);
await Promise.allSettled([...running.values()]);
await connection.close();
if (failure) throw failure;
