import { Context } from '@temporalio/activity';
import { convoyActivities } from './convoy.js';
import { dispatchActivities } from './dispatch.js';
import { moleculeActivities } from './molecule.js';
import { polecatActivities } from './polecat.js';
import { refineryActivities } from './refinery.js';
import { remoteActivities } from './remote.js';
import { lazyClient } from './client.js';
import { townCaller } from '../remote/forward.js';

/** Every activity the worker registers, bound to the town they act on. */
export function createActivities(root: string) {
  const acts = {
    ...moleculeActivities(root),
    ...polecatActivities(root),
    ...refineryActivities(root),
    ...convoyActivities(root),
    ...dispatchActivities(root),
    ...remoteActivities(root),
  };
  // A rig host without the town folder has the town run what only reads and writes its ledgers.
  const town = townCaller(root, lazyClient(root));
  if (town) for (const name of TOWN_SIDE) Object.assign(acts, { [name]: (...args: unknown[]) => town(name, args) });
  // Heartbeats with details of its own (the stall watch), which a bare beat would wipe.
  return keepAlive(acts, ['runPolecatAgent']);
}

/** Activities of the rig queues that are wholly the ledger's: on a rig host home, the town runs them. */
const TOWN_SIDE = ['notePolecatAttempt', 'releasePolecatHook', 'blockPolecatBead', 'polecatBeadUsage', 'refineryRecordMerged', 'refineryRecordMergedBatch', 'refineryRecordRejected'] as const;

export type Activities = ReturnType<typeof createActivities>;

/**
 * Every activity beats while it runs (waiting on a lock, a slow fetch), so a workflow can give
 * each one a heartbeat timeout within the town's heartbeat_timeout: a worker that dies is
 * noticed that fast, whatever the activity's start-to-close timeout.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function keepAlive<T extends Record<string, (...args: any[]) => Promise<unknown>>>(acts: T, except: string[]): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts)) {
    out[name] = except.includes(name)
      ? fn
      : async (...args: unknown[]) => {
          let ctx: Context | undefined;
          try {
            ctx = Context.current();
          } catch {
            // called outside an activity (a test): nothing to beat for
          }
          const every = ctx?.info.heartbeatTimeoutMs ? Math.max(200, Math.floor(ctx.info.heartbeatTimeoutMs / 3)) : undefined;
          const beat = every ? setInterval(() => ctx!.heartbeat(), every) : undefined;
          try {
            return await fn(...args);
          } finally {
            if (beat) clearInterval(beat);
          }
        };
  }
  return out as T;
}
