import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import { GtError } from '../errors.js';
import { ASSIGN_SIGNAL, polecatAddress, type WorkItem } from '../polecat/state.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { unfinished } from '../refinery/types.js';
import { HQ_PREFIX } from '../town/layout.js';
import { ledgerDirForId, townRoutes, type LedgerRoute } from '../town/routes.js';
import { dispatchView, polecatHas, polecatView, refineryView } from './engine-view.js';
import { ok, problem, type CheckResult, type DoctorContext } from './types.js';

/**
 * The ledgers: each `issues.jsonl` parses, no dependency names a bead that is nowhere, no
 * blocking cycle, and every bead hooked to a polecat (or in its merge queue) has a workflow
 * behind it.
 */

const BY = 'gt doctor';

/** A bead of a ledger not looked at (another rig's), by its prefix. */
function findBead(ctx: DoctorContext, id: string): Bead | undefined {
  try {
    return Ledger.open(ledgerDirForId(id, ctx.root)).tryGet(id);
  } catch {
    return undefined;
  }
}

function routeName(ctx: DoctorContext, route: LedgerRoute): string {
  return `ledger ${relative(ctx.root, join(route.dir, 'issues.jsonl'))}`;
}

function shortList(ids: string[]): string {
  return ids.slice(0, 5).join(', ') + (ids.length > 5 ? `, … (${ids.length} in all)` : '');
}

/** The ledgers of the rigs looked at (and the town's own), with every bead of the town for dangling checks. */
function openLedgers(ctx: DoctorContext): { checked: Array<{ route: LedgerRoute; ledger?: Ledger; beads?: Bead[]; error?: GtError }>; allIds: Set<string> } {
  const prefixes = new Set([HQ_PREFIX, ...Object.values(ctx.rigs).map((r) => r.prefix)]);
  const allIds = new Set<string>();
  const checked: Array<{ route: LedgerRoute; ledger?: Ledger; beads?: Bead[]; error?: GtError }> = [];
  for (const route of townRoutes(ctx.root)) {
    const mine = prefixes.has(route.prefix);
    try {
      const ledger = Ledger.open(route.dir);
      const beads = ledger.all();
      for (const b of beads) allIds.add(b.id);
      if (mine) checked.push({ route, ledger, beads });
    } catch (err) {
      if (mine) checked.push({ route, error: err instanceof GtError ? err : new GtError((err as Error).message) });
    }
  }
  return { checked, allIds };
}

