import { budgetFromMeta } from './budget.js';
import { Ledger } from '../beads/ledger.js';
import { BOOKKEEPING_TYPES, type Bead } from '../beads/model.js';
import { GtError, usageError } from '../errors.js';
import { readRigs, townPaths, type RigsJson } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { computeWaves, describeCycle, findCycle, type GraphNode } from './plan.js';
import { MOUNTAIN_LABEL, POLECAT_FAILED_LABEL, STAGED_LABEL, type ConvoyMeta, type ConvoySnapshot, type SnapshotBead } from './types.js';
import { polecatLimits } from '../polecat/settings.js';

/**
 * Convoys in the ledger: a bead of type `convoy` in the HQ ledger (`hq-cv-xxxxx`) with a `tracks`
 * edge to each bead it carries (beads of any rig), its settings in the metadata. Everything here
 * reads or writes ledgers only; the engine side is in client.ts.
 */

/** The rig whose prefix starts `id` (longest prefix wins), or undefined (town beads, unknown prefixes). */
export function rigOfBead(rigs: RigsJson['rigs'], id: string): string | undefined {
  let best: string | undefined;
  let len = -1;
  for (const [name, r] of Object.entries(rigs)) {
    if (id.startsWith(`${r.prefix}-`) && r.prefix.length > len) {
      best = name;
      len = r.prefix.length;
    }
  }
  return best;
}

export function convoyMeta(bead: Bead): ConvoyMeta {
  const m = (bead.metadata ?? {}) as Record<string, unknown>;
  const out: ConvoyMeta = {};
  if (typeof m.owner === 'string') out.owner = m.owner;
  if (m.notify === true) out.notify = true;
  if (m.human === true) out.human = true;
  if (typeof m.max_concurrent === 'number' && Number.isInteger(m.max_concurrent) && m.max_concurrent > 0) out.max_concurrent = m.max_concurrent;
  if (typeof m.epic === 'string') out.epic = m.epic;
  if (Array.isArray(m.waves)) out.waves = m.waves as string[][];
  const budget = budgetFromMeta(m.budget);
  if (budget) out.budget = budget;
  return out;
}

export function hqLedger(root: string): Ledger {
  return Ledger.open(townPaths(root).beads);
}

export function trackedIds(convoy: Pick<Bead, 'dependencies'>): string[] {
  return [...new Set((convoy.dependencies ?? []).filter((d) => d.type === 'tracks').map((d) => d.depends_on_id))];
}

export function isMountain(convoy: Bead): boolean {
  return convoy.labels?.includes(MOUNTAIN_LABEL) ?? false;
}

export function isStaged(convoy: Bead): boolean {
  return convoy.labels?.includes(STAGED_LABEL) ?? false;
}

/** The convoy bead `id` (short ids allowed); refuses any other kind of bead. */
export function requireConvoy(root: string, id: string): Bead {
  if (!id || !id.trim()) throw usageError('no convoy given', 'name one: gt convoy list shows them');
  if (!id.trim().startsWith('hq-')) throw new GtError(`${id.trim()} is not a convoy (convoy ids look like hq-cv-abc12)`, { hint: 'gt convoy list shows them' });
  const bead = hqLedger(root).get(id.trim());
  if (bead.issue_type !== 'convoy') {
    throw new GtError(`${bead.id} is not a convoy (it is a ${bead.issue_type})`, { hint: 'convoy ids look like hq-cv-abc12; gt convoy list shows them' });
  }
  return bead;
}

/** Open convoys (other than `except`) that track `beadId`. */
export function openConvoysTracking(root: string, beadId: string, except?: string): Bead[] {
  return hqLedger(root)
    .list({ issue_type: 'convoy' })
    .filter((c) => c.id !== except && c.status !== 'closed' && trackedIds(c).includes(beadId));
}

export interface TrackableBead {
  id: string;
  title: string;
  rig: string;
  status: string;
}

/**
 * Every check before a bead joins a convoy: it exists, it is work (not bookkeeping, not an epic),
 * it belongs to a rig (so a polecat can work it), and no other open convoy carries it.
 */
