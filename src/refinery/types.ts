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

/** A batch's stage: rebasing its requests into one candidate, testing it, finding a culprit, pushing, closing beads. */
export type BatchStage = 'preparing' | 'testing' | 'bisecting' | 'pushing' | 'recording' | 'done';

/** One run of the test command on a batch: the candidate holds the batch's first `upTo` accepted requests. */
export interface BatchTest {
  upTo: number;
  /** The last bead of the tested prefix. */
  bead: string;
  result: 'running' | 'green' | 'red';
}

/**
 * A batch of the merge queue: requests taken together, rebased in arrival order into one
 * candidate, tested once, pushed in one push; on a red test, bisected (`tests` is the path).
 */
export interface BatchRecord {
  /** `b<n>`, counted across the queue's life (continue-as-new carries the count). */
  id: string;
  stage: BatchStage;
  /** The requests taken, in arrival order; each record's status says what became of it. */
  members: MergeRecord[];
  /** The default branch's commit the candidate was built on. */
  base?: string;
  tests: BatchTest[];
  /** The request found to turn the test red (sent back alone). */
  culprit?: string;
  /** The default branch after this batch's push. */
  pushedSha?: string;
  /** Requests put back at the head of the queue (after the culprit, or behind one they conflict with). */
  requeued: string[];
  startedAt: string;
  endedAt?: string;
}

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
  /** The batch being merged (batched queue). */
  batch?: BatchRecord;
  /** Batches pushed (or given up) whose bookkeeping runs while the next batch is merged. */
  recording?: BatchRecord[];
  /** Finished batches, newest first (bounded). */
  batches?: BatchRecord[];
  /** Batches started so far (names the next one). */
  batchCount?: number;
  /** The size the next batch may have: fixed, or adaptive (doubles after a green batch, halves after a red one). */
  batchSize?: number;
  /** Test command runs spent so far. */
  testRuns?: number;
}

/** Every request the queue holds that is not finished: being merged (alone or in the batch) or waiting. */
export function unfinished(state: RefineryState): MergeRecord[] {
  const batches = [...(state.recording ?? []), ...(state.batch ? [state.batch] : [])];
  return [...(state.current ? [state.current] : []), ...batches.flatMap((b) => b.members.filter((m) => m.status === 'merging')), ...state.pending];
}

/** The workflow's argument: `{ rig }` to start; continue-as-new carries the queue over. */
export interface RefineryInput {
  rig: string;
  carried?: Omit<RefineryState, 'rig' | 'current' | 'batch' | 'recording'>;
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
  /** `merge_queue.batch_size`: a fixed number of requests per batch, or 'adaptive' (the default). Absent in runs recorded before batches. */
  batchSize?: number | 'adaptive';
  /** The largest batch an adaptive queue grows to (`merge_queue.max_batch_size`). */
  maxBatchSize?: number;
  /** Test runs at once while looking for a culprit (`merge_queue.max_concurrent`), each in its own worktree. */
  maxConcurrent?: number;
  /** Limit for one test run, in ms. */
  testTimeoutMs?: number;
}

/** What the batch's preparation made of each request, in arrival order. */
export interface PreparedBatch {
  defaultBranch: string;
  base: string;
  /** Rebased one after another onto base: `sha` is the candidate's tip with this request and all accepted before it. */
  accepted: { bead: string; sha: string }[];
  /** Sent back before any test (conflict with the default branch, nothing to merge, branch or bead gone). */
  rejected: { bead: string; kind: RejectKind; reason: string }[];
  /** Clean on the default branch but conflicting with a request ahead of it in this batch: it waits for the next batch. */
  deferred: string[];
}

export type TestOutcome = { ok: true } | { ok: false; reason: string };

export type PushOutcome = { pushed: true; alreadyPushed: boolean } | { pushed: false; reason: string };

/** The identity of a request: a re-submitted bead after a rejection is a new request. */
export function mergeRequestKey(mr: Pick<MergeRequest, 'bead' | 'branch' | 'submittedAt'>): string {
  return `${mr.bead}\u0000${mr.branch}\u0000${mr.submittedAt}`;
}

/** The tests a batch ran, in order: its bisect path, e.g. "1-8 red, 1-4 green, 1-6 red, 1-5 red". */
export function bisectPath(b: Pick<BatchRecord, 'tests'>): string {
  return b.tests.map((t) => `1-${t.upTo} ${t.result}`).join(', ');
}
