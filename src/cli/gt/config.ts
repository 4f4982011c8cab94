import type { Command } from 'commander';
import { requireTownRoot } from '../../town/layout.js';
import {
  commandExists,
  formatCommandLine,
  getDefaultAgent,
  listAgents,
  removeCustomAgent,
  setCustomAgent,
  setDefaultAgent,
} from '../../town/runtimes.js';
import { action, printJson } from '../run.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('town configuration: agent runtimes and the default agent');
  const agent = config.command('agent').description('agent runtimes: built-in presets and custom agents');

  agent
    .command('set <name> <command-line>')
    .description('add or replace a custom agent, e.g. gt config agent set claude-glm "claude-glm --model glm-4"')
    .option('--prompt-mode <mode>', '"arg": first prompt on the command line; "none": typed in after start (default: from the preset the command belongs to, else arg)')
    .option('--provider <preset>', 'the preset family it belongs to (its hooks or context file, ready prompt and prompts to answer); default: the preset whose command it runs')
    .option('--ready-prompt <regex>', 'a pattern for a line of its screen when it waits for input (default: the preset\'s, else its screen settling)')
    .option('--instructions-file <name>', 'the context file it reads from its working folder (default: the preset\'s, else AGENTS.md)')
    .option('--json', 'print the stored agent as JSON')
    .action(action((name: string, commandLine: string, opts: { promptMode?: string; provider?: string; readyPrompt?: string; instructionsFile?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const runtime = setCustomAgent(root, name, commandLine, { promptMode: opts.promptMode, provider: opts.provider, readyPrompt: opts.readyPrompt, instructionsFile: opts.instructionsFile });
      if (opts.json) return printJson(runtime);
      process.stdout.write(`Agent ${name}: ${formatCommandLine(runtime)} (prompt_mode ${runtime.prompt_mode})\n`);
      // Not an error: the command may be installed later, or only on the machines that run agents.
      if (!commandExists(runtime.command)) process.stderr.write(`warning: "${runtime.command}" is not an executable on PATH here\n`);
    }));

  agent
    .command('list')
    .description('list built-in presets and custom agents; * marks the default')
    .option('--json', 'print the agents as JSON')
    .action(action((opts: { json?: boolean }) => {
      const agents = listAgents(requireTownRoot());
      if (opts.json) return printJson(agents);
      const width = Math.max(...agents.map((a) => a.name.length));
      for (const a of agents) {
        const kind = a.kind === 'preset' ? '' : ` [${a.kind}]`;
        process.stdout.write(`${a.default ? '*' : ' '} ${a.name.padEnd(width)}  ${a.command_line}  (prompt: ${a.prompt_mode})${kind}\n`);
      }
    }));

  agent
    .command('remove <name>')
    .description('remove a custom agent (built-in presets stay)')
    .option('--json', 'print the result as JSON')
    .action(action((name: string, opts: { json?: boolean }) => {
      const result = removeCustomAgent(requireTownRoot(), name);
      if (opts.json) return printJson(result);
      process.stdout.write(result.reverted_to_preset ? `Removed the override of ${name}; the built-in preset applies again\n` : `Removed agent ${name}\n`);
    }));

  config
    .command('default-agent [name]')
    .description('show the default agent, or set it to a preset or custom agent')
    .option('--json', 'print the default agent as JSON')
    .action(action((name: string | undefined, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      if (name === undefined) {
        const current = getDefaultAgent(root);
        if (opts.json) return printJson(current);
        return void process.stdout.write(`${current.name}  (${formatCommandLine(current)})\n`);
      }
      const runtime = setDefaultAgent(root, name);
      if (opts.json) return printJson(runtime);
      process.stdout.write(`Default agent is now ${name} (${formatCommandLine(runtime)})\n`);
    }));
}
