import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/beads/ledger.js';
import { dropCachedState } from '../../../src/beads/store.js';
import { tempLedger } from './helpers.js';

let dir: string;
let ledger: Ledger;
const file = () => readFileSync(join(dir, 'issues.jsonl'), 'utf8');
const lines = () => file().split('\n').filter(Boolean).map((l) => JSON.parse(l));

beforeEach(() => {
  process.env.BD_ACTOR = 'alice';
  ({ dir, ledger } = tempLedger('tt'));
});

describe('creating beads', () => {
  it('stores one bead a line in the export format, with defaults and an event', () => {
    const b = ledger.create({ title: 'Fix login', description: 'it times out', labels: ['auth', 'auth'] });
    expect(b).toMatchObject({ status: 'open', priority: 2, issue_type: 'task', created_by: 'alice', labels: ['auth'] });
    expect(b.id).toMatch(/^tt-[0-9a-z]{5}$/);
    expect(b.closed_at).toBeUndefined();
    const [rec] = lines();
    expect(Object.keys(rec).slice(0, 3)).toEqual(['_type', 'id', 'title']);
    expect(rec._type).toBe('issue');
    const events = ledger.events(b.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event_type: 'created', actor: 'alice', new_value: 'Fix login' });
  });

  it('refuses an empty or over-long title and writes nothing', () => {
    ledger.create({ title: 'keep me' });
    const before = file();
    expect(() => ledger.create({ title: '' })).toThrow(/needs a title/);
    expect(() => ledger.create({ title: '   ' })).toThrow(/needs a title/);
    expect(() => ledger.create({ title: 'x'.repeat(501) })).toThrow(/501 characters; the limit is 500/);
    expect(ledger.create({ title: 'y'.repeat(500) }).title).toHaveLength(500);
    expect(file()).not.toBe(before);
    const after = file();
    expect(() => ledger.create({ title: 't', status: 'nope' as never })).toThrow(/unknown status "nope"/);
    expect(() => ledger.create({ title: 't', issue_type: 'story' })).toThrow(/unknown issue type/);
    expect(() => ledger.create({ title: 't', priority: 5 })).toThrow(/unknown priority "5"/);
    expect(() => ledger.create({ title: 't', priority: 'P9' })).toThrow(/unknown priority/);
    expect(file()).toBe(after);
  });

  it('gives children dotted ids under their parent', () => {
    const epic = ledger.create({ title: 'Epic', issue_type: 'epic' });
    const c1 = ledger.create({ title: 'one', parent: epic.id });
    const c2 = ledger.create({ title: 'two', parent: epic.id });
    const g = ledger.create({ title: 'grandchild', parent: c1.id });
    expect([c1.id, c2.id, g.id]).toEqual([`${epic.id}.1`, `${epic.id}.2`, `${epic.id}.1.1`]);
    expect(c1.dependencies).toEqual([expect.objectContaining({ issue_id: c1.id, depends_on_id: epic.id, type: 'parent-child' })]);
    expect(ledger.children(epic.id).map((b) => b.id)).toEqual([c1.id, c2.id]);
  });

  it('accepts a valid explicit id and refuses a taken or malformed one', () => {
    expect(ledger.create({ title: 'a', id: 'tt-mine1' }).id).toBe('tt-mine1');
    expect(() => ledger.create({ title: 'b', id: 'tt-mine1' })).toThrow(/already exists/);
    expect(() => ledger.create({ title: 'b', id: 'xx-mine2' })).toThrow(/invalid bead id/);
    expect(() => ledger.create({ title: 'b', id: 'tt-nope.1' })).toThrow(/parent tt-nope does not exist/);
  });

  it('creates a molecule in one write: root, steps with a parent and blocks edges named by key', () => {
    const made = ledger.createMany([
      { key: 'root', title: 'Release 1.2', issue_type: 'molecule' },
      { key: 'bump', title: 'Bump', parent: { key: 'root' } },
      { key: 'test', title: 'Test', parent: { key: 'root' }, deps: [{ key: 'bump' }] },
      { key: 'ship', title: 'Ship', parent: { key: 'root' }, deps: [{ key: 'test' }, { key: 'bump' }] },
    ]);
    const [root, bump, test, ship] = made;
    expect(bump.id).toBe(`${root.id}.1`);
    expect(ship.dependencies?.map((d) => `${d.type}:${d.depends_on_id}`).sort()).toEqual(
      [`blocks:${bump.id}`, `blocks:${test.id}`, `parent-child:${root.id}`].sort(),
    );
    expect(ledger.ready().map((b) => b.id)).toEqual([bump.id]);
    expect(lines()).toHaveLength(4);
  });

  it('rolls back a whole createMany when one input is bad', () => {
    expect(() => ledger.createMany([{ title: 'fine' }, { title: '' }])).toThrow(/needs a title/);
    expect(file()).toBe('');
  });
});

