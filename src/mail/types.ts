/**
 * Mail between agents: messages are beads of type `message` in the HQ ledger (subject = title,
 * body = description, recipient = assignee, open = unread, closed = read). Import-free so a
 * workflow can name the signal and its payload.
 */

/** Signal sent to `polecat/<rig>/<name>` when mail for that polecat arrives (best effort). */
export const MAIL_SIGNAL = 'mail';

export interface MailNotice {
  id: string;
  from: string;
  to: string;
  subject: string;
}

export interface MailMessage {
  id: string;
  from: string;
  to: string;
  subject: string;
  body: string;
  sent_at: string;
  read: boolean;
  read_at?: string;
  /** The id of the first message of the conversation. */
  thread: string;
  /** The message this one answers. */
  reply_to?: string;
}

export interface SendMailInput {
  from: string;
  to: string;
  subject: string;
  body: string;
}
