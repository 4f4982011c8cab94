import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referencePath } from '../helpers/reference.js';
import { bdFolder } from './bd-helpers.js';

/**
 * Moving in from the original Beads: `bd import` of a real export it wrote, then the same
 * answers it gives; and every bad import refused with the ledger left byte for byte as it was.
 */

const EXPORT = referencePath('beads-exports/gastown-2026-01.jsonl', 'the real export of the original Beads');

/** JSON with sorted keys: equal objects, whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object') {
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical((v as Record<string, unknown>)[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

const sha = (ids: string[]) => createHash('sha256').update([...ids].sort().join('\n')).digest('hex');

/**
 * The expected answers for gastown-2026-01.jsonl (5,982 lines), computed once by a separate
 * small Python script that reads the raw file (none of this project's code) and applies the
 * original's rules as its ready/blocked queries state them (gastownhall/beads
 * `internal/storage/issueops` ready and blocked-state code, and the January 2026
 * `internal/storage/sqlite/ready.go` + `blocked_cache.go` of the version that wrote tombstones):
 * - a blocker holds its dependent back while its status is unfinished work (open, in_progress,
 *   blocked, deferred, hooked); closed, tombstone and pinned beads and ids absent from the file do
 *   not block; only `blocks`, `conditional-blocks` (until the target fails), `waits-for` (until
 *   the target's children are finished) block directly, and blockedness passes from a parent to
 *   its children through `parent-child` edges, transitively;
 * - ready = status open, not pinned, not ephemeral, type not one of merge-request, gate,
 *   molecule, message, agent, role, rig, no defer_until in the future on it or its parent, and not
 *   blocked (the original also counts in_progress as ready; the file has none, and here claimed
 *   work stays out of `bd ready`);
 * - blocked = unfinished, unpinned beads with a blocker (or status blocked);
 * - `bd list` shows what is neither closed nor deleted; `--all` shows every line;
 * - stats count every line by status, and live (non-tombstone) beads by type.
 * The script printed the counts below and the sha256 of the sorted ready and blocked ids.
 */
const EXPECTED = {
  lines: 5982,
  ready: 205,
  readySha: '3a926e0268c748f1fd073c2fe1aab96f34a271fdeacd97cdc7105346d97af819',
  blocked: 26,
  blockedSha: '477732449411249de11e0dcf701a95532a15c4d96811a3c45dc966795235895d',
  list: 310,
  byStatus: { tombstone: 3037, closed: 2635, open: 248, hooked: 61, deferred: 1 },
  byType: { task: 1702, bug: 128, event: 410, feature: 70, 'merge-request': 351, epic: 188, chore: 5, message: 1, molecule: 7, agent: 77, role: 6 },
};

