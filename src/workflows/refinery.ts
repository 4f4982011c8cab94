import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  MERGE_REJECTED_SIGNAL,
  MERGE_REQUEST_SIGNAL,
  REFINERY_QUEUE_QUERY,
  mergeRequestKey,
  polecatWorkflowId,
  type MergeRecord,
  type MergeRejection,
  type MergeRequest,
  type RefineryInput,
  type RefineryState,
} from '../refinery/types.js';
import { GtKind, GtRig } from '../temporal/search-attributes.js';

/**
 * A rig's merge queue: merge requests arrive by signal (with start) and are merged one at a
 * time in arrival order. Each merge is one activity (rebase, test, fast-forward, push) that is
 * safe to retry after a worker dies; then the bead is closed and the branch deleted, or the
 * bead goes back with the reason and the polecat is told. The workflow continues as new when
 * its history grows, carrying the queue over.
 */
export const queueQuery = wf.defineQuery<RefineryState>(REFINERY_QUEUE_QUERY);
export const mergeRequestSignal = wf.defineSignal<[MergeRequest]>(MERGE_REQUEST_SIGNAL);

/** Finished requests kept for `gt mq list` and for recognising a repeated signal. */
const RECENT_LIMIT = 50;

export async function refineryWorkflow(input: RefineryInput): Promise<void> {
  const { rig } = input;
  const state: RefineryState = {
    rig,
    pending: input.carried?.pending ?? [],
    recent: input.carried?.recent ?? [],
    merged: input.carried?.merged ?? 0,
    rejected: input.carried?.rejected ?? 0,
    generation: input.carried?.generation ?? 0,
  };

  wf.setHandler(queueQuery, () => state);
  wf.setHandler(mergeRequestSignal, (mr) => {
    if (!isMergeRequest(mr)) {
      wf.log.warn('ignored a malformed merge request', { mr });
      return;
    }
    // A client that retried its signal-with-start must not get the same work merged twice.
    const key = mergeRequestKey(mr);
    const known = [...state.pending, ...(state.current ? [state.current] : []), ...state.recent];
    if (known.some((r) => mergeRequestKey(r) === key)) return;
    state.pending.push({
      bead: mr.bead,
      branch: mr.branch,
      polecat: mr.polecat,
      worktree: mr.worktree,
      submittedAt: mr.submittedAt,
      status: 'pending',
    });
  });

  /** The queue as the Web UI shows it: what is merging, what waits, the last results. */
  function details(): void {
    const c = state.current;
    const lines = [
      `**${c ? `merging ${c.bead} (${c.branch})` : 'idle'}** · ${state.pending.length} waiting · ${state.merged} merged, ${state.rejected} sent back`,
      '',
      ...state.pending.slice(0, 20).map((r, i) => `${i + 1}. ${r.bead} ${r.branch} (from ${r.polecat})`),
      ...state.recent.slice(0, 5).map((r) => `- ${r.bead}: ${r.status}${r.sha ? ` ${r.sha.slice(0, 10)}` : ''}${r.reason ? ` (${r.reason.split('\n')[0]!.slice(0, 80)})` : ''}`),
    ];
    wf.setCurrentDetails(lines.join('\n'));
  }

  wf.upsertSearchAttributes([
    { key: GtKind, value: 'refinery' },
    { key: GtRig, value: rig },
  ]);

  const local = wf.proxyLocalActivities<Activities>({
    startToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', maximumAttempts: 10 },
  });
  const settings = await local.refinerySettings(rig);
  const merger = wf.proxyActivities<Activities>({
    startToCloseTimeout: settings.mergeTimeoutMs,
    heartbeatTimeout: settings.heartbeatTimeout,
    // A worker lost mid-merge is retried at once by another; a merge that keeps failing for
    // reasons of its own (remote unreachable, disk full) eventually sends the work back.
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 20 },
  });
  // Closing the bead and telling the polecat are short; a worker lost meanwhile is noticed within the heartbeat timeout.
  const bookkeeper = wf.proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    heartbeatTimeout: settings.heartbeatTimeout,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 30 },
  });

  const historyFull = () => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= settings.historyLimit;
  };

  for (;;) {
    await wf.condition(() => state.pending.length > 0 || historyFull());
    if (historyFull()) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof refineryWorkflow>({
        rig,
        carried: {
          pending: state.pending,
          recent: state.recent,
          merged: state.merged,
          rejected: state.rejected,
          generation: state.generation + 1,
        },
      });
    }
    const record = state.pending.shift()!;
    record.status = 'merging';
    record.startedAt = new Date().toISOString();
    state.current = record;
    details();
    await mergeOne(record);
    record.endedAt = new Date().toISOString();
    state.current = undefined;
    state.recent.unshift(record);
    state.recent.splice(RECENT_LIMIT);
    details();
  }

  async function mergeOne(record: MergeRecord): Promise<void> {
    const mr: MergeRequest = {
      bead: record.bead,
      branch: record.branch,
      polecat: record.polecat,
      worktree: record.worktree,
      submittedAt: record.submittedAt,
    };
    const summary = `${record.bead}: merge ${record.branch}`;
    let outcome;
    try {
      outcome = await merger.refineryMerge.executeWithOptions({ summary }, [rig, mr]);
    } catch (err) {
      outcome = { result: 'rejected' as const, kind: 'error' as const, reason: `the refinery could not merge ${record.branch}: ${failureMessage(err)}` };
    }
    if (outcome.result === 'merged') {
      await bookkeeper.refineryRecordMerged.executeWithOptions({ summary: `${record.bead}: close, delete ${record.branch}` }, [
        rig,
        mr,
        outcome.sha,
        outcome.defaultBranch,
      ]);
      record.status = 'merged';
      record.sha = outcome.sha;
      state.merged += 1;
      return;
    }
    record.status = outcome.kind === 'error' ? 'failed' : 'rejected';
    record.kind = outcome.kind;
    record.reason = outcome.reason;
    state.rejected += 1;
    await bookkeeper.refineryRecordRejected.executeWithOptions({ summary: `${record.bead}: send back (${outcome.kind})` }, [
      rig,
      mr,
      outcome.reason,
    ]);
    const rejection: MergeRejection = { bead: record.bead, reason: outcome.reason };
    try {
      await wf.getExternalWorkflowHandle(polecatWorkflowId(rig, record.polecat)).signal<[MergeRejection]>(MERGE_REJECTED_SIGNAL, rejection);
      record.polecatNotified = true;
    } catch {
      // No such polecat workflow running: the reopened bead (with the reason) is the record.
      record.polecatNotified = false;
    }
  }
}

function isMergeRequest(mr: unknown): mr is MergeRequest {
  if (!mr || typeof mr !== 'object') return false;
  const r = mr as Record<string, unknown>;
  return ['bead', 'branch', 'polecat', 'worktree', 'submittedAt'].every((k) => typeof r[k] === 'string' && r[k] !== '');
}

function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  // An ActivityFailure wraps the ApplicationFailure that carries the activity's own message.
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
