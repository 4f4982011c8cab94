import { readRigs, readTownJson } from '../town/layout.js';
import { engineConfig, rigTaskQueue } from './config.js';
import { townHeartbeatMs, townStalls, type Stall } from './stalls.js';
import { hostname } from 'node:os';
import { processAlive } from '../lock.js';
import { servicePid } from './services.js';

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
    worker: { running: Boolean(workerPid), pid: workerPid, taskQueue: config.taskQueue, pollers, stalePollers, lastPollAgoS },
    stalls,
  };
}
