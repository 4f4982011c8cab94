import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { sendMail, sendMailAsync } from '../../src/mail/index.js';
import { runCli } from '../helpers/cli.js';
import { makeRemote, makeTown, type TestTown } from '../helpers/town.js';

/** `gt mail`: messages as beads of type message in the HQ ledger, through the built CLI. */

interface Message {
  id: string;
  from: string;
  to: string;
  subject: string;
  body: string;
  read: boolean;
  thread: string;
  reply_to?: string;
  delivered?: boolean;
}

const towns: TestTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.stop();
});

/** A town with rig `myrig` (prefix my), a polecat folder `toast` and a crew member `alice`. */
function mailTown(): TestTown {
  const t = makeTown();
  towns.push(t);
  const remote = makeRemote();
  expect(t.gt(['rig', 'add', 'myrig', remote]).code).toBe(0);
  expect(t.gt(['crew', 'add', 'alice', '--rig', 'myrig']).code).toBe(0);
  mkdirSync(join(t.root, 'myrig', 'polecats', 'toast'), { recursive: true });
  return t;
}

function json<T>(r: { code: number; stdout: string; stderr: string }): T {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const hqFile = (t: TestTown) => join(t.root, '.beads', 'issues.jsonl');

describe('gt mail', () => {
  it('send, inbox, check, read, reply: a round trip between the Mayor and a polecat', () => {
    const t = mailTown();
    const toast = join(t.root, 'myrig', 'polecats', 'toast');

    // The Mayor's session says who it is (a person at the town root is the overseer).
    const mayor = { env: { GT_ROLE: 'mayor' } };
    const sent = json<Message>(t.gt(['mail', 'send', 'myrig/polecats/toast', '-s', 'Fix the login bug', '-m', 'See my-abc12.\nThanks', '--json'], mayor));
    expect(sent).toMatchObject({ from: 'mayor', to: 'myrig/polecats/toast', subject: 'Fix the login bug', body: 'See my-abc12.\nThanks', read: false, delivered: false });
    expect(sent.thread).toBe(sent.id);
    const bead = t.bdJson<any[]>(['show', sent.id])[0];
    expect(bead).toMatchObject({ issue_type: 'message', status: 'open', assignee: 'myrig/polecats/toast', title: 'Fix the login bug' });
    expect(bead.labels).toContain('from:mayor');

    // The polecat, by its folder: check lists the unread message, inbox shows it.
    const check = t.gt(['mail', 'check'], { cwd: toast });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('You have 1 unread message (myrig/polecats/toast)');
    expect(check.stdout).toContain(sent.id);
    expect(json<{ address: string; unread: number }>(t.gt(['mail', 'check', '--json'], { cwd: toast }))).toMatchObject({ address: 'myrig/polecats/toast', unread: 1 });
    const inbox = json<Message[]>(t.gt(['mail', 'inbox', '--json'], { cwd: toast }));
    expect(inbox.map((m) => m.id)).toEqual([sent.id]);
    // gt prime, the first thing an agent runs, shows unread mail too.
    const prime = t.gt(['prime'], { cwd: toast });
    expect(prime.code).toBe(0);
    expect(prime.stdout).toContain('## Mail (1 unread)');
    expect(prime.stdout).toContain(`${sent.id} from mayor: Fix the login bug`);
    // Nothing for the Mayor yet.
    expect(t.gt(['mail', 'check'], mayor).stdout).toBe('');

    // Reading marks it read; check goes quiet.
    const read = t.gt(['mail', 'read', sent.id], { cwd: toast });
    expect(read.code).toBe(0);
    expect(read.stdout).toContain('From:    mayor');
    expect(read.stdout).toContain('Subject: Fix the login bug');
    expect(read.stdout).toContain('See my-abc12.\nThanks');
    expect(t.bdJson<any[]>(['show', sent.id])[0]).toMatchObject({ status: 'closed', close_reason: 'read' });
    const quiet = t.gt(['mail', 'check'], { cwd: toast });
    expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(json<Message[]>(t.gt(['mail', 'inbox', '--unread', '--json'], { cwd: toast }))).toEqual([]);

    // A polecat started by Gas Town is known by its environment, wherever it stands.
    const env = { GT_ROLE: 'polecat', GT_RIG: 'myrig', GT_POLECAT: 'toast' };
    const reply = json<Message>(t.gt(['mail', 'reply', sent.id, '-m', 'Done, merged.', '--json'], { env }));
    expect(reply).toMatchObject({ from: 'myrig/polecats/toast', to: 'mayor', subject: 'Re: Fix the login bug', thread: sent.id, reply_to: sent.id });

    const mayorInbox = json<Message[]>(t.gt(['mail', 'inbox', '--json'], mayor));
    expect(mayorInbox.map((m) => m.id)).toEqual([reply.id]);
    expect(t.gt(['mail', 'check'], mayor).stdout).toContain(reply.id);
    const shown = json<Message>(t.gt(['mail', 'read', reply.id, '--json'], mayor));
    expect(shown).toMatchObject({ read: true, body: 'Done, merged.' });
    // A reply to a reply stays in the thread and does not stack "Re:".
    const again = json<Message>(t.gt(['mail', 'reply', reply.id, '-m', 'Thanks', '--json'], mayor));
    expect(again).toMatchObject({ to: 'myrig/polecats/toast', subject: 'Re: Fix the login bug', thread: sent.id, reply_to: reply.id });
    // The text inbox marks unread messages.
    const text = t.gt(['mail', 'inbox', '--identity', 'myrig/polecats/toast']);
    expect(text.stdout).toMatch(new RegExp(`● ${again.id} .*mayor .*Re: Fix the login bug`));
    expect(text.stdout).toMatch(new RegExp(`^  ${sent.id} `, 'm'));
  });

  it('crew and short addresses; the sender may view, only the recipient marks read', () => {
    const t = mailTown();
    const alice = join(t.root, 'myrig', 'crew', 'alice');
    const sent = json<Message>(t.gt(['mail', 'send', 'myrig/alice', '-s', 'hello', '--json'], { env: { GT_ROLE: 'polecat', GT_RIG: 'myrig', GT_POLECAT: 'toast' } }));
    expect(sent).toMatchObject({ to: 'myrig/crew/alice', from: 'myrig/polecats/toast', body: '' });
    const asSender = json<Message>(t.gt(['mail', 'read', sent.id, '--json', '--identity', 'myrig/polecats/toast']));
    expect(asSender.read).toBe(false);
    const other = t.gt(['mail', 'read', sent.id]);
    expect(other.code).toBe(1);
    // A person at the town root is the overseer (here BD_ACTOR names them), not the Mayor.
    expect(other.stderr).toMatch(/mail from myrig\/polecats\/toast to myrig\/crew\/alice, and you are tester/);
    expect(json<Message>(t.gt(['mail', 'read', sent.id, '--json'], { cwd: alice })).read).toBe(true);
  });

  it('one identity per caller: a person at the town root is the overseer, and what they create is never by "unknown"', () => {
    const t = mailTown();
    const person = { BD_ACTOR: undefined, USER: undefined, LOGNAME: undefined } as unknown as Record<string, string>;
    const me = json<{ role: string; address: string }>(t.gt(['whoami', '--json'], { env: person }));
    const login = userInfo().username;
    expect(me).toMatchObject({ role: 'overseer', address: login });
    const created = t.bdJson<{ id: string }>(['create', 'by a person'], {});
    expect(t.bdJson<{ created_by: string }[]>(['show', created.id])[0]!.created_by).toBe('tester');
    const r = runCli('bd', ['create', 'by a person with no USER', '--json'], { cwd: t.root, env: person });
    expect(r.stderr).toBe('');
    const id = (JSON.parse(r.stdout) as { id: string }).id;
    expect(t.bdJson<{ created_by: string }[]>(['show', id])[0]!.created_by).toBe(login);
    // The same person, by gt: the mail they send is from the same name.
    const sent = json<Message>(t.gt(['mail', 'send', 'mayor', '-s', 'hi', '--json'], { env: person }));
    expect(sent.from).toBe(login);
  });

  it('sendMail and sendMailAsync for other parts of Gas Town (the polecat side mails the Mayor)', async () => {
    const t = mailTown();
    const a = sendMail(t.root, { from: 'myrig/polecats/toast', to: 'mayor', subject: 'Blocked: my-abc12', body: 'three failed attempts' });
    const b = await sendMailAsync(t.root, { from: 'myrig/polecats/toast', to: 'mayor', subject: 'Blocked: my-def34', body: '' });
    const inbox = json<Message[]>(t.gt(['mail', 'inbox', '--json'], { env: { GT_ROLE: 'mayor' } }));
    expect(inbox.map((m) => m.id).sort()).toEqual([a.id, b.id].sort());
    expect(() => sendMail(t.root, { from: 'x', to: 'myrig/polecats/ghost', subject: 's', body: '' })).toThrow(/no polecat named "ghost"/);
    await expect(sendMailAsync(t.root, { from: 'x', to: 'mayor', subject: '', body: '' })).rejects.toThrow(/subject is empty/);
  });

  it('refuses bad input with a clear message, a non-zero exit and no change', () => {
    const t = mailTown();
    const ok = json<Message>(t.gt(['mail', 'send', 'mayor', '-s', 'keep', '-m', 'x', '--json']));
    const task = t.bdJson<{ id: string }>(['create', 'a task']);
    const before = readFileSync(hqFile(t), 'utf8');
    const cases: Array<[string[], number, RegExp]> = [
      [['mail', 'send', 'nobody', '-s', 'x'], 2, /"nobody" is not a mail address/],
      [['mail', 'send', 'norig/polecats/x', '-s', 'x'], 1, /no rig named "norig"/],
      [['mail', 'send', 'myrig/polecats/ghost', '-s', 'x'], 1, /no polecat named "ghost"/],
      [['mail', 'send', 'myrig/crew/bob', '-s', 'x'], 1, /no crew member named "bob"/],
      [['mail', 'send', 'myrig/foo/toast', '-s', 'x'], 2, /"foo" is neither polecats nor crew/],
      [['mail', 'send', 'myrig/polecats/a b', '-s', 'x'], 2, /whitespace/],
      [['mail', 'send', 'myrig/ghost', '-s', 'x'], 1, /no polecat or crew member named "ghost"/],
      [['mail', 'send', '', '-s', 'x'], 2, /address is empty/],
      [['mail', 'send', 'mayor'], 2, /required option '-s, --subject/],
      [['mail', 'send', 'mayor', '-s', '  '], 2, /subject is empty/],
      [['mail', 'send', 'mayor', '-s', 'two\nlines'], 2, /more than one line/],
      [['mail', 'send', 'mayor', '-s', 'x', '--identity', 'myrig/polecats/ghost'], 1, /no polecat named "ghost"/],
      [['mail', 'read', 'hq-zzzzzz'], 1, /no bead "hq-zzzzzz"/],
      [['mail', 'read', task.id], 1, /is not a message \(it is a task\)/],
      [['mail', 'read', ok.id, '--identity', 'myrig/polecats/toast'], 1, /cannot read .* you are myrig\/polecats\/toast/],
      [['mail', 'reply', ok.id], 2, /required option '-m, --message/],
      [['mail', 'reply', 'hq-zzzzzz', '-m', 'x'], 1, /no bead "hq-zzzzzz"/],
      [['mail', 'reply', ok.id, '-m', 'x', '--identity', 'myrig/crew/alice'], 1, /cannot reply to/],
      [['mail', 'inbox', '--identity', 'bad name!'], 2, /is not a name or an agent address/],
      [['mail', 'check', '--identity', ''], 2, /--identity is empty/],
    ];
    for (const [args, code, message] of cases) {
      const r = t.gt(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(readFileSync(hqFile(t), 'utf8')).toBe(before);
  });
});
