import type { Command } from 'commander';
import { installTown } from '../../town/install.js';
import { action, printJson } from '../run.js';

export function registerWorkspaceCommands(program: Command): void {
  program
    .command('install <path>')
    .description('create a new town (workspace) at <path>')
    .option('--git', 'make the town a git repository so ledger history is kept in git')
    .option('--name <name>', 'town name (default: the folder name)')
    .option('--owner <owner>', 'town owner (default: the current user)')
    .option('--json', 'print the result as JSON')
    .action(action((path: string, opts: { git?: boolean; name?: string; owner?: string; json?: boolean }) => {
      const root = installTown(path, opts);
      if (opts.json) printJson({ root, git: Boolean(opts.git) });
      else process.stdout.write(`Created town at ${root}\n  next: cd ${root} && gt rig add <name> <git-url>\n`);
    }));
}
