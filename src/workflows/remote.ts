import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { TownCommand, TownCommandResult } from '../remote/commands.js';

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
