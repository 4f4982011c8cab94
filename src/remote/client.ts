import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { reportError } from '../cli/run.js';
import { GtError, usageError } from '../errors.js';
import { connectClient } from '../temporal/client.js';
import { townClaimWorkflowId } from '../temporal/town-claim.js';
import { callOnce } from './call.js';
import { allowedList, checkTownCommand, IDENTITY_VARS, readsStdin, type RemoteBin, type TownCommand, type TownCommandResult } from './commands.js';

/** How long a call keeps trying to reach the town's engine (a dropped link, a cluster restarting). */
const REACH_WAIT_MS = 5 * 60_000;

/**
 * Run `bin args` in the town, through the engine: a `townCommandWorkflow` on the town's task
 * queue whose id is this call's idempotency key (GT_CALL_ID when the caller gives one, so a
 * command run again after the caller itself died is not applied twice; else one id made here and
 * kept for every try). Prints what the command printed; resolves to its exit code. Reports its
 * own errors (the bundled `bd` has its own copy of GtError, which this module's are not).
 */
export async function runInTown(town: string, bin: RemoteBin, args: string[]): Promise<number> {
  try {
    return await sendToTown(town, bin, args);
  } catch (err) {
    return reportError(err);
  }
}

async function sendToTown(town: string, bin: RemoteBin, args: string[]): Promise<number> {
  const check = checkTownCommand(bin, args);
  if ('refused' in check) throw usageError(check.refused, `on a host without the town folder (GT_TOWN_REMOTE=${town}) an agent can run: ${allowedList()}; run anything else on the town's host`);
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw usageError(`GT_TOWN_REMOTE=${town} needs the engine's address`, 'set TEMPORAL_ADDRESS=<host:port> of the town\'s cluster (gt worker gives it to its agents)');
  const key = process.env.GT_CALL_ID ?? `${(process.env.BD_ACTOR ?? 'agent').replace(/[^A-Za-z0-9_.-]+/g, '.')}-${randomUUID()}`;
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(key)) throw usageError(`GT_CALL_ID must be a plain id (letters, digits, . _ : -), got "${key}"`);
  const env: Record<string, string> = {};
  for (const k of IDENTITY_VARS) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  const cmd: TownCommand = { bin, args, env, ...(readsStdin(bin, args) && !process.stdin.isTTY ? { stdin: readFileSync(0, 'utf8') } : {}) };
  const reach = { address, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', external: true };
  const taskQueue = process.env.GT_TASK_QUEUE ?? `gt-${town.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
  const workflowId = `cmd/${town}/${key}`;

  const deadline = Date.now() + REACH_WAIT_MS;
  let result: TownCommandResult | undefined;
  for (let round = 0; result === undefined; round++) {
    let client: Client | undefined;
    try {
      client = await connectClient(reach, { connectTimeout: '5s' });
      await requireTown(client, town, reach.address, reach.namespace);
      result = await callOnce<TownCommandResult>(client, {
        workflowId,
        taskQueue,
        workflowType: 'townCommandWorkflow',
        args: [cmd, { write: check.write }],
        summary: `${bin} ${args.slice(0, 2).join(' ')} by ${env.BD_ACTOR ?? 'an agent'}`,
      });
    } catch (err) {
      if (err instanceof GtError && !err.message.startsWith('cannot reach Temporal')) throw err;
      if (err instanceof WorkflowFailedError) {
        const cause = ((err.cause as Error & { cause?: Error } | undefined)?.cause ?? err.cause) as (Error & { type?: string }) | undefined;
        throw new GtError(`${bin} ${args.slice(0, 2).join(' ')} failed in town ${town}: ${cause?.message ?? err.message}`, {
          exitCode: cause?.type === 'RefusedCommand' ? 2 : 1,
          hint: check.write ? `a write is run at most once: if the town's worker was lost while it ran, check with \`bd show\` whether it was applied` : undefined,
        });
      }
      if (!unreachable(err)) throw err;
      if (Date.now() > deadline) throw new GtError(`town ${town} cannot be reached through the engine at ${address}: ${firstLine(err)}`, { hint: 'is the cluster up and the town\'s `gt up` worker running? the call can be repeated with the same GT_CALL_ID' });
      if (round === 0) process.stderr.write(`gt: the engine at ${address} cannot be reached (${firstLine(err)}); trying again for up to ${REACH_WAIT_MS / 60_000} min\n`);
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** Math.min(round, 3), 4000)));
    } finally {
      await client?.connection.close().catch(() => undefined);
    }
  }
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.code;
}

/** The engine must know the town (its `gt up` holds `town/<name>`), or the command would wait for a worker that never comes. */
export async function requireTown(client: Client, town: string, address: string, namespace: string): Promise<void> {
  let running = false;
  try {
    running = (await client.workflow.getHandle(townClaimWorkflowId(town)).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  if (!running) {
    throw new GtError(`town "${town}" is not running on the engine at ${address} (namespace ${namespace})`, {
      hint: 'check GT_TOWN_REMOTE and TEMPORAL_NAMESPACE; the town\'s host must have run `gt up` on that cluster',
    });
  }
}

/** An engine that is down or cut off (gRPC UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, a failed connect), not one that refused. */
function unreachable(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 14 || code === 4 || code === 1) return true;
    if (/cannot reach Temporal|\b(UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH)\b|Connection refused|transport error|timed? ?out/i.test(e.message)) return true;
  }
  return false;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}
