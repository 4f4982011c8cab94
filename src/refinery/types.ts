/**
 * The merge queue as seen from outside its workflow: names of its signals and query, the merge
 * request payload, and the state the query returns. Import-free, so the workflow, activities,
 * CLI and the polecat side all share it.
 */

export const REFINERY_WORKFLOW_TYPE = 'refineryWorkflow';
/** Signal (with start) carrying one MergeRequest. */
export const MERGE_REQUEST_SIGNAL = 'mergeRequest';
/** Query returning RefineryState. */
export const REFINERY_QUEUE_QUERY = 'queue';
/** Signal sent to `polecat/<rig>/<name>` when its work goes back: payload MergeRejection. */
export const MERGE_REJECTED_SIGNAL = 'mergeRejected';

export function refineryWorkflowId(rig: string): string {
  return `refinery/${rig}`;
}

export function polecatWorkflowId(rig: string, polecat: string): string {
  return `polecat/${rig}/${polecat}`;
}

/** What `gt done` submits: a polecat's finished branch for one bead. */
export interface MergeRequest {
  bead: string;
  /** A branch of the rig's repository, e.g. `polecat/toast/gt-abc12`. */
  branch: string;
  /** The polecat's name (not its address): `toast`. */
  polecat: string;
  /** The polecat's worktree, absolute. */
  worktree: string;
  /** ISO time of submission; with bead and branch it identifies the request. */
  submittedAt: string;
}

export interface MergeRejection {
  bead: string;
  reason: string;
}

export type MergeStatus = 'pending' | 'merging' | 'merged' | 'rejected' | 'failed';

/** Why a request went back: conflict, red test, nothing to merge, branch gone, or the merge kept failing. */
export type RejectKind = 'conflict' | 'test' | 'empty' | 'missing-branch' | 'missing-bead' | 'error';

export interface MergeRecord extends MergeRequest {
  status: MergeStatus;
  startedAt?: string;
  endedAt?: string;
  /** The commit the default branch points to after the merge. */
  sha?: string;
  kind?: RejectKind;
  reason?: string;
  /** Whether the polecat's workflow was told of a rejection (false: it was not running). */
  polecatNotified?: boolean;
}

export interface RefineryState {
  rig: string;
  /** Waiting, in arrival order. */
  pending: MergeRecord[];
  /** Being merged now. */
  current?: MergeRecord;
  /** Finished, newest first (bounded). */
  recent: MergeRecord[];
  merged: number;
  rejected: number;
  /** How many times the workflow continued as new (history rollovers). */
  generation: number;
}

/** The workflow's argument: `{ rig }` to start; continue-as-new carries the queue over. */
export interface RefineryInput {
  rig: string;
  carried?: Omit<RefineryState, 'rig' | 'current'>;
}

/** The outcome of one merge attempt (the merge activity's result). */
export type MergeOutcome =
  | { result: 'merged'; sha: string; defaultBranch: string; alreadyPushed: boolean }
  | { result: 'rejected'; kind: RejectKind; reason: string };

/** Per-run knobs, read from the town and rig settings when a run (or continued run) begins. */
export interface RefinerySettings {
  heartbeatTimeout: string;
  /** Continue as new once the history has this many events. */
  historyLimit: number;
  /** Limit for one merge (rebase + test + push), in ms. */
  mergeTimeoutMs: number;
}

/** The identity of a request: a re-submitted bead after a rejection is a new request. */
export function mergeRequestKey(mr: Pick<MergeRequest, 'bead' | 'branch' | 'submittedAt'>): string {
  return `${mr.bead}\u0000${mr.branch}\u0000${mr.submittedAt}`;
}
