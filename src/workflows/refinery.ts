import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  MERGE_REJECTED_SIGNAL,
  MERGE_REQUEST_SIGNAL,
  REFINERY_QUEUE_QUERY,
  mergeRequestKey,
  polecatWorkflowId,
  type BatchRecord,
  type MergeRecord,
  type MergeRejection,
  type MergeRequest,
  type PreparedBatch,
  type RefineryInput,
  type RefineryState,
  type RejectKind,
  bisectPath,
} from '../refinery/types.js';
import { GtKind, GtRig } from '../temporal/search-attributes.js';
import { askPatchesFirst } from './patches.js';

/**
 * A rig's merge queue: merge requests arrive by signal (with start) and are merged in batches,
 * in arrival order. A batch is the next requests (up to the batch size) rebased one after
 * another onto the default branch as one candidate (a request that conflicts is sent back
 * before any test), tested once, and pushed in one push; a red candidate is searched for its
 * culprit (prefixes of the batch tested, several at once in worktrees of their own), the
 * requests ahead of it are pushed, it alone goes back with the reason and the requests after it
 * go back to the head of the queue. Each step is an activity safe to retry after a worker dies
 * (a push that happened is recognised); then each bead is closed and its branch deleted, or it
 * goes back with the reason and its polecat is told. The workflow continues as new when its
 * history grows, carrying the queue over. Runs started before batches (no 'batched-merge-queue'
 * marker) merge one request at a time, as they did.
 */
export const queueQuery = wf.defineQuery<RefineryState>(REFINERY_QUEUE_QUERY);
export const mergeRequestSignal = wf.defineSignal<[MergeRequest]>(MERGE_REQUEST_SIGNAL);

/** Finished requests kept for `gt mq list` and for recognising a repeated signal. */
const RECENT_LIMIT = 50;
/** Finished batches kept for `gt mq list`. */
const BATCHES_LIMIT = 10;
export const BATCHED_PATCH = 'batched-merge-queue';
/**
 * A batch smaller than the queue's batch size waits for more requests until its oldest has
 * waited GATHER_MS here (runs started before take what is there at once). With the worker
 * ahead of busy agents, batches of two or three went out one after the other, each costing a
 * fetch, a test run, a push and its bookkeeping; a few hundred ms of waiting merges them.
 */
const GATHER_PATCH = 'merge-queue-gather';
/** A request that came again for work already merged is dropped, not sent back (runs started before: sent back). */
const ALREADY_MERGED_PATCH = 'merge-queue-already-merged';
/**
 * An adaptive queue's first batch size (runs started before: 1). Starting at 1, a fresh town's
 * queue took five green full batches to reach 32: with 100 agents finishing together, most of
 * them waited through batches of 4, 8 and 16 at the end.
 */
const START_AT_8_PATCH = 'merge-queue-start-at-8';
const ADAPTIVE_START = 8;
const GATHER_MS = 300;

/** Runs started after this ask their patches before the settings' local activity (see askPatchesFirst). */
const PATCHES_FIRST = 'merge-queue-patches-first';

