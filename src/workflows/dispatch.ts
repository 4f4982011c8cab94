import * as wf from '@temporalio/workflow';
import {
  DISPATCHED_SIGNAL,
  DISPATCH_QUERY,
  POLECAT_CHANGED_SIGNAL,
  RELEASE_SIGNAL,
  SLING_SIGNAL,
  SLING_UPDATE,
  type DispatchInput,
  type DispatchSettings,
  type DispatchState,
  type PolecatChange,
  type ReleaseRequest,
  type SlingAsked,
  type SlingReceipt,
  type SlingRequest,
  type SlingResult,
  settingsKey,
} from '../dispatch/types.js';
import { chooseName } from '../polecat/names.js';
import { askPatchesFirst } from './patches.js';
import { GtKind, GtRig } from '../temporal/search-attributes.js';
import type { Activities } from '../activities/index.js';

/**
 * A rig's dispatcher (`dispatch/<rig>`): the one source of truth for who works which bead.
 * A `sling` update (with a request id, so a retried call changes nothing twice) picks polecat
 * names (lowest free name of the pool, or the one asked for), reserves them in this workflow's
 * state, hooks each bead in the ledger and hands it to its polecat workflow. Once the update is
 * accepted the engine finishes it, whatever happens to the caller or the worker.
 * Polecats say when they take a bead on and when they are free again; the refinery says when a
 * bead is merged. A bead sent back by the merge queue stays its polecat's, so nobody else gets it.
 */
export const stateQuery = wf.defineQuery<DispatchState>(DISPATCH_QUERY);
export const slingUpdate = wf.defineUpdate<SlingReceipt, [SlingRequest]>(SLING_UPDATE);
export const polecatChangedSignal = wf.defineSignal<[PolecatChange]>(POLECAT_CHANGED_SIGNAL);
export const releaseSignal = wf.defineSignal<[ReleaseRequest]>(RELEASE_SIGNAL);
export const slingSignal = wf.defineSignal<[SlingAsked]>(SLING_SIGNAL);
const dispatchedSignal = wf.defineSignal<[SlingReceipt]>(DISPATCHED_SIGNAL);

const RECEIPTS_KEPT = 200;
const HISTORY_LIMIT = 5000;

/** Runs started after this ask their patches before any local activity (see askPatchesFirst). */
const DISPATCH_PATCHES_FIRST = 'dispatch-patches-first';
const ONE_ACTIVITY_PER_SLING_PATCH = 'dispatch-one-activity-per-sling';
const SETTINGS_CHECKED_PATCH = 'dispatch-settings-checked';

