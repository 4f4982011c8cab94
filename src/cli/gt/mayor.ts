import type { Command } from 'commander';
import { GtError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { action } from '../run.js';

/** `gt mayor start|attach|stop`: the coordinating agent in the town root, in tmux session gt-mayor. */
export function registerMayorCommands(program: Command): void {
  const mayor = program.command('mayor').description('the Mayor: the coordinating agent of the town (tmux session gt-mayor on the town\'s own tmux server)');

  mayor
    .command('start')
    .description('start the Mayor in the background')
    .option('--agent <name>', 'agent runtime to use (default: role agent, then the town default)')
    .action(action(async (opts: { agent?: string }) => {
      const root = requireTownRoot();
      const { startMayor } = await import('../../tmux/mayor.js');
      const runtime = await startMayor(root, opts.agent);
      const { attachCommand } = await import('../../activities/tmux.js');
      process.stdout.write(`Mayor started with ${runtime.name} (${runtime.source}) in tmux session gt-mayor of this town's tmux server\n  attach: gt mayor attach  (or ${attachCommand(root, 'gt-mayor')})\n`);
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
      if (!(await mayorRunning(root))) await startMayor(root, opts.agent);
      process.exitCode = attachMayor(root);
    }));

  mayor
    .command('stop')
    .description('stop the Mayor\'s session')
    .action(action(async () => {
      const root = requireTownRoot();
      const { stopMayor } = await import('../../tmux/mayor.js');
      await stopMayor(root);
      process.stdout.write('Mayor stopped\n');
    }));
}