export async function refineryWorkflow(input: RefineryInput): Promise<void> {
  askPatchesFirst(PATCHES_FIRST, [BATCHED_PATCH, GATHER_PATCH, START_AT_8_PATCH]);
  const { rig } = input;
  const state: RefineryState = {
    rig,
    pending: input.carried?.pending ?? [],
    recent: input.carried?.recent ?? [],
    merged: input.carried?.merged ?? 0,
    rejected: input.carried?.rejected ?? 0,
    generation: input.carried?.generation ?? 0,
    ...(input.carried?.batchCount !== undefined ? { batchCount: input.carried.batchCount } : {}),
    ...(input.carried?.batchSize !== undefined ? { batchSize: input.carried.batchSize } : {}),
    ...(input.carried?.batches !== undefined ? { batches: input.carried.batches } : {}),
    ...(input.carried?.testRuns !== undefined ? { testRuns: input.carried.testRuns } : {}),
  };

  wf.setHandler(queueQuery, () => state);
  /** When each pending request reached this run (workflow time), for the gather window. */
  const receivedAt = new Map<string, number>();
  wf.setHandler(mergeRequestSignal, (mr) => {
    if (!isMergeRequest(mr)) {
      wf.log.warn('ignored a malformed merge request', { mr });
      return;
    }
    // A client that retried its signal-with-start must not get the same work merged twice.
    const key = mergeRequestKey(mr);
    const known = [...state.pending, ...(state.current ? [state.current] : []), ...(state.batch?.members ?? []), ...(state.recording ?? []).flatMap((b) => b.members), ...state.recent];
    if (known.some((r) => mergeRequestKey(r) === key)) return;
    receivedAt.set(key, Date.now());
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
    const b = state.batch;
    const doing = c ? `merging ${c.bead} (${c.branch})` : b ? `batch ${b.id} ${b.stage}: ${b.members.map((m) => m.bead).join(' ')}${b.tests.length ? ` · tests ${bisectPath(b)}` : ''}` : 'idle';
    const lines = [
      `**${doing}** · ${state.pending.length} waiting · ${state.merged} merged, ${state.rejected} sent back`,
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
  const continueAsNew = async () => {
    await wf.condition(wf.allHandlersFinished);
    const { batchCount, batchSize, batches, testRuns } = state;
    await wf.continueAsNew<typeof refineryWorkflow>({
      rig,
      carried: {
        pending: state.pending,
        recent: state.recent,
        merged: state.merged,
        rejected: state.rejected,
        generation: state.generation + 1,
        ...(batchCount !== undefined ? { batchCount, batchSize, batches, testRuns } : {}),
      },
    });
  };

  if (wf.patched(BATCHED_PATCH)) {
    // A batch's bookkeeping (closing beads, deleting branches, telling polecats and convoys) runs
    // while the next batch is prepared and tested; one batch's bookkeeping at a time, in order.
    let tail: Promise<void> = Promise.resolve();
    for (;;) {
      await wf.condition(() => state.pending.length > 0 || historyFull());
      if (historyFull()) {
        await tail;
        await continueAsNew();
      }
      if (wf.patched(GATHER_PATCH)) await gather();
      const finishBatch = await mergeBatch();
      await tail;
      tail = finishBatch();
    }
  }

  for (;;) {
    await wf.condition(() => state.pending.length > 0 || historyFull());
    if (historyFull()) await continueAsNew();
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

  /** Wait (at most until the oldest pending request has waited GATHER_MS) for a full batch. */
  async function gather(): Promise<void> {
    const size = nextBatchSize();
    if (size <= 1 || state.pending.length >= size) return;
    const oldest = Math.min(...state.pending.map((r) => receivedAt.get(mergeRequestKey(r)) ?? 0));
    const left = oldest + GATHER_MS - Date.now();
    if (left <= 0) return;
    await wf.condition(() => state.pending.length >= size || historyFull(), left);
  }

  /** The size of the next batch: fixed, or adaptive (kept in the state across runs). */
  function nextBatchSize(): number {
    if (settings.batchSize !== 'adaptive' && settings.batchSize !== undefined) return settings.batchSize;
    if (state.batchSize === undefined) state.batchSize = wf.patched(START_AT_8_PATCH) ? ADAPTIVE_START : 1;
    state.batchSize = Math.min(Math.max(state.batchSize, 1), settings.maxBatchSize ?? 32);
    return state.batchSize;
  }

  function requestOf(r: MergeRecord): MergeRequest {
    return { bead: r.bead, branch: r.branch, polecat: r.polecat, worktree: r.worktree, submittedAt: r.submittedAt };
  }

  function finish(record: MergeRecord): void {
    record.endedAt = new Date().toISOString();
    state.recent.unshift(record);
    state.recent.splice(RECENT_LIMIT);
  }

  /** Merge the next batch up to its push and its decisions (what goes back, what waits again); returns its bookkeeping, to run next. */
  async function mergeBatch(): Promise<() => Promise<void>> {
    const size = nextBatchSize();
    const members = state.pending.splice(0, size);
    for (const m of members) receivedAt.delete(mergeRequestKey(m));
    const seq = (state.batchCount ?? 0) + 1;
    state.batchCount = seq;
    const now = new Date().toISOString();
    for (const m of members) {
      m.status = 'merging';
      m.startedAt = now;
    }
    const batch: BatchRecord = { id: `b${seq}`, stage: 'preparing', members, tests: [], requeued: [], startedAt: now };
    state.batch = batch;
    // Names the batch's files and refs: unique to these requests, so a queue started afresh never takes another's marker.
    const key = `${seq}-${hashOf(members.map(mergeRequestKey).join('\n'))}`;
    const byBead = new Map(members.map((m) => [m.bead, m]));
    details();

    const sendBacks: Promise<void>[] = [];
    const sendBack = (record: MergeRecord, kind: RejectKind, reason: string) => {
      record.status = kind === 'error' ? 'failed' : 'rejected';
      record.kind = kind;
      record.reason = reason;
      state.rejected += 1;
      sendBacks.push(rejectOne(record, reason, kind));
    };
    const requeue = (records: MergeRecord[]) => {
      // Back to the head of the queue in arrival order: nothing that came later goes ahead of them.
      for (const r of records) {
        r.status = 'pending';
        delete r.startedAt;
      }
      batch.requeued.push(...records.map((r) => r.bead));
      state.pending.unshift(...records);
    };
    const fail = (records: MergeRecord[], what: string, err: unknown) => {
      for (const r of records) sendBack(r, 'error', `the refinery could not ${what} ${r.branch}: ${failureMessage(err)}`);
    };

    let prepared: PreparedBatch;
    try {
      prepared = await merger.refineryPrepareBatch.executeWithOptions({ summary: `batch ${batch.id}: rebase ${members.length} request${members.length === 1 ? '' : 's'}` }, [rig, key, members.map(requestOf)]);
    } catch (err) {
      fail(members, 'rebase', err);
      return finisher(batch, sendBacks);
    }
    batch.base = prepared.base;
    for (const r of prepared.rejected) sendBack(byBead.get(r.bead)!, r.kind, r.reason);
    const accepted = prepared.accepted.map((a) => ({ ...a, record: byBead.get(a.bead)! }));
    const deferred = prepared.deferred.map((b) => byBead.get(b)!);
    if (!accepted.length) {
      requeue(deferred);
      return finisher(batch, sendBacks);
    }

    // The candidate holding the first k accepted requests is accepted[k-1].sha; k = 0 is the default branch, green.
    const test = async (k: number, slot: number): Promise<{ ok: boolean; reason?: string }> => {
      const last = accepted[k - 1]!;
      const entry = { upTo: k, bead: last.bead, result: 'running' as const };
      batch.tests.push(entry);
      details();
      state.testRuns = (state.testRuns ?? 0) + 1;
      const out = await merger.refineryTestCandidate.executeWithOptions({ summary: `batch ${batch.id}: test ${k === accepted.length ? 'all' : `the first ${k}`} (up to ${last.bead})` }, [
        rig,
        { key, sha: last.sha, slot, beads: accepted.slice(0, k).map((a) => a.bead), branch: last.record.branch, base: prepared.base, defaultBranch: prepared.defaultBranch },
      ]);
      Object.assign(entry, { result: out.ok ? 'green' : 'red' });
      return out.ok ? { ok: true } : { ok: false, reason: out.reason };
    };

    batch.stage = 'testing';
    let good = accepted.length;
    let culprit: { index: number; reason: string } | undefined;
    try {
      const whole = await test(accepted.length, 0);
      if (!whole.ok) {
        batch.stage = 'bisecting';
        // Known: the first `lo` pass, the first `hi` fail. Probe up to max_concurrent prefixes in between at once.
        let lo = 0;
        let hi = accepted.length;
        let reason = whole.reason!;
        while (hi - lo > 1) {
          const probes = spread(lo, hi, Math.min(settings.maxConcurrent ?? 1, hi - lo - 1));
          const results = await Promise.all(probes.map((k, slot) => test(k, slot)));
          const firstRed = probes.findIndex((_, i) => !results[i]!.ok);
          if (firstRed >= 0) {
            hi = probes[firstRed]!;
            reason = results[firstRed]!.reason!;
          }
          lo = Math.max(lo, ...probes.filter((k, i) => k < hi && results[i]!.ok));
        }
        culprit = { index: hi - 1, reason };
        good = hi - 1;
      }
    } catch (err) {
      fail(accepted.map((a) => a.record), 'test', err);
      requeue(deferred);
      return finisher(batch, sendBacks);
    }

    if (good > 0) {
      batch.stage = 'pushing';
      details();
      const tip = accepted[good - 1]!.sha;
      let pushed;
      try {
        pushed = await merger.refineryPushBatch.executeWithOptions({ summary: `batch ${batch.id}: push ${good} merge${good === 1 ? '' : 's'}` }, [rig, key, prepared.base, tip]);
      } catch (err) {
        fail(accepted.map((a) => a.record), 'push', err);
        requeue(deferred);
        return finisher(batch, sendBacks);
      }
      if (!pushed.pushed) {
        // The default branch moved under the batch: all of it goes round again on the new tip.
        requeue([...accepted.map((a) => a.record), ...deferred].sort((a, b) => members.indexOf(a) - members.indexOf(b)));
        return finisher(batch, sendBacks);
      }
      batch.pushedSha = tip;
    }
    if (culprit) {
      const c = accepted[culprit.index]!;
      batch.culprit = c.bead;
      sendBack(c.record, 'test', culprit.reason);
      requeue([...accepted.slice(culprit.index + 1).map((a) => a.record), ...deferred].sort((a, b) => members.indexOf(a) - members.indexOf(b)));
    } else {
      requeue(deferred);
    }
    if (settings.batchSize === 'adaptive' || settings.batchSize === undefined) {
      const cap = settings.maxBatchSize ?? 32;
      if (culprit) state.batchSize = Math.max(1, Math.floor((state.batchSize ?? 1) / 2));
      else if (members.length >= (state.batchSize ?? 1)) state.batchSize = Math.min(cap, (state.batchSize ?? 1) * 2);
    }
    const merged = accepted.slice(0, batch.pushedSha ? good : 0);
    return finisher(batch, sendBacks, merged.length ? { key, defaultBranch: prepared.defaultBranch, merged } : undefined);
  }

  /**
   * The batch leaves the stage (the next one may start) and waits for its bookkeeping: the
   * pushed requests' beads closed and branches deleted, the sent-back ones reopened. Then its
   * requests are finished and it joins the recent batches.
   */
  function finisher(
    batch: BatchRecord,
    sendBacks: Promise<void>[],
    pushed?: { key: string; defaultBranch: string; merged: { bead: string; sha: string; record: MergeRecord }[] },
  ): () => Promise<void> {
    // Taken now: a request put back in the queue may be in the next batch by the time this one ends.
    const finished = batch.members.filter((m) => m.status !== 'pending');
    state.batch = undefined;
    batch.stage = 'recording';
    state.recording = [...(state.recording ?? []), batch];
    details();
    return async () => {
      if (pushed) {
        await bookkeeper.refineryRecordMergedBatch.executeWithOptions({ summary: `batch ${batch.id}: close ${pushed.merged.map((a) => a.bead).join(' ')}` }, [
          rig,
          pushed.key,
          pushed.merged.map((a) => ({ mr: requestOf(a.record), sha: a.sha })),
          pushed.defaultBranch,
        ]);
        for (const a of pushed.merged) {
          a.record.status = 'merged';
          a.record.sha = a.sha;
          state.merged += 1;
        }
      }
      await Promise.all(sendBacks);
      batch.stage = 'done';
      batch.endedAt = new Date().toISOString();
      for (const m of finished) finish(m);
      state.recording = state.recording!.filter((b) => b !== batch);
      // Kept for `gt mq list` without the reasons (the finished requests in `recent` have them).
      // A request put back shows as waiting (it may be merging in a later batch by now).
      const kept: BatchRecord = {
        ...batch,
        members: batch.members.map((record) => {
          const { reason: _reason, ...m } = record;
          return finished.includes(record) ? m : { ...m, status: 'pending' as const };
        }),
      };
      state.batches = [kept, ...(state.batches ?? [])].slice(0, BATCHES_LIMIT);
      details();
    };
  }

  /** Send a request back: its bead reopened with the reason, its polecat told. */
  async function rejectOne(record: MergeRecord, reason: string, kind: RejectKind): Promise<void> {
    const recorded = await bookkeeper.refineryRecordRejected.executeWithOptions({ summary: `${record.bead}: send back (${kind})` }, [rig, requestOf(record), reason]);
    // (Only activities of this release say so; patched() is asked only then.)
    if (recorded?.alreadyMerged && wf.patched(ALREADY_MERGED_PATCH)) {
      record.status = 'merged';
      record.sha = recorded.alreadyMerged;
      record.reason = `already merged as ${recorded.alreadyMerged.slice(0, 10)}: this request came again`;
      delete record.kind;
      state.rejected -= 1;
      return;
    }
    const rejection: MergeRejection = { bead: record.bead, reason };
    try {
      await wf.getExternalWorkflowHandle(polecatWorkflowId(rig, record.polecat)).signal<[MergeRejection]>(MERGE_REJECTED_SIGNAL, rejection);
      record.polecatNotified = true;
    } catch {
      // No such polecat workflow running: the reopened bead (with the reason) is the record.
      record.polecatNotified = false;
    }
  }

  async function mergeOne(record: MergeRecord): Promise<void> {
    const mr = requestOf(record);
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
    await rejectOne(record, outcome.reason, outcome.kind);
  }
}

/** `n` prefix lengths spread evenly strictly between lo and hi (n ≥ 1, hi - lo > n). */
function spread(lo: number, hi: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n; i++) out.push(lo + Math.round(((hi - lo) * i) / (n + 1)));
  return [...new Set(out)].filter((k) => k > lo && k < hi);
}

/** A short deterministic hash (FNV-1a, base 36) for naming a batch's files. */
function hashOf(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
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
