import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { addCrew, addRig, listCrew, listRigs, requireRig, rigForCwd } from '../../town/rigs.js';
import { action, printJson } from '../run.js';

/** Progress lines go to stderr, and only on a terminal, so piped and --json output stays clean. */
function progress(json?: boolean): ((message: string) => void) | undefined {
  return !json && process.stderr.isTTY ? (m) => process.stderr.write(`  ${m}\n`) : undefined;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function registerRigCommands(program: Command): void {
  const rig = program.command('rig').description('manage rigs: the projects (git repositories) of the town');

  rig
    .command('add <name> <git-url>')
    .description('add a project: bare clone, rig ledger, refinery worktree; <git-url> may be a URL, file:// URL or local path')
    .option('--prefix <prefix>', 'bead id prefix for the rig ledger (default: derived from the name)')
    .option('--branch <branch>', 'default branch (default: the remote HEAD)')
    .option('--json', 'print the result as JSON')
    .action(action((name: string, gitUrl: string, opts: { prefix?: string; branch?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const info = addRig(root, { name, gitUrl, prefix: opts.prefix, branch: opts.branch, cwd: process.cwd(), progress: progress(opts.json) });
      if (opts.json) printJson(info);
      else {
        process.stdout.write(
          `Added rig ${info.name} (prefix ${info.prefix}, branch ${info.default_branch})\n` +
            `  beads: ${info.prefix}-xxxxx  repo: ${info.git_url}\n` +
            `  next: gt crew add <you> --rig ${info.name}   or   gt sling <bead> ${info.name}\n`,
        );
      }
    }));

  rig
    .command('list')
    .description('list the rigs of the town')
    .option('--json', 'print the rigs as JSON')
    .action(action((opts: { json?: boolean }) => {
      const rigs = listRigs(requireTownRoot());
      if (opts.json) return printJson(rigs);
      if (!rigs.length) return void process.stdout.write('No rigs yet. Add one with `gt rig add <name> <git-url>`.\n');
      process.stdout.write(table([
        ['NAME', 'PREFIX', 'BRANCH', 'POLECATS', 'GIT URL'],
        ...rigs.map((r) => [r.name, r.prefix, r.default_branch, String(r.polecats), r.git_url]),
      ]));
    }));

  rig
    .command('run-on <rig> <where>')
    .description("where the rig's agents run: `town` (the town's own worker) or `workers` (only `gt worker --rig <rig>` on rig hosts)")
    .action(action(async (name: string, where: string) => {
      const root = requireTownRoot();
      const { RUN_ON_VALUES } = await import('../../temporal/worker.js');
      if (!(RUN_ON_VALUES as readonly string[]).includes(where)) throw usageError(`unknown place "${where}"`, `one of: ${RUN_ON_VALUES.join(', ')}`);
      requireRig(root, name);
      const { readRigSettings, writeRigSettings } = await import('../../town/settings.js');
      const settings = readRigSettings(root, name);
      if ((settings.run_on ?? 'town') === where) return void process.stdout.write(`Rig ${name} already runs on ${where}\n`);
      writeRigSettings(root, name, { ...settings, run_on: where as 'town' | 'workers' });
      process.stdout.write(where === 'workers'
        ? `Rig ${name} now runs its agents on rig hosts only: start one with \`gt worker --rig ${name}\` (the town's worker lets go of its queue within 2 s)\n`
        : `Rig ${name} now runs its agents on the town's own worker (stop its rig hosts)\n`);
    }));

  const crew = program.command('crew').description('manage crew members: people\'s own clones inside a rig');

  crew
    .command('add <name>')
    .description('make a full clone of the rig\'s repository at <rig>/crew/<name>')
    .option('--rig <rig>', 'the rig (default: the rig of the current folder)')
    .option('--json', 'print the result as JSON')
    .action(action((name: string, opts: { rig?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const rigName = opts.rig ?? rigForCwd(root);
      if (!rigName) throw usageError('which rig? pass --rig <rig>', 'e.g. `gt crew add alice --rig myproject`');
      const info = addCrew(root, { name, rig: rigName, progress: progress(opts.json) });
      if (opts.json) printJson(info);
      else process.stdout.write(`Created crew member ${info.name} in rig ${info.rig} on ${info.branch}\n  cd ${info.path}\n`);
    }));

  crew
    .command('list')
    .description('list crew members')
    .option('--rig <rig>', 'only this rig')
    .option('--json', 'print the crew as JSON')
    .action(action((opts: { rig?: string; json?: boolean }) => {
      const members = listCrew(requireTownRoot(), opts.rig);
      if (opts.json) return printJson(members);
      if (!members.length) return void process.stdout.write('No crew members yet. Add one with `gt crew add <name> --rig <rig>`.\n');
      process.stdout.write(table([
        ['RIG', 'NAME', 'BRANCH', 'PATH'],
        ...members.map((m) => [m.rig, m.name, m.branch ?? '(detached)', m.path]),
      ]));
    }));
}
