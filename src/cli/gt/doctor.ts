import type { Command } from 'commander';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';

const MARK = { ok: 'ok  ', warning: 'warn', error: 'FAIL' } as const;

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('check the engine, the town, its ledgers, agents and sessions; --fix repairs what is safe; exit 1 while an error remains')
    .option('--fix', 'repair what is safe (start the worker, register search attributes, give back orphaned hooks, prune stale worktrees and branches, stop zombie sessions) and say what was done')
    .option('--rig <name>', 'check only this rig (and the town-wide checks)')
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { fix?: boolean; rig?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { doctor, GROUPS } = await import('../../doctor/index.js');
      const report = await doctor(root, { rig: opts.rig, fix: opts.fix });
      if (opts.json) printJson(report);
      else {
        const lines: string[] = [];
        if (report.fixed.length) lines.push('Fixed:', ...report.fixed.map((f) => `  ${f}`), '');
        for (const group of GROUPS) {
          const checks = report.checks.filter((c) => c.group === group);
          if (!checks.length) continue;
          lines.push(`${group}`);
          for (const c of checks) {
            lines.push(`  ${MARK[c.status]} ${c.name}: ${c.message}`);
            if (c.fix && c.status !== 'ok') lines.push(`       fix: ${c.fix}`);
          }
        }
        lines.push('', report.errors || report.warnings ? `${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}` : 'all checks passed');
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (report.errors) process.exitCode = 1;
    }));
}
