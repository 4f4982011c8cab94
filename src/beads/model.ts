/** The bead model of SPEC.md. Import-free: workflows, activities and the CLI share it. */

export const STATUSES = ['open', 'in_progress', 'blocked', 'deferred', 'hooked', 'pinned', 'closed'] as const;
export type Status = (typeof STATUSES)[number];

export const ISSUE_TYPES = [
  'task', 'bug', 'feature', 'epic', 'chore', 'decision', 'message', 'molecule', 'gate', 'convoy', 'agent', 'merge-request',
] as const;
export type IssueType = (typeof ISSUE_TYPES)[number];

/** Types that are bookkeeping, never "ready work". */
export const BOOKKEEPING_TYPES: readonly IssueType[] = ['molecule', 'gate', 'convoy', 'agent', 'message', 'merge-request'];

export const BLOCKING_DEP_TYPES = ['blocks', 'parent-child', 'waits-for'] as const;
export const NON_BLOCKING_DEP_TYPES = ['related', 'discovered-from', 'tracks', 'duplicates', 'supersedes'] as const;
export const DEP_TYPES = [...BLOCKING_DEP_TYPES, ...NON_BLOCKING_DEP_TYPES] as const;
export type DepType = (typeof DEP_TYPES)[number];

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
