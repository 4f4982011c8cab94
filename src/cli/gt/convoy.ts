import type { Command } from 'commander';
import type { ConvoyState } from '../../convoy/types.js';
import type { Created } from '../../convoy/client.js';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';
import { currentActor } from '../../actor.js';

/**
 * `gt convoy`: batches of beads, possibly across rigs, that a durable workflow feeds to polecats
 * until all are closed, then lands and tells the owner. The engine client loads only when needed.
 */


function clip(text: string | undefined, max: number): string {
  const line = (text ?? '').split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export async function renderState(s: ConvoyState & { source?: string }): Promise<string> {
  const { formatDurationMs, summaryLine } = await import('../../convoy/plan.js');
  const { formatBudget, formatSpent } = await import('../../convoy/budget.js');
  const lines: string[] = [];
  lines.push(`${s.convoy}  ${s.title}  [${s.status}]${s.mode === 'mountain' ? '  mountain' : ''}${s.epic ? `  epic ${s.epic}` : ''}`);
  const extra = [
    summaryLine(s),
    s.rate !== undefined ? `${s.rate.toFixed(1)} beads/min` : undefined,
    s.etaMs !== undefined && s.status !== 'landed' ? `ETA ${formatDurationMs(s.etaMs)}` : undefined,
  ].filter(Boolean);
  lines.push(`  ${extra.join(', ')}`);
  const flags = [
    `owner ${s.owner}`,
    s.maxConcurrent ? `max ${s.maxConcurrent} at once` : undefined,
    s.human ? (s.approved ? `approved by ${s.approved.by}` : 'waits for approval (gt convoy approve)') : undefined,
    s.paused ? `paused by ${s.paused.by}` : undefined,
    s.budget ? `budget ${formatBudget(s.budget)}, spent ${formatSpent(s.budget)}${s.budget.exhaustedAt ? ` (no new beads since ${s.budget.exhaustedAt.slice(11, 19)}: gt convoy budget ${s.convoy} <more>)` : ''}` : undefined,
    s.stalledSince ? `no progress since ${s.stalledSince}` : undefined,
    s.source === 'ledger' ? 'from the ledger (no workflow answered)' : undefined,
  ].filter(Boolean);
  lines.push(`  ${flags.join('; ')}`);
  for (const why of s.stalls ?? []) lines.push(`  stalled: ${why}`);
  if (s.waves.length > 1 || (s.waves[0]?.length ?? 0) > 0) {
    s.waves.forEach((w, i) => lines.push(`  wave ${i + 1}: ${w.join(' ')}`));
  }
  if (s.beads.length) {
    const w = Math.max(4, ...s.beads.map((b) => b.id.length));
    const p = Math.max(7, ...s.beads.map((b) => (b.polecat ?? '-').length));
    lines.push(`  ${'BEAD'.padEnd(w)}  ${'STATE'.padEnd(8)}  ${'POLECAT'.padEnd(p)}  TRIES  RESULT`);
    for (const b of s.beads) {
      const result = b.phase === 'closed' ? (b.mergedSha ? `merged ${b.mergedSha.slice(0, 10)}` : `closed${b.reason ? ` (${clip(b.reason, 40)})` : ''}`) : b.blockedBy?.length ? `waits on ${b.blockedBy.join(', ')}` : clip(b.reason, 70);
      const phase = b.stalled ? 'stalled' : b.phase;
      lines.push(`  ${b.id.padEnd(w)}  ${phase.padEnd(8)}  ${(b.polecat ?? '-').padEnd(p)}  ${String(b.attempts).padStart(5)}  ${result}  ${clip(b.title, 40)}`);
      if (b.stalled) lines.push(`    stalled: ${b.stalled}`);
    }
  } else {
    lines.push('  no beads yet: gt convoy add <convoy> <bead…>');
  }
  return lines.join('\n') + '\n';
}

export async function renderCreated(c: Created): Promise<string> {
  let out = '';
  if (c.plan) {
    const waveOf = new Map<string, number>();
    c.plan.waves.forEach((w, i) => w.forEach((id) => waveOf.set(id, i + 1)));
    out += `${c.plan.epic ? `Epic ${c.plan.epic.id} (${c.plan.epic.title}): ` : ''}${c.plan.beads.length} bead${c.plan.beads.length === 1 ? '' : 's'}, ${c.plan.waves.length} wave${c.plan.waves.length === 1 ? '' : 's'}\n`;
    c.plan.waves.forEach((w, i) => {
      out += `  wave ${i + 1}:\n`;
      for (const id of w) {
        const b = c.plan!.beads.find((x) => x.id === id)!;
        out += `    ${id}  ${b.rig ?? '-'}  ${clip(b.title, 60)}${b.external.length ? `  (also waits on ${b.external.join(', ')})` : ''}\n`;
      }
    });
    const done = c.plan.beads.filter((b) => b.status === 'closed');
    if (done.length) out += `  already closed: ${done.map((b) => b.id).join(' ')}\n`;
  }
  const kind = c.mountain ? 'Mountain' : 'Convoy';
  out += c.staged
    ? `${kind} ${c.convoy} staged (${c.beads.length} beads); launch it with: gt convoy launch ${c.convoy}\n`
    : `${kind} ${c.convoy} launched: ${c.title} (${c.beads.length} bead${c.beads.length === 1 ? '' : 's'}); watch: gt ${c.mountain ? 'mountain' : 'convoy'} status ${c.convoy}\n`;
  return out;
}

export function registerConvoyCommands(program: Command): void {
  const convoy = program.command('convoy').description('batches of beads (across rigs) dispatched to polecats until all are merged; lands by itself');

  convoy
    .command('create <name> [beads...]')
    .description('create a convoy of beads and start it: ready beads are slung at once, the rest as their blockers close')
    .option('--notify', 'when it lands, also post a terminal/desktop notice (mail is always sent)')
    .option('--human', 'wait for a person\'s approval (gt convoy approve) before landing')
    .option('--owner <address>', 'who is told when it lands (default: you if mail reaches you, else the Mayor)')
    .option('--max-concurrent <n>', 'at most this many beads worked at once')
    .option('--budget <tokens|$>', 'send out no new beads once its beads\' sessions spent this (e.g. 500k, 2M, $5); raise it with gt convoy budget')
    .option('--json', 'print the result as JSON')
    .action(action(async (name: string, beads: string[], opts: { notify?: boolean; human?: boolean; owner?: string; maxConcurrent?: string; budget?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { createConvoy } = await import('../../convoy/client.js');
      const created = await createConvoy(root, { name, beads, notify: opts.notify, human: opts.human, owner: opts.owner, maxConcurrent: opts.maxConcurrent, budget: opts.budget, by: currentActor() });
      if (opts.json) return printJson(created);
      process.stdout.write(await renderCreated(created));
    }));

  convoy
    .command('add <convoy> <beads...>')
    .description('add beads to a convoy (a landed convoy opens again)')
    .option('--json', 'print the result as JSON')
    .action(action(async (id: string, beads: string[], opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { addBeads } = await import('../../convoy/client.js');
      const r = await addBeads(root, id, beads, currentActor());
      if (opts.json) return printJson(r);
      process.stdout.write(r.added.length ? `Added ${r.added.join(' ')} to ${r.convoy}${r.reopened ? ' (reopened)' : ''}\n` : `${r.convoy} already tracks ${beads.join(' ')}\n`);
    }));

  convoy
    .command('list')
    .description('list convoys with their progress (open ones; --all for landed ones too)')
    .option('--all', 'include closed convoys')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { all?: boolean; json?: boolean }) => {
      const root = requireTownRoot();
      const { listConvoys } = await import('../../convoy/store.js');
      const list = listConvoys(root, { all: opts.all });
      if (opts.json) return printJson(list);
      if (!list.length) return void process.stdout.write(`No ${opts.all ? '' : 'open '}convoys. Create one with gt convoy create <name> <bead…>.\n`);
      for (const c of list) {
        const state = c.status === 'closed' ? 'landed' : c.staged ? 'staged' : 'open';
        process.stdout.write(`${c.id}  ${String(c.closed).padStart(3)}/${String(c.total).padEnd(3)}  ${state.padEnd(6)}  ${c.mountain ? 'mountain  ' : ''}${clip(c.title, 60)}\n`);
      }
    }));

  for (const name of ['show', 'status']) {
    convoy
      .command(`${name} [convoy]`)
      .description(name === 'show' ? 'a convoy\'s beads: state, polecat, attempts, merged commit (all open convoys without an id)' : 'same as show')
      .option('--json', 'print the full state as JSON')
      .action(action(async (id: string | undefined, opts: { json?: boolean }) => {
        const root = requireTownRoot();
        const { convoyStatus } = await import('../../convoy/client.js');
        let ids: string[];
        if (id) ids = [id];
        else {
          const { listConvoys } = await import('../../convoy/store.js');
          ids = listConvoys(root).map((c) => c.id);
        }
        const states = [];
        for (const c of ids) states.push(await convoyStatus(root, c));
        if (opts.json) return printJson(id ? states[0] : states);
        if (!states.length) return void process.stdout.write('No open convoys.\n');
        for (const s of states) process.stdout.write(await renderState(s));
      }));
  }

  convoy
    .command('close <convoy>')
    .description('close a convoy by hand (needs --force while beads are unfinished; they stay as they are)')
    .option('--force', 'close even with unfinished beads')
    .option('-r, --reason <text>', 'why')
    .option('--json', 'print the result as JSON')
    .action(action(async (id: string, opts: { force?: boolean; reason?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { closeConvoy } = await import('../../convoy/client.js');
      const r = await closeConvoy(root, id, { force: opts.force, reason: opts.reason, by: currentActor() });
      if (opts.json) return printJson(r);
      process.stdout.write(`Closed ${r.convoy}${r.open.length ? ` (${r.open.length} beads unfinished: ${r.open.join(' ')})` : ''}\n`);
    }));

  convoy
    .command('check')
    .description('make sure every open convoy has its workflow running (starts lost ones, which land at once if done)')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { checkConvoys } = await import('../../convoy/client.js');
      const results = await checkConvoys(root);
      if (opts.json) return printJson(results);
      if (!results.length) return void process.stdout.write('No open convoys.\n');
      for (const r of results) process.stdout.write(`${r.convoy}  ${r.action.padEnd(7)}  ${r.status ?? ''}  ${clip(r.title, 60)}\n`);
    }));

  convoy
    .command('stage <beads...>')
    .usage('<epic | bead… | convoy> [options]')
    .description('validate the dependency graph (refusing cycles), compute waves, and write a staged convoy (not dispatched until launched)')
    .option('--title <text>', 'the convoy\'s name (default: the epic\'s title)')
    .option('--launch', 'launch it at once')
    .option('--owner <address>', 'who is told when it lands')
    .option('--notify', 'also post a terminal/desktop notice when it lands')
    .option('--human', 'wait for approval before landing')
    .option('--max-concurrent <n>', 'at most this many beads worked at once')
    .option('--budget <tokens|$>', 'send out no new beads once its beads\' sessions spent this (e.g. 500k, $5)')
    .option('--json', 'print the plan and the convoy as JSON')
    .action(action(async (args: string[], opts: { title?: string; launch?: boolean; owner?: string; notify?: boolean; human?: boolean; maxConcurrent?: string; budget?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { stageConvoy } = await import('../../convoy/client.js');
      const created = await stageConvoy(root, args, { ...opts, by: currentActor() });
      if (opts.json) return printJson(created);
      process.stdout.write(await renderCreated(created));
    }));

  convoy
    .command('budget <convoy> <amount>')
    .description('set or raise a convoy\'s budget (tokens such as 500k or 2M, or dollars such as $5): held for its budget, it sends out beads again')
    .option('--json', 'print the result as JSON')
    .action(action(async (id: string, amount: string, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { setConvoyBudget } = await import('../../convoy/client.js');
      const { formatBudget } = await import('../../convoy/budget.js');
      const result = await setConvoyBudget(root, id, amount, currentActor());
      if (opts.json) return printJson(result);
      process.stdout.write(`Budget of ${result.convoy} is now ${formatBudget(result.budget)}${result.workflow ? '; its workflow looks again' : ''}\n`);
    }));

  convoy
    .command('launch <convoy>')
    .description('start a staged convoy: its workflow dispatches wave 1 at once')
    .option('--json', 'print the result as JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { launchConvoy } = await import('../../convoy/client.js');
      const created = await launchConvoy(root, id, currentActor());
      if (opts.json) return printJson(created);
      process.stdout.write(await renderCreated(created));
    }));

  convoy
    .command('approve <convoy>')
    .description('approve a --human convoy: it lands once all its beads are closed')
    .option('--json', 'print the receipt as JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { approveConvoy } = await import('../../convoy/client.js');
      const r = await approveConvoy(root, id, currentActor());
      if (opts.json) return printJson(r);
      process.stdout.write(`Approved ${r.convoy}: it lands once all its beads are closed\n`);
    }));
}
