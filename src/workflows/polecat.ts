import type { SearchAttributeUpdatePair } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import { describeFailure } from './failure.js';
import { handoffNote } from '../polecat/prompt.js';
import {
  AGENT_STATUS_SIGNAL,
  ASSIGN_SIGNAL,
  DONE_UPDATE,
  HANDOFF_UPDATE,
  POLECAT_QUERY,
  UNSLING_SIGNAL,
  type AgentStatusNotice,
  type AttemptRecord,
  type CurrentWork,
  type DoneReceipt,
  type DoneRequest,
  type HandoffReceipt,
  type HandoffRequest,
  type PolecatInput,
  type PolecatState,
  type PolecatStatus,
  type UnslingRequest,
  type WorkItem,
  type WorkResult,
} from '../polecat/state.js';
import { MAIL_SIGNAL, type MailNotice } from '../mail/types.js';
import { MERGE_REJECTED_SIGNAL, type MergeRejection } from '../temporal/merge-protocol.js';
import { GtBead, GtStatus } from '../temporal/search-attributes.js';
import { POLECAT_CHANGED_SIGNAL, dispatchWorkflowId, type PolecatChange } from '../dispatch/types.js';
import type { Activities } from '../activities/index.js';
import type { AgentOutcome } from '../activities/polecat.js';

/**
 * A polecat: a durable worker identity `polecat/<rig>/<name>`. It works one bead at a time in
 * its own worktree: prepare (hook, worktree, branch) → agent sessions until `gt done` → hook
 * released and a merge request sent to the refinery → idle until the next bead.
 *
 * A session that ends without `gt done`, or shows no progress (nudged, then stopped), is
 * followed by a new one in the same worktree with a handoff note, up to max_attempts; then the
 * bead is blocked and the Mayor gets mail. A dead worker is not a failed session: the engine
 * retries the session activity (heartbeat timeout), which adopts the still-running agent.
 * The refinery may send a bead back (`mergeRejected`): it is queued as rework for this polecat.
 */
export const stateQuery = wf.defineQuery<PolecatState>(POLECAT_QUERY);
export const assignSignal = wf.defineSignal<[WorkItem]>(ASSIGN_SIGNAL);
export const unslingSignal = wf.defineSignal<[UnslingRequest]>(UNSLING_SIGNAL);
export const mergeRejectedSignal = wf.defineSignal<[MergeRejection]>(MERGE_REJECTED_SIGNAL);
export const mailSignal = wf.defineSignal<[MailNotice]>(MAIL_SIGNAL);
export const agentStatusSignal = wf.defineSignal<[AgentStatusNotice]>(AGENT_STATUS_SIGNAL);
export const doneUpdate = wf.defineUpdate<DoneReceipt, [DoneRequest]>(DONE_UPDATE);
export const handoffUpdate = wf.defineUpdate<HandoffReceipt, [HandoffRequest]>(HANDOFF_UPDATE);

/** Polecats tell the rig's dispatcher when they take a bead on and when they are free (runs started before it ask nothing). */
const DISPATCHER_PATCH = 'tell-dispatcher';
/** A finished bead's result carries what its sessions spent (runs started before record none). */
const USAGE_PATCH = 'polecat-usage';
/** …and its memo says the last bead's figures (runs started before: the state only). */
const USAGE_MEMO_PATCH = 'polecat-usage-memo';
/** `gt done` is one activity (hook released, merge request sent), not two in a row (runs started before: two). */
const DONE_ONE_ACTIVITY_PATCH = 'polecat-done-one-activity';
/** After `gt done` the session is stopped and the bead's usage counted in one activity (runs started before: two). */
const STOP_WITH_USAGE_PATCH = 'polecat-stop-with-usage';
/**
 * A workflow task fewer a bead (runs started before: as before): the activity that stops the
 * session after `gt done` tells the dispatcher the polecat is free (no workflow task for the
 * echo of a signal of the workflow's own); and the passing states submitting and stopping stay
 * in the state and the Web UI's details, not the GtStatus search attribute (two visibility
 * writes a bead fewer). (`gt done` stays a regular activity: as a local activity, a worker lost
 * in the update's workflow task would run it again with a new merge request after the first
 * may already have merged.)
 */
