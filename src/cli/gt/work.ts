import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';

/**
 * The guide's town-wide work commands: `gt ready` (ready work in every ledger), `gt show` and
 * `gt close` (bd's, from anywhere in the town), `gt release` (stuck in_progress beads back to
 * open), `gt orphans` (hooked work nobody works) and `gt namepool` (a rig's polecat names).
 */
export function registerWorkCommands(program: Command): void {
  program
    .command('ready')
    .description('work ready across the town: every ledger\'s ready beads, by priority then age')
    .option('--rig <rig>', 'only this rig\'s ledger')
    .option('-n, --limit <n>', 'at most n beads')
    .option('--json', 'print JSON')
    .action(action(async (opts: { rig?: string; limit?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { townReady } = await import('../../polecat/work.js');
      const ready = townReady(root, opts);
      if (opts.json) return printJson(ready);
      if (ready.length === 0) return void process.stdout.write('No ready work in the town.\n');
      for (const b of ready) process.stdout.write(`${b.id.padEnd(14)} P${b.priority}  ${b.where.padEnd(10)} ${b.title}\n`);
    }));

  for (const [name, what] of [['show', 'a bead\'s details (bd show, from anywhere in the town)'], ['close', 'close beads (bd close, from anywhere in the town; convoys are told)']] as const) {
    program
      .command(name)
      .description(what)
      .allowUnknownOption()
      .helpOption(false)
      .argument('[args...]')
      .action(async (args: string[]) => {
        // The same command as bd's, run as bd: one implementation, the same rules and errors.
        const { PROJECT_ROOT } = await import('../../temporal/binary.js');
        const bd = join(PROJECT_ROOT, 'bin', 'bd.js');
        const r = spawnSync(process.execPath, [bd, name, ...args], { stdio: 'inherit' });
        process.exit(r.status ?? 1);
      });
  }

  program
    .command('release <beads...>')
    .description('put in_progress beads nobody is working on (claimed, or left by a merge queue that lost them) back to open')
    .option('--json', 'print the result as JSON')
    .action(action(async (beads: string[], opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { release } = await import('../../polecat/work.js');
      const { currentActor } = await import('../../actor.js');
      const out = await release(root, beads, currentActor());
      if (opts.json) return printJson(out);
      for (const r of out) process.stdout.write(`${r.bead} released (was in_progress${r.from ? ` for ${r.from}` : ''}; now open)\n`);
    }));

  program
    .command('orphans')
    .description('hooked or in-progress work that no workflow is working (lost polecat work); gt doctor --fix gives it back')
    .option('--json', 'print JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { doctor } = await import('../../doctor/index.js');
      const report = await doctor(root);
      const found = report.checks.filter((c) => c.group === 'ledgers' && c.name.startsWith('hooks in ') && c.status !== 'ok').map((c) => ({ status: c.status, message: c.message, fix: c.fix }));
      if (opts.json) return printJson(found);
      if (found.length === 0) return void process.stdout.write('No lost work: every hooked or in-progress bead has its workflow.\n');
      for (const f of found) process.stdout.write(`${f.status === 'error' ? 'LOST' : 'UNSURE'}  ${f.message}${f.fix ? `\n        ${f.fix}` : ''}\n`);
      process.stdout.write('Give them back with: gt doctor --fix\n');
    }));

  const pool = program.command('namepool').description('a rig\'s polecat names: the theme or list they are drawn from, and which are in use');
  pool
    .command('show [rig]', { isDefault: true })
    .description('the names of a rig (every rig without one)')
    .option('--json', 'print JSON')
    .action(action(async (rig: string | undefined, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { namepools } = await import('../../polecat/work.js');
      const pools = namepools(root, rig);
      if (opts.json) return printJson(pools);
      for (const p of pools) {
        process.stdout.write(`${p.rig}: ${p.custom ? 'its own names' : `theme ${p.style}`} (${p.names.length}); in use: ${p.inUse.length ? p.inUse.join(', ') : 'none'}\n`);
        process.stdout.write(`  next: ${p.next}; ${p.names.slice(0, 12).join(' ')}${p.names.length > 12 ? ' …' : ''}\n`);
      }
    }));
  pool
    .command('set <rig>')
    .description('draw a rig\'s polecat names from a theme (--style) or your own list (--names a,b,c)')
    .option('--style <theme>', 'a theme: wasteland, minerals, ...')
    .option('--names <list>', 'comma-separated names')
    .option('--json', 'print the result as JSON')
    .action(action(async (rig: string, opts: { style?: string; names?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { setNamepool } = await import('../../polecat/work.js');
      const p = setNamepool(root, rig, opts);
      if (opts.json) return printJson(p);
      process.stdout.write(`${rig} draws polecat names from ${p.custom ? 'its own list' : `theme ${p.style}`} (${p.names.length}); next: ${p.next}\n`);
    }));
}
