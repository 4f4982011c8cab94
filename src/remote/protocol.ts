/** What a rig host and the town say to each other through the engine; import-free, so workflows use it too. */

/**
 * The activities a rig host without the town folder (a rig host home, remote/home.ts) has the
 * town run for it, because they read or write the ledgers, mail or the town's run files: the
 * workflow `townActivityWorkflow` runs only these on the town's queue.
 */
export const TOWN_ACTIVITIES = [
  'rigHostSetup',
  'claimPolecatWork',
  'polecatRunInfo',
  'commentOnPolecatBead',
  'notePolecatAttempt',
  'releasePolecatHook',
  'blockPolecatBead',
  'polecatBeadUsage',
  'refineryRecordMerged',
  'refineryRecordMergedBatch',
  'refineryRecordRejected',
  'missingBeads',
  'recordTownEvent',
] as const;
export type TownActivity = (typeof TOWN_ACTIVITIES)[number];
