import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';

const compact = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n));

export function registerCostsCommands(program: Command): void {
  program
    .command('costs')
    .description("tokens and dollars spent by agent sessions, from Claude Code's and Gemini CLI's transcripts (the sessions their hooks recorded) and Codex's rollout files (matched by worktree and time)")
    .option('--by <group>', 'sum per session, bead, convoy, rig or agent', 'session')
    .option('--json', 'print { by, rows, total, problems } as JSON')
    .action(action(async (opts: { by: string; json?: boolean }) => {
      const { COST_GROUPS, costReport } = await import('../../costs/report.js');
      if (!(COST_GROUPS as readonly string[]).includes(opts.by)) throw usageError(`--by "${opts.by}" is not a grouping`, `use one of: ${COST_GROUPS.join(', ')}`);
      const root = requireTownRoot();
      const report = costReport(root, opts.by as (typeof COST_GROUPS)[number]);
      for (const p of report.problems) process.stderr.write(`warning: ${p}\n`);
      if (opts.json) return printJson(report);
      if (!report.rows.length) {
        process.stdout.write('No recorded sessions yet: Claude Code and Gemini CLI sessions are recorded by their SessionStart hook (gt prime --hook), Codex sessions when a polecat starts one.\n');
        return;
      }
      const usd = (v?: number, unpriced?: string[]) => (v === undefined ? `? (no price for ${unpriced?.join(', ') ?? 'a model'})` : `$${v.toFixed(4)}`);
      const lines = [[opts.by.toUpperCase(), 'TOKENS', 'IN', 'OUT', 'CACHE-W', 'CACHE-R', 'USD', 'SESSIONS']];
      for (const r of [...report.rows, report.total]) lines.push([r.key, compact(r.tokens), compact(r.input), compact(r.output), compact(r.cacheWrite), compact(r.cacheRead), usd(r.usd, r.unpriced), String(r.sessions)]);
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      for (const l of lines) process.stdout.write(l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n');
    }));
}
