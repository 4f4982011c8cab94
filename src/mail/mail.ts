import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import type { CreateInput } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import { GtError, usageError } from '../errors.js';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';
import type { MailMessage, SendMailInput } from './types.js';

/**
 * Mail stored in the HQ ledger. Recipients are checked before anything is written: `mayor`,
 * `<rig>/polecats/<name>`, `<rig>/crew/<name>` (or `<rig>/<name>` when that names exactly one
 * of them) for a rig and an agent that exist.
 */

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** A message is a note between agents, not a file transfer. */
const BODY_LIMIT = 64 * 1024;

const ADDRESS_HINT = 'an address is `mayor`, `<rig>/polecats/<name>` or `<rig>/crew/<name>`';

function hq(root: string): Ledger {
  return Ledger.open(townPaths(root).beads);
}

/** The canonical form of a recipient address; refuses one that names nobody in this town. */
export function resolveAddress(root: string, address: string): string {
  const text = typeof address === 'string' ? address.trim() : '';
  if (!text) throw usageError('the address is empty', ADDRESS_HINT);
  if (/[\s\0]/.test(text)) throw usageError(`address "${text}" contains whitespace`, ADDRESS_HINT);
  if (text === 'mayor' || text === 'mayor/') return 'mayor';
  const parts = text.replace(/\/$/, '').split('/');
  const rig = parts[0]!;
  const rigs = readRigs(root).rigs;
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) throw usageError(`"${text}" is not a mail address`, ADDRESS_HINT);
  if (!(rig in rigs)) {
    const known = Object.keys(rigs);
    throw new GtError(`no rig named "${rig}" (in address "${text}")`, { hint: known.length ? `known rigs: ${known.join(', ')}` : 'add one with `gt rig add`' });
  }
  const p = rigPaths(root, rig);
  if (parts.length === 2) {
    const name = parts[1]!;
    if (!NAME_RE.test(name)) throw usageError(`"${text}" is not a mail address`, ADDRESS_HINT);
    const polecat = existsSync(join(p.polecats, name));
    const crew = existsSync(join(p.crew, name));
    if (polecat && crew) throw usageError(`"${text}" is ambiguous: rig ${rig} has a polecat and a crew member named ${name}`, `write ${rig}/polecats/${name} or ${rig}/crew/${name}`);
    if (polecat) return `${rig}/polecats/${name}`;
    if (crew) return `${rig}/crew/${name}`;
    throw new GtError(`rig ${rig} has no polecat or crew member named "${name}"`, { hint: `\`gt polecat list\` and \`gt crew list --rig ${rig}\` show who is there` });
  }
  const [, kind, name] = parts as [string, string, string];
  if (kind !== 'polecats' && kind !== 'crew') throw usageError(`"${text}" is not a mail address: "${kind}" is neither polecats nor crew`, ADDRESS_HINT);
  if (!NAME_RE.test(name)) throw usageError(`"${name}" in address "${text}" is not a valid name`, 'names hold letters, digits, "_" and "-"');
  if (!existsSync(join(kind === 'polecats' ? p.polecats : p.crew, name))) {
    throw new GtError(`rig ${rig} has no ${kind === 'polecats' ? 'polecat' : 'crew member'} named "${name}"`, {
      hint: kind === 'polecats' ? '`gt polecat list` shows the polecats' : `\`gt crew list --rig ${rig}\` shows the crew`,
    });
  }
  return `${rig}/${kind}/${name}`;
}

function checkSubject(subject: string): string {
  const s = typeof subject === 'string' ? subject.trim() : '';
  if (!s) throw usageError('the subject is empty', 'give one with -s "<subject>"');
  if (/[\r\n]/.test(s)) throw usageError('the subject is more than one line', 'put the details in the body (-m)');
  if (s.length > 500) throw usageError(`the subject is ${s.length} characters long (at most 500)`, 'put the details in the body (-m)');
  return s;
}

function checkBody(body: string): string {
  if (typeof body !== 'string') throw usageError('the body is missing', 'give one with -m "<text>"');
  if (body.length > BODY_LIMIT) throw usageError(`the body is ${body.length} characters long (at most ${BODY_LIMIT})`);
  if (body.includes('\0')) throw usageError('the body contains a NUL character');
  return body;
}

function checkSender(from: string): string {
  const s = typeof from === 'string' ? from.trim() : '';
  if (!s || /[\s\0]/.test(s) || s.length > 200) throw usageError(`invalid sender "${String(from)}"`, ADDRESS_HINT);
  return s;
}

