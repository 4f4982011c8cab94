/**
 * The merge queue as seen from outside its workflow: its query and the state the query returns,
 * the outcome of one merge, per-run settings. Free of Node and SDK imports, so the workflow,
 * activities and CLI all share it.
 */
import type { MergeRequest } from '../temporal/merge-protocol.js';

/**
 * The protocol shared with the polecat side (signal names, MergeRequest, MergeRejection,
 * workflow ids) lives in temporal/merge-protocol.ts; this adds the queue's own view.
 */
export {
  MERGE_REJECTED_SIGNAL,
  MERGE_REQUEST_SIGNAL,
  REFINERY_WORKFLOW as REFINERY_WORKFLOW_TYPE,
  polecatWorkflowId,
  refineryWorkflowId,
  type MergeRejection,
  type MergeRequest,
} from '../temporal/merge-protocol.js';

/** Query returning RefineryState (`gt mq list`). */
export const REFINERY_QUEUE_QUERY = 'queue';

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
