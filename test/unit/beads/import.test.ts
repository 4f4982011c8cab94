import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { GtError } from '../../../src/errors.js';
import { Ledger } from '../../../src/beads/ledger.js';
import { dropCachedState } from '../../../src/beads/store.js';
import { tempLedger } from './helpers.js';

/**
 * `importJsonl` with lines shaped as the original Beads writes them (no `_type`, nanosecond
 * times, `<` escaped as in Go, fields we do not model, custom types, tombstones).
 */

let dir: string;
let ledger: Ledger;
const file = () => readFileSync(join(dir, 'issues.jsonl'), 'utf8');
const jsonl = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** JSON with sorted keys: equal objects, whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object') {
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical((v as Record<string, unknown>)[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

const T0 = '2025-12-20T03:25:59.727107-08:00';
const bead = (id: string, title: string) => ({ id, title, status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0 });
const T1 = '2025-12-27T21:29:56.839468-08:00';

/** A small export covering what the original writes that we do not make ourselves. */
const ORIGINAL = [
  { id: 'tt-epic1', title: 'Epic', status: 'open', priority: 1, issue_type: 'epic', created_at: T0, updated_at: T0 },
  {
    id: 'tt-kid01', title: 'Child under the epic', status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0,
    dependencies: [{ issue_id: 'tt-kid01', depends_on_id: 'tt-epic1', type: 'parent-child', created_at: T0, created_by: 'daemon' }],
  },
  {
    id: 'tt-gone1', title: 'Deleted one', description: 'was a <feature>', status: 'tombstone', priority: 2, issue_type: 'feature',
    created_at: T0, updated_at: T1, deleted_at: T1, deleted_by: 'daemon', delete_reason: 'delete', original_type: 'feature',
  },
  {
    id: 'tt-after', title: 'Blocked only by the deleted one', status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0,
    dependencies: [{ issue_id: 'tt-after', depends_on_id: 'tt-gone1', type: 'blocks', created_at: T0, created_by: 'daemon' }],
  },
  { id: 'tt-evt01', title: 'session started', status: 'open', priority: 2, issue_type: 'event', created_at: T0, updated_at: T0 },
  { id: 'tt-role1', title: 'polecat role', status: 'hooked', priority: 2, issue_type: 'role', created_at: T0, updated_at: T0 },
  { id: 'tt-rig01', title: 'rig identity', status: 'open', priority: 2, issue_type: 'rig', created_at: T0, updated_at: T0 },
  { id: 'tt-agent', title: 'agent identity', status: 'open', priority: 2, issue_type: 'agent', created_at: T0, updated_at: T0 },
  {
    id: 'tt-multi', title: 'A title\nover two lines', status: 'open', priority: 3, issue_type: 'task', created_at: T0, updated_at: T0,
    external_ref: 'gh-12', await_id: 'run-9', await_type: 'gh:run', timeout: 3600000000000, waiters: ['mayor'], pinned: false,
    estimated_minutes: 30, source_repo: '.', nested: { a: [1, { b: null }] },
    dependencies: [
      { issue_id: 'tt-multi', depends_on_id: 'tt-evt01', type: 'replies-to', created_at: T0, created_by: 'x' },
      { issue_id: 'tt-multi', depends_on_id: 'tt-epic1', type: 'relates-to', created_at: T0, created_by: 'x' },
      { issue_id: 'tt-multi', depends_on_id: 'tt-role1', type: 'authored-by', created_at: T0, created_by: 'x' },
    ],
  },
  { id: 'tt-pinnd', title: 'pinned anchor', status: 'open', priority: 0, issue_type: 'task', created_at: T0, updated_at: T0, pinned: true },
  { id: 'tt-tried', title: 'an attempt', status: 'closed', priority: 2, issue_type: 'task', created_at: T0, updated_at: T1, closed_at: T1, close_reason: 'done' },
  { id: 'tt-crash', title: 'another attempt', status: 'closed', priority: 2, issue_type: 'task', created_at: T0, updated_at: T1, closed_at: T1, close_reason: 'Failed: tests red' },
  {
    id: 'tt-fixup', title: 'runs only if the attempt fails', status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0,
    dependencies: [{ issue_id: 'tt-fixup', depends_on_id: 'tt-tried', type: 'conditional-blocks', created_at: T0, created_by: 'x' }],
  },
  {
    id: 'tt-fixu2', title: 'runs because the attempt failed', status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0,
    dependencies: [{ issue_id: 'tt-fixu2', depends_on_id: 'tt-crash', type: 'conditional-blocks', created_at: T0, created_by: 'x' }],
  },
  { id: 'tt-cust1', title: 'custom status', status: 'parked', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0 },
  {
    id: 'tt-under', title: 'blocked by a custom status? no', status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0,
    dependencies: [{ issue_id: 'tt-under', depends_on_id: 'tt-cust1', type: 'blocks', created_at: T0, created_by: 'x' }],
  },
  {
    id: 'tt-hook2', title: 'blocked by hooked work', status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0,
    dependencies: [{ issue_id: 'tt-hook2', depends_on_id: 'tt-role1', type: 'blocks', created_at: T0, created_by: 'x' }],
  },
];

beforeEach(() => {
  process.env.BD_ACTOR = 'alice';
  ({ dir, ledger } = tempLedger('tt'));
});

describe('importing what the original writes', () => {
  it('keeps every line and every field: export after import gives back the same objects, key for key', () => {
    const result = ledger.importJsonl(jsonl(ORIGINAL), 'orig.jsonl');
    expect(result).toMatchObject({ added: ORIGINAL.length, updated: 0, unchanged: 0, skipped: 0 });
    const exported = ledger.exportJsonl({ all: true }).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(exported.map((r) => r.id)).toEqual(ORIGINAL.map((r) => r.id).sort());
    for (const rec of exported) {
      // The export adds its format marker and the original's computed counts; nothing else changes.
      const { _type, dependency_count, dependent_count, comment_count, ...rest } = rec;
      expect(_type).toBe('issue');
      expect(typeof dependency_count).toBe('number');
      expect(typeof dependent_count).toBe('number');
      expect(typeof comment_count).toBe('number');
      expect(canonical(rest)).toBe(canonical(ORIGINAL.find((o) => o.id === rec.id)));
    }
    expect(ledger.get('tt-multi').title).toBe('A title\nover two lines');
    // Importing the same lines again changes nothing.
    const before = file();
    expect(ledger.importJsonl(jsonl(ORIGINAL), 'orig.jsonl')).toMatchObject({ added: 0, updated: 0, unchanged: ORIGINAL.length, skipped: 0 });
    expect(file()).toBe(before);
  });

  it('stores text beyond ASCII as JSON escapes: the same values, an all-ASCII file', () => {
    const title = 'Déjà vu → 修复登录 😀';
    ledger.importJsonl(jsonl([{ ...ORIGINAL[0], title, description: 'naïve\u2028line' }]), 'utf8.jsonl');
    expect(file()).toMatch(/^[\x00-\x7f]*$/);
    expect(file()).toContain('D\\u00e9j\\u00e0 vu \\u2192');
    expect(JSON.parse(file()).title).toBe(title);
    const made = ledger.create({ title: 'café' });
    expect(file()).toMatch(/^[\x00-\x7f]*$/);
    expect(ledger.get(made.id).title).toBe('café');
    expect(ledger.get('tt-epic1')).toMatchObject({ title, description: 'naïve\u2028line' });
  });

  it('a file with raw UTF-8 lines (an earlier bd, a hand edit) still prints ready work from the index', () => {
    const raw = [bead('tt-aaa01', 'Zoë → first'), bead('tt-bbb02', 'plain'), bead('tt-ccc03', '日本語 third')];
    writeFileSync(join(dir, 'issues.jsonl'), raw.map((r) => JSON.stringify({ _type: 'issue', ...r })).join('\n') + '\n');
    dropCachedState(dir);
    const computed = ledger.readyJson().toString();
    expect(JSON.parse(computed).map((b: { title: string }) => b.title)).toEqual(['Zoë → first', 'plain', '日本語 third']);
    dropCachedState(dir);
    const fromIndex = ledger.readyJson();
    expect(Buffer.isBuffer(fromIndex)).toBe(true); // printed from the ready index, bytes copied from the file
    expect(fromIndex.toString()).toBe(computed);
  });

  it('answers ready and blocked by the original rules', () => {
    ledger.importJsonl(jsonl(ORIGINAL), 'orig.jsonl');
    // Not ready: the deleted bead, bookkeeping types (role, rig, agent), the pinned anchor, the
    // non-open ones, tt-hook2 (its blocker is hooked: unfinished) and tt-fixup (its
    // conditional-blocks target succeeded). Ready: an event (not bookkeeping in the original), a
    // bead whose only blocker is deleted, one whose blocker has a custom status, the fix-up whose
    // target failed, and beads with only non-blocking edges (replies-to, relates-to, authored-by).
    expect(ledger.readyIds().sort()).toEqual(['tt-after', 'tt-epic1', 'tt-evt01', 'tt-fixu2', 'tt-kid01', 'tt-multi', 'tt-under'].sort());
    expect(ledger.blocked().map((b) => [b.id, b.blocked_by])).toEqual([
      ['tt-fixup', ['tt-tried']],
      ['tt-hook2', ['tt-role1']],
    ]);
    const stats = ledger.stats();
    expect(stats).toMatchObject({ total: ORIGINAL.length, ready: 7, blocked: 2 });
    expect(stats.by_status).toMatchObject({ open: 12, tombstone: 1, hooked: 1, closed: 2, parked: 1 });
    expect(stats.by_type.feature).toBeUndefined(); // the only feature is deleted
    expect(stats.by_type).toMatchObject({ event: 1, role: 1, rig: 1, agent: 1, epic: 1 });
  });

  it('hides deleted beads from list and search unless asked for', () => {
    ledger.importJsonl(jsonl(ORIGINAL), 'orig.jsonl');
    const listed = (f: Parameters<Ledger['listSummaries']>[0]) => ledger.listSummaries(f).map((b) => b.id);
    expect(listed({})).not.toContain('tt-gone1');
    expect(listed({})).not.toContain('tt-tried');
    expect(listed({ all: true })).toContain('tt-gone1');
    expect(listed({ status: 'tombstone' })).toEqual(['tt-gone1']);
    expect(listed({ issue_type: 'event' })).toEqual(['tt-evt01']);
    expect(listed({ status: 'parked' })).toEqual(['tt-cust1']);
    const typo = (() => {
      try {
        listed({ status: 'parkd' });
      } catch (err) {
        return err as GtError;
      }
    })();
    expect(typo?.message).toBe('unknown status "parkd"');
    expect(typo?.hint).toMatch(/^use one of: open, .*, tombstone, parked$/);
    expect(() => listed({ issue_type: 'evnt' })).toThrow(/unknown issue type "evnt"/);
    expect(ledger.search('was a').map((b) => b.id)).toEqual([]);
    expect(ledger.search('was a', { all: true }).map((b) => b.id)).toEqual(['tt-gone1']);
    expect(ledger.get('tt-gone1')).toMatchObject({ status: 'tombstone', deleted_by: 'daemon' });
    // A tombstone only arrives by import.
    const before = file();
    expect(() => ledger.update('tt-kid01', { status: 'tombstone' })).toThrow(/status "tombstone" marks a bead deleted by the original Beads/);
    expect(() => ledger.create({ title: 'x', status: 'tombstone' })).toThrow(/only arrives by `bd import`/);
    expect(file()).toBe(before);
  });

  it('a conditional-blocks dependency made here waits for its target to fail', () => {
    const attempt = ledger.create({ title: 'attempt' });
    const fallback = ledger.create({ title: 'fallback', deps: [{ id: attempt.id, type: 'conditional-blocks' }] });
    expect(ledger.readyIds()).toEqual([attempt.id]);
    ledger.close(attempt.id, { reason: 'done' });
    expect(ledger.readyIds()).toEqual([]);
    ledger.reopen(attempt.id);
    ledger.close(attempt.id, { reason: 'aborted: flaky runner' });
    expect(ledger.readyIds()).toEqual([fallback.id]);
  });

  it('an existing bead: the newer updated_at wins, an older line is skipped and reported', () => {
    ledger.importJsonl(jsonl(ORIGINAL.slice(0, 2)), 'orig.jsonl');
    const newer = { ...ORIGINAL[0], title: 'Epic, renamed', updated_at: '2025-12-20T03:25:59.727108-08:00' }; // one microsecond later
    const older = { ...ORIGINAL[1], title: 'Old child title', updated_at: '2025-12-01T00:00:00Z' };
    const fresh = { id: 'tt-fresh', title: 'new', status: 'open', priority: 2, issue_type: 'task', created_at: T1, updated_at: T1 };
    const memory = { _type: 'memory', key: 'style', value: 'terse' };
    const result = ledger.importJsonl(jsonl([newer, older, fresh, memory]), 'more.jsonl');
    expect(result).toMatchObject({ added: 1, updated: 1, unchanged: 0, skipped: 2, ids: ['tt-epic1', 'tt-fresh'] });
    expect(result.skips).toEqual([
      { line: 4, reason: 'a "memory" record, not an issue' },
      { line: 2, id: 'tt-kid01', reason: `the ledger's copy is newer (updated_at ${T0}; this line's 2025-12-01T00:00:00Z)` },
    ]);
    expect(ledger.get('tt-epic1').title).toBe('Epic, renamed');
    expect(ledger.get('tt-kid01').title).toBe('Child under the epic');
  });

  it('the same updated_at with different content is an error naming the line and the fields; nothing is written', () => {
    ledger.importJsonl(jsonl(ORIGINAL.slice(0, 2)), 'orig.jsonl');
    const before = file();
    const clash = { ...ORIGINAL[1], title: 'Same time, other title', priority: 0 };
    const fresh = { id: 'tt-fresh', title: 'new', status: 'open', priority: 2, issue_type: 'task', created_at: T1, updated_at: T1 };
    expect(() => ledger.importJsonl(jsonl([fresh, clash]), 'clash.jsonl')).toThrow(
      /clash\.jsonl:2: bead tt-kid01 has the same updated_at \(2025-12-20T03:25:59\.727107-08:00\) as the ledger's copy but different title, priority/,
    );
    expect(file()).toBe(before);
    expect(ledger.tryGet('tt-fresh')).toBeUndefined();
  });

  it('refuses a line that is not JSON or has no id, naming the line, and writes nothing', () => {
    ledger.importJsonl(jsonl(ORIGINAL.slice(0, 1)), 'orig.jsonl');
    const before = file();
    const good = jsonl(ORIGINAL.slice(1, 3));
    const truncated = good + JSON.stringify(ORIGINAL[3]).slice(0, 40) + '\n';
    expect(() => ledger.importJsonl(truncated, 'cut.jsonl')).toThrow(/cut\.jsonl:3: not valid JSON/);
    expect(() => ledger.importJsonl(good + '{"title":"no id","status":"open"}\n', 'noid.jsonl')).toThrow(/noid\.jsonl:3: record has no "id"/);
    expect(() => ledger.importJsonl(good + '[1,2]\n', 'arr.jsonl')).toThrow(/arr\.jsonl:3: not a JSON object/);
    expect(file()).toBe(before);
  });
});
