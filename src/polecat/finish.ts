import { randomUUID } from 'node:crypto';
import { gitSync } from '../activities/git.js';
import { GtError, usageError } from '../errors.js';
import { relayUpdate } from '../relay/client.js';
import type { RelayedUpdate } from '../relay/protocol.js';
import { isRigHostHome } from '../remote/commands.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { requireRig } from '../town/rigs.js';
import { hookedTo } from './hook.js';
import { currentIdentity } from './identity.js';
import {
  DONE_STATUSES,
  DONE_UPDATE,
  HANDOFF_UPDATE,
  polecatBranch,
  type DoneReceipt,
  type DoneRequest,
  type DoneStatus,
  type HandoffReceipt,
} from './state.js';
import { requirePolecatHere } from './view.js';

/**
 * An agent ending its session: `gt done` and `gt handoff`. Both are one update of the polecat's
 * workflow, handed to the worker that started the session when it can take it (the relay), else
 * sent by this process on its own engine connection. No Temporal code is loaded on the first way.
 */

export function parseDoneStatus(text: string | undefined): DoneStatus {
  const status = (text ?? 'COMPLETED').toUpperCase();
  if (!(DONE_STATUSES as readonly string[]).includes(status)) {
    throw usageError(`--status must be one of ${DONE_STATUSES.join(', ')}, not "${text}"`);
  }
  return status as DoneStatus;
}

/**
 * `gt done`, inside a polecat worktree: the hooked bead, and for COMPLETED a clean tree at least
 * one commit ahead of the default branch; then the `done` update, whose receipt says the merge
 * request went to the rig's refinery and the hook was released.
 */
export async function done(root: string, cwd: string, opts: { status?: string; message?: string }): Promise<DoneReceipt> {
  const status = parseDoneStatus(opts.status);
  const me = requirePolecatHere(root, cwd, 'gt done');
  const entry = requireRig(root, me.rig);
  // A rig host home has no ledger: the session's bead is the one its polecat works (the workflow checks it).
  const homeBead = isRigHostHome(root) ? process.env.GT_BEAD : undefined;
  const hooked = homeBead ? [{ bead: { id: homeBead } }] : hookedTo(root, me.address, process.env.GT_BEAD);
  if (hooked.length === 0) {
    throw new GtError(`nothing is on the hook of ${me.address}`, { hint: 'gt hook shows the hook; a bead is put there by `gt sling <bead> <rig>`' });
  }
  const bead = hooked[0]!.bead;
  let ahead: number | undefined;
  let head: string | undefined;
  if (status === 'COMPLETED') {
    try {
      // One git run for both: the commits ahead, newest (HEAD) first.
      const commits = gitSync(['rev-list', `refs/remotes/origin/${entry.default_branch}..HEAD`], me.home).split('\n').filter(Boolean);
      ahead = commits.length;
      head = commits[0] ?? gitSync(['rev-parse', 'HEAD'], me.home);
    } catch (err) {
      throw new GtError(`cannot compare ${me.home} with origin/${entry.default_branch}: ${String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim()}`);
    }
    if (ahead === 0) {
      throw new GtError(`no commits ahead of origin/${entry.default_branch}: there is nothing to merge for ${bead.id}`, {
        hint: 'commit your work first (git add, git commit); if it cannot be done, use gt done --status ESCALATED or --status DEFERRED',
      });
    }
    const dirty = gitSync(['status', '--porcelain', '--untracked-files=no'], me.home);
    if (dirty) {
      throw new GtError(`uncommitted changes in ${me.home} would not be merged:\n${dirty}`, { hint: 'commit them (or `git restore` what you do not want), then run gt done again' });
    }
  }
  // From a rig host home the work reaches the merge queue (wherever it runs) through the rig's remote.
  if (homeBead) pushBranch(me.home, polecatBranch(me.name, bead.id));
  const req: DoneRequest = { bead: bead.id, status, message: opts.message, head, ahead };
  // One id for every try: an update the engine took before the connection broke is not applied twice.
  return updatePolecat<DoneReceipt>(root, polecatWorkflowId(me.rig, me.name), DONE_UPDATE, req, `done-${bead.id}-${randomUUID()}`, `gt done for ${bead.id} was refused`);
}

function pushBranch(worktree: string, branch: string): void {
  try {
    gitSync(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`], worktree);
  } catch (err) {
    throw new GtError(`cannot push ${branch} to the rig's remote: ${String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim()}`, { hint: 'the merge queue takes the work from there: check the remote can be reached from this host, then gt done again' });
  }
}

/** `gt handoff`: the polecat asks for a fresh session in the same worktree, with a note for it. */
export async function handoff(root: string, cwd: string, note?: string): Promise<HandoffReceipt> {
  const me = currentIdentity(root, cwd);
  if (me.role !== 'polecat' || !me.rig || !me.name) {
    throw new GtError(`\`gt handoff\` restarts a polecat's session; you are ${me.address} (${me.role})`, { hint: 'run it inside a polecat session (GT_ROLE=polecat) or its worktree' });
  }
  return updatePolecat<HandoffReceipt>(root, polecatWorkflowId(me.rig, me.name), HANDOFF_UPDATE, { note }, `handoff-${me.name}-${randomUUID()}`, 'gt handoff was refused');
}

/** How long the relay may take before this process sends the update itself (same id). */
const RELAY_WAIT_MS = 5 * 60_000;

/** One update of a polecat's workflow: through the worker's relay when it answers, else on an engine connection of our own. */
async function updatePolecat<T>(root: string, workflowId: string, update: RelayedUpdate, arg: unknown, updateId: string, what: string): Promise<T> {
  const relayed = await relayUpdate({ workflowId, update, args: [arg], updateId, what }, RELAY_WAIT_MS);
  if (relayed?.ok) return relayed.value as T;
  if (relayed && 'refused' in relayed) throw new GtError(relayed.refused.message, { hint: relayed.refused.hint });
  const [{ ENGINE_WAIT_MS, withEngine }, { updatePolecatWorkflow }] = await Promise.all([import('../temporal/engine.js'), import('./update.js')]);
  return withEngine(root, (client) => updatePolecatWorkflow<T>(client, workflowId, update, [arg], updateId, what), { start: true, waitMs: ENGINE_WAIT_MS });
}
