import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { engineConfig } from '../temporal/config.js';
import { readTownJson } from '../town/layout.js';
import { callOnce } from './call.js';
import { isRigHostHome } from './commands.js';
import type { TownActivity } from './protocol.js';

/** Have the town run one of its activities for an activity running here. */
export type TownCaller = <T>(activity: TownActivity, args: unknown[]) => Promise<T>;

/**
 * In a rig host home (no town folder here), how an activity has the town do what needs its
 * ledgers: a `townActivityWorkflow` on the town's queue per call, its id made from this
 * activity's own (workflow, run, activity id) and the call's place in it, so a retry of this
 * activity (its worker died, a link dropped) attaches to the calls the earlier try made instead
 * of making them again. Undefined in a town folder: activities do it themselves.
 */
export function townCaller(root: string, getClient: () => Promise<Client>): TownCaller | undefined {
  if (!isRigHostHome(root)) return undefined;
  const town = readTownJson(root).name;
  const taskQueue = engineConfig(root).taskQueue;
  const calls = new WeakMap<object, number>();
  return async <T>(activity: TownActivity, args: unknown[]): Promise<T> => {
    const ctx = Context.current();
    const n = (calls.get(ctx) ?? 0) + 1;
    calls.set(ctx, n);
    const { activityId } = ctx.info;
    const run = ctx.info.workflowExecution!;
    try {
      return await callOnce<T>(await getClient(), {
        workflowId: `act/${town}/${run.workflowId}/${run.runId}/${activityId}/${n}-${activity}`,
        taskQueue,
        workflowType: 'townActivityWorkflow',
        args: [activity, args],
        summary: `${activity} for ${run.workflowId}`,
        // Each is safe to run again: a call that failed for good is made afresh by this activity's retry.
        againIfFailed: true,
      });
    } catch (err) {
      // The town's activity failed for good: this activity fails with its reason (and its own retries decide).
      if (err instanceof WorkflowFailedError) throw new Error(`the town could not ${activity}: ${(err.cause as Error & { cause?: Error })?.cause?.message ?? err.cause?.message ?? err.message}`);
      throw err;
    }
  };
}

/**
 * In a rig host home: the town's event stream gets this host's events too (`gt log` on the town
 * shows where each session ran), each sent once by its own id, without waiting; an event that
 * cannot be sent stays in the home's own stream only. Undefined in a town folder.
 */
export function townEventSender(root: string, getClient: () => Promise<Client>): ((event: Record<string, unknown> & { id: string }) => void) | undefined {
  if (!isRigHostHome(root)) return undefined;
  const town = readTownJson(root).name;
  const taskQueue = engineConfig(root).taskQueue;
  return (event) => {
    const workflowId = `evt/${town}/${createHash('sha256').update(event.id).digest('hex').slice(0, 32)}`;
    void getClient()
      .then((client) => client.workflow.start('townActivityWorkflow', { workflowId, taskQueue, args: ['recordTownEvent', [event]], workflowIdReusePolicy: 'REJECT_DUPLICATE' }))
      .catch((err: Error) => {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) process.stderr.write(`worker: could not send event ${String(event.type)} to the town: ${err.message}\n`);
      });
  };
}
