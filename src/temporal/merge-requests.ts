import type { Client } from '@temporalio/client';
import { rigTaskQueue, type EngineConfig } from './config.js';
import { GtKind, GtRig, GtStatus } from './search-attributes.js';
import {
  MERGE_REQUEST_SIGNAL,
  REFINERY_WORKFLOW,
  refineryWorkflowId,
  type MergeRequest,
  type RefineryInput,
} from './merge-protocol.js';

export * from './merge-protocol.js';

/**
 * Hand a finished polecat branch to the rig's merge queue. Signal-with-start: the refinery
 * workflow is created on the first request and every later request joins its queue, so a
 * submission never depends on the refinery having been started first.
 */
export async function submitMergeRequest(client: Client, config: EngineConfig, rig: string, mr: MergeRequest): Promise<void> {
  const input: RefineryInput = { rig };
  await client.workflow.signalWithStart(REFINERY_WORKFLOW, {
    workflowId: refineryWorkflowId(rig),
    taskQueue: rigTaskQueue(config, rig),
    args: [input],
    signal: MERGE_REQUEST_SIGNAL,
    signalArgs: [mr],
    typedSearchAttributes: [
      { key: GtKind, value: 'refinery' },
      { key: GtRig, value: rig },
      { key: GtStatus, value: 'running' },
    ],
    staticSummary: `merge queue of rig ${rig}`,
  });
}