export function checkTrackable(root: string, args: string[], opts: { convoy?: string } = {}): TrackableBead[] {
  const rigs = readRigs(root).rigs;
  const out: TrackableBead[] = [];
  for (const arg of args) {
    if (!arg || arg.startsWith('-')) throw usageError(`"${arg}" is not a bead id`, 'bead ids look like gt-abc12');
    const bead = Ledger.open(ledgerDirForId(arg, root)).get(arg);
    if (out.some((b) => b.id === bead.id)) throw usageError(`bead ${bead.id} is given twice`, 'give each bead once');
    if ((BOOKKEEPING_TYPES as readonly string[]).includes(bead.issue_type)) {
      throw new GtError(`${bead.id} is a ${bead.issue_type}, not work a polecat can do`, { hint: 'a convoy carries tasks, bugs, features and chores' });
    }
    if (bead.issue_type === 'epic') {
      throw new GtError(`${bead.id} is an epic: a convoy carries its children, not the epic itself`, { hint: `gt mountain ${bead.id} (or gt convoy stage ${bead.id}) takes all its children` });
    }
    const rig = rigOfBead(rigs, bead.id);
    if (!rig) {
      throw new GtError(`${bead.id} belongs to no rig, so no polecat can work it`, { hint: 'create the work in a rig\'s ledger (cd <rig>; bd create ...)' });
    }
    const other = openConvoysTracking(root, bead.id, opts.convoy);
    if (other.length) {
      throw new GtError(`bead ${bead.id} is already in the open convoy ${other[0]!.id} (${other[0]!.title})`, {
        hint: `a bead travels in one convoy at a time: gt convoy show ${other[0]!.id}; close that convoy first if it should move`,
      });
    }
    out.push({ id: bead.id, title: bead.title, rig, status: bead.status });
  }
  return out;
}

export interface NewConvoy {
  title: string;
  beads: string[];
  meta: ConvoyMeta;
  labels?: string[];
  by: string;
}

/** Create the convoy bead and its tracks edges in one write (re-checking under the lock that no other convoy took a bead). */
export function createConvoyBead(root: string, c: NewConvoy): Bead {
  const title = c.title.trim();
  if (!title) throw usageError('the convoy needs a name', 'usage: gt convoy create <name> [beads…]');
  return hqLedger(root).transaction((tx) => {
    const taken = tx.ledger.list({ issue_type: 'convoy' });
    for (const id of c.beads) {
      const other = taken.find((o) => trackedIds(o).includes(id));
      if (other) throw new GtError(`bead ${id} was just added to convoy ${other.id}`, { hint: `gt convoy show ${other.id}` });
    }
    const bead = tx.create({
      title,
      issue_type: 'convoy',
      idPrefix: 'cv',
      owner: c.meta.owner,
      labels: c.labels,
      metadata: { ...c.meta },
    });
    for (const id of c.beads) tx.addDependency(bead.id, id, 'tracks');
    return tx.lookup(bead.id)!;
  }, { actor: c.by });
}

/** Add beads to a convoy; a landed (closed) convoy opens again. Returns the ids newly tracked. */
export function addToConvoy(root: string, convoyId: string, beads: string[], by: string): { added: string[]; reopened: boolean } {
  return hqLedger(root).transaction((tx) => {
    const c = tx.get(convoyId);
    const have = new Set(trackedIds(c));
    const added = beads.filter((b) => !have.has(b));
    let reopened = false;
    if (added.length && c.status === 'closed') {
      tx.reopen(c.id, `beads added by ${by}`);
      reopened = true;
    }
    for (const id of added) tx.addDependency(c.id, id, 'tracks');
    return { added, reopened };
  }, { actor: by });
}

// ---------------------------------------------------------------------------------------------
// Staging

export interface StagedBead {
  id: string;
  title: string;
  rig?: string;
  status: string;
  /** Unfinished beads outside the convoy this one waits for. */
  external: string[];
  wave?: number;
}

export interface StagePlan {
  kind: 'epic' | 'beads' | 'convoy';
  epic?: { id: string; title: string };
  convoy?: string;
  beads: StagedBead[];
  waves: string[][];
}

const WORK_LINKS = new Set(['blocks', 'waits-for', 'parent-child']);

/** Beads of an epic that are work: its descendants, without nested epics (their children count instead). */
function epicWork(root: string, epic: Bead): Bead[] {
  const ledger = Ledger.open(ledgerDirForId(epic.id, root));
  const out: Bead[] = [];
  const seen = new Set<string>([epic.id]);
  const queue = [epic.id];
  while (queue.length) {
    for (const child of ledger.children(queue.shift()!)) {
      if (seen.has(child.id)) continue;
      seen.add(child.id);
      if (child.issue_type === 'epic') queue.push(child.id);
      else if (!(BOOKKEEPING_TYPES as readonly string[]).includes(child.issue_type)) out.push(child);
    }
  }
  return out;
}

