import * as wf from '@temporalio/workflow';
import { allClosed, convoyDetails, emptyCounts, estimate, finishReport, hasOutstandingWork, isStuck, pickDispatch, reconcile } from '../convoy/plan.js';
import {
  APPROVE_UPDATE,
  CANCEL_UPDATE,
  CONVOY_QUERY,
  MOUNTAIN_LABEL,
  PAUSE_UPDATE,
  REFRESH_SIGNAL,
  RESUME_UPDATE,
  type ConvoyActorRequest,
  type ConvoyInput,
  type ConvoyReceipt,
  type ConvoySnapshot,
  type ConvoyState,
  type ConvoyStatus,
  type BeadNews,
  type DispatchResult,
  type SnapshotBead,
} from '../convoy/types.js';
import { DISPATCHED_SIGNAL, SLING_SIGNAL, dispatchWorkflowId, type SlingAsked, type SlingReceipt } from '../dispatch/types.js';
import { polecatAddress } from '../polecat/state.js';
import { GtConvoy, GtKind, GtStatus } from '../temporal/search-attributes.js';
import { budgetSpent, formatBudget, formatSpent } from '../convoy/budget.js';
import type { Activities } from '../activities/index.js';

/**
 * A convoy (or, labelled `mountain`, a mountain): keeps feeding a batch of beads to polecats until
 * every one is closed, then lands (convoy bead closed, owner told). It watches the ledgers through
 * a heartbeating activity that returns the moment anything it tracks changes, so a bead whose last
 * blocker closed is dispatched within a poll. Beads added later join in. A mountain also retries
 * a failed bead until it has failed skip_after_failures times, then skips it and works around it,
 * and mails the Mayor a stall report when nothing moves for stall_timeout.
 */
export const stateQuery = wf.defineQuery<ConvoyState>(CONVOY_QUERY);
export const refreshSignal = wf.defineSignal<[BeadNews?]>(REFRESH_SIGNAL);
export const pauseUpdate = wf.defineUpdate<ConvoyReceipt, [ConvoyActorRequest]>(PAUSE_UPDATE);
export const resumeUpdate = wf.defineUpdate<ConvoyReceipt, [ConvoyActorRequest]>(RESUME_UPDATE);
export const approveUpdate = wf.defineUpdate<ConvoyReceipt, [ConvoyActorRequest]>(APPROVE_UPDATE);
export const cancelUpdate = wf.defineUpdate<ConvoyReceipt, [ConvoyActorRequest]>(CANCEL_UPDATE);
export const dispatchedSignal = wf.defineSignal<[SlingReceipt]>(DISPATCHED_SIGNAL);

/** Convoys learn about their beads by message (REFRESH_SIGNAL with the beads); runs started before watch the ledgers. */
const MESSAGES_PATCH = 'convoy-messages';
/** A convoy with a budget looks at what its beads spent before it sends out more (runs started before have none). */
const BUDGET_PATCH = 'convoy-budget';
/** What a budgeted convoy's beads spent is kept in its memo as well (runs started before keep it in their state only). */
const SPENT_MEMO_PATCH = 'convoy-spent-memo';
/**
 * A convoy asks its rigs' dispatchers for polecats by signal and gets the receipts by signal: no
 * activity and no RPC between a blocker closing and the bead's hook (runs started before ask
 * through the dispatchConvoyBeads activity).
 */
const DISPATCH_BY_SIGNAL_PATCH = 'convoy-dispatch-by-signal';
/** How long a convoy waits for a dispatcher's receipt before it asks again through the activity (same request id, same answer). */
const REPLY_WAIT_MS = 60_000;

/** Even with nothing to wait for, look again this often (and check the history length). */
const IDLE_LOOK = 10 * 60_000;
const DEFAULT_HEARTBEAT_MS = 30_000;
const HISTORY_LIMIT = 4000;

