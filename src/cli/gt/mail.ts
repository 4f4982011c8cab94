import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { inbox, readMail, replyMail, resolveAddress, sendMail } from '../../mail/mail.js';
import type { MailMessage } from '../../mail/types.js';
import type { JsonHookRuntime } from '../../town/integrations.js';
import { currentIdentity } from '../../polecat/identity.js';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';

/** Who the mail commands act for: `--identity`, else the agent's environment or folder. */
function identity(root: string, flag: string | undefined): string {
  if (flag === undefined) return currentIdentity(root).address;
  const text = flag.trim();
  if (!text) throw usageError('--identity is empty', 'give an address such as mayor or <rig>/polecats/<name>');
  // A plain name is a person (the overseer); anything else must be an agent of this town.
  if (text !== 'mayor' && !text.includes('/')) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(text)) throw usageError(`--identity "${text}" is not a name or an agent address`);
    return text;
  }
  return resolveAddress(root, text);
}

/**
 * Tell a running polecat its mail arrived. Best effort and never slow: skipped when no engine
 * is known to run; any failure leaves the message unread in the ledger for `gt mail check`.
 */
async function deliver(root: string, message: MailMessage): Promise<boolean> {
  if (!message.to.includes('/polecats/')) return false;
  try {
    const { engineConfig } = await import('../../temporal/config.js');
    const { servicePid } = await import('../../temporal/services.js');
    const config = engineConfig(root);
    if (!config.external && !servicePid(root, 'temporal')) return false;
    const { withEngine } = await import('../../temporal/engine.js');
    const { deliverMail } = await import('../../mail/deliver.js');
    return await withEngine(root, (client) => deliverMail(client, message));
  } catch {
    return false;
  }
}

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function line(m: MailMessage): string {
  return `${m.read ? ' ' : '●'} ${m.id}  ${when(m.sent_at)}  ${m.from.padEnd(20)}  ${m.subject}\n`;
}

function render(m: MailMessage): string {
  return (
    `From:    ${m.from}\n` +
    `To:      ${m.to}\n` +
    `Date:    ${when(m.sent_at)}\n` +
    `Subject: ${m.subject}\n` +
    `Id:      ${m.id}${m.reply_to ? `  (reply to ${m.reply_to}, thread ${m.thread})` : ''}\n` +
    `\n${m.body}${m.body.endsWith('\n') || !m.body ? '' : '\n'}`
  );
}

/** Unread mail as a hook's output puts it in front of the agent: every message whole (long bodies cut), oldest first. */
export function injectText(who: string, messages: MailMessage[]): string {
  if (!messages.length) return '';
  const out = ['<system-reminder>', `Gas Town mail: ${messages.length} unread message${messages.length === 1 ? '' : 's'} for ${who}.`, ''];
  for (const m of [...messages].reverse()) {
    const body = m.body.length > 2000 ? `${m.body.slice(0, 2000)}… (cut; \`gt mail read ${m.id}\` shows it all)` : m.body;
    out.push(`From ${m.from}, ${when(m.sent_at)}, id ${m.id}: ${m.subject}`, ...(body.trim() ? [body.trimEnd()] : []), '');
  }
  out.push('Mark each read with `gt mail read <id>`; answer with `gt mail reply <id> -m "..."`.', '</system-reminder>', '');
  return out.join('\n');
}

