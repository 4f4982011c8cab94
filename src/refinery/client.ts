import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { isAbsolute } from 'node:path';
import { GtError, usageError } from '../errors.js';
import { rigTaskQueue, type EngineConfig } from '../temporal/config.js';
import { GtKind, GtRig } from '../temporal/search-attributes.js';
import {
  MERGE_REQUEST_SIGNAL,
  REFINERY_QUEUE_QUERY,
  REFINERY_WORKFLOW_TYPE,
  refineryWorkflowId,
  type MergeRequest,
  type RefineryInput,
  type RefineryState,
} from './types.js';

/** Client side of a rig's merge queue. Heavy import (Temporal client): load it lazily from the CLI. */

/** Git's rules for a branch name, checked without running git (refuse before changing anything). */
export function branchNameProblem(branch: string): string | undefined {
  if (!branch) return 'is empty';
  if (branch.startsWith('-')) return "starts with '-'";
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(branch)) return 'contains a space, control character or one of ~ ^ : ? * [ \\';
  if (branch.includes('..') || branch.includes('@{') || branch.includes('//')) return "contains '..', '@{' or '//'";
  if (branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.') || branch === '@') return 'is not a valid branch name';
  if (branch.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) return "has a part starting with '.' or ending in '.lock'";
  return undefined;
}

/** Throws a usage error naming the first bad field of a merge request. */
export function validateMergeRequest(rig: string, mr: MergeRequest): void {
  if (!rig || /[\s/\\]/.test(rig)) throw usageError(`invalid rig name "${rig}" for a merge request`);
  if (!mr || typeof mr !== 'object') throw usageError('a merge request must be an object { bead, branch, polecat, worktree, submittedAt }');
  if (typeof mr.bead !== 'string' || !/^[a-z][a-z0-9]*-[a-z0-9][a-z0-9.-]*$/.test(mr.bead)) {
    throw usageError(`invalid bead id "${String(mr.bead)}" in merge request`, 'a bead id looks like gt-abc12');
  }
  const branchProblem = typeof mr.branch === 'string' ? branchNameProblem(mr.branch) : 'is missing';
  if (branchProblem) throw usageError(`branch "${String(mr.branch)}" of merge request ${mr.bead} ${branchProblem}`);
  if (typeof mr.polecat !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(mr.polecat)) {
    throw usageError(`invalid polecat name "${String(mr.polecat)}" in merge request ${mr.bead}`, 'the polecat\'s name, e.g. toast (not its address)');
  }
  if (typeof mr.worktree !== 'string' || !isAbsolute(mr.worktree)) {
    throw usageError(`worktree "${String(mr.worktree)}" of merge request ${mr.bead} is not an absolute path`);
  }
  if (typeof mr.submittedAt !== 'string' || Number.isNaN(Date.parse(mr.submittedAt))) {
    throw usageError(`submittedAt "${String(mr.submittedAt)}" of merge request ${mr.bead} is not an ISO time`);
  }
}

/**
 * Put a merge request on a rig's queue, starting the rig's refinery workflow if it is not
 * running (signal-with-start: one call, no race between "is it running?" and "start it").
 * Submitting the same request (bead, branch, submittedAt) twice queues it once.
 */
export async function submitMergeRequest(client: Client, config: EngineConfig, rig: string, mr: MergeRequest): Promise<void> {
  validateMergeRequest(rig, mr);
  const request: MergeRequest = { bead: mr.bead, branch: mr.branch, polecat: mr.polecat, worktree: mr.worktree, submittedAt: mr.submittedAt };
  const input: RefineryInput = { rig };
  await client.workflow.signalWithStart(REFINERY_WORKFLOW_TYPE, {
    workflowId: refineryWorkflowId(rig),
    taskQueue: rigTaskQueue(config, rig),
    args: [input],
    signal: MERGE_REQUEST_SIGNAL,
    signalArgs: [request],
    typedSearchAttributes: [
      { key: GtKind, value: 'refinery' },
      { key: GtRig, value: rig },
    ],
    staticSummary: `merge queue of rig ${rig}`,
  });
}

/**
 * The queue of a rig: pending, current and recent merge requests; undefined when the rig's
 * refinery has never run. A query needs a worker: right after a worker restart the first tries
 * may fail, so they are retried for a while.
 */
export async function queryRefinery(client: Client, rig: string, patienceMs = 30_000): Promise<RefineryState | undefined> {
  const deadline = Date.now() + patienceMs;
  for (let wait = 200; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await client.workflow.getHandle(refineryWorkflowId(rig)).query<RefineryState>(REFINERY_QUEUE_QUERY);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      if (Date.now() + wait > deadline) {
        throw new GtError(`cannot read the merge queue of rig ${rig}: ${(err as Error).message}`, {
          hint: 'is the worker running? `gt status` shows it; `gt up` starts it',
        });
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