function lookupTown(root: string): (id: string) => Bead | undefined {
  const cache = new Map<string, Ledger | undefined>();
  return (id: string) => {
    let dir: string;
    try {
      dir = ledgerDirForId(id, root);
    } catch {
      return undefined;
    }
    if (!cache.has(dir)) {
      try {
        cache.set(dir, Ledger.open(dir));
      } catch {
        cache.set(dir, undefined);
      }
    }
    return cache.get(dir)?.tryGet(id);
  };
}

/**
 * `gt convoy stage`: the beads (an epic's work, the given beads, or an existing convoy's), the
 * dependency graph among them and the waves it gives. A cycle anywhere their blockers reach (in
 * any rig's ledger) is refused, naming it.
 */
export function planStage(root: string, args: string[]): StagePlan {
  if (!args.length) throw usageError('nothing to stage', 'usage: gt convoy stage <epic | bead… | convoy>');
  const lookup = lookupTown(root);
  const first = Ledger.open(ledgerDirForId(args[0]!, root)).get(args[0]!);
  let kind: StagePlan['kind'] = 'beads';
  let members: Bead[];
  let epic: StagePlan['epic'];
  let convoy: string | undefined;
  if (first.issue_type === 'epic' || first.issue_type === 'convoy') {
    if (args.length > 1) throw usageError(`${first.id} is a${first.issue_type === 'epic' ? 'n epic' : ' convoy'}: stage it on its own`, 'stage one epic (or one convoy) at a time, or a list of plain beads');
    if (first.issue_type === 'epic') {
      kind = 'epic';
      epic = { id: first.id, title: first.title };
      members = epicWork(root, first);
      if (!members.length) throw new GtError(`epic ${first.id} has no children to work`, { hint: `add some: bd create "<title>" --parent ${first.id}` });
    } else {
      kind = 'convoy';
      convoy = first.id;
      members = trackedIds(first).map((id) => lookup(id)).filter((b): b is Bead => b !== undefined);
    }
  } else {
    members = args.map((a) => Ledger.open(ledgerDirForId(a, root)).get(a));
  }
  const ids = new Set(members.map((m) => m.id));
  // Every unfinished bead the members' blocking edges reach, in any ledger: a cycle may pass through other rigs.
  const graph = new Map<string, GraphNode>();
  const queue = members.map((m) => m.id);
  while (queue.length) {
    const id = queue.shift()!;
    if (graph.has(id)) continue;
    const bead = ids.has(id) ? members.find((m) => m.id === id)! : lookup(id);
    if (!bead || bead.status === 'closed') continue;
    const deps = (bead.dependencies ?? []).filter((d) => WORK_LINKS.has(d.type) && d.depends_on_id !== epic?.id).map((d) => d.depends_on_id);
    graph.set(id, { id, deps });
    queue.push(...deps);
  }
  const cycle = findCycle([...graph.values()]);
  if (cycle) {
    throw new GtError(`dependency cycle: ${describeCycle(cycle)}; none of these can ever start`, {
      hint: `remove one of the edges, e.g. bd dep remove ${cycle[0]} ${cycle[1]}`,
    });
  }
  const rigs = readRigs(root).rigs;
  const open = members.filter((m) => m.status !== 'closed');
  const nodes = open.map((m) => ({ id: m.id, deps: (graph.get(m.id)?.deps ?? []).filter((d) => ids.has(d) && graph.has(d)) }));
  const waves = computeWaves(nodes);
  const waveOf = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((id) => waveOf.set(id, i + 1)));
  const beads: StagedBead[] = members.map((m) => ({
    id: m.id,
    title: m.title,
    rig: rigOfBead(rigs, m.id),
    status: m.status,
    external: (graph.get(m.id)?.deps ?? []).filter((d) => !ids.has(d) && graph.has(d)),
    wave: waveOf.get(m.id),
  }));
  return { kind, epic, convoy, beads, waves };
}

export interface ConvoySummary {
  id: string;
  title: string;
  status: string;
  mountain: boolean;
  staged: boolean;
  owner?: string;
  epic?: string;
  total: number;
  closed: number;
  created_at: string;
  closed_at?: string;
}

