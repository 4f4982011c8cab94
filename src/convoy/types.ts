/**
 * Convoys and mountains: names of the workflow and its messages, and the state it answers
 * queries with. Import-free so the workflow, its activities and the CLI share them.
 */

import type { BudgetLimit, ConvoyBudget } from './budget.js';

export const CONVOY_WORKFLOW = 'convoyWorkflow';
export const CONVOY_QUERY = 'convoyState';
export const PAUSE_UPDATE = 'convoyPause';
export const RESUME_UPDATE = 'convoyResume';
export const APPROVE_UPDATE = 'convoyApprove';
export const CANCEL_UPDATE = 'convoyCancel';
/**
 * Something changed: beads it tracks (or beads they depend on) moved on, beads were added, the
 * convoy was reopened. The convoy looks at those beads again (all of them without `beads`).
 */
export const REFRESH_SIGNAL = 'convoyRefresh';

export interface BeadNews {
  /** The beads that changed; none: look at everything. */
  beads?: string[];
  /** What happened, for the Web UI and logs: slung, submitted, merged, rejected, blocked, by hand, ... */
  what?: string;
  /**
   * The changed beads and those that depend on them, as the teller saw them right after its
   * change: a convoy that tracks them needs no look at the ledgers.
   */
  seen?: SnapshotBead[];
}

/** Labels on the convoy bead and on tracked beads. */
export const MOUNTAIN_LABEL = 'mountain';
export const STAGED_LABEL = 'convoy:staged';
export const SKIPPED_LABEL = 'mountain:skipped';
/** Set by the polecat workflow when it gives a bead up after its last session. */
export const POLECAT_FAILED_LABEL = 'polecat:failed';

export const DEFAULT_SKIP_AFTER_FAILURES = 3;

export type ConvoyMode = 'convoy' | 'mountain';

/** Also the GtStatus search attribute. */
export type ConvoyStatus = 'running' | 'paused' | 'stalled' | 'awaiting-approval' | 'over-budget' | 'incomplete' | 'landed' | 'cancelled';

/**
 * Where a tracked bead stands, as the convoy sees it:
 *  waiting  open, blocked by unfinished beads (`blockedBy`)
 *  ready    open and unblocked: will be dispatched when there is room
 *  running  hooked to a polecat, or in the merge queue
 *  closed   done (merged, or closed by hand)
 *  failed   blocked (a polecat gave up, or a person blocked it): needs a person, or the mountain retries it
 *  skipped  a mountain gave up on it (label mountain:skipped)
 *  held     open, but something it depends on failed or was skipped: cannot run until that is fixed
 *  missing  the tracked id is in no ledger
 */
export type BeadPhase = 'waiting' | 'ready' | 'running' | 'closed' | 'failed' | 'skipped' | 'held' | 'missing';

export interface ConvoyBead {
  id: string;
  title: string;
  rig?: string;
  /** Ledger status. */
  status: string;
  phase: BeadPhase;
  polecat?: string;
  /** Dispatches by this convoy. */
  attempts: number;
  /** Failed agent sessions counted against skip_after_failures. */
  failures: number;
  mergedSha?: string;
  blockedBy?: string[];
  wave?: number;
  reason?: string;
  readyAt?: string;
  dispatchedAt?: string;
  closedAt?: string;
  /** Shown by gt convoy show, from the engine (not kept in the workflow): why its polecat is stuck. */
  stalled?: string;
}

export interface ConvoyState {
  convoy: string;
  /** Its budget and what its beads' sessions spent (from `--budget`, raised with `gt convoy budget`). */
  budget?: ConvoyBudget;
  title: string;
  mode: ConvoyMode;
  status: ConvoyStatus;
  owner: string;
  notify: boolean;
  human: boolean;
  maxConcurrent?: number;
  epic?: string;
  startedAt: string;
  landedAt?: string;
  lastProgressAt: string;
  paused?: { by: string; at: string };
  approved?: { by: string; at: string };
  cancelled?: { by: string; at: string; reason?: string };
  stalledSince?: string;
  stallReports: number;
  beads: ConvoyBead[];
  /** Bead ids by wave (wave 1 first) over the beads not yet closed when last planned. */
  waves: string[][];
  counts: Record<BeadPhase, number>;
  /** Beads closed per minute since the first dispatch, and the expected time left. */
  rate?: number;
  etaMs?: number;
  /** Continue-as-new generations (a long mountain's history is cut into runs). */
  generation: number;
  /** Shown by gt convoy show, from the engine (not kept in the workflow): the convoy's own stuck activities. */
  stalls?: string[];
}

export interface ConvoyInput {
  convoy: string;
  /** State carried over a continue-as-new. */
  carried?: ConvoyState;
}

export interface ConvoyReceipt {
  convoy: string;
  status: ConvoyStatus;
  /** Beads still being worked by polecats (they finish; nothing new is sent). */
  running: number;
  at: string;
}

export interface ConvoyActorRequest {
  by: string;
  reason?: string;
}

/** The convoy bead's settings, kept in its metadata. */
export interface ConvoyMeta {
  owner?: string;
  notify?: boolean;
  human?: boolean;
  max_concurrent?: number;
  epic?: string;
  waves?: string[][];
  budget?: BudgetLimit;
}

/** What one look at the ledgers found (the observe activity's result). */
export interface ConvoySnapshot {
  fingerprint: string;
  at: string;
  convoy: {
    id: string;
    title: string;
    status: string;
    labels: string[];
    meta: ConvoyMeta;
  };
  beads: SnapshotBead[];
}

export interface SnapshotBead {
  id: string;
  title: string;
  rig?: string;
  missing?: boolean;
  status: string;
  assignee?: string;
  labels: string[];
  closeReason?: string;
  mergedSha?: string;
  /** Unfinished beads (any ledger of the town) that keep this one from being ready. */
  blockers: string[];
  /** Open again, but a polecat still has it queued (sent back by the merge queue for rework). */
  inFlight?: boolean;
  /** The last comment, for reasons shown in reports. */
  lastComment?: string;
  /** Sessions a polecat of this bead's rig runs before giving up (its failures count this much). */
  maxAttempts?: number;
  /** The bead's updated_at: of two sightings, the newer wins. */
  updatedAt?: string;
}

export interface ConvoySettings {
  stallMs: number;
  heartbeatMs: number;
  pollMs: number;
  skipAfter: number;
}

export interface DispatchResult {
  bead: string;
  result: 'slung' | 'already' | 'no-room' | 'refused';
  polecat?: string;
  reason?: string;
}

export function convoyWorkflowId(convoy: string): string {
  return convoy;
}
