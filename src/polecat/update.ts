import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { GtError } from '../errors.js';

/**
 * Send an update to a polecat workflow and wait for its answer. A refusal (the workflow is gone,
 * or its handler or validator said no) becomes the GtError the agent sees; anything else (the
 * engine could not answer) is thrown as it came, for the caller to try again with the same id.
 */
export async function updatePolecatWorkflow<T>(client: Client, workflowId: string, update: string, args: unknown[], updateId: string, what: string): Promise<T> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate<T, [unknown]>(update, { args: args as [unknown], updateId });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new GtError(`${what}: no polecat workflow is running for it`, { hint: 'is the engine up (`gt status`)? was the polecat nuked?' });
    if (err instanceof WorkflowUpdateFailedError) throw new GtError(`${what}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}