/** Convoys from the ledger alone (no engine): open ones, or all. */
export function listConvoys(root: string, opts: { all?: boolean } = {}): ConvoySummary[] {
  const lookup = lookupTown(root);
  const convoys = hqLedger(root).list({ issue_type: 'convoy', ...(opts.all ? { all: true } : {}) });
  return convoys.map((c) => {
    const tracked = trackedIds(c);
    const meta = convoyMeta(c);
    return {
      id: c.id,
      title: c.title,
      status: c.status,
      mountain: isMountain(c),
      staged: isStaged(c),
      owner: meta.owner,
      epic: meta.epic,
      total: tracked.length,
      closed: tracked.filter((id) => lookup(id)?.status === 'closed').length,
      created_at: c.created_at,
      closed_at: c.closed_at,
    };
  });
}

/** The open mountain of an epic, if any. */
export function mountainOfEpic(root: string, epicId: string): Bead | undefined {
  return hqLedger(root).list({ issue_type: 'convoy', labels: [MOUNTAIN_LABEL] }).find((c) => convoyMeta(c).epic === epicId);
}

// ---------------------------------------------------------------------------------------------
// Looking at a convoy

export type ConvoyLook = Omit<ConvoySnapshot, 'fingerprint' | 'at'>;

/** Looks at beads anywhere in the town as the convoy sees them, with ledgers and rig settings read once. */
export function beadLooker(root: string): (id: string) => SnapshotBead {
  const rigs = readRigs(root).rigs;
  const ledgers = new Map<string, Ledger | undefined>();
  const ledgerFor = (id: string): Ledger | undefined => {
    let dir: string;
    try {
      dir = ledgerDirForId(id, root);
    } catch {
      return undefined;
    }
    if (!ledgers.has(dir)) {
      try {
        ledgers.set(dir, Ledger.open(dir));
      } catch {
        ledgers.set(dir, undefined);
      }
    }
    return ledgers.get(dir);
  };
  const maxAttempts = new Map<string, number | undefined>();
  const attemptsOf = (rig: string): number | undefined => {
    if (!maxAttempts.has(rig)) {
      try {
        maxAttempts.set(rig, polecatLimits(root, rig).maxAttempts);
      } catch {
        maxAttempts.set(rig, undefined);
      }
    }
    return maxAttempts.get(rig);
  };
  return (id) => {
    const ledger = ledgerFor(id);
    const bead = ledger?.tryGet(id);
    if (!ledger || !bead) return { id, title: id, status: 'missing', missing: true, labels: [], blockers: [] };
    const rig = rigOfBead(rigs, id);
    return {
      id,
      title: bead.title,
      rig,
      status: bead.status,
      assignee: bead.assignee,
      labels: bead.labels ?? [],
      closeReason: bead.close_reason,
      mergedSha: typeof bead.metadata?.merged_sha === 'string' ? bead.metadata.merged_sha : undefined,
      blockers: bead.status === 'open' ? townBlockers(ledger, bead, ledgerFor) : [],
      lastComment: bead.comments?.at(-1)?.text,
      maxAttempts: bead.labels?.includes(POLECAT_FAILED_LABEL) && rig ? attemptsOf(rig) : undefined,
      updatedAt: bead.updated_at,
    };
  };
}

/** The convoy bead and the beads it tracks (all, or those `only` keeps), as the ledgers have them now, with their unfinished blockers town-wide. */
export function lookAtConvoy(root: string, convoyId: string, only?: (id: string) => boolean): { snap: ConvoyLook } {
  const convoy = hqLedger(root).get(convoyId);
  const look = beadLooker(root);
  const beads = trackedIds(convoy).filter((id) => !only || only(id)).map(look);
  return { snap: { convoy: { id: convoy.id, title: convoy.title, status: convoy.status, labels: convoy.labels ?? [], meta: convoyMeta(convoy) }, beads } };
}

/** Same-ledger blockers (the ledger's own rules) plus `blocks` edges into other ledgers of the town. */
function townBlockers(ledger: Ledger, bead: Bead, ledgerFor: (id: string) => Ledger | undefined): string[] {
  const out = new Set(ledger.blockersOf(bead.id));
  for (const d of bead.dependencies ?? []) {
    if (d.type !== 'blocks' || ledger.tryGet(d.depends_on_id)) continue;
    const target = ledgerFor(d.depends_on_id)?.tryGet(d.depends_on_id);
    if (target && target.status !== 'closed') out.add(target.id);
  }
  return [...out];
}