async function orphanChecks(ctx: DoctorContext, ledger: Ledger, beads: Bead[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const name = `hooks in ${ledger.prefix}`;
  const held = beads.flatMap((bead) => {
    if (bead.status !== 'hooked' && bead.status !== 'in_progress') return [];
    const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(bead.assignee ?? '');
    return m && ctx.rigs[m[1]!] ? [{ bead, rig: m[1]!, polecat: m[2]! }] : [];
  });
  if (held.length && !ctx.client) return [problem('ledgers', name, 'warning', `${held.length} bead${held.length === 1 ? '' : 's'} hooked or in the merge queue not checked: the server cannot be reached`)];
  for (const { bead, rig, polecat } of held) {
    const pv = await polecatView(ctx, rig, polecat);
    if (pv.running && !pv.state) {
      out.push(problem('ledgers', name, 'warning', `${bead.id} is ${bead.status} to ${bead.assignee}: cannot tell whether its workflow has it (no worker polls rig ${rig}'s queue)`, 'start the worker (gt up), then run gt doctor again'));
      continue;
    }
    if (pv.running && pv.state && polecatHas(pv.state, bead.id)) continue;
    if (bead.status === 'in_progress') {
      const rv = await refineryView(ctx, rig);
      if (rv.running && !rv.state) {
        out.push(problem('ledgers', name, 'warning', `${bead.id} is in_progress (in the merge queue) for ${bead.assignee}: cannot ask rig ${rig}'s refinery (no worker polls its queue)`, 'start the worker (gt up), then run gt doctor again'));
        continue;
      }
      if (rv.running && rv.state && unfinished(rv.state).some((r) => r.bead === bead.id)) continue;
    }
    const why = pv.running
      ? `polecat workflow ${polecatWorkflowId(rig, polecat)} runs but does not have it`
      : `polecat workflow ${polecatWorkflowId(rig, polecat)} is not running`;
    const where = bead.status === 'in_progress' ? ` and rig ${rig}'s merge queue does not have it` : '';
    out.push(problem('ledgers', name, 'error', `${bead.id} is ${bead.status} to ${bead.assignee}, but ${why}${where}: nobody works it`,
      `gt doctor --fix gives it back (open, unassigned; its branch keeps the work) or re-adopts it if the polecat is idle; or gt unsling ${bead.id}`,
      () => repairHook(ctx, ledger, bead.id, bead.status, rig, polecat)));
  }
  if (out.length === 0) out.push(ok('ledgers', name, `${held.length} bead${held.length === 1 ? '' : 's'} hooked or in the merge queue, each with its workflow`));
  return out;
}

/**
 * An orphaned hook: re-adopted by its polecat when that workflow runs, is idle and the rig's
 * dispatcher gives the bead to nobody else; otherwise back to open, and the dispatcher and the
 * convoys tracking it are told. Everything is looked at again first: the engine may have moved on.
 */
async function repairHook(ctx: DoctorContext, ledger: Ledger, id: string, status: string, rig: string, polecat: string): Promise<string> {
  const client = ctx.client!;
  const address = polecatAddress(rig, polecat);
  const now = ledger.tryGet(id);
  if (!now || now.status !== status || now.assignee !== address) return `left ${id} alone: it changed meanwhile (now ${now?.status ?? 'gone'})`;
  const pv = await polecatView(ctx, rig, polecat);
  if (pv.running && pv.state && polecatHas(pv.state, id)) return `left ${id} alone: ${address} has it again`;
  if (status === 'hooked' && pv.running && pv.state && pv.state.status === 'idle' && !pv.state.current && pv.state.queue.length === 0) {
    const dv = await dispatchView(ctx, rig);
    const owner = dv.running ? dv.state?.owners[id] : undefined;
    const busy = dv.running ? dv.state?.busy[polecat] : undefined;
    const free = !dv.running || (dv.state !== undefined && (owner === undefined || owner === polecat) && (busy === undefined || busy === id));
    if (free) {
      const item: WorkItem = { bead: id, kind: 'sling', by: BY, at: new Date().toISOString() };
      await client.workflow.getHandle(polecatWorkflowId(rig, polecat)).signal(ASSIGN_SIGNAL, item);
      ledger.transaction((tx) => tx.addComment(id, `re-adopted by ${address}: ${BY} found it hooked with no workflow working it`), { actor: BY });
      return `re-adopted ${id}: handed it back to the idle polecat ${address}`;
    }
  }
  const changed = ledger.transaction((tx) => {
    const b = tx.get(id);
    if (b.status !== status || b.assignee !== address) return false;
    tx.update(id, { status: 'open', assignee: null });
    tx.addComment(id, `given back by ${BY}: it was ${status} to ${address} with no workflow working it (its branch keeps any work)`);
    return true;
  }, { actor: BY });
  if (!changed) return `left ${id} alone: it changed meanwhile`;
  const { releaseInDispatcher } = await import('../dispatch/client.js');
  await releaseInDispatcher(client, rig, { beads: [id], why: `given back by ${BY}: no workflow worked it` });
  const { tellConvoysByHand } = await import('../convoy/tell.js');
  await tellConvoysByHand(ctx.root, [id], `given back by ${BY}`);
  return `gave ${id} back: open and unassigned (it was ${status} to ${address}); rig ${rig}'s dispatcher was told`;
}

/**
 * Each rig dispatcher's record of who owns which bead: an owner the ledger and the polecat both
 * know nothing of keeps the bead from ever being slung again (`gt sling` answers "already").
 */
async function dispatcherChecks(ctx: DoctorContext, lookup: (id: string) => Bead | undefined): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const rig of Object.keys(ctx.rigs)) {
    const name = `dispatcher of ${rig}`;
    const dv = await dispatchView(ctx, rig);
    if (!dv.running) continue;
    if (!dv.state) {
      out.push(problem('ledgers', name, 'warning', `cannot ask dispatcher dispatch/${rig} who owns which bead: no worker polls the town's queue`, 'start the worker (gt up), then run gt doctor again'));
      continue;
    }
    const stale: Array<{ bead: string; polecat: string; why: string }> = [];
    for (const [bead, polecat] of Object.entries(dv.state.owners)) {
      const b = lookup(bead);
      if (b && (b.status === 'hooked' || b.status === 'in_progress') && b.assignee === polecatAddress(rig, polecat)) continue;
      const pv = await polecatView(ctx, rig, polecat);
      if (pv.running && (!pv.state || polecatHas(pv.state, bead))) continue;
      stale.push({ bead, polecat, why: b ? `${b.status}${b.assignee ? ` (${b.assignee})` : ''}` : 'in no ledger' });
    }
    if (stale.length === 0) {
      out.push(ok('ledgers', name, `${Object.keys(dv.state.owners).length} bead${Object.keys(dv.state.owners).length === 1 ? '' : 's'} owned, each by a polecat that has it`));
      continue;
    }
    for (const s of stale) {
      out.push(problem('ledgers', name, 'error', `dispatch/${rig} still gives ${s.bead} to ${s.polecat}, but the ledger says ${s.why} and the polecat does not have it: gt sling ${s.bead} would do nothing`,
        'gt doctor --fix tells the dispatcher the bead is nobody\'s',
        async () => {
          const again = await dispatchView(ctx, rig);
          if (!again.running || again.state?.owners[s.bead] !== s.polecat) return `left dispatch/${rig} alone: it no longer gives ${s.bead} to ${s.polecat}`;
          const { releaseInDispatcher } = await import('../dispatch/client.js');
          await releaseInDispatcher(ctx.client!, rig, { beads: [s.bead], why: `${BY}: ${s.polecat} does not have it` });
          return `told dispatch/${rig} that ${s.bead} is nobody's (it still gave it to ${s.polecat})`;
        }));
    }
  }
  return out;
}

