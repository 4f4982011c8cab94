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
    if (s.status === 'failed') for (const l of tailLines(s.reason)) lines.push(`    │ ${l}`);
  }
  const failed = state.steps.find((s) => s.status === 'failed' && (s.kind === 'run' || s.kind === 'agent'));
  if (failed) lines.push('', `Whole output of a step: bd mol logs ${state.molecule} ${failed.id}`);
  return lines.join('\n') + '\n';
}

/** How many of a failure's last output lines are shown under it. */
export const FAILURE_TAIL_LINES = 10;

/** A failure's lines after its first (the command's last output lines), at most FAILURE_TAIL_LINES. */
function tailLines(reason: string | undefined): string[] {
  if (!reason) return [];
  const rest = reason.trimEnd().split('\n').slice(1);
  return rest.slice(-FAILURE_TAIL_LINES).map((l) => (l.length > 160 ? `${l.slice(0, 157)}...` : l));
}

/** The first line, at most 100 characters; a long one keeps its end too (where "exited with code N" is). */
function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 100 ? `${line.slice(0, 60)}…${line.slice(-39)}` : line;
}

/** One line per change, for `bd cook` when output is not a terminal. */
export function describeTransitions(before: MoleculeState | undefined, after: MoleculeState): string[] {
  const old = new Map(before?.steps.map((s) => [s.id, s.status]));
  const out: string[] = [];
  for (const s of after.steps) {
    if (old.get(s.id) !== s.status && s.status !== 'pending') {
      out.push(`${s.id}: ${s.status}${s.status === 'failed' || s.status === 'not-run' ? ` (${firstLine(s.reason ?? '')})` : ''}`);
      if (s.status === 'failed') for (const l of tailLines(s.reason)) out.push(`  │ ${l}`);
    }
  }
  return out;
}
