import { levels } from './graph.js';
import type { ResolvedFormula, ResolvedStep } from './types.js';

export const DAG_FORMATS = ['text', 'json', 'mermaid'] as const;
export type DagFormat = (typeof DAG_FORMATS)[number];

/** A resolved formula for people (`text`), programs (`json`) or diagrams (`mermaid`). */
export function renderDag(resolved: ResolvedFormula, format: DagFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(resolved, null, 2) + '\n';
    case 'mermaid':
      return renderMermaid(resolved);
    case 'text':
      return renderText(resolved);
  }
}

function kindOf(step: ResolvedStep): string {
  if (step.gate) return `gate:${step.gate.type}`;
  if (step.run !== undefined) return 'run';
  if (step.children) return `group of ${step.children.length}`;
  return step.agent ? `agent:${step.agent}` : 'agent';
}

function renderText(f: ResolvedFormula): string {
  const lines: string[] = [];
  lines.push(`${f.name} (${f.type}${f.version !== undefined ? `, version ${f.version}` : ''}) from ${f.source}`);
  if (f.description) lines.push(`  ${f.description.trim().split('\n')[0]}`);
  const vars = Object.entries(f.vars);
  lines.push(vars.length ? `vars: ${vars.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}` : 'vars: none');
  lines.push(`${f.steps.length} step${f.steps.length === 1 ? '' : 's'}:`);
  const wave = levels(f.steps);
  const idWidth = Math.max(...f.steps.map((s) => s.id.length), 2);
  f.steps.forEach((s, i) => {
    const num = String(i + 1).padStart(String(f.steps.length).length);
    lines.push(`  ${num}. ${s.id.padEnd(idWidth)}  ${s.title}`);
    const pad = ' '.repeat(String(f.steps.length).length + 6);
    const detail: string[] = [`${kindOf(s)}, wave ${wave.get(s.id)! + 1}`];
    if (s.needs.length) detail.push(`needs ${s.needs.join(', ')}`);
    if (s.parent !== undefined) detail.push(`in group ${s.parent}`);
    if (s.timeout) detail.push(`timeout ${s.timeout}`);
    if (s.retries !== undefined) detail.push(`retries ${s.retries}`);
    lines.push(`${pad}${detail.join('; ')}`);
    // The first line only: an overview; --json carries every field in full.
    const about = s.description?.trim().split('\n')[0];
    if (about) lines.push(`${pad}${about.length > 100 ? `${about.slice(0, 99)}…` : about}`);
    if (s.run !== undefined) lines.push(`${pad}run: ${s.run.replace(/\n/g, `\n${pad}     `)}`);
    if (s.gate) {
      const g = [s.gate.type, s.gate.timeout && `timeout ${s.gate.timeout}`, s.gate.id && `bead ${s.gate.id}`, s.gate.condition && `condition: ${s.gate.condition}`].filter(Boolean);
      lines.push(`${pad}gate: ${g.join(', ')}`);
    }
    if (s.condition) lines.push(`${pad}only if: ${s.condition} (undecided: var not given)`);
  });
  return lines.join('\n') + '\n';
}

function mermaidLabel(text: string): string {
  return text.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

function renderMermaid(f: ResolvedFormula): string {
  const node = new Map(f.steps.map((s, i) => [s.id, `s${i}`]));
  const lines = ['graph TD'];
  for (const s of f.steps) {
    const label = `"${mermaidLabel(s.id)}<br/>${mermaidLabel(s.title)}"`;
    const id = node.get(s.id)!;
    // Shapes tell kinds apart: gates are hexagons, commands are subroutines, agent work is a box.
    lines.push(s.gate ? `  ${id}{{${label}}}` : s.run !== undefined ? `  ${id}[[${label}]]` : `  ${id}[${label}]`);
  }
  for (const s of f.steps) for (const n of s.needs) lines.push(`  ${node.get(n)} --> ${node.get(s.id)}`);
  return lines.join('\n') + '\n';
}
