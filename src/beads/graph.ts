import {
  ACTIVE_STATUSES, BLOCKING_DEP_TYPES, BOOKKEEPING_TYPES, FAILURE_CLOSE_WORDS, type Bead, type DepType, type Dependency, type WaitsForGate,
} from './model.js';

/**
 * Dependency semantics, over any way of looking beads up (a loaded state, or a transaction's view
 * with its pending changes). Edges point from the dependent bead to what it depends on.
 */
/** What the graph functions read of a bead (full beads and cached summaries both fit). */
export type GraphBead = Pick<Bead, 'id' | 'status' | 'issue_type' | 'priority' | 'created_at' | 'dependencies' | 'defer_until' | 'ephemeral' | 'pinned'> & {
  /** Closed with a failure reason (cached summaries carry this instead of the reason itself). */
  failed?: boolean;
  close_reason?: string;
};
export type Lookup = (id: string) => GraphBead | undefined;

const BLOCKING = new Set<string>(BLOCKING_DEP_TYPES);
const NONE: string[] = [];
const BOOKKEEPING = new Set<string>(BOOKKEEPING_TYPES);
const ACTIVE = new Set<string>(ACTIVE_STATUSES);

/** Unfinished work: it blocks its dependents, and may be blocked itself. */
export function isActive(b: Pick<Bead, 'status'>): boolean {
  return ACTIVE.has(b.status);
}

/** Whether a close reason says the work failed (what a `conditional-blocks` dependent waits for). */
export function isFailureReason(reason: string | undefined): boolean {
  const r = (reason ?? '').toLowerCase();
  return r !== '' && FAILURE_CLOSE_WORDS.some((w) => r.includes(w));
}

function closedAsFailure(b: GraphBead): boolean {
  return b.status === 'closed' && (b.failed ?? isFailureReason(b.close_reason));
}

export function isBlockingType(type: DepType | string): boolean {
  return BLOCKING.has(type);
}

export function waitsForGate(dep: Dependency): WaitsForGate {
  if (!dep.metadata) return 'all-children';
  try {
    return (JSON.parse(dep.metadata) as { gate?: string }).gate === 'any-children' ? 'any-children' : 'all-children';
  } catch {
    return 'all-children';
  }
}

export function parentOf(bead: Pick<Bead, 'dependencies'>): string | undefined {
  return bead.dependencies?.find((d) => d.type === 'parent-child')?.depends_on_id;
}

/** Children of each bead (through parent-child edges), built once per computation. */
export function childrenIndex(beads: Iterable<GraphBead>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const b of beads) {
    for (const d of b.dependencies ?? []) {
      if (d.type !== 'parent-child') continue;
      const list = out.get(d.depends_on_id);
      if (list) list.push(b.id);
      else out.set(d.depends_on_id, [b.id]);
    }
  }
  return out;
}

/**
 * Works out which beads are blocked, memoised, by the original's rules. A bead is blocked while
 *  - a `blocks` target is unfinished work (see `isActive`: closed, deleted and pinned beads do not
 *    block; a target outside this ledger does not block: it cannot be seen),
 *  - a `conditional-blocks` target is unfinished, or closed without failing (the dependent runs
 *    only if the target fails),
 *  - a `waits-for` target's children are not all finished (`any-children`: none is closed yet),
 *  - its parent (parent-child) is blocked, or has status `blocked`.
 */
export class BlockIndex {
  private readonly memo = new Map<string, string[]>();
  private children?: Map<string, string[]>;

  constructor(
    private readonly lookup: Lookup,
    private readonly all: () => Iterable<GraphBead>,
    /** Children of a bead, when the caller can find them without going through every bead. */
    private readonly childrenFn?: (id: string) => string[],
  ) {}

  private childrenOf(id: string): string[] {
    if (this.childrenFn) return this.childrenFn(id);
    this.children ??= childrenIndex(this.all());
    return this.children.get(id) ?? [];
  }

  /** Ids whose being unfinished blocks `id` (direct blockers; a blocked parent counts as one). */
  blockers(id: string, visiting?: Set<string>): string[] {
    const known = this.memo.get(id);
    if (known) return known;
    const bead = this.lookup(id);
    if (!bead?.dependencies?.length) {
      this.memo.set(id, NONE);
      return NONE;
    }
    visiting ??= new Set<string>();
    if (visiting.has(id)) return NONE; // a cycle (only possible in hand-edited files): do not recurse forever
    visiting.add(id);
    let out: string[] | undefined;
    const add = (x: string) => {
      if (!out) out = [x];
      else if (!out.includes(x)) out.push(x);
    };
    for (const dep of bead.dependencies) {
      const target = this.lookup(dep.depends_on_id);
      if (!target) continue;
      if (dep.type === 'blocks') {
        if (isActive(target)) add(target.id);
      } else if (dep.type === 'conditional-blocks') {
        if (isActive(target) || (target.status === 'closed' && !closedAsFailure(target))) add(target.id);
      } else if (dep.type === 'parent-child') {
        if (!isActive(target)) continue;
        if (target.status === 'blocked' || this.blockers(target.id, visiting).length > 0) add(target.id);
      } else if (dep.type === 'waits-for') {
        const kids = this.childrenOf(target.id).map((k) => this.lookup(k)).filter((k): k is GraphBead => k !== undefined);
        const open = kids.filter(isActive);
        const done = kids.filter((k) => k.status === 'closed' || k.status === 'tombstone');
        const blocked = waitsForGate(dep) === 'any-children' ? kids.length > 0 && done.length === 0 && open.length > 0 : open.length > 0;
        if (blocked) for (const k of open) add(k.id);
      }
    }
    visiting.delete(id);
    const result = out ?? NONE;
    this.memo.set(id, result);
    return result;
  }

