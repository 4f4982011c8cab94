import type { Command } from 'commander';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';
import { currentActor } from '../../actor.js';
import { renderCreated, renderState } from './convoy.js';

/**
 * `gt mountain <epic>`: a convoy of an epic's children, labelled `mountain`, that retries failed
 * beads, skips the ones that keep failing, reports stalls to the Mayor, and can be paused.
 */
export function registerMountainCommands(program: Command): void {
  const mountain = program
    .command('mountain')
    .argument('[epic]', 'the epic whose children to work')
    .description('stage an epic\'s children (waves from the dependency graph), label the convoy mountain, launch it; or: status | pause | resume | cancel')
    .option('--owner <address>', 'who is told when it lands')
    .option('--notify', 'also post a terminal/desktop notice when it lands')
    .option('--max-concurrent <n>', 'at most this many beads worked at once')
    .option('--budget <tokens|$>', 'send out no new beads once its beads\' sessions spent this (e.g. 2M, $20); raise it with gt convoy budget')
    .option('--json', 'print the plan and the convoy as JSON')
    .action(action(async (epic: string | undefined, opts: { owner?: string; notify?: boolean; maxConcurrent?: string; budget?: string; json?: boolean }) => {
      const { usageError } = await import('../../errors.js');
      if (!epic) throw usageError('no epic given', 'usage: gt mountain <epic>, or gt mountain status|pause|resume|cancel <mountain>');
      const root = requireTownRoot();
      const { startMountain } = await import('../../convoy/client.js');
      const created = await startMountain(root, epic, { ...opts, by: currentActor() });
      if (opts.json) return printJson(created);
      process.stdout.write(await renderCreated(created));
    }));

  mountain
    .command('status [mountain]')
    .description('waves, done/running/ready/blocked/skipped and the ETA (a mountain id or its epic; all open mountains without one)')
    .option('--json', 'print the full state as JSON')
    // `--json` after the subcommand is parsed by `mountain` itself (it has the option too): read both.
    .action(action(async (id: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as { json?: boolean };
      const root = requireTownRoot();
      const { convoyStatus } = await import('../../convoy/client.js');
      let ids: string[];
      if (id) ids = [id];
      else {
        const { listConvoys } = await import('../../convoy/store.js');
        ids = listConvoys(root).filter((c) => c.mountain).map((c) => c.id);
      }
      const states = [];
      for (const c of ids) states.push(await convoyStatus(root, c));
      if (opts.json) return printJson(id ? states[0] : states);
      if (!states.length) return void process.stdout.write('No open mountains. Start one with gt mountain <epic>.\n');
      for (const s of states) process.stdout.write(await renderState(s));
    }));

  const steer = (name: 'pause' | 'resume' | 'cancel', description: string) => {
    const cmd = mountain.command(`${name} <mountain>`).description(description).option('--json', 'print the receipt as JSON');
    if (name === 'cancel') cmd.option('-r, --reason <text>', 'why');
    cmd.action(action(async (id: string, _opts: unknown, self: Command) => {
        const opts = self.optsWithGlobals() as { json?: boolean; reason?: string };
        const root = requireTownRoot();
        const client = await import('../../convoy/client.js');
        const r =
          name === 'pause' ? await client.pauseConvoy(root, id, currentActor()) : name === 'resume' ? await client.resumeConvoy(root, id, currentActor()) : await client.cancelConvoy(root, id, currentActor(), opts.reason);
        if (opts.json) return printJson(r);
        const running = r.running ? `; ${r.running} bead${r.running === 1 ? '' : 's'} still being worked will finish` : '';
        process.stdout.write(
          name === 'pause' ? `Paused ${r.convoy}: nothing new is dispatched${running}\n` : name === 'resume' ? `Resumed ${r.convoy}\n` : `Cancelled ${r.convoy}${running}\n`,
        );
      }));
  };
  steer('pause', 'stop dispatching new beads (running agents finish their work)');
  steer('resume', 'dispatch again');
  steer('cancel', 'stop the mountain for good: nothing new is dispatched, the convoy closes (running agents finish)');
}