describe('finding beads', () => {
  it('resolves unique short ids, and names the candidates when ambiguous', () => {
    const a = ledger.create({ title: 'a', id: 'tt-abc12' });
    ledger.create({ title: 'b', id: 'tt-abd34' });
    ledger.create({ title: 'child', id: 'tt-abc12.1' });
    expect(ledger.get('abc').id).toBe(a.id);
    expect(ledger.get('tt-abc1').id).toBe(a.id);
    expect(ledger.get('abc12.1').id).toBe('tt-abc12.1');
    expect(() => ledger.get('ab')).toThrow(/"ab" is ambiguous: it matches tt-abc12, tt-abd34/);
    expect(() => ledger.get('zzz')).toThrow(/no bead "zzz"/);
  });

  it('lists with filters, open beads unless asked for all', () => {
    const a = ledger.create({ title: 'alpha', priority: 1, labels: ['x', 'y'], assignee: 'bob' });
    const b = ledger.create({ title: 'beta', issue_type: 'bug' });
    ledger.close(b.id);
    expect(ledger.list().map((x) => x.id)).toEqual([a.id]);
    expect(ledger.list({ all: true })).toHaveLength(2);
    expect(ledger.list({ status: 'closed' }).map((x) => x.id)).toEqual([b.id]);
    expect(ledger.list({ labels: ['x', 'y'] })).toHaveLength(1);
    expect(ledger.list({ labels: ['x', 'z'] })).toHaveLength(0);
    expect(ledger.list({ assignee: 'bob', priority: 1 })).toHaveLength(1);
    expect(ledger.search('ALPH').map((x) => x.id)).toEqual([a.id]);
    expect(ledger.search('bet').map((x) => x.id)).toEqual([b.id]);
  });
});

describe('ready and blocked', () => {
  it('holds back work blocked by an open bead until it closes', () => {
    const blocker = ledger.create({ title: 'blocker', priority: 3 });
    const work = ledger.create({ title: 'work', priority: 0, deps: [blocker.id] });
    expect(ledger.ready().map((b) => b.id)).toEqual([blocker.id]);
    expect(ledger.blocked().map((b) => [b.id, b.blocked_by])).toEqual([[work.id, [blocker.id]]]);
    ledger.close(blocker.id);
    expect(ledger.ready().map((b) => b.id)).toEqual([work.id]);
    expect(ledger.blocked()).toEqual([]);
  });

  it('blocks a child while its parent is blocked, transitively', () => {
    const gate = ledger.create({ title: 'gate' });
    const epic = ledger.create({ title: 'epic', issue_type: 'epic', deps: [gate.id] });
    const child = ledger.create({ title: 'child', parent: epic.id });
    const grandchild = ledger.create({ title: 'grandchild', parent: child.id });
    expect(ledger.ready().map((b) => b.id)).toEqual([gate.id]);
    expect(ledger.blockersOf(grandchild.id)).toEqual([child.id]);
    ledger.close(gate.id);
    expect(ledger.ready().map((b) => b.id).sort()).toEqual([epic.id, child.id, grandchild.id].sort());
  });

  it('waits-for: all-children waits for every child, any-children for the first', () => {
    const spawner = ledger.create({ title: 'spawner' });
    const k1 = ledger.create({ title: 'k1', parent: spawner.id });
    const k2 = ledger.create({ title: 'k2', parent: spawner.id });
    const all = ledger.create({ title: 'all' });
    const any = ledger.create({ title: 'any' });
    ledger.addDependency(all.id, spawner.id, 'waits-for');
    ledger.addDependency(any.id, spawner.id, 'waits-for', { gate: 'any-children' });
    expect(ledger.tryGet(any.id)!.dependencies![0].metadata).toBe('{"gate":"any-children"}');
    const ready = () => new Set(ledger.ready().map((b) => b.id));
    expect(ready().has(all.id) || ready().has(any.id)).toBe(false);
    ledger.close(k1.id);
    expect(ready().has(any.id)).toBe(true);
    expect(ready().has(all.id)).toBe(false);
    ledger.close(k2.id);
    expect(ready().has(all.id)).toBe(true);
  });

  it('leaves out deferred, ephemeral and bookkeeping beads, and non-open ones', () => {
    const now = Date.now();
    const keep = ledger.create({ title: 'keep' });
    ledger.create({ title: 'later', defer_until: '+2d' });
    ledger.create({ title: 'wisp', ephemeral: true });
    for (const t of ['molecule', 'gate', 'convoy', 'agent', 'message', 'merge-request']) ledger.create({ title: t, issue_type: t });
    ledger.create({ title: 'doing', status: 'in_progress' });
    const epic = ledger.create({ title: 'deferred epic', issue_type: 'epic', status: 'deferred' });
    ledger.create({ title: 'under deferred epic', parent: epic.id });
    expect(ledger.ready({ now }).map((b) => b.title)).toEqual(['keep']);
    expect(ledger.ready({ now: now + 3 * 86_400_000 }).map((b) => b.title).sort()).toEqual(['keep', 'later']);
    expect(keep.id).toBeTruthy();
  });

  it('sorts ready work by priority, then age', () => {
    const text = [
      { id: 'tt-new00', title: 'p1 new', priority: 1, created_at: '2025-03-01T00:00:00Z' },
      { id: 'tt-old00', title: 'p1 old', priority: 1, created_at: '2025-01-01T00:00:00Z' },
      { id: 'tt-crit0', title: 'p0', priority: 0, created_at: '2025-06-01T00:00:00Z' },
      { id: 'tt-low00', title: 'p3', priority: 3, created_at: '2024-01-01T00:00:00Z' },
    ].map((r) => JSON.stringify({ _type: 'issue', status: 'open', issue_type: 'task', updated_at: r.created_at, ...r }) + '\n').join('');
    ledger.importJsonl(text, 'sample.jsonl');
    expect(ledger.ready().map((b) => b.title)).toEqual(['p0', 'p1 old', 'p1 new', 'p3']);
    expect(ledger.ready({ limit: 2 })).toHaveLength(2);
  });
});

