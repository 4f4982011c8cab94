/** DAG helpers over `{ id, needs }` items. Import-free. */

export interface Node {
  id: string;
  needs: readonly string[];
}

/**
 * One cycle, as the ids along it with the first repeated at the end (`a → b → c → a`), or
 * undefined when the graph has none. Needs naming unknown ids are ignored here.
 */
export function findCycle(nodes: readonly Node[]): string[] | undefined {
  const needs = new Map(nodes.map((n) => [n.id, n.needs]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];

  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open');
    stack.push(id);
    for (const dep of needs.get(id) ?? []) {
      if (!needs.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'open') return [...stack.slice(stack.indexOf(dep)), dep];
      if (s === undefined) {
        const cycle = visit(dep);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };

  for (const n of nodes) {
    if (state.has(n.id)) continue;
    const cycle = visit(n.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Order so every node comes after the nodes it needs, keeping the written order wherever the
 * needs allow it (so the DAG reads like the formula). The graph must be acyclic.
 */
export function topoSort<T extends Node>(nodes: readonly T[]): T[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const remaining = new Map(nodes.map((n) => [n.id, new Set(n.needs.filter((d) => index.has(d)))]));
  const dependents = new Map<string, string[]>();
  for (const n of nodes) for (const d of remaining.get(n.id)!) dependents.set(d, [...(dependents.get(d) ?? []), n.id]);
  const ready = nodes.filter((n) => remaining.get(n.id)!.size === 0).map((n) => index.get(n.id)!);
  const out: T[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    const node = nodes[i]!;
    out.push(node);
    for (const dep of dependents.get(node.id) ?? []) {
      const left = remaining.get(dep)!;
      left.delete(node.id);
      if (left.size === 0) ready.push(index.get(dep)!);
    }
  }
  if (out.length !== nodes.length) throw new Error('topoSort: the graph has a cycle');
  return out;
}

/** Depth of each node: 0 for nodes with no needs, else 1 + the deepest need ("waves"). */
export function levels(nodes: readonly Node[]): Map<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map<string, number>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    depth.set(id, 0);
    const d = Math.max(-1, ...(byId.get(id)?.needs ?? []).filter((x) => byId.has(x)).map(visit)) + 1;
    depth.set(id, d);
    return d;
  };
  for (const n of nodes) visit(n.id);
  return depth;
}
