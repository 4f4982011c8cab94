import type { Command } from 'commander';
import { requireTownRoot } from '../../town/layout.js';
import { action, collect, printJson } from '../run.js';

/**
 * The town's event stream (written by the engine's activities, see src/events): `gt log` reads
 * and follows it, `gt trail` shows what each agent did last.
 */
export function registerLogCommands(program: Command): void {
  program
    .command('log')
    .description('the town\'s events: slings, sessions, nudges, stalls, gt done, merges, convoys (newest last)')
    .option('--since <when>', 'only events since a duration ago (30s, 15m, 2h, 1d) or a date (2026-12-01T08:00)')
    .option('--rig <rig>', 'only events of this rig')
    .option('--bead <id>', 'only events of this bead')
    .option('--type <type>', 'only this type, or a family: merge, session, convoy, ... (repeatable)', collect, [])
    .option('-n, --limit <n>', 'at most the last n events (default 50; 0 for all)')
    .option('-f, --follow', 'keep printing events as they happen (Ctrl-C stops)')
    .option('--json', 'one JSON object per line')
    .action(action(async (opts: { since?: string; rig?: string; bead?: string; type: string[]; limit?: string; follow?: boolean; json?: boolean }) => {
      const root = requireTownRoot();
      const { filter, limit } = await eventOptions(root, opts);
      const { followEvents, readEvents } = await import('../../events/log.js');
      const { formatEvent } = await import('../../events/format.js');
      const print = (e: Parameters<typeof formatEvent>[0]) => process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`);
      const events = readEvents(root, filter);
      for (const e of limit ? events.slice(-limit) : events) print(e);
      if (!opts.follow) return;
      const stop = followEvents(root, filter, print);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      stop();
    }));

  program
    .command('trail')
    .description('recent activity per agent: what each polecat, refinery and convoy did last')
    .option('--since <when>', 'look back this far (default 1h): 30m, 2h, 1d or a date')
    .option('--rig <rig>', 'only agents of this rig')
    .option('-n, --limit <n>', 'events per agent (default 5)')
    .option('--json', 'print JSON: agent → its recent events')
    .action(action(async (opts: { since?: string; rig?: string; limit?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { filter, limit } = await eventOptions(root, { since: opts.since ?? '1h', rig: opts.rig, type: [], limit: opts.limit ?? '5' });
      const { readEvents } = await import('../../events/log.js');
      const { formatEvent } = await import('../../events/format.js');
      const byActor = new Map<string, ReturnType<typeof readEvents>>();
      for (const e of readEvents(root, filter)) byActor.set(e.actor, [...(byActor.get(e.actor) ?? []), e]);
      const trail = Object.fromEntries([...byActor].sort(([a], [b]) => a.localeCompare(b)).map(([actor, es]) => [actor, limit ? es.slice(-limit) : es]));
      if (opts.json) return printJson(trail);
      if (byActor.size === 0) {
        process.stdout.write(`No agent activity since ${new Date(filter.sinceMs!).toISOString()}.\n`);
        return;
      }
      for (const [actor, es] of Object.entries(trail)) {
        process.stdout.write(`${actor}\n`);
        for (const e of es) process.stdout.write(`  ${formatEvent(e, { actor: false })}\n`);
      }
    }));
}

async function eventOptions(root: string, opts: { since?: string; rig?: string; bead?: string; type: string[]; limit?: string }) {
  const { usageError } = await import('../../errors.js');
  const { EVENT_TYPES, parseSince } = await import('../../events/log.js');
  let sinceMs: number | undefined;
  if (opts.since !== undefined) {
    sinceMs = parseSince(opts.since);
    if (sinceMs === undefined) throw usageError(`--since "${opts.since}" is neither a duration nor a date`, 'e.g. --since 15m, --since 2h, --since 1d or --since 2026-12-01T08:00');
  }
  if (opts.rig) {
    const { requireRig } = await import('../../town/rigs.js');
    requireRig(root, opts.rig);
  }
  const families = new Set(EVENT_TYPES.flatMap((t) => [t, t.split('.')[0]!]));
  for (const t of opts.type) {
    if (!families.has(t)) throw usageError(`unknown event type "${t}"`, `types: ${[...families].sort().join(', ')}`);
  }
  let limit = 50;
  if (opts.limit !== undefined) {
    limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 0) throw usageError(`--limit must be a whole number (0 for all), not "${opts.limit}"`);
  }
  return { filter: { sinceMs, rig: opts.rig, bead: opts.bead, types: opts.type }, limit };
}