const LEAN_FINISH_PATCH = 'polecat-lean-finish';
const DEFAULT_HEARTBEAT_MS = 30_000;

/** An agent that ended `gt done` gets this long to exit by itself before its session is stopped. */
const EXIT_GRACE = '10s';
const RECENT = 20;
/** Continue-as-new between beads once the history is this long, so replay stays cheap. */
const HISTORY_LIMIT = 3000;

export async function polecatWorkflow(input: PolecatInput): Promise<void> {
  const { rig, name } = input;
  // Every activity beats while it runs: a worker lost mid-call is noticed within the heartbeat timeout, not the start-to-close one.
  let heartbeatTimeout = input.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const bookkeeping = () =>
    wf.proxyActivities<Activities>({
      startToCloseTimeout: '10m',
      heartbeatTimeout,
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 30 },
    });
  let acts = bookkeeping();
  // A worktree that cannot be made after a few minutes of tries will not be made: block the bead.
  const prepActs = () =>
    wf.proxyActivities<Activities>({
      startToCloseTimeout: '10m',
      heartbeatTimeout,
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 },
    });
  /** The rig's dispatcher hears when this polecat takes a bead on and when it is free again. */
  const pendingTells: Promise<void>[] = [];
  const tellDispatcher = (bead: string, change: PolecatChange['change']) => {
    if (!wf.patched(DISPATCHER_PATCH)) return;
    const told = wf
      .getExternalWorkflowHandle(dispatchWorkflowId(rig))
      .signal<[PolecatChange]>(POLECAT_CHANGED_SIGNAL, { name, bead, change })
      .catch(() => undefined);
    pendingTells.push(told);
  };
  const state: PolecatState = { rig, name, status: 'idle', queue: [...(input.queue ?? [])], recent: [] };
  const rejections: Record<string, number> = { ...(input.rejections ?? {}) };
  const receipts = new Map<string, DoneReceipt>();
  let doneRequest: DoneRequest | undefined;
  let doneReceipt: DoneReceipt | undefined;
  let handoffRequest: HandoffRequest | undefined;
  let unslungBy: string | undefined;

  const setStatus = (status: PolecatStatus, opts: { indexed?: boolean } = {}) => {
    state.status = status;
    const c = state.current;
    wf.setCurrentDetails(
      c
        ? `**${status === 'working' && c.awaiting ? `awaiting input (${c.awaiting.kind} prompt: ${c.awaiting.text.slice(0, 120)})` : status}** · ${c.bead}${c.attempt ? ` · session ${c.attempt}` : ''}${c.branch ? ` · branch ${c.branch}` : ''}${c.kind === 'rework' ? ' · rework sent back by the merge queue' : ''}${state.queue.length ? ` · ${state.queue.length} queued` : ''}`
        : `**${status}**${state.recent.at(-1) ? ` · last: ${state.recent.at(-1)!.bead} ${state.recent.at(-1)!.outcome}` : ''}`,
    );
    if (opts.indexed === false) return;
    const attrs: SearchAttributeUpdatePair[] = [{ key: GtStatus, value: status === 'working' && c?.awaiting ? 'awaiting-input' : status }];
    if (state.current) attrs.push({ key: GtBead, value: state.current.bead });
    wf.upsertSearchAttributes(attrs);
  };

  const queued = (bead: string) => state.current?.bead === bead || state.queue.some((q) => q.bead === bead);

  wf.setHandler(stateQuery, () => state);
  wf.setHandler(assignSignal, (item) => {
    if (!queued(item.bead)) state.queue.push(item);
  });
  wf.setHandler(mergeRejectedSignal, (rejection) => {
    rejections[rejection.bead] = (rejections[rejection.bead] ?? 0) + 1;
    // The bead may still be `current` while its finished session is being stopped: queue it anyway.
    if (!state.queue.some((q) => q.bead === rejection.bead)) {
      state.queue.push({ bead: rejection.bead, kind: 'rework', reason: rejection.reason, at: new Date().toISOString() });
    }
  });
  // Mail itself is a bead (`gt mail inbox`); the workflow keeps the latest notices for `gt polecat` views.
  wf.setHandler(mailSignal, (notice) => {
    state.mail = [...(state.mail ?? []), notice].slice(-RECENT);
  });
  // The session activity says when its agent waits at a prompt for a person (and when not any more).
  wf.setHandler(agentStatusSignal, (notice) => {
    const c = state.current;
    if (!c || c.bead !== notice.bead || c.attempt !== notice.attempt || state.status !== 'working') return;
    if (notice.readyAt) c.readyAt = notice.readyAt;
    if (notice.awaiting === undefined) return;
    if (notice.awaiting) c.awaiting = notice.awaiting;
    else delete c.awaiting;
    setStatus('working');
  });
  wf.setHandler(unslingSignal, (req) => {
    if (state.current?.bead === req.bead) unslungBy = req.by ?? 'someone';
    else state.queue = state.queue.filter((q) => q.bead !== req.bead);
  });

  wf.setHandler(
    doneUpdate,
    async (req) => {
      const earlier = receipts.get(req.bead);
      if (earlier) return earlier;
      const current = state.current!;
      doneRequest = req;
      const lean = wf.patched(LEAN_FINISH_PATCH);
      setStatus('submitting', { indexed: !lean });
      let mergeQueue: string | undefined;
      try {
        const release = { rig, name, bead: req.bead, status: req.status, message: req.message, branch: current.branch! };
        const mr = req.status === 'COMPLETED' ? { bead: req.bead, branch: current.branch!, polecat: name, worktree: current.worktree!, submittedAt: new Date().toISOString() } : undefined;
        if (wf.patched(DONE_ONE_ACTIVITY_PATCH)) {
          mergeQueue = (await acts.polecatDone(release, mr)).mergeQueue;
        } else {
          await acts.releasePolecatHook(release);
          if (mr) mergeQueue = await acts.submitPolecatMergeRequest(rig, mr);
        }
      } catch (err) {
        // The agent sees the failure and may run `gt done` again; its session goes on meanwhile.
        doneRequest = undefined;
        setStatus('working');
        throw wf.ApplicationFailure.nonRetryable(`gt done could not be completed: ${describeFailure(err)}`, 'DoneFailed');
      }
      const receipt: DoneReceipt = {
        polecat: name,
        rig,
        bead: req.bead,
        status: req.status,
        branch: current.branch,
        worktree: current.worktree,
        mergeQueue,
        acceptedAt: new Date().toISOString(),
      };
      receipts.set(req.bead, receipt);
      doneReceipt = receipt;
      return receipt;
    },
    {
      validator: (req) => {
        if (receipts.has(req.bead)) return;
        const current = state.current;
        if (!current) throw new Error(`polecat ${name} has no work on its hook`);
        if (current.bead !== req.bead) throw new Error(`polecat ${name} is working ${current.bead}, not ${req.bead}`);
        if (doneRequest) throw new Error(`gt done for ${req.bead} is already being handled`);
        if (state.status !== 'working') throw new Error(`polecat ${name} is ${state.status}, not working`);
      },
    },
  );

  wf.setHandler(
    handoffUpdate,
    (req) => {
      handoffRequest = req;
      return { polecat: name, bead: state.current!.bead, attempt: state.current!.attempt, acceptedAt: new Date().toISOString() };
    },
    {
      validator: (_req) => {
        if (!state.current || state.status !== 'working') throw new Error(`polecat ${name} has no running session to hand off`);
        if (doneRequest) throw new Error('gt done is being handled; no handoff now');
        if (handoffRequest) throw new Error('a handoff is already under way');
      },
    },
  );

  /** Tokens and dollars the bead's sessions spent, for the result (the dashboard and `gt polecat` views read it). */
  const withUsage = async (result: Omit<WorkResult, 'at'>): Promise<Omit<WorkResult, 'at'>> => {
    if (!wf.patched(USAGE_PATCH)) return result;
    return addUsage(result, await acts.polecatBeadUsage(result.bead));
  };
  const addUsage = (result: Omit<WorkResult, 'at'>, usage: WorkResult['usage']): Omit<WorkResult, 'at'> => {
    // The last bead's figures in the memo too, for the Web UI and `temporal workflow describe`.
    if (usage && wf.patched(USAGE_MEMO_PATCH)) wf.upsertMemo({ lastBeadUsage: { bead: result.bead, ...usage } });
    return usage ? { ...result, usage } : result;
  };
  const finish = (result: Omit<WorkResult, 'at'>, opts: { dispatcherTold?: boolean } = {}) => {
    if (!opts.dispatcherTold) tellDispatcher(result.bead, result.outcome === 'submitted' ? 'submitted' : 'released');
    state.recent.push({ ...result, at: new Date().toISOString() });
    if (state.recent.length > RECENT) state.recent.splice(0, state.recent.length - RECENT);
    state.current = undefined;
    setStatus('idle');
  };

  async function work(item: WorkItem): Promise<void> {
    doneRequest = undefined;
    doneReceipt = undefined;
    handoffRequest = undefined;
    unslungBy = undefined;
    // A bead sent back by the merge queue needs a new `gt done`, not the receipt of the last one.
    receipts.delete(item.bead);
    const current: CurrentWork = { ...item, attempt: 0, attempts: [], startedAt: new Date().toISOString() };
    state.current = current;
    setStatus('preparing');
    if (item.kind === 'rework') tellDispatcher(item.bead, 'working');
    if (item.heartbeatMs) heartbeatTimeout = item.heartbeatMs;
    let prep: Awaited<ReturnType<ReturnType<typeof prepActs>['preparePolecatWork']>>;
    try {
      prep = await prepActs().preparePolecatWork({ rig, name, item });
    } catch (err) {
      // No worktree, so no agent can work the bead: hand it back to people rather than fail the polecat.
      const reason = `could not prepare the worktree: ${describeFailure(err)}`;
      await acts.blockPolecatBead({ rig, name, bead: item.bead, reason, branch: `polecat/${name}/${item.bead}` });
      return finish({ bead: item.bead, outcome: 'blocked', detail: reason });
    }
    if (prep.skip) return finish({ bead: item.bead, outcome: 'skipped', detail: prep.skip });
    current.worktree = prep.worktree;
    current.branch = prep.branch;
    current.session = prep.session;
    const { limits } = prep;
    heartbeatTimeout = limits.heartbeatMs;
    acts = bookkeeping();
    if (item.kind === 'rework' && (rejections[item.bead] ?? 0) > limits.maxAttempts) {
      const reason = `the merge queue refused it ${rejections[item.bead]} times; last: ${item.reason ?? 'no reason given'}`;
      await acts.blockPolecatBead({ rig, name, bead: item.bead, reason, branch: prep.branch });
      return finish({ bead: item.bead, outcome: 'blocked', detail: reason });
    }
    const agentActs = wf.proxyActivities<Activities>({
      // A cancelled session activity is waited for: until it has stopped its agent, the next
      // session must not start (both use the same tmux session name).
      cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      startToCloseTimeout: '30d',
      heartbeatTimeout: limits.heartbeatMs,
      // Retries here are for a lost worker only (the session activity reports a failed agent
      // as a value): the next try adopts the agent the dead worker left running.
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 20 },
    });

    let handoff = item.kind === 'rework' ? handoffNote('rejected', item.reason, 0) : undefined;
    let failures = 0;
    let lastReason = '';
    for (;;) {
      current.attempt += 1;
      const record: AttemptRecord = { attempt: current.attempt, startedAt: new Date().toISOString() };
      current.attempts.push(record);
      delete current.awaiting;
      delete current.readyAt;
      setStatus('working');
      const scope = new wf.CancellationScope();
      let outcome: AgentOutcome | undefined;
      let failure: unknown;
      let settled = false;
      void scope
        .run(() =>
          agentActs.runPolecatAgent.executeWithOptions({ summary: `${item.bead}: session ${current.attempt}` }, [
            {
              rig,
              name,
              bead: item.bead,
              title: prep.title,
              worktree: prep.worktree,
              branch: prep.branch,
              attempt: current.attempt,
              agent: item.agent,
              headless: item.headless,
              handoff,
              limits,
            },
          ]),
        )
        .then(
          (o) => void (outcome = o),
          (e) => void (failure = e),
        )
        .finally(() => (settled = true));
      await wf.condition(() => settled || doneRequest !== undefined || handoffRequest !== undefined || unslungBy !== undefined);

      if (doneRequest) {
        await wf.condition(() => doneReceipt !== undefined);
        await wf.condition(() => settled, EXIT_GRACE, { summary: 'let the agent exit after gt done' });
        if (!settled) {
          scope.cancel();
          await wf.condition(() => settled);
        }
        const lean = wf.patched(LEAN_FINISH_PATCH);
        setStatus('stopping', { indexed: !lean });
        const status = (doneRequest as DoneRequest).status;
        const result = { bead: item.bead, outcome: status === 'COMPLETED' ? ('submitted' as const) : status === 'ESCALATED' ? ('escalated' as const) : ('deferred' as const), detail: doneReceipt!.mergeQueue };
        if (lean) {
          // The activity tells the dispatcher once the session is stopped (as finish() would, from here).
          const usage = await acts.stopPolecatAgentWithUsage(rig, name, item.bead, result.outcome === 'submitted' ? 'submitted' : 'released');
          record.endedAt = new Date().toISOString();
          record.outcome = 'done';
          return finish(addUsage(result, usage), { dispatcherTold: true });
        }
        if (wf.patched(STOP_WITH_USAGE_PATCH)) {
          const usage = await acts.stopPolecatAgentWithUsage(rig, name, item.bead);
          record.endedAt = new Date().toISOString();
          record.outcome = 'done';
          return finish(addUsage(result, usage));
        }
        await acts.stopPolecatAgent(rig, name);
        record.endedAt = new Date().toISOString();
        record.outcome = 'done';
        return finish(await withUsage(result));
      }
      if (unslungBy !== undefined || handoffRequest) {
        if (!settled) {
          scope.cancel();
          await wf.condition(() => settled);
        }
        setStatus('stopping');
        await acts.stopPolecatAgent(rig, name);
        record.endedAt = new Date().toISOString();
        if (unslungBy !== undefined) {
          record.outcome = 'unslung';
          return finish({ bead: item.bead, outcome: 'unslung', detail: `by ${unslungBy}` });
        }
        // A handoff is the agent's own choice: a fresh session that does not count as a failure.
        record.outcome = 'handoff';
        handoff = handoffNote('handoff', handoffRequest!.note, current.attempt);
        handoffRequest = undefined;
        continue;
      }

      record.endedAt = new Date().toISOString();
      let detail: string;
      if (failure) {
        record.outcome = 'failed';
        detail = describeFailure(failure);
      } else if (outcome!.outcome === 'failed-start') {
        record.outcome = 'failed-start';
        detail = outcome!.tail ? outcome!.tail.split('\n').filter((l) => l.trim()).join(' / ').slice(0, 400) : 'it never showed its ready prompt';
      } else if (outcome!.outcome === 'stalled') {
        record.outcome = 'stalled';
        detail = `no progress for ${Math.round((limits.stallMs + limits.nudgeGraceMs) / 1000)}s after a nudge`;
      } else {
        record.outcome = 'exited';
        detail = `exit code ${outcome!.code ?? 'unknown'}${outcome!.tail ? `; last output: ${lastLine(outcome!.tail)}` : ''}`;
      }
      record.detail = detail;
      failures += 1;
      lastReason = `session ${current.attempt} ${record.outcome === 'exited' ? 'ended without `gt done`' : record.outcome === 'stalled' ? 'stalled' : record.outcome === 'failed-start' ? 'failed to start' : 'failed'} (${detail})`;
      if (failures >= limits.maxAttempts) {
        const reason = `${failures} sessions failed; last: ${lastReason}`;
        await acts.blockPolecatBead({ rig, name, bead: item.bead, reason, branch: prep.branch });
        return finish(await withUsage({ bead: item.bead, outcome: 'blocked', detail: reason }));
      }
      await acts.notePolecatAttempt(rig, name, item.bead, `${lastReason}; starting session ${current.attempt + 1} in the same worktree`);
      handoff = handoffNote(record.outcome, detail, current.attempt);
    }
  }

  for (;;) {
    await wf.condition(() => state.queue.length > 0 || tooLong());
    if (state.queue.length === 0 || tooLong()) {
      await wf.condition(wf.allHandlersFinished);
      await Promise.all(pendingTells);
      return wf.continueAsNew<typeof polecatWorkflow>({ rig, name, queue: state.queue, rejections, heartbeatMs: heartbeatTimeout });
    }
    await work(state.queue.shift()!);
  }

  function tooLong(): boolean {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > HISTORY_LIMIT;
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() && !l.startsWith('[gt]'));
  return (lines.at(-1) ?? '').slice(0, 200);
}