describe.skipIf(!EXPORT)("a real export of the original Beads", () => {
  it('imports every line, answers ready/blocked/list/stats as the original does, and exports the same objects back', () => {
    const { json, bd, files } = bdFolder('gt');
    const result = json(['import', EXPORT!]);
    expect(result).toMatchObject({ added: EXPECTED.lines, updated: 0, unchanged: 0, skipped: 0 });

    const ready = json<Array<{ id: string; status: string; issue_type: string }>>(['ready']);
    expect(ready).toHaveLength(EXPECTED.ready);
    expect(sha(ready.map((b) => b.id))).toBe(EXPECTED.readySha);
    const blocked = json<Array<{ id: string; blocked_by: string[] }>>(['blocked']);
    expect(blocked).toHaveLength(EXPECTED.blocked);
    expect(sha(blocked.map((b) => b.id))).toBe(EXPECTED.blockedSha);
    expect(blocked.every((b) => b.blocked_by.length > 0)).toBe(true);

    expect(json<unknown[]>(['list'])).toHaveLength(EXPECTED.list);
    const all = json<Array<{ status: string }>>(['list', '--all']);
    expect(all).toHaveLength(EXPECTED.lines);
    expect(json<unknown[]>(['list', '--status', 'tombstone'])).toHaveLength(EXPECTED.byStatus.tombstone);
    expect(json<unknown[]>(['list', '--all', '--type', 'event'])).toHaveLength(EXPECTED.byType.event);

    const stats = json<{ total: number; by_status: Record<string, number>; by_type: Record<string, number>; ready: number; blocked: number }>(['stats']);
    expect(stats).toMatchObject({ total: EXPECTED.lines, ready: EXPECTED.ready, blocked: EXPECTED.blocked });
    expect(Object.fromEntries(Object.entries(stats.by_status).filter(([, n]) => n > 0))).toEqual(EXPECTED.byStatus);
    expect(stats.by_type).toEqual(EXPECTED.byType);

    // Export right after import: the same objects, key for key (plus the format's marker and counts).
    const original = readFileSync(EXPORT!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const exported = new Map(
      bd(['export']).stdout.trim().split('\n').map((l) => {
        const { _type, dependency_count, dependent_count, comment_count, ...rest } = JSON.parse(l) as Record<string, unknown>;
        expect([_type, typeof dependency_count, typeof dependent_count, typeof comment_count]).toEqual(['issue', 'number', 'number', 'number']);
        return [rest.id as string, canonical(rest)];
      }),
    );
    expect(exported.size).toBe(EXPECTED.lines);
    const differing = original.filter((o) => exported.get(o.id as string) !== canonical(o)).map((o) => o.id);
    expect(differing).toEqual([]);

    // The same file again: every bead unchanged, nothing written.
    const before = files();
    expect(json(['import', EXPORT!])).toMatchObject({ added: 0, updated: 0, unchanged: EXPECTED.lines, skipped: 0 });
    expect(files().issues.equals(before.issues)).toBe(true);
    expect(files().events.equals(before.events)).toBe(true);
  });
});

const T0 = '2025-12-20T03:25:59.727107-08:00';
const bead = (id: string, extra: Record<string, unknown> = {}) => ({
  id, title: `bead ${id}`, status: 'open', priority: 2, issue_type: 'task', created_at: T0, updated_at: T0, ...extra,
});
const jsonl = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** A ledger holding two imported beads, and `refused` checking an import leaves it as it was. */
function setup() {
  const f = bdFolder('tt');
  const seed = join(f.cwd, 'seed.jsonl');
  writeFileSync(seed, jsonl([bead('tt-aaa01'), bead('tt-bbb02', { issue_type: 'event' })]));
  f.json(['import', seed]);
  const refused = (lines: string, message: RegExp, hint: RegExp) => {
    const file = join(f.cwd, 'bad.jsonl');
    writeFileSync(file, lines);
    const before = f.files();
    const r = f.bd(['import', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(hint);
    const after = f.files();
    expect(after.issues.equals(before.issues)).toBe(true);
    expect(after.events.equals(before.events)).toBe(true);
  };
  return { ...f, refused };
}

describe('imported beads on the command line', () => {
  it('a multi-line title lists on one line; a tombstone shows only with --all or --status', () => {
    const { bd, json, cwd } = bdFolder('tt');
    const file = join(cwd, 'orig.jsonl');
    const gone = bead('tt-gone1', { title: 'deleted work', status: 'tombstone', deleted_at: T0, deleted_by: 'daemon', delete_reason: 'delete', original_type: 'task' });
    writeFileSync(file, jsonl([bead('tt-multi', { title: 'first line\nsecond line' }), gone]));
    expect(bd(['import', file]).stdout).toMatch(/2 added, 0 updated, 0 unchanged, 0 skipped\n$/);
    const listed = bd(['list']).stdout;
    expect(listed.trimEnd().split('\n')).toHaveLength(1);
    expect(listed).toContain('first line ⏎ second line');
    expect(bd(['list', '--all']).stdout).toContain('tt-gone1');
    expect(json<Array<{ id: string }>>(['list', '--status', 'tombstone']).map((b) => b.id)).toEqual(['tt-gone1']);
    expect(json<unknown[]>(['search', 'deleted'])).toEqual([]);
    expect(json<Array<{ id: string; deleted_by: string }>>(['search', 'deleted', '--all'])).toMatchObject([{ id: 'tt-gone1', deleted_by: 'daemon' }]);
    expect(json<Array<{ id: string }>>(['ready']).map((b) => b.id)).toEqual(['tt-multi']);
    expect(bd(['show', 'tt-gone1']).stdout).toContain(`Deleted: ${T0} by daemon (delete)`);
  });
});

describe('bd import refuses bad input and changes nothing', () => {
  it('a truncated export line (a copy cut short)', () => {
    const { refused } = setup();
    const whole = JSON.stringify(bead('tt-ccc03', { description: 'a longer text' }));
    refused(jsonl([bead('tt-new01')]) + whole.slice(0, whole.length - 20) + '\n', /bad\.jsonl:2: not valid JSON/, /hint: fix or remove line 2 of .*bad\.jsonl.*nothing was written/);
  });

  it('a line that has no id', () => {
    const { refused } = setup();
    const { id: _id, ...noId } = bead('tt-new01');
    refused(jsonl([bead('tt-new02'), noId]), /bad\.jsonl:2: record has no "id"/, /hint: fix or remove line 2/);
  });

  it('an id that collides with a different bead of the same updated_at: nobody can say which is right', () => {
    const { refused } = setup();
    refused(
      jsonl([bead('tt-new01'), bead('tt-aaa01', { title: 'someone else\'s bead', priority: 0 })]),
      /bad\.jsonl:2: bead tt-aaa01 has the same updated_at \(2025-12-20T03:25:59\.727107-08:00\) as the ledger's copy but different title, priority/,
      /hint: nothing was imported; say which is right: fix or remove line 2 of the file, or change the bead in the ledger/,
    );
  });

  it('an id twice in one file', () => {
    const { refused } = setup();
    refused(jsonl([bead('tt-new01'), bead('tt-new01', { title: 'again' })]), /bad\.jsonl:2: bead tt-new01 appears twice \(also line 1\)/, /hint: fix or remove line 2/);
  });

  it('an older copy of a known bead is skipped and reported, a newer one wins (not errors)', () => {
    const { bd, json, cwd, files } = setup();
    const file = join(cwd, 'more.jsonl');
    writeFileSync(file, jsonl([bead('tt-aaa01', { title: 'stale', updated_at: '2025-01-01T00:00:00Z' })]));
    const before = files();
    const r = bd(['import', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0 added, 0 updated, 0 unchanged, 1 skipped');
    expect(r.stdout).toContain(`skipped line 1 (tt-aaa01): the ledger's copy is newer (updated_at ${T0}; this line's 2025-01-01T00:00:00Z)`);
    expect(files().issues.equals(before.issues)).toBe(true);
    writeFileSync(file, jsonl([bead('tt-aaa01', { title: 'fresh', updated_at: '2026-01-02T00:00:00Z' }), bead('tt-bbb02', { issue_type: 'event' })]));
    expect(json(['import', file])).toMatchObject({ added: 0, updated: 1, unchanged: 1, skipped: 0, ids: ['tt-aaa01'] });
    expect(json<Array<{ title: string }>>(['show', 'tt-aaa01'])[0].title).toBe('fresh');
  });
});
