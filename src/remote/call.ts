import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';

/**
 * Run a short workflow once per id and get its result: a first try starts it, a try after a
 * dropped link attaches to it while it runs (conflict policy USE_EXISTING) or reads the result of
 * the run that finished (reuse policy REJECT_DUPLICATE), for as long as the namespace keeps it.
 * With `againIfFailed`, a run that failed (or timed out) is started afresh instead
 * (ALLOW_DUPLICATE_FAILED_ONLY): for calls that are safe to repeat, whose caller retries them.
 */
export async function callOnce<T>(client: Client, call: { workflowId: string; taskQueue: string; workflowType: string; args: unknown[]; summary?: string; againIfFailed?: boolean }): Promise<T> {
  try {
    await client.workflow.start(call.workflowType, {
      workflowId: call.workflowId,
      taskQueue: call.taskQueue,
      args: call.args,
      workflowIdReusePolicy: call.againIfFailed ? 'ALLOW_DUPLICATE_FAILED_ONLY' : 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A town whose worker never comes (stopped, gone) fails the call in the end rather than hold it for ever.
      workflowExecutionTimeout: '30m',
      ...(call.summary ? { staticSummary: call.summary } : {}),
    });
  } catch (err) {
    // This id ran already (a try whose answer was lost): its result is this call's.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return (await client.workflow.getHandle(call.workflowId).result()) as T;
}
