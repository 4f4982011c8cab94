import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { MAIL_SIGNAL, type MailMessage, type MailNotice } from './types.js';

/**
 * Tell a running polecat's workflow that mail arrived (signal `mail`). Best effort: the message
 * bead is the record, and `gt mail check` shows it whether or not this reached anyone.
 * Returns whether a running workflow took the signal. Heavy import: load lazily.
 */
export async function deliverMail(client: Client, message: MailMessage): Promise<boolean> {
  const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(message.to);
  if (!m) return false;
  const notice: MailNotice = { id: message.id, from: message.from, to: message.to, subject: message.subject };
  try {
    await client.workflow.getHandle(polecatWorkflowId(m[1]!, m[2]!)).signal(MAIL_SIGNAL, notice);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
