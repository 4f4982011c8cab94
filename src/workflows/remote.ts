import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { TownCommand, TownCommandResult } from '../remote/commands.js';
import { TOWN_ACTIVITIES } from '../remote/protocol.js';

/**
 * One command of an agent on a host without the town folder (`gt hook`, `bd update`, `gt done`,
 * …), run in the town folder by the town's worker. Its workflow id is the call's idempotency key
 * (remote/client.ts): a call tried again after a dropped link attaches to this run and gets its
 * result, so the command runs once. A write is run at most once (a town worker lost mid-write
 * fails the call rather than run it a second time); a read is tried again.
 */
export async function townCommandWorkflow(cmd: TownCommand, opts: { write: boolean }): Promise<TownCommandResult> {
  const { runTownCommand } = wf.proxyActivities<Activities>({
    startToCloseTimeout: '11m',
    heartbeatTimeout: '30s',
    retry: opts.write ? { maximumAttempts: 1 } : { initialInterval: '1s', maximumAttempts: 5, nonRetryableErrorTypes: ['RefusedCommand'] },
  });
  return runTownCommand(cmd);
}

/**
 * An activity a rig host without the town folder has the town run (remote/forward.ts): one of
 * TOWN_ACTIVITIES, on the town's queue, with the retries of the activity it stands for (each is
 * safe to run again). Its workflow id comes from the rig host's activity, so that activity's
 * retry attaches here rather than run it twice.
 */
export async function townActivityWorkflow(activity: string, args: unknown[]): Promise<unknown> {
  if (!(TOWN_ACTIVITIES as readonly string[]).includes(activity)) {
    throw wf.ApplicationFailure.nonRetryable(`${activity} is not an activity a rig host may have the town run (${TOWN_ACTIVITIES.join(', ')})`, 'RefusedActivity');
  }
  const acts = wf.proxyActivities<Record<string, (...a: unknown[]) => Promise<unknown>>>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 30, nonRetryableErrorTypes: ['RigHostRefused'] },
  });
  return acts[activity]!(...args);
}
