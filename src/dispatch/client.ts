import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { GtError } from '../errors.js';
import type { EngineConfig } from '../temporal/config.js';
import { GtKind, GtRig } from '../temporal/search-attributes.js';
import { DISPATCH_WORKFLOW, RELEASE_SIGNAL, SLING_UPDATE, dispatchWorkflowId, type ReleaseRequest, type SlingReceipt, type SlingRequest } from './types.js';

/**
 * Client side of a rig's dispatcher: one durable request per sling (update-with-start, so the
 * dispatcher starts with its first request) and the release messages. Heavy import (the SDK).
 */

export async function requestSling(client: Client, config: EngineConfig, rig: string, req: SlingRequest): Promise<SlingReceipt> {
  const startWorkflowOperation = new WithStartWorkflowOperation(DISPATCH_WORKFLOW, {
    workflowId: dispatchWorkflowId(rig),
    taskQueue: config.taskQueue,
    args: [{ rig }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: GtKind, value: 'dispatch' },
      { key: GtRig, value: rig },
    ],
    staticSummary: `dispatcher of rig ${rig}`,
    staticDetails: `Who works which bead in rig ${rig}: gt sling and convoys ask here; polecats and the refinery report back.`,
  });
  try {
    return await client.workflow.executeUpdateWithStart<Workflow, SlingReceipt, [SlingRequest]>(SLING_UPDATE, {
      args: [req],
      updateId: req.requestId,
      startWorkflowOperation,
    });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = (err.cause as Error | undefined)?.message ?? err.message;
      throw new GtError(cause, { hint: /cap of/.test(cause) ? 'wait for some to finish (gt polecat list), or raise scheduler.max_polecats_per_rig in settings/config.json' : undefined });
    }
    throw err;
  }
}

/** Tell the dispatcher that beads (or a whole polecat) are nobody's any more; nothing to do when it never ran. */
export async function releaseInDispatcher(client: Client, rig: string, req: ReleaseRequest): Promise<void> {
  try {
    await client.workflow.getHandle(dispatchWorkflowId(rig)).signal(RELEASE_SIGNAL, req);
  } catch (err) {
    if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
  }
}
