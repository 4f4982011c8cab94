import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { appendEvent } from '../events/log.js';
import { townEventSender } from '../remote/forward.js';
import { lazyClient } from './client.js';
import { rigHostName } from '../town/env.js';

/**
 * How activities write the town's event stream: the id comes from the activity (workflow, run,
 * activity id, type, key), so a retry after a lost worker writes the same event once. An event
 * that cannot be written never fails the work it describes.
 */
export function eventWriter(root: string) {
  // A rig host without the town folder: its events go to the town's stream too.
  const toTown = townEventSender(root, lazyClient(root));
  return (type: string, fields: { actor: string; rig?: string; bead?: string; detail?: string; key?: string; [k: string]: unknown }): void => {
    const { key, ...rest } = fields;
    let id: string | undefined;
    let workflow: string | undefined;
    let fresh = false;
    // Written on a rig host: which one, so `gt log` shows where each session ran (and a session
    // another host starts again after the first one died is an event of its own).
    const host = rigHostName();
    try {
      const info = Context.current().info;
      workflow = info.workflowExecution?.workflowId;
      id = `${workflow}/${info.workflowExecution?.runId}/${info.activityId}/${type}${key ? `/${key}` : ''}${host ? `@${host}` : ''}`;
      // Only a retry (after a lost worker, on this or another host) can find its id written before.
      fresh = info.attempt === 1;
    } catch {
      // outside an activity (a test calling it directly): a fresh id
    }
    try {
      const event = { ...rest, type, id: id ?? randomUUID(), at: new Date().toISOString(), workflow: rest.workflow as string | undefined ?? workflow, ...(host ? { host } : {}) };
      appendEvent(root, event, { fresh: fresh || id === undefined });
      toTown?.(event);
    } catch (err) {
      process.stderr.write(`worker: could not record event ${type}: ${(err as Error).message}\n`);
    }
  };
}
