import { NativeConnection, Worker } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActivities } from './activities/index.js';
import { engineConfig } from './temporal/config.js';
import { serviceFiles } from './temporal/services.js';
import { requireTownRoot } from './town/layout.js';

/**
 * The worker process: the prebuilt workflow bundle plus our activities, polling the town's
 * orchestration task queue. Started in the background by `gt up`; stops cleanly on SIGTERM.
 */
const root = requireTownRoot();
const config = engineConfig(root);
const connection = await NativeConnection.connect({ address: config.address });
const worker = await Worker.create({
  connection,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  workflowBundle: { codePath: join(fileURLToPath(new URL('.', import.meta.url)), 'workflow-bundle.js') },
  activities: createActivities(root),
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentWorkflowTaskExecutions: 100,
  shutdownGraceTime: '10s',
  // A worker that died leaves its sticky queue behind; fall back to the shared queue quickly.
  stickyQueueScheduleToStartTimeout: '2s',
});
writeFileSync(serviceFiles(root, 'worker').ready, `${process.pid}\n`);
await worker.run();
await connection.close();
