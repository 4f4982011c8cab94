import { readTownJson } from '../town/layout.js';
import { engineConfig } from './config.js';
import { servicePid } from './services.js';

/** Server, UI, worker and their health, for `gt status` and `gt up`. */
export async function townStatus(root: string) {
  const config = engineConfig(root);
  const serverPid = config.external ? undefined : servicePid(root, 'temporal');
  const workerPid = servicePid(root, 'worker');
  let healthy = false;
  let pollers: number | undefined;
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
        pollers = tq.pollers?.length ?? 0;
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
    worker: { running: Boolean(workerPid), pid: workerPid, taskQueue: config.taskQueue, pollers },
  };
}
