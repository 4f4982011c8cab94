import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';

/** `gt nudge`, `gt peek`, `gt broadcast`: reach a running agent's terminal. */
export function registerNudgeCommands(program: Command): void {
  program
    .command('nudge <agent> <message...>')
    .description('type a message into a running agent\'s session (mayor, <rig>/polecats/<name>, <rig>/crew/<name>)')
    .action(action(async (agent: string, words: string[]) => {
      const root = requireTownRoot();
      const { nudgeAgent, nudgeText, resolveAgentTarget } = await import('../../tmux/agents.js');
      const message = words.join(' ');
      nudgeText(message);
      const target = resolveAgentTarget(root, agent);
      await nudgeAgent(target, message);
      process.stdout.write(`Nudged ${target.address} (tmux session ${target.session})\n`);
    }));

  program
    .command('peek <agent>')
    .description('show the recent output of an agent: its tmux session, or its log when it runs headless')
    .option('-n, --lines <n>', 'how many lines', '40')
    .option('--json', 'print { agent, source, text } as JSON')
    .action(action(async (agent: string, opts: { lines: string; json?: boolean }) => {
      const lines = Number(opts.lines);
      if (!/^\d+$/.test(opts.lines) || lines < 1 || lines > 10_000) throw usageError(`--lines "${opts.lines}" is not a number from 1 to 10000`);
      const root = requireTownRoot();
      const { peekAgent, resolveAgentTarget } = await import('../../tmux/agents.js');
      const target = resolveAgentTarget(root, agent);
      const seen = await peekAgent(target, lines);
      if (opts.json) return printJson({ agent: target.address, session: target.session, ...seen });
      if (seen.source === 'log') process.stderr.write(`(${target.address} has no tmux session; the end of its log:)\n`);
      process.stdout.write(seen.text ? `${seen.text}\n` : '');
    }));

  program
    .command('broadcast <message...>')
    .description('nudge every running agent of the town with the same message')
    .option('--json', 'print { nudged, failed } as JSON')
    .action(action(async (words: string[], opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { nudgeAgent, nudgeText, requireTmux, townAgents } = await import('../../tmux/agents.js');
      const { hasSession } = await import('../../activities/tmux.js');
      const message = words.join(' ');
      nudgeText(message);
      requireTmux();
      const nudged: string[] = [];
      const failed: { agent: string; error: string }[] = [];
      for (const target of townAgents(root)) {
        if (!(await hasSession(root, target.session))) continue;
        try {
          await nudgeAgent(target, message);
          nudged.push(target.address);
        } catch (err) {
          failed.push({ agent: target.address, error: (err as Error).message });
        }
      }
      if (opts.json) printJson({ nudged, failed });
      else if (!nudged.length && !failed.length) process.stdout.write('No running agents to nudge.\n');
      else {
        if (nudged.length) process.stdout.write(`Nudged ${nudged.length} agent${nudged.length === 1 ? '' : 's'}: ${nudged.join(', ')}\n`);
        for (const f of failed) process.stderr.write(`error: could not nudge ${f.agent}: ${f.error}\n`);
      }
      if (failed.length) process.exitCode = 1;
    }));
}