export async function convoyWorkflow(input: ConvoyInput): Promise<ConvoyState> {
  const { convoy } = input;
  // Every activity beats while it runs, so a lost worker is noticed within the heartbeat timeout.
  const proxy = (heartbeatTimeout: number) =>
    wf.proxyActivities<Activities>({
      startToCloseTimeout: '5m',
      heartbeatTimeout,
      retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 50 },
    });
  const settings = await proxy(DEFAULT_HEARTBEAT_MS).convoySettings();
  const acts = proxy(settings.heartbeatMs);
  // The watch runs as long as nothing changes; a lost worker shows as a missed heartbeat and the watch moves to another.
  const watcher = wf.proxyActivities<Activities>({
    startToCloseTimeout: IDLE_LOOK + 60_000,
    heartbeatTimeout: settings.heartbeatMs,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s' },
  });

  const now = () => new Date().toISOString();
  const state: ConvoyState = input.carried ?? {
    convoy,
    title: convoy,
    mode: 'convoy',
    status: 'running',
    owner: 'mayor',
    notify: false,
    human: false,
    startedAt: now(),
    lastProgressAt: now(),
    stallReports: 0,
    beads: [],
    waves: [],
    counts: emptyCounts(),
    generation: 0,
  };
  let reportedIncomplete = false;
  /** The spend last written to the memo (each run writes it again at its first look). */
  let memoSpentTokens: number | undefined;
  let stallReported = state.status === 'stalled';
  let lastStatus: ConvoyStatus | undefined;
  const setStatus = (status: ConvoyStatus) => {
    state.status = status;
    wf.setCurrentDetails(convoyDetails(state));
    if (status !== lastStatus) {
      lastStatus = status;
      wf.upsertSearchAttributes([{ key: GtStatus, value: status }]);
    }
  };

  // Messages wake the main loop through a trigger that is re-armed each time it fires.
  let fire!: () => void;
  let woken!: Promise<void>;
  const rearm = () => {
    woken = new Promise<void>((resolve) => (fire = () => {
      poked += 1;
      resolve();
    }));
  };
  rearm();
  let refresh = false;

  const running = () => state.beads.filter((b) => b.phase === 'running').length;
  const receipt = (): ConvoyReceipt => ({ convoy, status: state.status, running: running(), at: now() });
  const finished = () => state.status === 'landed' || state.status === 'cancelled' || state.cancelled !== undefined;

  wf.setHandler(stateQuery, () => state);
  /** Message mode: what the next look must cover (news since the last one). */
  let lookAtAll = true;
  const lookAt = new Set<string>();
  /** Beads as the news saw them (no look needed), newest sighting per bead. */
  const fresh = new Map<string, SnapshotBead>();
  let poked = 0;
  wf.setHandler(refreshSignal, (news) => {
    refresh = true;
    if (news?.seen) for (const b of news.seen) keepNewer(fresh, b);
    else if (news?.beads?.length) for (const b of news.beads) lookAt.add(b);
    else lookAtAll = true;
    fire();
  });
  /** Dispatchers' receipts for the requests this run waits on. */
  const awaited = new Set<string>();
  const replies = new Map<string, SlingReceipt>();
  let asks = 0;
  wf.setHandler(dispatchedSignal, (r) => {
    if (awaited.has(r?.requestId)) replies.set(r.requestId, r);
  });
  wf.setHandler(
    pauseUpdate,
    (req) => {
      state.paused = { by: req.by, at: now() };
      setStatus('paused');
      fire();
      return receipt();
    },
    {
      validator: (_req) => {
        if (finished()) throw new Error(`${convoy} is ${state.status}`);
        if (state.paused) throw new Error(`${convoy} is already paused (by ${state.paused.by})`);
      },
    },
  );
  wf.setHandler(
    resumeUpdate,
    (_req) => {
      state.paused = undefined;
      setStatus('running');
      fire();
      return receipt();
    },
    {
      validator: (_req) => {
        if (finished()) throw new Error(`${convoy} is ${state.status}`);
        if (!state.paused) throw new Error(`${convoy} is not paused`);
      },
    },
  );
  wf.setHandler(
    approveUpdate,
    (req) => {
      state.approved = { by: req.by, at: now() };
      fire();
      return receipt();
    },
    {
      validator: (_req) => {
        if (finished()) throw new Error(`${convoy} is ${state.status}`);
        if (!state.human) throw new Error(`${convoy} does not wait for a person (it was not created with --human)`);
        if (state.approved) throw new Error(`${convoy} is already approved (by ${state.approved.by})`);
      },
    },
  );
  wf.setHandler(
    cancelUpdate,
    (req) => {
      state.cancelled = { by: req.by, at: now(), reason: req.reason };
      fire();
      return { ...receipt(), status: 'cancelled' };
    },
    {
      validator: (_req) => {
        if (state.status === 'landed') throw new Error(`${convoy} has already landed`);
        if (state.cancelled) throw new Error(`${convoy} is already being cancelled`);
      },
    },
  );

  wf.upsertSearchAttributes([
    { key: GtKind, value: state.mode },
    { key: GtConvoy, value: convoy },
  ]);
  lastStatus = undefined;
  setStatus(state.paused ? 'paused' : state.status);

  const runningMap = () => Object.fromEntries(state.beads.filter((b) => b.phase === 'running' && b.polecat).map((b) => [b.id, b.polecat!]));
  const look = () => acts.observeConvoy({ convoy, waitMs: 0, running: runningMap() });

  let watchScope: wf.CancellationScope | undefined;
  let watch: Promise<ConvoySnapshot> | undefined;
  const stopWatch = () => {
    watchScope?.cancel();
    watchScope = undefined;
    watch = undefined;
  };
  /** Beads a dispatch could not place (rig full, refused): not tried again until something changes. */
  const notNow = new Set<string>();

  /** What the loop does after deciding on one look. */
  type Step =
    | { next: 'done' }
    | { next: 'look'; stopWatch: boolean; beads?: string[]; dispatched?: DispatchResult[] }
    | { next: 'continue-as-new' }
    | { next: 'wait'; waitMs: number };

  /** Everything one look at the beads decides: land, cancel, skip, dispatch, report a stall. */
  async function decide(snap: ConvoySnapshot): Promise<Step> {
    if (snap.convoy.status === 'closed' && !state.cancelled) {
      // Closed by hand in the ledger (bd close): nothing more to do for it.
      state.cancelled = { by: 'ledger', at: now(), reason: 'the convoy bead was closed' };
    }
    const mode = snap.convoy.labels.includes(MOUNTAIN_LABEL) ? 'mountain' : 'convoy';
    if (mode !== state.mode) {
      state.mode = mode;
      wf.upsertSearchAttributes([{ key: GtKind, value: mode }]);
    }
    const r = reconcile(state, snap, settings, now());
    wf.setCurrentDetails(convoyDetails(state));
    if (r.progressed) {
      stallReported = false;
      state.stalledSince = undefined;
    }

    if (state.cancelled) {
      stopWatch();
      setStatus('cancelled');
      await acts.closeConvoyBead({ convoy, reason: `cancelled by ${state.cancelled.by}${state.cancelled.reason ? `: ${state.cancelled.reason}` : ''}`, by: state.cancelled.by });
      await wf.condition(wf.allHandlersFinished);
      return { next: 'done' };
    }

    if (r.skip.length || r.retry.length) {
      await acts.recordConvoyChanges({ convoy, skip: r.skip, retry: r.retry.map((x) => ({ ...x, skipAfter: settings.skipAfter })) });
      for (const s of r.skip) {
        const b = state.beads.find((x) => x.id === s.id)!;
        b.reason = s.reason;
        await acts.notifyConvoy({
          convoy,
          to: 'mayor',
          subject: `SKIPPED: ${s.id} in mountain ${convoy} (${state.title})`,
          body: `${s.id} "${b.title}" ${s.reason}.\nThe mountain goes on around it; beads that depend on it wait. To try again: fix the cause, then bd label remove ${s.id} mountain:skipped and bd update ${s.id} --status open.`,
          notify: false,
          kind: 'skipped',
        });
      }
      return { next: 'look', stopWatch: false, beads: [...r.skip.map((x) => x.id), ...r.retry.map((x) => x.id)] };
    }

    if (allClosed(state)) {
      if (state.human && !state.approved) {
        setStatus('awaiting-approval');
      } else {
        stopWatch();
        setStatus('landed');
        state.landedAt = now();
        Object.assign(state, estimate(state, Date.now()));
        await acts.landConvoy({ convoy, reason: `landed: all ${state.beads.length} beads closed`, epic: state.mode === 'mountain' ? state.epic : undefined });
        const report = finishReport(state);
        await acts.notifyConvoy({ convoy, to: state.owner, subject: report.subject, body: report.body, notify: state.notify, kind: 'landed' });
        await wf.condition(wf.allHandlersFinished);
        return { next: 'done' };
      }
    } else if (isStuck(state)) {
      setStatus('incomplete');
      if (!reportedIncomplete && state.mode === 'mountain') {
        reportedIncomplete = true;
        const report = finishReport(state);
        await acts.notifyConvoy({ convoy, to: state.owner, subject: report.subject, body: report.body, notify: state.notify, kind: 'incomplete' });
      }
    } else {
      reportedIncomplete = false;
      let picks = pickDispatch(state).filter((id) => !notNow.has(id));
      if (picks.length && state.budget && wf.patched(BUDGET_PATCH)) {
        const budget = state.budget;
        const spent = await acts.convoySpend({ convoy, beads: state.beads.map((b) => b.id) });
        budget.spentTokens = spent.tokens;
        budget.spentUsd = spent.usd;
        // In the memo too, so the Web UI and `temporal workflow describe` show what it spent.
        if (spent.tokens !== memoSpentTokens && wf.patched(SPENT_MEMO_PATCH)) {
          memoSpentTokens = spent.tokens;
          wf.upsertMemo({ spent: { tokens: spent.tokens, ...(spent.usd !== undefined ? { usd: spent.usd } : {}) } });
        }
        if (budgetSpent(budget, spent)) {
          picks = [];
          if (!budget.exhaustedAt) {
            budget.exhaustedAt = now();
            const running = state.beads.filter((b) => b.phase === 'running').length;
            await acts.notifyConvoy({
              convoy,
              to: state.owner,
              subject: `BUDGET: ${state.mode} ${convoy} (${state.title}) spent ${formatSpent(budget)} of ${formatBudget(budget)}`,
              body: `${convoy} sends out no new beads: its beads' sessions spent ${formatSpent(budget)} of its ${formatBudget(budget)} budget.
${running} running bead${running === 1 ? '' : 's'} finish; ${state.beads.filter((b) => b.phase === 'ready').length} ready wait.
To go on, raise it: gt convoy budget ${convoy} <tokens|$>`,
              notify: state.notify,
              kind: 'budget',
            });
          }
        } else {
          delete budget.exhaustedAt;
        }
      }
      if (picks.length) {
        const results = wf.patched(DISPATCH_BY_SIGNAL_PATCH)
          ? await askDispatchers(picks, snap)
          : await acts.dispatchConvoyBeads.executeWithOptions({ summary: `dispatch ${picks.join(' ')}` }, [{ convoy, beads: picks }]);
        applyDispatch(results);
        // Decide again only from what is known after these slings, never from the look before them.
        return { next: 'look', stopWatch: true, beads: picks, dispatched: results };
      }
      setStatus(state.paused ? 'paused' : state.budget?.exhaustedAt ? 'over-budget' : stallReported ? 'stalled' : 'running');
    }

    const nowMs = Date.now();
    Object.assign(state, estimate(state, nowMs));
    const stallDue = Date.parse(state.lastProgressAt) + settings.stallMs;
    const watchingForStall = state.mode === 'mountain' && !state.paused && !state.budget?.exhaustedAt && !stallReported && hasOutstandingWork(state);
    if (watchingForStall && nowMs >= stallDue) {
      stallReported = true;
      state.stalledSince = state.lastProgressAt;
      state.stallReports += 1;
      setStatus('stalled');
      await acts.reportConvoyStall({ state });
    }

    const info = wf.workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_LIMIT) return { next: 'continue-as-new' };
    return { next: 'wait', waitMs: watchingForStall && !stallReported ? Math.max(1, stallDue - nowMs) : IDLE_LOOK };
  }

  /**
   * One request a rig, by signal to its dispatcher, which answers by signal. A rig whose dispatcher
   * does not run yet, or that gives no answer in time, is asked through the activity instead (it
   * starts the dispatcher; the same request id gets the same receipt).
   */
  async function askDispatchers(picks: string[], snap: ConvoySnapshot): Promise<DispatchResult[]> {
    const seen = new Map(snap.beads.map((b) => [b.id, b]));
    const results: DispatchResult[] = [];
    const byRig = new Map<string, Array<{ id: string; title: string }>>();
    for (const id of picks) {
      const b = seen.get(id);
      if (!b?.rig || b.missing) results.push({ bead: id, result: 'refused', reason: b?.rig ? 'not in any ledger' : 'its prefix belongs to no rig' });
      else byRig.set(b.rig, [...(byRig.get(b.rig) ?? []), { id, title: b.title }]);
    }
    asks += 1;
    const info = wf.workflowInfo();
    const prefix = `${convoy}/${info.runId}/ask-${asks}`;
    const answers = await Promise.all(
      [...byRig].map(async ([rig, beads]): Promise<DispatchResult[]> => {
        const requestId = `${prefix}/${rig}`;
        awaited.add(requestId);
        try {
          const asked: SlingAsked = { request: { requestId, beads, by: convoy, convoy }, replyTo: info.workflowId };
          const sent = await wf.getExternalWorkflowHandle(dispatchWorkflowId(rig)).signal(SLING_SIGNAL, asked).then(() => true, () => false);
          if (sent && (await wf.condition(() => replies.has(requestId), REPLY_WAIT_MS))) {
            return replies.get(requestId)!.results.map((r) => ({ bead: r.bead, result: r.result, polecat: r.polecat ? polecatAddress(rig, r.polecat) : undefined, reason: r.reason }));
          }
          return await acts.dispatchConvoyBeads.executeWithOptions({ summary: `dispatch ${beads.map((b) => b.id).join(' ')}` }, [{ convoy, beads: beads.map((b) => b.id), requestId: prefix }]);
        } finally {
          awaited.delete(requestId);
          replies.delete(requestId);
        }
      }),
    );
    return [...results, ...answers.flat()];
  }

  function applyDispatch(results: DispatchResult[]): void {
    const at = now();
    for (const res of results) {
      const b = state.beads.find((x) => x.id === res.bead);
      if (!b) continue;
      if (res.result === 'slung' || res.result === 'already') {
        if (res.result === 'slung') b.attempts += 1;
        b.phase = 'running';
        b.polecat = res.polecat ?? b.polecat;
        b.dispatchedAt = at;
        b.reason = undefined;
      } else {
        notNow.add(b.id);
        b.reason = res.reason;
      }
    }
    state.lastProgressAt = at;
    stallReported = false;
    state.stalledSince = undefined;
    wf.setCurrentDetails(convoyDetails(state));
  }

  const continueAsNew = async () => {
    stopWatch();
    await wf.condition(wf.allHandlersFinished);
    return wf.continueAsNew<typeof convoyWorkflow>({ convoy, carried: { ...state, generation: state.generation + 1 } });
  };

  if (!wf.patched(MESSAGES_PATCH)) {
    // A run started before convoys learned by message: it watches the ledgers until its next
    // decision, then goes on in message mode (patched() is true from the first new decision).
    let snap = await look();
    for (;;) {
      if (wf.patched(MESSAGES_PATCH)) {
        stopWatch();
        break;
      }
      const step = await decide(snap);
      if (step.next === 'done') return state;
      if (step.next === 'continue-as-new') return continueAsNew();
      if (step.next === 'look') {
        if (step.stopWatch) stopWatch();
        snap = await look();
        continue;
      }
      if (!watch) {
        const scope = new wf.CancellationScope();
        const since = snap.fingerprint;
        const running = runningMap();
        watchScope = scope;
        watch = scope.run(() => watcher.observeConvoy.executeWithOptions({ summary: 'watch the ledgers' }, [{ convoy, since, waitMs: step.waitMs, running }]));
        watch.catch(() => undefined);
      }
      const next = await Promise.race([watch.then((x) => x), woken.then(() => undefined)]);
      if (next === undefined) {
        rearm();
        if (refresh) {
          refresh = false;
          stopWatch();
          snap = await look();
        }
        continue;
      }
      watch = undefined;
      watchScope = undefined;
      notNow.clear();
      snap = next;
    }
  }

  // Message mode: fold in the news (a look only for what it did not describe), decide, wait.
  const known = new Map<string, SnapshotBead>();
  let header: ConvoySnapshot['convoy'] | undefined;
  let tracked: string[] = [];
  let timer: { due: number; fired: boolean; scope: wf.CancellationScope } | undefined;
  lookAtAll = true;
  for (;;) {
    const all = lookAtAll || !header;
    const ids = all ? undefined : [...lookAt];
    lookAtAll = false;
    lookAt.clear();
    refresh = false;
    if (all || ids!.length) {
      const seen = await acts.lookAtConvoyBeads.executeWithOptions({ summary: ids ? `look at ${ids.join(' ')}` : 'look at every bead' }, [{ convoy, beads: ids }]);
      header = seen.convoy;
      tracked = seen.tracked;
      if (!ids) known.clear();
      for (const b of seen.beads) keepNewer(known, b);
      if (tracked.some((id) => !known.has(id))) {
        lookAtAll = true;
        continue;
      }
    }
    for (const b of fresh.values()) if (tracked.includes(b.id)) keepNewer(known, b);
    fresh.clear();
    // A tracked bead that closed no longer holds back the tracked beads that wait on it.
    for (const b of known.values()) if (b.blockers.length) b.blockers = b.blockers.filter((x) => known.get(x)?.status !== 'closed');
    const snap: ConvoySnapshot = { convoy: header!, beads: tracked.map((id) => known.get(id)!), fingerprint: '', at: now() };
    const step = await decide(snap);
    if (step.next === 'done') return state;
    if (step.next === 'continue-as-new') {
      timer?.scope.cancel();
      return continueAsNew();
    }
    if (step.next === 'look') {
      if (step.dispatched) {
        // Slung beads are hooked now (their own news follows): no look needed.
        for (const r of step.dispatched) {
          const b = known.get(r.bead);
          if (b && (r.result === 'slung' || r.result === 'already') && b.status === 'open') known.set(r.bead, { ...b, status: 'hooked', assignee: r.polecat ?? b.assignee, inFlight: true });
        }
      } else if (step.beads) for (const id of step.beads) lookAt.add(id);
      else lookAtAll = true;
      continue;
    }
    // One timer for the next look of its own (idle reconcile, or a due stall report), kept across news.
    const due = Date.now() + step.waitMs;
    if (!timer || timer.fired || Math.abs(timer.due - due) > 1000 && due < timer.due) {
      timer?.scope.cancel();
      const t = { due, fired: false, scope: new wf.CancellationScope() };
      t.scope.run(() => wf.sleep(step.waitMs, { summary: step.waitMs >= IDLE_LOOK ? 'look at every bead again (reconcile)' : 'stall report due' })).then(
        () => void (t.fired = true),
        () => undefined,
      );
      timer = t;
    }
    const before = poked;
    const current = timer;
    await wf.condition(() => lookAtAll || lookAt.size > 0 || fresh.size > 0 || poked !== before || current.fired);
    if (lookAtAll || lookAt.size || fresh.size) notNow.clear();
    if (current.fired) {
      lookAtAll = true;
      notNow.clear();
    }
  }
}

/** Keep the newer of two sightings of a bead (by its updated_at; a sighting without one is newer). */
function keepNewer(into: Map<string, SnapshotBead>, b: SnapshotBead): void {
  const had = into.get(b.id);
  if (!had || !had.updatedAt || !b.updatedAt || b.updatedAt >= had.updatedAt) into.set(b.id, b);
}