export function registerMailCommands(program: Command): void {
  const mail = program.command('mail').description('durable messages between agents (kept as message beads in the HQ ledger)');

  mail
    .command('send <address>')
    .description('send a message to mayor, <rig>/polecats/<name> or <rig>/crew/<name>')
    .requiredOption('-s, --subject <subject>', 'one-line subject')
    .option('-m, --message <body>', 'the message body', '')
    .option('--identity <address>', 'send as this address (default: your agent identity)')
    .option('--json', 'print the sent message as JSON')
    .action(action(async (address: string, opts: { subject: string; message: string; identity?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const from = identity(root, opts.identity);
      const message = sendMail(root, { from, to: address, subject: opts.subject, body: opts.message });
      const delivered = await deliver(root, message);
      if (opts.json) return printJson({ ...message, delivered });
      process.stdout.write(`Sent ${message.id} to ${message.to}: ${message.subject}${delivered ? ' (its running workflow was told)' : ''}\n`);
    }));

  mail
    .command('inbox')
    .description('list your messages, newest first (● = unread)')
    .option('--unread', 'only unread messages')
    .option('--identity <address>', 'whose inbox (default: your agent identity)')
    .option('--json', 'print the messages as JSON')
    .action(action((opts: { unread?: boolean; identity?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const who = identity(root, opts.identity);
      const messages = inbox(root, who, { unreadOnly: opts.unread });
      if (opts.json) return printJson(messages);
      if (!messages.length) return void process.stdout.write(`No ${opts.unread ? 'unread ' : ''}mail for ${who}.\n`);
      const unread = messages.filter((m) => !m.read).length;
      process.stdout.write(`Inbox of ${who}: ${messages.length} message${messages.length === 1 ? '' : 's'}, ${unread} unread\n`);
      for (const m of messages) process.stdout.write(line(m));
    }));

  mail
    .command('read <id>')
    .description('show a message (and mark it read when it is yours)')
    .option('--identity <address>', 'read as this address (default: your agent identity)')
    .option('--json', 'print the message as JSON')
    .action(action((id: string, opts: { identity?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const message = readMail(root, id, identity(root, opts.identity));
      if (opts.json) return printJson(message);
      process.stdout.write(render(message));
    }));

  mail
    .command('check')
    .description('for an agent: list unread mail; prints nothing when there is none')
    .option('--identity <address>', 'check this address (default: your agent identity)')
    .option('--json', 'print { address, unread, messages } as JSON')
    .option('--inject [runtime]', 'print unread mail as a hook injects it into the agent\'s context (a <system-reminder> block with each message); nothing when there is none (`gemini`: as the JSON Gemini CLI\'s BeforeAgent hook reads)')
    .action(action(async (opts: { identity?: string; json?: boolean; inject?: boolean | string }) => {
      const root = requireTownRoot();
      const { JSON_HOOK_RUNTIMES, hookReply } = await import('../../town/integrations.js');
      const format = typeof opts.inject === 'string' ? opts.inject : undefined;
      if (format !== undefined && !(JSON_HOOK_RUNTIMES as readonly string[]).includes(format)) throw usageError(`--inject "${format}" is not a runtime whose hooks take JSON`, `give --inject alone (plain text) or --inject ${JSON_HOOK_RUNTIMES.join(' | ')}`);
      if (opts.inject && opts.json) throw usageError('--inject and --json are two output forms', 'pick one');
      const who = identity(root, opts.identity);
      const messages = inbox(root, who, { unreadOnly: true });
      if (format) return void process.stdout.write(hookReply(format as JsonHookRuntime, 'BeforeAgent', injectText(who, messages)));
      if (opts.inject) return void process.stdout.write(injectText(who, messages));
      if (opts.json) return printJson({ address: who, unread: messages.length, messages });
      if (!messages.length) return;
      process.stdout.write(`You have ${messages.length} unread message${messages.length === 1 ? '' : 's'} (${who}):\n`);
      for (const m of messages) process.stdout.write(line(m));
      process.stdout.write('Read one with `gt mail read <id>`.\n');
    }));

  mail
    .command('reply <id>')
    .description('answer a message: to its sender, in the same thread')
    .requiredOption('-m, --message <body>', 'the reply')
    .option('-s, --subject <subject>', 'subject (default: "Re: <original subject>")')
    .option('--identity <address>', 'reply as this address (default: your agent identity)')
    .option('--json', 'print the reply as JSON')
    .action(action(async (id: string, opts: { message: string; subject?: string; identity?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const from = identity(root, opts.identity);
      const reply = replyMail(root, id, from, opts.message, opts.subject);
      const delivered = await deliver(root, reply);
      if (opts.json) return printJson({ ...reply, delivered });
      process.stdout.write(`Replied to ${reply.reply_to} with ${reply.id} (to ${reply.to}): ${reply.subject}\n`);
    }));
}