export async function checkLedgers(ctx: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const { checked, allIds } = openLedgers(ctx);
  for (const { route, ledger, beads, error } of checked) {
    const name = routeName(ctx, route);
    if (!existsSync(join(route.dir, 'config.json'))) {
      out.push(problem('ledgers', name, 'error', `no ledger at ${relative(ctx.root, route.dir)} (config.json is missing)`, 'restore the .beads folder from git or a backup'));
      continue;
    }
    if (error || !ledger || !beads) {
      out.push(problem('ledgers', name, 'error', error?.message ?? 'cannot be read', error?.hint));
      continue;
    }
    out.push(ok('ledgers', name, `parses: ${beads.length} bead${beads.length === 1 ? '' : 's'}`));
    const dangling = beads.flatMap((b) => (b.dependencies ?? []).filter((d) => !allIds.has(d.depends_on_id)).map((d) => `${b.id} → ${d.depends_on_id} (${d.type})`));
    out.push(dangling.length
      ? problem('ledgers', `dependencies in ${ledger.prefix}`, 'warning', `${dangling.length} dependenc${dangling.length === 1 ? 'y names a bead' : 'ies name beads'} in no ledger of this town: ${shortList(dangling)}`, 'bd dep remove <bead> <missing bead> for each')
      : ok('ledgers', `dependencies in ${ledger.prefix}`, 'every dependency names a bead that exists'));
    const cycles = ledger.cycles();
    out.push(cycles.length
      ? problem('ledgers', `cycles in ${ledger.prefix}`, 'error', `${cycles.length} blocking cycle${cycles.length === 1 ? '' : 's'} (these beads can never be ready): ${cycles.map((c) => c.join(' → ')).join('; ')}`, 'bd dep remove one edge of each cycle (bd dep cycles shows them)')
      : ok('ledgers', `cycles in ${ledger.prefix}`, 'no blocking cycle'));
    out.push(...(await orphanChecks(ctx, ledger, beads)));
  }
  if (ctx.client) {
    const byId = new Map(checked.flatMap((c) => (c.beads ?? []).map((b) => [b.id, b] as const)));
    out.push(...(await dispatcherChecks(ctx, (id) => byId.get(id) ?? findBead(ctx, id))));
  }
  return out;
}