describe('dependencies', () => {
  it('refuses self-dependency and cycles through blocking edges, allowing non-blocking ones', () => {
    const a = ledger.create({ title: 'a' });
    const b = ledger.create({ title: 'b', deps: [a.id] });
    const c = ledger.create({ title: 'c', deps: [b.id] });
    const before = file();
    expect(() => ledger.addDependency(a.id, a.id)).toThrow(/cannot depend on itself/);
    expect(() => ledger.addDependency(a.id, c.id)).toThrow(new RegExp(`cycle: ${a.id} → ${c.id} → ${b.id} → ${a.id}`));
    expect(() => ledger.addDependency(a.id, c.id, 'parent-child')).toThrow(/cycle/);
    expect(() => ledger.addDependency(a.id, c.id, 'waits-for')).toThrow(/cycle/);
    expect(() => ledger.addDependency(a.id, c.id, 'nonsense')).toThrow(/unknown dependency type/);
    expect(file()).toBe(before);
    ledger.addDependency(a.id, c.id, 'related');
    expect(ledger.cycles()).toEqual([]);
    expect(ledger.dependents(a.id).map((d) => d.issue_id)).toEqual([b.id]);
    expect(ledger.removeDependency(b.id, a.id).map((d) => d.type)).toEqual(['blocks']);
    expect(() => ledger.removeDependency(b.id, a.id)).toThrow(/has no dependency/);
    expect(ledger.events(b.id).map((e) => e.event_type)).toEqual(['created', 'dependency_added', 'dependency_removed']);
  });

  it('finds cycles that a hand edit put in the file', () => {
    const a = ledger.create({ title: 'a' });
    const b = ledger.create({ title: 'b', deps: [a.id] });
    const edited = file().split('\n').map((l) => {
      if (!l.includes(`"id":"${a.id}"`)) return l;
      const rec = JSON.parse(l);
      rec.dependencies = [{ issue_id: a.id, depends_on_id: b.id, type: 'blocks' }];
      return JSON.stringify(rec);
    });
    writeFileSync(join(dir, 'issues.jsonl'), edited.join('\n'));
    expect(ledger.cycles().map((c) => [...c].sort())).toEqual([[a.id, b.id].sort()]);
  });
});

