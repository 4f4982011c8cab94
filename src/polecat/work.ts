import { Ledger } from '../beads/ledger.js';
import { GtError, usageError } from '../errors.js';
import { readRigs, rigPaths } from '../town/layout.js';
import { requireRig } from '../town/rigs.js';
import { ledgerDirForId, townRoutes } from '../town/routes.js';
import { readRigSettings, writeRigSettings } from '../town/settings.js';
import { workingPolecats } from './hook.js';
import { NAME_THEMES, chooseName, poolNames, validatePolecatName } from './names.js';

/** Town-wide work: ready beads of every ledger, stuck in_progress beads released, a rig's polecat names. */

export interface ReadyBead {
  id: string;
  title: string;
  priority: number;
  created_at: string;
  /** The rig whose ledger holds it, or `town` for the HQ ledger. */
  where: string;
}

export function townReady(root: string, opts: { rig?: string; limit?: string }): ReadyBead[] {
  let limit: number | undefined;
  if (opts.limit !== undefined) {
    limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1) throw usageError(`--limit must be a whole number of at least 1, not "${opts.limit}"`);
  }
  if (opts.rig) requireRig(root, opts.rig);
  const rigByDir = new Map(Object.keys(readRigs(root).rigs).map((r) => [rigPaths(root, r).beads, r]));
  const out: ReadyBead[] = [];
  for (const route of townRoutes(root)) {
    const where = rigByDir.get(route.dir) ?? 'town';
    if (opts.rig && where !== opts.rig) continue;
    let ledger: Ledger;
    try {
      ledger = Ledger.open(route.dir);
    } catch {
      continue; // a rig without a ledger yet
    }
    for (const b of ledger.ready()) out.push({ id: b.id, title: b.title, priority: b.priority, created_at: b.created_at, where });
  }
  out.sort((a, b) => a.priority - b.priority || a.created_at.localeCompare(b.created_at));
  return limit ? out.slice(0, limit) : out;
}

export interface Released {
  bead: string;
  from?: string;
}

/**
 * `gt release`: in_progress beads that nobody is working on go back to open, unassigned, with a
 * note. Every bead is checked first (exists, in_progress, not in a merge queue); then all change.
 */
export async function release(root: string, beads: string[], by: string): Promise<Released[]> {
  const rigs = readRigs(root).rigs;
  const checked = beads.map((arg) => {
    const dir = ledgerDirForId(arg, root);
    const bead = Ledger.open(dir).get(arg);
    if (bead.status !== 'in_progress') {
      throw new GtError(`bead ${bead.id} is ${bead.status}, not in_progress: gt release puts stuck in_progress work back to open`, {
        hint: bead.status === 'hooked' ? `it is on ${bead.assignee}'s hook: gt unsling ${bead.id}` : 'bd update <bead> --status open changes any status by hand',
      });
    }
    const rig = Object.entries(rigs).find(([, r]) => bead.id.startsWith(`${r.prefix}-`))?.[0];
    return { dir, bead, rig };
  });
  const { withEngine } = await import('../temporal/engine.js');
  return withEngine(root, async (client) => {
    const { queryRefinery } = await import('../refinery/client.js');
    for (const c of checked) {
      if (!c.rig) continue;
      const q = await queryRefinery(client, c.rig, 5_000);
      const queued = [...(q?.pending ?? []), ...(q?.current ? [q.current] : [])].some((r) => r.bead === c.bead.id);
      if (queued) throw new GtError(`bead ${c.bead.id} is in the merge queue of rig ${c.rig}: it is not stuck`, { hint: `gt mq list --rig ${c.rig} shows where it stands` });
    }
    const { releaseInDispatcher } = await import('../dispatch/client.js');
    const { tellConvoysByHand } = await import('../convoy/tell.js');
    const out: Released[] = [];
    for (const c of checked) {
      const from = c.bead.assignee;
      Ledger.open(c.dir).transaction((tx) => {
        const b = tx.get(c.bead.id);
        if (b.status !== 'in_progress') return;
        tx.update(b.id, { status: 'open', assignee: null });
        tx.addComment(b.id, `released by ${by}: it was in_progress${from ? ` for ${from}` : ''} with nobody working on it`);
      }, { actor: by });
      if (c.rig) await releaseInDispatcher(client, c.rig, { beads: [c.bead.id], why: `released by ${by}` });
      await tellConvoysByHand(root, [c.bead.id], `released by ${by}`);
      out.push({ bead: c.bead.id, from });
    }
    return out;
  }, { start: true });
}

export interface NamePool {
  rig: string;
  style?: string;
  custom: boolean;
  names: string[];
  inUse: string[];
  /** The name the next sling to this rig would get. */
  next: string;
}

export function namepools(root: string, rig?: string): NamePool[] {
  if (rig !== undefined) requireRig(root, rig);
  return (rig ? [rig] : Object.keys(readRigs(root).rigs).sort()).map((r) => {
    const settings = readRigSettings(root, r);
    const names = poolNames(settings);
    const inUse = [...workingPolecats(root, r).keys()].sort();
    const custom = Boolean(settings.namepool?.names?.length);
    return { rig: r, style: custom ? undefined : (settings.namepool?.style ?? 'wasteland'), custom, names, inUse, next: chooseName(r, names, new Set(inUse)) };
  });
}

export function setNamepool(root: string, rig: string, opts: { style?: string; names?: string }): NamePool {
  requireRig(root, rig);
  if ((opts.style === undefined) === (opts.names === undefined)) throw usageError('give either --style <theme> or --names <a,b,c>', `themes: ${Object.keys(NAME_THEMES).join(', ')}`);
  const settings = readRigSettings(root, rig);
  if (opts.style !== undefined) {
    if (!NAME_THEMES[opts.style]) throw usageError(`unknown namepool theme "${opts.style}"`, `themes: ${Object.keys(NAME_THEMES).join(', ')}`);
    settings.namepool = { style: opts.style };
  } else {
    const names = opts.names!.split(',').map((n) => n.trim()).filter(Boolean);
    if (names.length === 0) throw usageError('--names needs at least one name', 'e.g. --names ada,grace,linus');
    for (const n of names) validatePolecatName(n);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw usageError(`the name "${twice}" is given twice`);
    settings.namepool = { names };
  }
  writeRigSettings(root, rig, settings);
  return namepools(root, rig)[0]!;
}
