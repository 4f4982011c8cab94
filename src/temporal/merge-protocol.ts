/**
 * The messages between polecat workflows and a rig's refinery (merge queue) workflow.
 * Import-free so workflows, activities and the CLI can all use it.
 *
 * - A polecat's `gt done` submits a MergeRequest to `refinery/<rig>` by signal-with-start
 *   (signal `mergeRequest`, workflow args `[{ rig }]`, the rig's task queue).
 * - The refinery, on success, closes the bead and deletes the branch; on a conflict or a red
 *   test it reopens the bead with the reason as a comment and signals `mergeRejected` to the
 *   polecat workflow `polecat/<rig>/<name>`, which sends an agent back to the same worktree.
 */

export const REFINERY_WORKFLOW = 'refineryWorkflow';
export const MERGE_REQUEST_SIGNAL = 'mergeRequest';
export const MERGE_REJECTED_SIGNAL = 'mergeRejected';

export interface RefineryInput {
  rig: string;
}

export interface MergeRequest {
  bead: string;
  /** The polecat's branch, `polecat/<name>/<bead>`, in the rig's bare clone. */
  branch: string;
  /** The polecat's name (its workflow is `polecat/<rig>/<name>`). */
  polecat: string;
  /** The polecat's worktree folder. */
  worktree: string;
  /** ISO time of `gt done`. */
  submittedAt: string;
}

export interface MergeRejection {
  bead: string;
  reason: string;
}

export function refineryWorkflowId(rig: string): string {
  return `refinery/${rig}`;
}

export function polecatWorkflowId(rig: string, name: string): string {
  return `polecat/${rig}/${name}`;
}
