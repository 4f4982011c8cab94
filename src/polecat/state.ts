/**
 * What a polecat workflow looks like from outside: its input, messages and query answer.
 * Import-free so the workflow, activities and CLI share it.
 *
 * A polecat is a durable identity (`polecat/<rig>/<name>`): a long-lived workflow that works one
 * bead at a time in its worktree `<rig>/polecats/<name>`, then waits idle for the next. Work
 * arrives by the `assign` signal (from `gt sling`, by signal-with-start) or by `mergeRejected`
 * (from the refinery: the same bead comes back with the reason).
 */

export const ASSIGN_SIGNAL = 'assign';
export const UNSLING_SIGNAL = 'unsling';
export const DONE_UPDATE = 'done';
export const HANDOFF_UPDATE = 'handoff';
export const POLECAT_QUERY = 'polecatState';
/** From the session activity: the agent waits at a prompt for input (or no longer does), or reached its ready prompt. */
export const AGENT_STATUS_SIGNAL = 'agentStatus';
export const POLECAT_WORKFLOW = 'polecatWorkflow';

export type DoneStatus = 'COMPLETED' | 'ESCALATED' | 'DEFERRED';
export const DONE_STATUSES: readonly DoneStatus[] = ['COMPLETED', 'ESCALATED', 'DEFERRED'];

export interface PolecatInput {
  rig: string;
  name: string;
  /** Work not yet started, carried over a continue-as-new. */
  queue?: WorkItem[];
  /** bead → how many times the merge queue sent it back, carried over a continue-as-new. */
  rejections?: Record<string, number>;
  /** The rig's heartbeat_timeout as last read, carried over a continue-as-new. */
  heartbeatMs?: number;
}

export interface WorkItem {
  bead: string;
  /** `sling`: a new bead (already hooked by `gt sling`); `rework`: sent back by the merge queue. */
  kind: 'sling' | 'rework';
  agent?: string;
  headless?: boolean;
  formula?: string;
  vars?: Record<string, string>;
  /** For rework: why the merge queue refused the branch. */
  reason?: string;
  /** Who slung it and when (ISO). */
  by?: string;
  at?: string;
  /** The rig's heartbeat_timeout when it was slung: how fast a lost worker is noticed while the worktree is made. */
  heartbeatMs?: number;
}

export type PolecatStatus = 'idle' | 'preparing' | 'working' | 'submitting' | 'stopping';

export interface AttemptRecord {
  attempt: number;
  startedAt: string;
  endedAt?: string;
  /** done | exited | stalled | failed-start | handoff | unslung */
  outcome?: string;
  detail?: string;
}

/** A session that shows a trust, permission or input prompt: waiting, not stalled. */
export interface AwaitingInput {
  kind: 'trust' | 'permission' | 'input';
  /** The prompt as the screen shows it (its lines joined by " / "). */
  text: string;
  /** Since when (ISO). */
  since: string;
  /** The keys gt pressed to answer it (the runtime's known remedy), if any. */
  answeredWith?: string;
  /** Set once the Mayor was told a person is needed (ISO). */
  escalatedAt?: string;
}

export interface AgentStatusNotice {
  bead: string;
  attempt: number;
  /** null: the prompt is gone. */
  awaiting?: AwaitingInput | null;
  /** When the session showed its ready prompt (ISO): sent by session activities of earlier builds, kept for them (the `session.ready` event says it now). */
  readyAt?: string;
}

export interface CurrentWork extends WorkItem {
  /** The current session waits at a prompt for input. */
  awaiting?: AwaitingInput;
  /** When the current session showed its ready prompt (ISO), if a session activity of an earlier build said so. */
  readyAt?: string;
  worktree?: string;
  branch?: string;
  attempt: number;
  attempts: AttemptRecord[];
  session?: string;
  startedAt: string;
}

/** What the bead's agent sessions spent, from the runtime's own records (Claude Code transcripts). */
export interface SessionsUsage {
  tokens: number;
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
  /** USD, when every model's price is known. */
  usd?: number;
  /** Sessions with figures. */
  sessions: number;
}

export interface WorkResult {
  bead: string;
  outcome: 'submitted' | 'escalated' | 'deferred' | 'blocked' | 'unslung' | 'skipped';
  detail?: string;
  /** Tokens and dollars its sessions spent (runs from 0.3.0 on; absent for runtimes that record none). */
  usage?: SessionsUsage;
  at: string;
}

export interface PolecatState {
  rig: string;
  name: string;
  status: PolecatStatus;
  current?: CurrentWork;
  queue: WorkItem[];
  /** The most recent results, newest last (a few only: the ledger keeps the history). */
  recent: WorkResult[];
  /** Notices of mail sent to this polecat, newest last. */
  mail?: { id: string; from: string; subject: string }[];
}

export interface DoneRequest {
  bead: string;
  status: DoneStatus;
  message?: string;
  /** HEAD of the worktree when `gt done` ran. */
  head?: string;
  /** Commits ahead of the default branch when `gt done` ran. */
  ahead?: number;
}

export interface DoneReceipt {
  polecat: string;
  rig: string;
  bead: string;
  status: DoneStatus;
  branch?: string;
  worktree?: string;
  /** For COMPLETED: the merge request went to this workflow. */
  mergeQueue?: string;
  acceptedAt: string;
}

export interface HandoffRequest {
  note?: string;
}

export interface HandoffReceipt {
  polecat: string;
  bead: string;
  attempt: number;
  acceptedAt: string;
}

export interface UnslingRequest {
  bead: string;
  by?: string;
}

/** Thresholds as milliseconds, read from settings when a piece of work starts. */
export interface PolecatLimits {
  stallMs: number;
  nudgeGraceMs: number;
  maxAttempts: number;
  heartbeatMs: number;
  /** How long a session may take to reach its ready prompt (absent in runs started before 0.3.0: 60 s). */
  startMs?: number;
}

/** The address of a polecat, as used in `assignee` and BD_ACTOR. */
export function polecatAddress(rig: string, name: string): string {
  return `${rig}/polecats/${name}`;
}

export function polecatBranch(name: string, bead: string): string {
  return `polecat/${name}/${bead}`;
}
