import type { Command } from 'commander';
import { GtError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { action } from '../run.js';

/** `gt mayor start|attach|stop`: the coordinating agent in the town root, in tmux session gt-mayor. */
export function registerMayorCommands(program: Command): void {
  const mayor = program.command('mayor').description('the Mayor: the coordinating agent of the town (tmux session gt-mayor)');

  mayor
    .command('start')
    .description('start the Mayor in the background')
    .option('--agent <name>', 'agent runtime to use (default: role agent, then the town default)')
    .action(action(async (opts: { agent?: string }) => {
      const root = requireTownRoot();
      const { startMayor } = await import('../../tmux/mayor.js');
      const runtime = await startMayor(root, opts.agent);
      process.stdout.write(`Mayor started with ${runtime.name} (${runtime.source}) in tmux session gt-mayor\n  attach: gt mayor attach\n`);
    }));

  mayor
    .command('attach')
    .description('join the Mayor\'s session in this terminal (starting the Mayor if it is not running)')
    .option('--agent <name>', 'agent runtime to use if the Mayor has to be started')
    .action(action(async (opts: { agent?: string }) => {
      const root = requireTownRoot();
      const { attachMayor, mayorRunning, startMayor } = await import('../../tmux/mayor.js');
      const { requireTmux } = await import('../../tmux/agents.js');
      requireTmux();
      // Checked before starting anything: without a terminal there is nothing to attach.
      if (!process.env.TMUX && !(process.stdin.isTTY && process.stdout.isTTY)) {
        throw new GtError('gt mayor attach needs a terminal', { hint: 'run it in a terminal, or start the Mayor in the background with `gt mayor start`' });
      }
      if (!(await mayorRunning())) await startMayor(root, opts.agent);
      process.exitCode = attachMayor();
    }));

  mayor
    .command('stop')
    .description('stop the Mayor\'s session')
    .action(action(async () => {
      requireTownRoot();
      const { stopMayor } = await import('../../tmux/mayor.js');
      await stopMayor();
      process.stdout.write('Mayor stopped\n');
    }));
}
