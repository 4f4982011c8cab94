import type { Client } from '@temporalio/client';
import { parseDuration } from '../formula/duration.js';
import { readTownSettings } from '../town/settings.js';

/**
 * "No silent waits": what a workflow is stuck on, read from the engine's own record of its
 * pending activities (describe), never by scraping sessions. An activity is stalled when it is
 * retrying after failures, when nobody has picked it up, or when its worker stopped beating.
 */
export interface Stall {
  workflowId: string;
  activity: string;
  why: string;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined =>
  t?.seconds === undefined || t.seconds === null ? undefined : Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);

const firstLine = (text: string | null | undefined) => (text ?? '').split('\n')[0]!.slice(0, 160);

export async function stallsOf(client: Client, workflowId: string, heartbeatMs: number, now = Date.now()): Promise<Stall[]> {
  let pending;
  try {
    pending = (await client.workflow.getHandle(workflowId).describe()).raw.pendingActivities ?? [];
  } catch {
    return [];
  }
  const out: Stall[] = [];
  for (const a of pending) {
    const activity = a.activityType?.name ?? 'an activity';
    const started = Number(a.state) === 2 || Number(a.state) === 3; // STARTED, CANCEL_REQUESTED
    const scheduledAt = ms(a.scheduledTime) ?? ms(a.lastStartedTime);
    const beatAt = ms(a.lastHeartbeatTime) ?? ms(a.lastStartedTime);
    const secs = (x: number) => `${Math.round(x / 1000)}s`;
    if ((a.attempt ?? 1) > 1 && a.lastFailure) {
      const next = ms(a.nextAttemptScheduleTime);
      const when = started ? '' : next !== undefined && next > now ? ` (next try in ${secs(next - now)})` : ' (waiting for a worker)';
      out.push({ workflowId, activity, why: `${activity} is on attempt ${a.attempt}; last: ${firstLine(a.lastFailure.message)}${when}` });
    } else if (!started && scheduledAt !== undefined && now - scheduledAt > heartbeatMs) {
      out.push({ workflowId, activity, why: `${activity} has waited ${secs(now - scheduledAt)} for a worker (is \`gt up\` running one? gt status)` });
    } else if (started && beatAt !== undefined && now - beatAt > 2 * heartbeatMs) {
      out.push({ workflowId, activity, why: `${activity} has not beaten for ${secs(now - beatAt)} (heartbeat_timeout ${secs(heartbeatMs)}): its worker may be gone` });
    }
  }
  return out;
}

/** Every running workflow of the town (its orchestration queue and its rigs' queues) that is stalled, with why. */
export async function townStalls(client: Client, queues: string[], heartbeatMs: number, limit = 500): Promise<Stall[]> {
  const query = `ExecutionStatus = 'Running' AND TaskQueue IN (${queues.map((q) => `'${q.replace(/'/g, "''")}'`).join(', ')})`;
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query })) {
    ids.push(w.workflowId);
    if (ids.length >= limit) break;
  }
  return (await Promise.all(ids.map((id) => stallsOf(client, id, heartbeatMs)))).flat();
}

/** The town's heartbeat_timeout (what "stalled" is measured against), or its default when the settings are broken. */
export function townHeartbeatMs(root: string): number {
  try {
    return parseDuration(readTownSettings(root).thresholds?.heartbeat_timeout ?? '30s');
  } catch {
    return 30_000;
  }
}