describe('changing beads', () => {
  it('keeps closed_at exactly when closed, started_at from the first in_progress', () => {
    const b = ledger.create({ title: 'b' });
    const doing = ledger.update(b.id, { status: 'in_progress' });
    expect(doing.started_at).toBeTruthy();
    const closed = ledger.close(b.id, { reason: 'done' });
    expect(closed).toMatchObject({ status: 'closed', close_reason: 'done' });
    expect(closed.closed_at).toBeTruthy();
    const reopened = ledger.reopen(b.id);
    expect(reopened.status).toBe('open');
    expect(reopened.closed_at).toBeUndefined();
    expect(reopened.close_reason).toBeUndefined();
    const viaUpdate = ledger.update(b.id, { status: 'closed' });
    expect(viaUpdate.closed_at).toBeTruthy();
    expect(ledger.update(b.id, { status: 'blocked' }).closed_at).toBeUndefined();
    const types = ledger.events(b.id).map((e) => e.event_type);
    expect(types).toEqual(['created', 'status_changed', 'closed', 'reopened', 'closed', 'reopened']);
  });

  it('records old and new values of every field change', () => {
    const b = ledger.create({ title: 'old title', priority: 2 });
    ledger.update(b.id, { title: 'new title', priority: 'P0', assignee: 'carol', add_labels: ['x'] });
    const ev = ledger.events(b.id).slice(1);
    expect(ev).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event_type: 'updated', field: 'title', old_value: 'old title', new_value: 'new title', actor: 'alice' }),
        expect.objectContaining({ event_type: 'updated', field: 'priority', old_value: 2, new_value: 0 }),
        expect.objectContaining({ event_type: 'updated', field: 'assignee', new_value: 'carol' }),
        expect.objectContaining({ event_type: 'label_added', new_value: 'x' }),
      ]),
    );
    const before = file();
    ledger.update(b.id, { title: 'new title' });
    expect(file()).toBe(before);
  });

  it('refuses to close a bead with open blockers unless forced', () => {
    const blocker = ledger.create({ title: 'blocker' });
    const b = ledger.create({ title: 'b', deps: [blocker.id] });
    expect(() => ledger.close(b.id)).toThrow(new RegExp(`blocked by open bead ${blocker.id}`));
    expect(ledger.get(b.id).status).toBe('open');
    expect(ledger.close(b.id, { force: true }).status).toBe('closed');
  });

  it('claims only an open bead that is unassigned or assigned to the claimer', () => {
    const b = ledger.create({ title: 'b' });
    const claimed = ledger.claim(b.id, 'bob');
    expect(claimed).toMatchObject({ assignee: 'bob', status: 'in_progress' });
    expect(ledger.claim(b.id, 'bob').assignee).toBe('bob');
    expect(() => ledger.claim(b.id, 'carol')).toThrow(/cannot claim .*in_progress, assigned to bob/);
    const mine = ledger.create({ title: 'mine', assignee: 'carol' });
    expect(() => ledger.claim(mine.id, 'bob')).toThrow(/assigned to carol/);
    expect(ledger.claim(mine.id, 'carol').status).toBe('in_progress');
    const closed = ledger.create({ title: 'closed' });
    ledger.close(closed.id);
    expect(() => ledger.claim(closed.id, 'bob')).toThrow(/it is closed/);
  });

  it('adds labels and comments', () => {
    const b = ledger.create({ title: 'b' });
    ledger.addLabel(b.id, 'ui');
    ledger.addLabel(b.id, 'ui');
    expect(ledger.get(b.id).labels).toEqual(['ui']);
    ledger.removeLabel(b.id, 'ui');
    expect(ledger.get(b.id).labels).toBeUndefined();
    expect(() => ledger.addLabel(b.id, 'a,b')).toThrow(/invalid label/);
    const c = ledger.addComment(b.id, 'first');
    const d = ledger.addComment(b.id, 'second');
    expect([c.id, d.id]).toEqual(['1', '2']);
    expect(ledger.get(b.id).comments?.map((x) => x.text)).toEqual(['first', 'second']);
    expect(() => ledger.addComment(b.id, ' ')).toThrow(/needs text/);
  });

  it('discards every change of a transaction that throws', () => {
    const a = ledger.create({ title: 'a' });
    const before = file();
    expect(() =>
      ledger.transaction((tx) => {
        tx.update(a.id, { title: 'changed' });
        tx.create({ title: 'new' });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(file()).toBe(before);
    expect(ledger.get(a.id).title).toBe('a');
    expect(ledger.all()).toHaveLength(1);
  });

  it('keeps ephemeral beads out of issues.jsonl', () => {
    const w = ledger.create({ title: 'wisp', ephemeral: true });
    expect(file()).toBe('');
    expect(readFileSync(join(dir, 'wisps.jsonl'), 'utf8')).toContain(w.id);
    ledger.update(w.id, { ephemeral: false });
    expect(file()).toContain(w.id);
    expect(readFileSync(join(dir, 'wisps.jsonl'), 'utf8')).toBe('');
  });

  it('serialises async writers in one process without losing any', async () => {
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.createAsync({ title: `async ${i}` })));
    expect(new Set(made.map((b) => b.id)).size).toBe(20);
    expect(lines()).toHaveLength(20);
    // Each write's event is there once, whole (the async writer appends and fsyncs off the thread).
    for (const m of made) expect(ledger.events(m.id).map((e) => e.event_type)).toEqual(['created']);
    const b = made[0];
    const results = await Promise.allSettled([ledger.claimAsync(b.id, 'x'), ledger.claimAsync(b.id, 'y')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    // A synchronous write while an async one of this process holds the lock fails at once, changing nothing, rather than waiting forever.
    const pending = ledger.updateAsync(b.id, { title: 'async title' });
    await new Promise((r) => setImmediate(r));
    const before = file();
    expect(() => ledger.update(b.id, { title: 'sync title' })).toThrow(/already holds the lock .* synchronous wait for it cannot end/);
    await pending;
    expect(ledger.get(b.id).title).toBe('async title');
    expect(file()).not.toBe(before);
    expect(ledger.update(b.id, { title: 'sync title' }).title).toBe('sync title');
  });
});

describe('the file', () => {
  it('rewrites only changed lines: an unchanged line stays byte for byte', () => {
    const a = ledger.create({ title: 'a' });
    const b = ledger.create({ title: 'b' });
    // A line written by another tool, with its own key order and an unknown field.
    const foreign = `{"title":"a","id":"${a.id}","status":"open","priority":2,"issue_type":"task","created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z","external_ref":"gh-9"}`;
    const rest = file().split('\n').filter((l) => l && !l.includes(`"id":"${a.id}"`));
    writeFileSync(join(dir, 'issues.jsonl'), [foreign, ...rest].join('\n') + '\n');
    ledger.update(b.id, { title: 'b2' });
    expect(file().split('\n')).toContain(foreign);
    ledger.update(a.id, { notes: 'n' });
    const rec = lines().find((r) => r.id === a.id);
    expect(rec.external_ref).toBe('gh-9');
  });

  it('names the file and line of a corrupt line and writes nothing', () => {
    ledger.create({ title: 'a' });
    ledger.create({ title: 'b' });
    const broken = file().split('\n');
    broken[1] = broken[1].slice(0, 20);
    writeFileSync(join(dir, 'issues.jsonl'), broken.join('\n'));
    const before = file();
    dropCachedState();
    expect(() => ledger.list()).toThrow(new RegExp(`issues.jsonl:2: not valid JSON`));
    expect(() => ledger.create({ title: 'c' })).toThrow(/issues.jsonl:2/);
    expect(file()).toBe(before);
  });

  it('sees writes of other processes (a file replaced under it)', () => {
    const a = ledger.create({ title: 'a' });
    const other = Ledger.open(dir);
    other.update(a.id, { title: 'changed elsewhere' });
    const rec = JSON.parse(file().trim());
    rec.title = 'changed by hand';
    writeFileSync(join(dir, 'issues.jsonl'), JSON.stringify(rec) + '\n');
    expect(ledger.get(a.id).title).toBe('changed by hand');
  });

  it('opens only a folder that holds a ledger', () => {
    expect(() => Ledger.open(join(dir, '..', 'nowhere'))).toThrow(/no beads ledger/);
    expect(Ledger.open(join(dir, '..')).dir).toBe(dir);
  });
});

describe('the summary cache', () => {
  it('is trusted only for the file versions it names: hand edits and a torn cache are seen', () => {
    const a = ledger.create({ title: 'a' });
    const b = ledger.create({ title: 'b', deps: [a.id] });
    const cachePath = join(dir, 'summary-cache.jsonl');
    expect(readFileSync(cachePath, 'utf8').split('\n')[0]).toMatch(/"count":2/);
    // A hand edit closes a, which unblocks b: a fresh process must see it, whatever the cache says.
    const edited = file().replace(/("id":"[^"]+","title":"a","status":)"open"/, '$1"closed","closed_at":"2025-01-01T00:00:00Z"');
    expect(edited).not.toBe(file());
    writeFileSync(join(dir, 'issues.jsonl'), edited);
    dropCachedState();
    expect(Ledger.open(dir).ready().map((x) => x.id)).toEqual([b.id]);
    // A torn cache is ignored and rebuilt.
    writeFileSync(cachePath, readFileSync(cachePath, 'utf8').slice(0, 40));
    dropCachedState();
    expect(Ledger.open(dir).ready().map((x) => x.id)).toEqual([b.id]);
    expect(Ledger.open(dir).blocked()).toEqual([]);
  });
});
