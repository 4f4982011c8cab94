/** The bead model of SPEC.md. Import-free: workflows, activities and the CLI share it. */

/**
 * Statuses a bead can be given here. `tombstone` is the original's deleted bead: it only arrives
 * by import, stays in the file (so the deletion travels through git), and is hidden from list,
 * ready and search unless asked for (`--all`, `--status tombstone`). An import also keeps a status
 * the original was configured with that is not listed here; such a bead is neither ready nor a
 * blocker.
 */
export const STATUSES = ['open', 'in_progress', 'blocked', 'deferred', 'hooked', 'pinned', 'review', 'closed', 'tombstone'] as const;
export type KnownStatus = (typeof STATUSES)[number];
// `string & {}` keeps editor completion for the known names while any imported name type-checks.
export type Status = KnownStatus | (string & {});

/** Statuses that are done with: hidden from `list` unless `--all`. */
export const FINISHED_STATUSES: readonly string[] = ['closed', 'tombstone'];

/**
 * Statuses of unfinished work: a bead in one of them blocks what depends on it, and can itself be
 * blocked. Closed, tombstone and pinned beads (and custom statuses) do neither, as in the original.
 */
export const ACTIVE_STATUSES: readonly string[] = ['open', 'in_progress', 'blocked', 'deferred', 'hooked', 'review'];

/**
 * The original's built-in issue types. An import keeps any other type as it is (the original
 * lets a town configure custom types); `bd create -t` takes these.
 */
export const ISSUE_TYPES = [
  'task', 'bug', 'feature', 'epic', 'chore', 'decision', 'message', 'molecule', 'gate', 'convoy', 'agent', 'role', 'rig', 'event',
  'merge-request',
] as const;
export type IssueType = (typeof ISSUE_TYPES)[number] | (string & {});

/**
 * Types that are bookkeeping, never "ready work": the original's list (merge-request, gate,
 * molecule, message, agent, role, rig) plus convoy, which is ours.
 */
export const BOOKKEEPING_TYPES: readonly IssueType[] = ['molecule', 'gate', 'convoy', 'agent', 'role', 'rig', 'message', 'merge-request'];

/**
 * Dependency types that hold the dependent back, as in the original: `blocks`; `parent-child`
 * (a child of blocked work is blocked); `waits-for` (until the target's children are closed);
 * `conditional-blocks` (the dependent runs only if the target fails: held until the target is
 * closed with a failure reason). Every other type, known or not, only records a relation.
 */
export const BLOCKING_DEP_TYPES = ['blocks', 'parent-child', 'waits-for', 'conditional-blocks'] as const;
export const NON_BLOCKING_DEP_TYPES = [
  'related', 'relates-to', 'discovered-from', 'replies-to', 'tracks', 'duplicates', 'supersedes', 'caused-by', 'validates',
  'authored-by', 'assigned-to', 'approved-by', 'attests', 'until', 'delegated-from',
] as const;
export const DEP_TYPES = [...BLOCKING_DEP_TYPES, ...NON_BLOCKING_DEP_TYPES] as const;
export type DepType = (typeof DEP_TYPES)[number] | (string & {});

/** Words in a close reason that make a closed target "failed" for `conditional-blocks` (the original's list). */
export const FAILURE_CLOSE_WORDS = ['failed', 'rejected', 'wontfix', "won't fix", 'cancelled', 'canceled', 'abandoned', 'blocked', 'error', 'timeout', 'aborted'] as const;

export const MAX_TITLE_LENGTH = 500;
export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 4;
export const DEFAULT_PRIORITY = 2;

/** waits-for gates: wait for all children of the target (default) or for the first one. */
export const WAITS_FOR_GATES = ['all-children', 'any-children'] as const;
export type WaitsForGate = (typeof WAITS_FOR_GATES)[number];

/**
 * An edge "issue_id depends on depends_on_id". Stored on the dependent bead (issue_id).
 * `metadata` is JSON text, as in the original Beads export (waits-for: `{"gate":"any-children"}`).
 */
export interface Dependency {
  issue_id: string;
  depends_on_id: string;
  type: DepType;
  created_at?: string;
  created_by?: string;
  metadata?: string;
}

/** Comment ids are strings in the original's current export (older exports used numbers). */
export interface Comment {
  id: string;
  issue_id?: string;
  author: string;
  text: string;
  created_at: string;
}

export interface Bead {
  id: string;
  title: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  status: Status;
  priority: number;
  issue_type: IssueType;
  assignee?: string;
  owner?: string;
  created_by?: string;
  labels?: string[];
  dependencies?: Dependency[];
  comments?: Comment[];
  created_at: string;
  updated_at: string;
  started_at?: string;
  closed_at?: string;
  close_reason?: string;
  due_at?: string;
  defer_until?: string;
  ephemeral?: boolean;
  /** The original's pinned flag (a persistent anchor, never ready work); kept from imports. */
  pinned?: boolean;
  /** A tombstone's deletion, as the original records it (kept from imports). */
  deleted_at?: string;
  deleted_by?: string;
  delete_reason?: string;
  original_type?: string;
  metadata?: Record<string, unknown>;
}

/** A bead that is not ready because of unresolved blocking dependencies (or status `blocked`). */
export interface BlockedBead extends Bead {
  blocked_by: string[];
  blocked_by_count: number;
}

/** `.beads/config.json`. `auto_commit: false` turns off committing the ledger to git. */
export interface LedgerConfig {
  prefix: string;
  version: number;
  auto_commit?: boolean;
}

/** Event types, named as in the original's audit trail. */
export const EVENT_TYPES = [
  'created', 'updated', 'status_changed', 'commented', 'closed', 'reopened',
  'dependency_added', 'dependency_removed', 'label_added', 'label_removed', 'claimed', 'imported',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One recorded change: who, what, old, new, when. */
export interface BeadEvent {
  issue_id: string;
  event_type: EventType;
  /** The field that changed, for `updated` events. */
  field?: string;
  actor: string;
  old_value?: unknown;
  new_value?: unknown;
  comment?: string;
  created_at: string;
}
