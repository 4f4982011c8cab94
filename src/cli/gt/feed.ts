import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { action } from '../run.js';
import { currentActor } from '../../actor.js';

/** `gt feed`: the town live in a terminal (src/feed); `--plain`/`--json` follow its events for pipes. */
export function registerFeedCommands(program: Command): void {
  program
    .command('feed')
    .description('the town live: agents, convoys, merge queue, events and problems (a TUI; --plain or --json for pipes)')
    .option('--problems', 'open on the problems: stalled, waiting on a person, blocked after attempts, zombies (with --plain/--json: print them once)')
    .option('--plain', 'no TUI: one line per event, following (for pipes)')
    .option('--json', 'no TUI: one JSON object per line, following')
    .option('--since <when>', 'events since a duration ago (30s, 15m, 2h, 1d) or a date (default: the last hour in the TUI, the last 20 with --plain/--json)')
    .option('--rig <rig>', 'only this rig')
    .action(action(async (opts: { problems?: boolean; plain?: boolean; json?: boolean; since?: string; rig?: string }) => {
      const root = requireTownRoot();
      const { parseSince, readEvents, followEvents } = await import('../../events/log.js');
      let sinceMs: number | undefined;
      if (opts.since !== undefined) {
        sinceMs = parseSince(opts.since);
        if (sinceMs === undefined) throw usageError(`--since "${opts.since}" is neither a duration nor a date`, 'e.g. --since 15m, --since 2h, --since 1d or --since 2026-12-01T08:00');
      }
      if (opts.plain && opts.json) throw usageError('--plain and --json exclude each other', 'pick one');
      if (opts.rig !== undefined) {
        const { requireRig } = await import('../../town/rigs.js');
        requireRig(root, opts.rig);
      }
      const pipe = opts.plain || opts.json;
      if (!pipe && !(process.stdout.isTTY && process.stdin.isTTY)) {
        throw usageError('gt feed draws in a terminal, and this is not one', 'for pipes use gt feed --plain (one line per event) or gt feed --json');
      }
      const { withEngine } = await import('../../temporal/engine.js');

      if (pipe && opts.problems) {
        const { FeedSource } = await import('../../feed/gather.js');
        const { detectProblems, withNudges } = await import('../../feed/model.js');
        const problems = await withEngine(root, async (client, config) => {
          const source = new FeedSource(root, client, config, opts.rig);
          await source.refresh(0);
          return detectProblems(withNudges(source.snapshot(), readEvents(root, { rig: opts.rig, types: ['nudge'], sinceMs: Date.now() - 86_400_000 })));
        }, { start: true });
        for (const p of problems) process.stdout.write(opts.json ? `${JSON.stringify(p)}\n` : `${p.kind.padEnd(8)}  ${p.subject}  ${p.why}\n`);
        if (!opts.json && !problems.length) process.stdout.write('No problems.\n');
        return;
      }

      if (pipe) {
        const { formatEvent } = await import('../../events/format.js');
        const filter = { rig: opts.rig, sinceMs };
        const print = (e: Parameters<typeof formatEvent>[0]) => process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`);
        const past = readEvents(root, filter);
        for (const e of sinceMs === undefined ? past.slice(-20) : past) print(e);
        const stop = followEvents(root, filter, print);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
          process.stdout.once('error', () => resolve());
        });
        stop();
        return;
      }

      const { FeedStore } = await import('../../feed/store.js');
      const { runFeedTui } = await importInkLive();
      const { nudgeAgent, resolveAgentTarget } = await import('../../tmux/agents.js');
      const by = currentActor();
      await withEngine(root, async (client, config) => {
        const store = new FeedStore(root, client, config, { rig: opts.rig, sinceMs: sinceMs ?? Date.now() - 3_600_000 });
        await store.start();
        const sessions = () => new Map(store.snapshot.agents.map((a) => [a.address, a.session]));
        try {
          await runFeedTui(store, {
            nudge: async (address, text) => {
              const target = resolveAgentTarget(root, address);
              await nudgeAgent(target, text);
              return `nudged ${address}`;
            },
            handoff: async (address) => {
              const r = await store.handoff(address, by);
              return `handoff of ${address} accepted: session ${r.attempt} of ${r.bead} ends, a fresh one takes over`;
            },
            sessionOf: (address) => {
              const session = sessions().get(address);
              return session && store.snapshot.sessions.includes(session) ? session : undefined;
            },
          }, { problems: Boolean(opts.problems), root });
        } finally {
          store.stop();
        }
      }, { start: true });
    }));
}

/**
 * Ink draws nothing live (only the last frame, at exit) when `CI` or `CONTINUOUS_INTEGRATION` is set,
 * which it reads once, when it is loaded. The feed has checked it is on a terminal, so it draws live
 * there too: the variables are hidden while Ink loads and put back for everything the feed starts.
 */
async function importInkLive(): Promise<typeof import('../../feed/view.js')> {
  const saved = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION };
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  try {
    return await import('../../feed/view.js');
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
  }
}
