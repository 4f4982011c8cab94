import type { Client } from '@temporalio/client';
import { readRigs, readTownJson } from '../town/layout.js';
import { engineConfig, rigTaskQueue } from './config.js';
import { townHeartbeatMs, townStalls, type Stall } from './stalls.js';
import { hostname } from 'node:os';
import { processAlive } from '../lock.js';
import { rigWorkerPid, servicePid } from './services.js';

/** A long poll lasts about a minute; a poller not seen for longer than this is gone. */
const POLL_SILENCE_MS = 75_000;

/**
 * Whether a poller the server lists is a live worker: one of this machine's (identity
 * `<pid>@<host>`, the SDK's default) whose process runs, or another machine's seen polling lately.
 */
export function pollerAlive(identity: string, lastAccessMs: number): boolean {
  const m = /^(\d+)@(.+)$/.exec(identity);
  if (m && m[2] === hostname()) return processAlive(Number(m[1]));
  return Date.now() - lastAccessMs < POLL_SILENCE_MS;
}

/** Server, UI, worker and their health, and what is stalled, for `gt status` and `gt up`. */
export async function townStatus(root: string) {
  const config = engineConfig(root);
  const serverPid = config.external ? undefined : servicePid(root, 'temporal');
  const workerPid = servicePid(root, 'worker');
  let healthy = false;
  let pollers: number | undefined;
  let stalePollers: number | undefined;
  let lastPollAgoS: number | undefined;
  let stalls: Stall[] | undefined;
  let workers: WorkerSeen[] | undefined;
  if (config.external || serverPid) {
    try {
      const { connectClient } = await import('./client.js');
      const client = await connectClient(config);
      try {
        await client.connection.workflowService.getSystemInfo({});
        healthy = true;
        const { temporal } = (await import('@temporalio/proto')).default;
        const tq = await client.connection.workflowService.describeTaskQueue({
          namespace: config.namespace,
          taskQueue: { name: config.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        // The server lists a poller for minutes after its worker died: count only live ones.
        const seen = (tq.pollers ?? []).map((p) => ({ identity: p.identity ?? '', at: p.lastAccessTime?.seconds ? Number(p.lastAccessTime.seconds) * 1000 : 0 }));
        const live = seen.filter((p) => pollerAlive(p.identity, p.at));
        pollers = live.length;
        stalePollers = seen.length - live.length;
        const newest = Math.max(0, ...seen.map((p) => p.at));
        if (newest) lastPollAgoS = Math.max(0, Math.round((Date.now() - newest) / 1000));
        // No silent waits: what the engine says is stuck, anywhere in the town.
        const queues = [config.taskQueue, ...Object.keys(readRigs(root).rigs).map((r) => rigTaskQueue(config, r))];
        workers = await townWorkers(client, config.namespace, queues);
        stalls = await townStalls(client, queues, townHeartbeatMs(root)).catch(() => undefined);
      } finally {
        await client.connection.close();
      }
    } catch {
      healthy = false;
    }
  }
  return {
    root,
    town: readTownJson(root).name,
    server: {
      address: config.address,
      namespace: config.namespace,
      external: config.external,
      pid: serverPid,
      running: config.external ? healthy : Boolean(serverPid),
      healthy,
      ui: config.uiAddress,
    },
    worker: { running: Boolean(workerPid), pid: workerPid, rigsPid: rigWorkerPid(root), taskQueue: config.taskQueue, pollers, stalePollers, lastPollAgoS },
    workers,
    stalls,
  };
}

/** A worker process as the server sees it: its identity, host, the queues it polls, when last seen. */
export interface WorkerSeen {
  identity: string;
  host: string;
  queues: string[];
  lastSeenAgoS: number;
  live: boolean;
}

/**
 * Every worker polling the town's queues (the town's own and each rig host), from the task
 * queues' pollers: a worker polls both the workflow and the activity side of each of its queues.
 */
export async function townWorkers(client: Client, namespace: string, queues: string[]): Promise<WorkerSeen[]> {
  const { temporal } = (await import('@temporalio/proto')).default;
  const { TaskQueueKind, TaskQueueType } = temporal.api.enums.v1;
  const seen = new Map<string, { queues: Map<string, number>; at: number }>();
  await Promise.all(queues.flatMap((queue) => [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY].map(async (taskQueueType) => {
    const tq = await client.connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
    });
    for (const p of tq.pollers ?? []) {
      const identity = p.identity ?? '';
      const at = p.lastAccessTime?.seconds ? Number(p.lastAccessTime.seconds) * 1000 : 0;
      const w = seen.get(identity) ?? { queues: new Map<string, number>(), at: 0 };
      w.queues.set(queue, Math.max(w.queues.get(queue) ?? 0, at));
      w.at = Math.max(w.at, at);
      seen.set(identity, w);
    }
  })));
  // A queue a worker stopped polling (a rig moved to the rig hosts) stays listed by the server for
  // minutes: it counts as a live worker's only while polled lately (a long poll lasts about a
  // minute), so one that polls nothing now (the town's rig worker without rigs) lists none. A
  // worker that is gone keeps the queues it polled last.
  const recent = (at: number) => Date.now() - at < POLL_SILENCE_MS;
  return [...seen.entries()]
    .map(([identity, w]) => {
      const live = pollerAlive(identity, w.at);
      return {
        identity,
        host: /^\d+@(.+)$/.exec(identity)?.[1] ?? identity,
        queues: queues.filter((q) => w.queues.has(q) && (recent(w.queues.get(q)!) || !live)),
        lastSeenAgoS: Math.max(0, Math.round((Date.now() - w.at) / 1000)),
        live,
      };
    })
    .sort((a, b) => a.host.localeCompare(b.host) || a.identity.localeCompare(b.identity));
}
