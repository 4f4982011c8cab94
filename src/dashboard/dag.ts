import type { MoleculeState, StepStatus } from '../molecule/state.js';
import { esc } from './html.js';

/** Fill colour of a step box by its state. */
export const STEP_COLOURS: Record<StepStatus, string> = {
  pending: '#e4e4e7',
  running: '#93c5fd',
  waiting: '#fcd34d',
  succeeded: '#86efac',
  failed: '#fca5a5',
  'not-run': '#d4d4d8',
  cancelled: '#a1a1aa',
};

const BOX_W = 150;
const BOX_H = 30;
const GAP_X = 40;
const GAP_Y = 12;

/**
 * A formula run's steps as an inline SVG: one column per depth in the `needs` graph (a step sits
 * right of everything it needs), an arrow per dependency, each box coloured by its step's state.
 */
export function renderDag(state: MoleculeState): string {
  const byId = new Map(state.steps.map((s) => [s.id, s]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen: Set<string> = new Set()): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle never gets this far (the formula is checked), but never loop
    seen.add(id);
    const needs = (byId.get(id)?.needs ?? []).filter((n) => byId.has(n));
    const d = needs.length ? 1 + Math.max(...needs.map((n) => depthOf(n, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  const columns: string[][] = [];
  for (const s of state.steps) (columns[depthOf(s.id)] ??= []).push(s.id);
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((ids, col) => ids.forEach((id, row) => pos.set(id, { x: 4 + col * (BOX_W + GAP_X), y: 4 + row * (BOX_H + GAP_Y) })));
  const width = 8 + columns.length * (BOX_W + GAP_X) - GAP_X;
  const height = 8 + Math.max(1, ...columns.map((c) => c.length)) * (BOX_H + GAP_Y) - GAP_Y;

  const edges: string[] = [];
  const boxes: string[] = [];
  for (const s of state.steps) {
    const p = pos.get(s.id)!;
    for (const n of s.needs) {
      const q = pos.get(n);
      if (!q) continue;
      edges.push(`<line x1="${q.x + BOX_W}" y1="${q.y + BOX_H / 2}" x2="${p.x}" y2="${p.y + BOX_H / 2}" stroke="#71717a" marker-end="url(#arrow)"/>`);
    }
    const label = s.id.length > 20 ? `${s.id.slice(0, 19)}…` : s.id;
    const tip = `${s.id}: ${s.title} (${s.status}${s.attempts && s.attempts > 1 ? `, ${s.attempts} attempts` : ''})${s.reason ? ` ${s.reason.split('\n')[0]}` : ''}${s.waitingFor ? ` waits for ${s.waitingFor}` : ''}`;
    boxes.push(
      `<g class="step" data-step="${esc(s.id)}" data-status="${s.status}"><title>${esc(tip)}</title>` +
        `<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${STEP_COLOURS[s.status] ?? '#fff'}" stroke="#52525b"/>` +
        `<text x="${p.x + 8}" y="${p.y + 19}" font-size="12">${esc(label)}</text></g>`,
    );
  }
  return (
    `<svg class="dag" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="steps of ${esc(state.molecule)}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#71717a"/></marker></defs>` +
    edges.join('') +
    boxes.join('') +
    '</svg>'
  );
}
