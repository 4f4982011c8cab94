import type { Command } from 'commander';
import { bisectPath, type BatchRecord, type MergeRecord, type RefineryState } from '../../refinery/types.js';
import { readRigs, requireTownRoot } from '../../town/layout.js';
import { requireRig } from '../../town/rigs.js';
import { action, printJson } from '../run.js';

/** Finished requests and batches shown in the text view (the JSON has all the workflow keeps). */
const RECENT_SHOWN = 10;
const BATCHES_SHOWN = 3;

function emptyState(rig: string): RefineryState {
  return { rig, pending: [], recent: [], merged: 0, rejected: 0, generation: 0 };
}

function firstLine(text: string | undefined, max = 100): string {
  const line = (text ?? '').split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

function row(r: MergeRecord): string {
  const what = r.status === 'merged' ? (r.sha ?? '').slice(0, 10) : r.status === 'rejected' || r.status === 'failed' ? firstLine(r.reason) : `submitted ${r.submittedAt}`;
  return `  ${r.status.padEnd(8)}  ${r.bead.padEnd(12)}  ${r.branch}  (${r.polecat})  ${what}\n`;
}

/** A batch: its state, its requests (each with what became of it) and, when it was red, the bisect path. */
function batchLines(b: BatchRecord): string {
  const merged = b.members.filter((m) => m.status === 'merged').length;
  const what = b.stage === 'done'
    ? `done: ${merged} merged${b.pushedSha ? ` in one push (${b.pushedSha.slice(0, 10)})` : ''}${b.culprit ? `, culprit ${b.culprit} sent back` : ''}${b.requeued.length ? `, ${b.requeued.length} back to the queue` : ''}`
    : b.stage;
  let out = `  batch ${b.id} (${b.members.length}): ${what}\n`;
  out += `    ${b.members.map((m) => `${m.bead}${m.status === 'merging' ? '' : ` ${m.status === 'rejected' || m.status === 'failed' ? `${m.status} (${m.kind ?? 'error'})` : m.status}`}`).join(', ')}\n`;
  if (b.tests.length) out += `    tests: ${bisectPath(b)}\n`;
  return out;
}

function render(state: RefineryState): string {
  const counts = [
    state.current ? '1 merging' : undefined,
    state.batch ? `${state.batch.members.filter((m) => m.status === 'merging').length} merging in batch ${state.batch.id}` : undefined,
    `${state.pending.length} pending`,
    `${state.merged} merged`,
    `${state.rejected} sent back`,
  ].filter(Boolean);
  const extra = [
    state.batchSize !== undefined ? `next batch up to ${state.batchSize}` : undefined,
    state.testRuns !== undefined ? `${state.testRuns} test run${state.testRuns === 1 ? '' : 's'}` : undefined,
  ].filter(Boolean);
  let out = `${state.rig}: ${counts.join(', ')}${extra.length ? ` (${extra.join(', ')})` : ''}\n`;
  if (state.current) out += row(state.current);
  for (const b of state.recording ?? []) out += batchLines(b);
  if (state.batch) out += batchLines(state.batch);
  for (const r of state.pending) out += row(r);
  for (const b of (state.batches ?? []).slice(0, BATCHES_SHOWN)) out += batchLines(b);
  for (const r of state.recent.slice(0, RECENT_SHOWN)) out += row(r);
  return out;
}

export function registerMqCommands(program: Command): void {
  const mq = program.command('mq').description('the merge queue: each rig\'s refinery merges finished branches in tested batches');

  mq
    .command('list')
    .description('show each rig\'s merge queue: the batch being merged (its state and bisect path), those waiting, recent batches and results')
    .option('--rig <rig>', 'only this rig')
    .option('--json', 'print the queues as JSON (an array, one entry per rig)')
    .action(action(async (opts: { rig?: string; json?: boolean }) => {
      const root = requireTownRoot();
      if (opts.rig !== undefined) requireRig(root, opts.rig);
      const rigs = opts.rig !== undefined ? [opts.rig] : Object.keys(readRigs(root).rigs).sort();
      if (!rigs.length) {
        if (opts.json) return printJson([]);
        return void process.stdout.write('No rigs yet. Add one with `gt rig add <name> <git-url>`.\n');
      }
      const { withEngine } = await import('../../temporal/engine.js');
      const { queryRefinery } = await import('../../refinery/client.js');
      const states = await withEngine(
        root,
        async (client) => Promise.all(rigs.map(async (rig) => (await queryRefinery(client, rig)) ?? emptyState(rig))),
        { start: true },
      );
      if (opts.json) return printJson(states);
      process.stdout.write(states.map(render).join('\n'));
    }));
}