  isBlocked(id: string): boolean {
    return this.blockers(id).length > 0;
  }
}

/** Deferred itself or through any ancestor: work under a deferred epic waits too. */
function isDeferred(bead: GraphBead, lookup: Lookup, now: number): boolean {
  let cur: GraphBead | undefined = bead;
  // A depth cap instead of a visited set: parent chains are short, and this runs for every bead.
  for (let depth = 0; cur && depth < 64; depth++) {
    if ((cur.defer_until && Date.parse(cur.defer_until) > now) || (cur !== bead && cur.status === 'deferred')) return true;
    if (!cur.dependencies) return false;
    const parent = parentOf(cur);
    cur = parent ? lookup(parent) : undefined;
  }
  return false;
}

/** Priority first (0 is most urgent), then oldest first, then id for a stable order. */
export function byPriorityThenAge<T extends GraphBead>(beads: T[]): T[] {
  const keyed = beads.map((b) => ({ b, t: Date.parse(b.created_at) || 0 }));
  keyed.sort((x, y) => x.b.priority - y.b.priority || x.t - y.t || (x.b.id < y.b.id ? -1 : x.b.id > y.b.id ? 1 : 0));
  return keyed.map((k) => k.b);
}

/**
 * Ready work: status open, not pinned, not ephemeral, not a bookkeeping type, not deferred into
 * the future (itself or an ancestor), and not blocked. Sorted by priority, then age.
 */
export function readyBeads<T extends GraphBead>(beads: Iterable<T>, lookup: Lookup, now = Date.now()): T[] {
  const all = [...beads];
  const index = new BlockIndex(lookup, () => all);
  const out: T[] = [];
  for (const b of all) if (isReady(b, lookup, index, now)) out.push(b);
  return byPriorityThenAge(out);
}

/** Whether one bead is ready work (the test of `readyBeads`, for a caller that checks only some beads). */
export function isReady(b: GraphBead, lookup: Lookup, index: BlockIndex, now: number): boolean {
  if (b.status !== 'open' || b.pinned || b.ephemeral || BOOKKEEPING.has(b.issue_type)) return false;
  return !isDeferred(b, lookup, now) && !index.isBlocked(b.id);
}

/** Unfinished, unpinned beads that are blocked by something unfinished, or marked `blocked`. */
export function blockedBeads<T extends GraphBead>(beads: Iterable<T>, lookup: Lookup): Array<{ bead: T; blocked_by: string[] }> {
  const all = [...beads];
  const index = new BlockIndex(lookup, () => all);
  const out: T[] = [];
  const by = new Map<string, string[]>();
  for (const b of all) {
    if (!isActive(b) || b.pinned) continue;
    const blockers = index.blockers(b.id);
    if (blockers.length === 0 && b.status !== 'blocked') continue;
    out.push(b);
    by.set(b.id, blockers);
  }
  return byPriorityThenAge(out).map((bead) => ({ bead, blocked_by: by.get(bead.id)! }));
}

/**
 * If adding the blocking edge from → to would close a cycle, the cycle as a list of ids
 * (from, to, ..., from); otherwise undefined. Self-dependency is the one-edge cycle.
 */
export function cycleThrough(from: string, to: string, lookup: Lookup): string[] | undefined {
  if (from === to) return [from, from];
  // Depth-first from `to` along blocking edges, looking for `from`.
  const parent = new Map<string, string>();
  const stack = [to];
  const seen = new Set([to]);
  while (stack.length) {
    const cur = stack.pop()!;
    for (const d of lookup(cur)?.dependencies ?? []) {
      if (!BLOCKING.has(d.type)) continue;
      const next = d.depends_on_id;
      if (seen.has(next)) continue;
      parent.set(next, cur);
      if (next === from) {
        const path = [from];
        let p = cur;
        while (p !== to) {
          path.push(p);
          p = parent.get(p)!;
        }
        path.push(to, from);
        return path.reverse();
      }
      seen.add(next);
      stack.push(next);
    }
  }
  return undefined;
}

/** Every cycle through blocking edges (strongly connected components of more than one bead, or self-loops). */
export function findCycles(beads: Iterable<GraphBead>): string[][] {
  const graph = new Map<string, string[]>();
  for (const b of beads) {
    graph.set(b.id, (b.dependencies ?? []).filter((d) => BLOCKING.has(d.type)).map((d) => d.depends_on_id));
  }
  // Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ id: string; i: number }> = [{ id: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const edges = graph.get(frame.id) ?? [];
      if (frame.i < edges.length) {
        const next = edges[frame.i++];
        if (!graph.has(next)) continue;
        if (!index.has(next)) {
          index.set(next, counter);
          low.set(next, counter++);
          stack.push(next);
          onStack.add(next);
          work.push({ id: next, i: 0 });
        } else if (onStack.has(next)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(next)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const up = work[work.length - 1].id;
        low.set(up, Math.min(low.get(up)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const comp: string[] = [];
        let x: string;
        do {
          x = stack.pop()!;
          onStack.delete(x);
          comp.push(x);
        } while (x !== frame.id);
        if (comp.length > 1 || (graph.get(frame.id) ?? []).includes(frame.id)) out.push(comp.reverse());
      }
    }
  }
  return out;
}

/** Beads that depend on `id` (the reverse edges), with the edge. */
export function dependentsOf(id: string, beads: Iterable<Pick<Bead, 'dependencies'>>): Dependency[] {
  const out: Dependency[] = [];
  for (const b of beads) for (const d of b.dependencies ?? []) if (d.depends_on_id === id) out.push(d);
  return out;
}