export function toMessage(bead: Bead): MailMessage {
  const meta = (bead.metadata ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    id: bead.id,
    from: str(meta.from) ?? bead.created_by ?? 'unknown',
    to: str(meta.to) ?? bead.assignee ?? 'unknown',
    subject: bead.title,
    body: bead.description ?? '',
    sent_at: bead.created_at,
    read: bead.status === 'closed',
    ...(bead.closed_at ? { read_at: bead.closed_at } : {}),
    thread: str(meta.thread) ?? bead.id,
    ...(str(meta.reply_to) ? { reply_to: str(meta.reply_to) } : {}),
  };
}

interface Draft {
  from: string;
  to: string;
  subject: string;
  body: string;
  thread?: string;
  replyTo?: string;
}

function messageInput(d: Draft): CreateInput {
  const labels = [`from:${d.from}`, ...(d.thread ? [`thread:${d.thread}`] : []), ...(d.replyTo ? [`reply-to:${d.replyTo}`] : [])];
  return {
    title: d.subject,
    description: d.body || undefined,
    issue_type: 'message',
    assignee: d.to,
    // Labels follow the original's mail format; an address too long for a label lives in metadata only.
    labels: labels.filter((l) => l.length <= 100 && !l.includes(',')),
    metadata: { from: d.from, to: d.to, ...(d.thread ? { thread: d.thread } : {}), ...(d.replyTo ? { reply_to: d.replyTo } : {}) },
  };
}

function draft(root: string, input: SendMailInput): Draft {
  return { from: checkSender(input.from), to: resolveAddress(root, input.to), subject: checkSubject(input.subject), body: checkBody(input.body) };
}

/** Send a message: one bead in the HQ ledger. Everything is checked before it is written. */
export function sendMail(root: string, input: SendMailInput): MailMessage {
  const d = draft(root, input);
  return toMessage(hq(root).transaction((tx) => tx.create(messageInput(d)), { actor: d.from }));
}

/** `sendMail` for long-lived processes (the worker): waits for the ledger lock without blocking. */
export async function sendMailAsync(root: string, input: SendMailInput): Promise<MailMessage> {
  const d = draft(root, input);
  return toMessage(await hq(root).transactionAsync((tx) => tx.create(messageInput(d)), { actor: d.from }));
}

/** A message by id (short ids allowed); refuses a bead that is not a message. */
export function getMail(root: string, id: string): MailMessage {
  if (typeof id !== 'string' || !id.trim()) throw usageError('the message id is empty', 'give an id from `gt mail inbox`, e.g. hq-abc12');
  const bead = hq(root).get(id.trim());
  if (bead.issue_type !== 'message') {
    throw new GtError(`${bead.id} is not a message (it is a ${bead.issue_type ?? 'task'})`, { hint: 'message ids come from `gt mail inbox`' });
  }
  return toMessage(bead);
}

function requireParty(message: MailMessage, who: string, verb: string): void {
  if (message.to !== who && message.from !== who) {
    throw new GtError(`cannot ${verb} ${message.id}: it is mail from ${message.from} to ${message.to}, and you are ${who}`, {
      hint: `act as the recipient with --identity ${message.to}`,
    });
  }
}

/** Messages to `address`, newest first. */
export function inbox(root: string, address: string, opts: { unreadOnly?: boolean } = {}): MailMessage[] {
  const beads = hq(root).list({ issue_type: 'message', assignee: address, ...(opts.unreadOnly ? { status: 'open' } : { all: true }) });
  return beads.map(toMessage).sort((a, b) => (a.sent_at < b.sent_at ? 1 : a.sent_at > b.sent_at ? -1 : b.id.localeCompare(a.id)));
}

/** Show a message to one of its parties; the recipient reading it marks it read. */
export function readMail(root: string, id: string, reader: string): MailMessage {
  const message = getMail(root, id);
  requireParty(message, reader, 'read');
  if (message.to !== reader || message.read) return message;
  return toMessage(hq(root).transaction((tx) => tx.close(message.id, { reason: 'read', force: true }), { actor: reader }));
}

/** Answer a message: to its sender, in its thread, subject "Re: ...". */
export function replyMail(root: string, id: string, from: string, body: string, subject?: string): MailMessage {
  const original = getMail(root, id);
  const sender = checkSender(from);
  requireParty(original, sender, 'reply to');
  const to = original.from === sender ? original.to : original.from;
  const d: Draft = {
    from: sender,
    to,
    subject: checkSubject(subject ?? (/^re:/i.test(original.subject) ? original.subject : `Re: ${original.subject}`)),
    body: checkBody(body),
    thread: original.thread,
    replyTo: original.id,
  };
  return toMessage(hq(root).transaction((tx) => tx.create(messageInput(d)), { actor: sender }));
}