export async function dispatchWorkflow(input: DispatchInput): Promise<void> {
  askPatchesFirst(DISPATCH_PATCHES_FIRST, [ONE_ACTIVITY_PER_SLING_PATCH, SETTINGS_CHECKED_PATCH]);
  /** Who works what, as the Web UI shows it. Set whenever the state may have changed (each time the main condition is looked at). */
  let shown = '';
  const details = () => {
    const rows = Object.entries(state.owners).sort(([a], [b]) => a.localeCompare(b)).map(([bead, name]) => `| ${bead} | ${name} | ${state.busy[name] === bead ? 'working' : 'in the merge queue'} |`);
    const text = [`**${Object.keys(state.busy).length} polecats working** · ${rows.length} beads owned`, '', '| bead | polecat | state |', '|---|---|---|', ...rows].join('\n');
    if (text !== shown) wf.setCurrentDetails((shown = text));
  };
  const { rig } = input;
  const local = wf.proxyLocalActivities<Activities>({
    startToCloseTimeout: '20s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 10 },
  });
  // Ledger writes and the polecat's start are short and safe to repeat; a lost worker is noticed within the heartbeat timeout.
  const activitiesFor = (heartbeatMs: number) =>
    wf.proxyActivities<Activities>({
      startToCloseTimeout: '2m',
      heartbeatTimeout: heartbeatMs,
      retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s' },
    });

  const state: DispatchState = {
    rig,
    owners: { ...(input.carried?.owners ?? {}) },
    busy: { ...(input.carried?.busy ?? {}) },
    generation: input.carried?.generation ?? 0,
  };
  const receipts: SlingReceipt[] = [...(input.carried?.receipts ?? [])];
  /** Beads whose dispatch is under way in a handler: reserved, not yet handed over. */
  const inFlight = new Set<string>();
  let seeded = input.carried !== undefined;

  const release = (bead: string) => {
    const owner = state.owners[bead];
    delete state.owners[bead];
    if (owner && state.busy[owner] === bead) delete state.busy[owner];
  };

  wf.setHandler(stateQuery, () => state);
  wf.setHandler(polecatChangedSignal, (c) => {
    if (c.change === 'working') {
      state.owners[c.bead] = c.name;
      state.busy[c.name] = c.bead;
      return;
    }
    if (state.busy[c.name] === c.bead) delete state.busy[c.name];
    if (c.change === 'released' && state.owners[c.bead] === c.name) delete state.owners[c.bead];
  });
  wf.setHandler(releaseSignal, (req) => {
    for (const bead of req.beads ?? []) if (!inFlight.has(bead)) release(bead);
    if (req.polecat) {
      for (const [bead, owner] of Object.entries(state.owners)) if (owner === req.polecat && !inFlight.has(bead)) delete state.owners[bead];
      delete state.busy[req.polecat];
    }
  });

  /** The rig's settings as last read (runs with SETTINGS_CHECKED_PATCH): the sling that commits checks them. */
  let known: DispatchSettings | undefined;

  /** One sling request, from an update or a convoy's signal. */
  async function sling(req: SlingRequest): Promise<SlingReceipt> {
    const earlier = receipts.find((r) => r.requestId === req.requestId);
    if (earlier) return earlier;
    await wf.condition(() => seeded);
    // Slings handled after this decide on the settings last read, and the activity that hooks the
    // beads checks them first (a changed setting sends the sling round again on fresh ones): the
    // rig's settings are read in a local activity only on a change, not once a sling.
    const checked = wf.patched(SETTINGS_CHECKED_PATCH) && wf.patched(ONE_ACTIVITY_PER_SLING_PATCH);
    const read = async () => (known = await local.dispatchSettings(rig));
    let fresh = !(checked && known);
    let settings = checked && known ? known : await read();
    const itemFor = (c: { id: string }, used: DispatchSettings) => ({
      bead: c.id, kind: 'sling' as const, agent: req.agent, headless: req.headless, formula: req.formula, vars: req.vars, by: req.by, at: new Date().toISOString(), heartbeatMs: used.heartbeatMs,
    });
    let results: SlingResult[];
    let oneActivity = false;
    let chosen: Array<SlingRequest['beads'][number] & { name: string }>;
    for (;;) {
      results = [];
      const wanted = req.beads.filter((b) => {
        const owner = state.owners[b.id];
        if (owner === undefined) return true;
        results.push({ bead: b.id, result: 'already', polecat: owner });
        return false;
      });
      // Everything below up to the first await decides at once: no other request can interleave.
      // A polecat whose last bead waits in the merge queue is free for the next (rework queues behind it).
      const taken = new Set(Object.keys(state.busy));
      const room = Math.max(0, settings.cap - Object.keys(state.busy).length);
      if (req.polecat && wanted.length && taken.has(req.polecat)) {
        throw wf.ApplicationFailure.nonRetryable(`polecat ${rig}/${req.polecat} is taken: it works ${state.busy[req.polecat]}`, 'PolecatTaken');
      }
      // A cap read earlier may have been raised since: short of room, look at the settings again.
      if (!fresh && wanted.length > room) {
        settings = await read();
        fresh = true;
        continue;
      }
      if (req.allOrNothing && wanted.length > room) {
        throw wf.ApplicationFailure.nonRetryable(
          `rig ${rig} has ${Object.keys(state.busy).length} working polecat${Object.keys(state.busy).length === 1 ? '' : 's'} and a cap of ${settings.cap}; ${wanted.length} more would pass it`,
          'RigFull',
        );
      }
      chosen = wanted.slice(0, room).map((b) => {
        const name = req.polecat ?? chooseName(rig, settings.pool, taken);
        taken.add(name);
        state.owners[b.id] = name;
        state.busy[name] = b.id;
        inFlight.add(b.id);
        return { ...b, name };
      });
      for (const b of wanted.slice(room)) results.push({ bead: b.id, result: 'no-room', reason: `rig ${rig} has no free polecat (cap ${settings.cap})` });
      // Slings handled after ONE_ACTIVITY_PER_SLING_PATCH cost one activity for all their beads (hook and hand-over), not two a bead.
      oneActivity = checked || wf.patched(ONE_ACTIVITY_PER_SLING_PATCH);
      if (!oneActivity || chosen.length === 0) break;

      const acts = activitiesFor(settings.heartbeatMs);
      let outcomes: Awaited<ReturnType<typeof acts.dispatchBeads>>;
      try {
        outcomes = await acts.dispatchBeads.executeWithOptions({ summary: chosen.map((c) => `${c.id} → ${c.name}`).join(', ').slice(0, 200) }, [
          { rig, by: req.by, convoy: req.convoy, beads: chosen.map((c) => ({ name: c.name, item: itemFor(c, settings) })), expect: fresh ? undefined : settingsKey(settings) },
        ]);
      } finally {
        for (const c of chosen) inFlight.delete(c.id);
      }
      if (!Array.isArray(outcomes)) {
        // The settings changed since they were read (never when just read): nothing was hooked; decide again on fresh ones.
        for (const c of chosen) release(c.id);
        settings = await read();
        fresh = true;
        continue;
      }
      chosen.forEach((c, i) => {
        const refused = outcomes[i]?.refused;
        if (refused) {
          release(c.id);
          results.push({ bead: c.id, result: 'refused', reason: refused });
        } else results.push({ bead: c.id, result: 'slung', polecat: c.name });
      });
      break;
    }

    if (!oneActivity) {
      // Runs before ONE_ACTIVITY_PER_SLING_PATCH: a hook and a hand-over activity a bead.
      const acts = activitiesFor(settings.heartbeatMs);
      await Promise.all(
        chosen.map(async (c) => {
          try {
            const hooked = await acts.hookBeadForPolecat.executeWithOptions({ summary: `hook ${c.id} to ${c.name}` }, [{ rig, name: c.name, bead: c.id, by: req.by }]);
            if (hooked.refused) {
              release(c.id);
              results.push({ bead: c.id, result: 'refused', reason: hooked.refused });
              return;
            }
            await acts.handBeadToPolecat.executeWithOptions({ summary: `${c.id} → polecat ${c.name}` }, [{ rig, name: c.name, item: itemFor(c, settings) }]);
            results.push({ bead: c.id, result: 'slung', polecat: c.name });
          } finally {
            inFlight.delete(c.id);
          }
        }),
      );
    }
    const order = new Map(req.beads.map((b, i) => [b.id, i]));
    results.sort((a, b) => order.get(a.bead)! - order.get(b.bead)!);
    const receipt: SlingReceipt = { requestId: req.requestId, rig, results, at: new Date().toISOString() };
    receipts.push(receipt);
    if (receipts.length > RECEIPTS_KEPT) receipts.splice(0, receipts.length - RECEIPTS_KEPT);
    return receipt;
  }

  const validate = (req: SlingRequest) => {
    if (!req || typeof req.requestId !== 'string' || !req.requestId) throw new Error('a sling request needs a requestId');
    if (!Array.isArray(req.beads) || req.beads.length === 0) throw new Error('a sling request needs at least one bead');
    if (req.polecat && req.beads.length > 1) throw new Error('a polecat name can be asked for with one bead only');
  };
  wf.setHandler(slingUpdate, sling, { validator: validate });
  // A convoy asks by signal and gets the receipt back by signal; a request it cannot take is refused bead by bead.
  wf.setHandler(slingSignal, async ({ request, replyTo }) => {
    let receipt: SlingReceipt;
    try {
      validate(request);
      receipt = await sling(request);
    } catch (err) {
      if (wf.isCancellation(err)) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      receipt = { requestId: request?.requestId ?? '', rig, results: (request?.beads ?? []).map((b) => ({ bead: b.id, result: 'refused' as const, reason })), at: new Date().toISOString() };
    }
    if (!replyTo) return;
    try {
      await wf.getExternalWorkflowHandle(replyTo).signal(dispatchedSignal, receipt);
    } catch {
      // The convoy is gone (landed, cancelled): nobody waits for the answer.
    }
  });

  wf.upsertSearchAttributes([
    { key: GtKind, value: 'dispatch' },
    { key: GtRig, value: rig },
  ]);

  if (!seeded) {
    // The first dispatcher of a rig learns what earlier slings left hooked in the ledger.
    const found = await local.dispatchSeed(rig);
    for (const [name, bead] of Object.entries(found)) {
      state.owners[bead] = name;
      state.busy[name] = bead;
    }
    seeded = true;
  }

  await wf.condition(() => {
    details();
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > HISTORY_LIMIT;
  });
  await wf.condition(wf.allHandlersFinished);
  await wf.continueAsNew<typeof dispatchWorkflow>({
    rig,
    carried: { owners: state.owners, busy: state.busy, receipts, generation: state.generation + 1 },
  });
}
