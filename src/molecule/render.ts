import type { MoleculeState, StepState } from './state.js';

const MARK: Record<StepState['status'], string> = {
  pending: '·',
  running: '▶',
  waiting: '⏸',
  succeeded: '✓',
  failed: '✗',
  'not-run': '-',
  cancelled: '⊘',
};

function elapsed(from?: string, to?: string): string {
  if (!from) return '';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** The live step table of `bd cook` / `bd mol watch`. */
export function renderMolecule(state: MoleculeState, link?: string): string {
  const idWidth = Math.max(4, ...state.steps.map((s) => s.id.length));
  const beadWidth = Math.max(4, ...state.steps.map((s) => s.bead.length));
  const lines = [`${state.molecule}  ${state.formula}  ${state.status.toUpperCase()}  ${elapsed(state.startedAt, state.endedAt)}`];
  if (link) lines.push(`Web UI: ${link}`);
  lines.push('');
  for (const s of state.steps) {
    const detail = s.status === 'waiting' ? s.waitingFor : s.status === 'failed' || s.status === 'not-run' ? s.reason : s.title;
    lines.push(
      `${MARK[s.status]} ${s.id.padEnd(idWidth)}  ${s.bead.padEnd(beadWidth)}  ${s.status.padEnd(9)}  ${elapsed(s.startedAt, s.endedAt).padStart(6)}  ${firstLine(detail ?? '')}`,
    );
  }
  return lines.join('\n') + '\n';
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 100 ? line.slice(0, 97) + '...' : line;
}

/** One line per change, for `bd cook` when output is not a terminal. */
export function describeTransitions(before: MoleculeState | undefined, after: MoleculeState): string[] {
  const old = new Map(before?.steps.map((s) => [s.id, s.status]));
  const out: string[] = [];
  for (const s of after.steps) {
    if (old.get(s.id) !== s.status && s.status !== 'pending') {
      out.push(`${s.id}: ${s.status}${s.status === 'failed' || s.status === 'not-run' ? ` (${firstLine(s.reason ?? '')})` : ''}`);
    }
  }
  return out;
}
