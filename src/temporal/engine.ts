import type { Client } from '@temporalio/client';
import { noteAgentProgress } from '../polecat/progress.js';
import { connectClient } from './client.js';
import { engineConfig, type EngineConfig } from './config.js';
import { ensureUp } from './services.js';

/**
 * How long a command that must not fail during a short outage (`gt done`, `gt handoff`) keeps
 * trying to reach the town's engine: it starts the town's own server and worker again if they
 * are down, and waits for an external cluster to come back.
 */
export const ENGINE_WAIT_MS = 5 * 60_000;

/**
 * Run `fn` with a client of the town's engine; with `start`, first make sure the engine and the
 * worker run (what any command that needs them does implicitly). With `waitMs`, an engine that
 * cannot be reached (down, restarting, its worker starting) is tried again until then, so `fn`
 * must be safe to repeat (an update with a fixed id is).
 */
export async function withEngine<T>(
  root: string,
  fn: (client: Client, config: EngineConfig) => Promise<T>,
  opts: { start?: boolean; waitMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  // An agent waiting on the engine (a `gt done` while the worker restarts) is not stuck: the
  // session watching it sees progress for as long as the call lasts, not only between tries.
  const alive = process.env.GT_PROGRESS_FILE ? setInterval(noteAgentProgress, 1000) : undefined;
  alive?.unref();
  try {
    return await tryEngine(root, fn, opts, deadline);
  } finally {
    if (alive) clearInterval(alive);
  }
}

async function tryEngine<T>(
  root: string,
  fn: (client: Client, config: EngineConfig) => Promise<T>,
  opts: { start?: boolean; waitMs?: number },
  deadline: number,
): Promise<T> {
  for (let round = 0; ; round++) {
    let client: Client | undefined;
    try {
      const config = opts.start ? await ensureUp(root) : engineConfig(root);
      client = await connectClient(config);
      return await fn(client, config);
    } catch (err) {
      if (!opts.waitMs || !engineUnreachable(err, client === undefined) || Date.now() > deadline) throw err;
      if (round === 0) process.stderr.write(`gt: the town's engine cannot be reached (${firstLine(err)}); trying again for up to ${Math.round(opts.waitMs / 60_000)} min\n`);
      await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** Math.min(round, 3), 5000)));
    } finally {
      await client?.connection.close().catch(() => undefined);
    }
  }
}

/**
 * gRPC codes of a server that is down, not answering or too busy to take the call now:
 * UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, RESOURCE_EXHAUSTED, ABORTED.
 */
const UNREACHABLE_CODES = new Set([14, 4, 1, 8, 10]);

/**
 * True for an error that says the engine could not take the call (down, restarting, starved)
 * rather than that it refused it: such a call is tried again until the deadline. An update whose
 * call timed out before the workflow answered (its workflow task timed out on a starved worker)
 * is one of them; a refused update or a missing workflow is not.
 */
function engineUnreachable(err: unknown, beforeConnected: boolean): boolean {
  // Starting the services or connecting failed: the engine is not there (yet).
  if (beforeConnected) return true;
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if (e.name === 'WorkflowUpdateRPCTimeoutOrCancelledError') return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && UNREACHABLE_CODES.has(code)) return true;
    if (/\b(UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET)\b|Connection refused|transport error/i.test(e.message)) return true;
  }
  return false;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}
