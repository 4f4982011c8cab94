/**
 * The rig's dispatcher: the one place that decides who works a bead. A long-lived workflow per
 * rig (`dispatch/<rig>`, on the town's task queue) takes `sling` updates (from `gt sling` and
 * from convoys), picks polecat names, hooks the beads and hands them to their polecats, all
 * inside the engine; a process killed at any point leaves either nothing or the whole dispatch.
 * Polecats and the refinery tell it when a polecat is free again and when a bead is finished.
 * Import-free so the workflow, activities and the CLI share it.
 */

export const DISPATCH_WORKFLOW = 'dispatchWorkflow';
export const SLING_UPDATE = 'sling';
export const DISPATCH_QUERY = 'dispatchState';
/** From a polecat workflow: it started or stopped working a bead. */
export const POLECAT_CHANGED_SIGNAL = 'polecatChanged';
/** From the refinery (merged), `gt polecat nuke`, or a reconcile: a bead, or every bead of a polecat, is nobody's any more. */
export const RELEASE_SIGNAL = 'release';
/**
 * From a convoy's workflow: the same request as a `sling` update, sent by signal so the convoy
 * needs no activity and no RPC of its own; the dispatcher answers `replyTo` with DISPATCHED_SIGNAL
 * and the receipt. Same request id, same receipt.
 */
export const SLING_SIGNAL = 'slingAsked';
/** The dispatcher's answer to a SLING_SIGNAL: the receipt. */
export const DISPATCHED_SIGNAL = 'dispatched';

export function dispatchWorkflowId(rig: string): string {
  return `dispatch/${rig}`;
}

export interface SlingRequest {
  /** Same id, same answer: a retried request returns the first receipt and changes nothing. */
  requestId: string;
  beads: Array<{ id: string; title?: string }>;
  /** A polecat name asked for (`gt sling <bead> <rig>/<name>`): only with one bead. */
  polecat?: string;
  agent?: string;
  headless?: boolean;
  formula?: string;
  vars?: Record<string, string>;
  /** Who slings (a person, the Mayor, or a convoy id). */
  by: string;
  /** `gt sling`: refuse the whole request unless every bead gets a polecat now. A convoy takes what fits. */
  allOrNothing?: boolean;
  /** A convoy slings: the hook writes its `convoy.dispatch` event too. */
  convoy?: string;
}

export interface SlingAsked {
  request: SlingRequest;
  /** The workflow that gets the receipt (DISPATCHED_SIGNAL). */
  replyTo: string;
}

export type SlingOutcome = 'slung' | 'already' | 'no-room' | 'refused';

export interface SlingResult {
  bead: string;
  result: SlingOutcome;
  /** The polecat's name (slung, already). */
  polecat?: string;
  reason?: string;
}

export interface SlingReceipt {
  requestId: string;
  rig: string;
  results: SlingResult[];
  at: string;
}

export interface PolecatChange {
  name: string;
  bead: string;
  /**
   * working: the polecat took the bead on (a sling, or rework sent back by the merge queue).
   * submitted: `gt done` sent it to the merge queue; the polecat is free, the bead still its own.
   * released: the polecat let the bead go (escalated, deferred, blocked, unslung, skipped).
   */
  change: 'working' | 'submitted' | 'released';
}

export interface ReleaseRequest {
  /** These beads are nobody's any more (merged, closed). */
  beads?: string[];
  /** This polecat and everything it owned (nuked). */
  polecat?: string;
  why: string;
}

export interface DispatchState {
  rig: string;
  /** bead → the polecat that works it (until it is merged or let go). */
  owners: Record<string, string>;
  /** polecat → the bead it is working now. A polecat not listed is free. */
  busy: Record<string, string>;
  generation: number;
}

export interface DispatchInput {
  rig: string;
  carried?: { owners: Record<string, string>; busy: Record<string, string>; receipts: SlingReceipt[]; generation: number };
}

/** What the dispatcher needs from the rig's settings for one request. */
export interface DispatchSettings {
  pool: string[];
  cap: number;
  /** The rig's heartbeat_timeout: how fast a lost worker must be noticed. */
  heartbeatMs: number;
}

/** A short key of the settings (cap, heartbeat, and a hash of the name pool): equal keys, same decisions. */
export function settingsKey(s: DispatchSettings): string {
  let h = 0x811c9dc5;
  for (const ch of s.pool.join('\n')) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `${s.cap}/${s.heartbeatMs}/${s.pool.length}/${h.toString(16)}`;
}
