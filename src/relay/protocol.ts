import { join } from 'node:path';

/**
 * The worker's relay: a Unix socket on which an agent's `gt done` and `gt handoff` hand their
 * update to the worker that started the agent's session, which sends it on its own engine
 * connection. A session's commands then need no Temporal client of their own (loading one costs
 * an agent process about half a second of CPU). The relay is only a shortcut: an agent that
 * cannot reach it, or whose relayed call fails for any reason but a refusal, sends the same
 * update (same update id, so the engine applies it once) itself.
 * Import-free so both sides can use it.
 */

/** The updates an agent may relay, and only to a polecat workflow. */
export const RELAYED_UPDATES = ['done', 'handoff'] as const;
export type RelayedUpdate = (typeof RELAYED_UPDATES)[number];
export const POLECAT_WORKFLOW_ID = /^polecat\/[^/]+\/[^/]+$/;

/** The environment variable that tells an agent session where its worker's relay listens. */
export const RELAY_ENV = 'GT_RELAY';

/** Longest socket path Linux takes (sun_path is 108 bytes with its NUL); a longer one means no relay. */
export const MAX_SOCKET_PATH = 107;

export interface RelayRequest {
  workflowId: string;
  update: RelayedUpdate;
  args: unknown[];
  updateId: string;
  /** How a refusal is worded ("gt done for gt-abc was refused"). */
  what: string;
}

export type RelayAnswer =
  | { ok: true; value: unknown }
  /** The engine refused the update (or has no such workflow): final, said as the CLI says it. */
  | { ok: false; refused: { message: string; hint?: string } }
  /** The worker could not get an answer (engine busy or down, a timeout): the agent tries itself. */
  | { ok: false; unavailable: string };

/** Where the relay of worker process `pid` listens, in the town's run folder. */
export function relaySocketPath(run: string, pid: number): string {
  return join(run, 'relay', `${pid}.sock`);
}

export function isRelayRequest(x: unknown): x is RelayRequest {
  if (!x || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.workflowId === 'string' &&
    POLECAT_WORKFLOW_ID.test(r.workflowId) &&
    (RELAYED_UPDATES as readonly unknown[]).includes(r.update) &&
    Array.isArray(r.args) &&
    typeof r.updateId === 'string' &&
    r.updateId.length > 0 &&
    typeof r.what === 'string'
  );
}
