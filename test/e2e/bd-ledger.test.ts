import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { bdFolder } from './bd-helpers.js';

describe('bd ledger commands', () => {
  it('create, list, show, update, close, reopen with --json', () => {
    const { bd, json } = bdFolder();
    const a = json(['create', 'Fix the login timeout', '-t', 'bug', '-p', '1', '-d', 'times out after 30 s', '-l', 'auth,web', '--acceptance', 'logs in', '--notes', 'n1']);
    expect(a).toMatchObject({ title: 'Fix the login timeout', issue_type: 'bug', priority: 1, labels: ['auth', 'web'], created_by: 'alice', acceptance_criteria: 'logs in' });
    expect(a.id).toMatch(/^tt-[0-9a-z]{5}$/);
    const b = json(['create', '--title', 'Write docs', '--deps', a.id, '-a', 'bob']);
    expect(json(['list']).map((x: any) => x.id)).toEqual([a.id, b.id]);
    expect(json(['list', '--label', 'auth']).map((x: any) => x.id)).toEqual([a.id]);
    expect(json(['list', '--assignee', 'bob', '--type', 'task']).map((x: any) => x.id)).toEqual([b.id]);
    const [shown] = json(['show', b.id.slice(3, 6)]);
    expect(shown).toMatchObject({ id: b.id, blocked_by: [a.id], dependencies: [{ depends_on_id: a.id, type: 'blocks' }] });
    const human = bd(['show', a.id]);
    expect(human.stdout).toContain(`${a.id}: Fix the login timeout`);
    expect(human.stdout).toContain(`← ${b.id} (blocks)`);
    const updated = json(['update', a.id, '-s', 'in_progress', '--add-label', 'urgent', '--remove-label', 'web', '-p', 'P0']);
    expect(updated[0]).toMatchObject({ status: 'in_progress', priority: 0, labels: ['auth', 'urgent'] });
    expect(updated[0].started_at).toBeTruthy();
    const [closed] = json(['close', a.id, '-r', 'fixed']);
    expect(closed).toMatchObject({ status: 'closed', close_reason: 'fixed' });
    expect(closed.closed_at).toBeTruthy();
    expect(json(['list']).map((x: any) => x.id)).toEqual([b.id]);
    expect(json(['list', '--all'])).toHaveLength(2);
    const [reopened] = json(['reopen', a.id]);
    expect(reopened.status).toBe('open');
    expect(reopened.closed_at).toBeUndefined();
  });

  it('ready, blocked, claim, dep add/list/remove/tree/cycles', () => {
    const { bd, json } = bdFolder();
    const base = json(['create', 'base', '-p', '3']);
    const top = json(['create', 'top', '-p', '0']);
    json(['dep', 'add', top.id, base.id]);
    expect(json(['ready']).map((x: any) => x.id)).toEqual([base.id]);
    expect(json(['blocked']).map((x: any) => [x.id, x.blocked_by])).toEqual([[top.id, [base.id]]]);
    expect(json(['ready', '-n', '0'])).toEqual([]);
    const [claimed] = json(['update', base.id, '--claim'], { BD_ACTOR: 'polecat-1' });
    expect(claimed).toMatchObject({ assignee: 'polecat-1', status: 'in_progress' });
    expect(json(['ready'])).toEqual([]);
    expect(json(['dep', 'list', base.id]).dependents.map((d: any) => d.issue_id)).toEqual([top.id]);
    const tree = json(['dep', 'tree', top.id]);
    expect(tree.map((n: any) => [n.id, n.depth])).toEqual([[top.id, 0], [base.id, 1]]);
    const mermaid = bd(['dep', 'tree', top.id, '--format', 'mermaid']);
    expect(mermaid.stdout).toMatch(/^flowchart TD\n/);
    expect(mermaid.stdout).toContain(`${top.id.replace('-', '_')} -->|blocks| ${base.id.replace('-', '_')}`);
    expect(json(['dep', 'cycles'])).toEqual([]);
    json(['dep', 'remove', top.id, base.id]);
    expect(json(['ready']).map((x: any) => x.id)).toEqual([top.id]);
  });

  it('parent and child ids, labels, comments, search, stats, prime', () => {
    const { bd, json } = bdFolder();
    const epic = json(['create', 'Epic', '-t', 'epic']);
    const child = json(['create', 'Child step', '--parent', epic.id]);
    expect(child.id).toBe(`${epic.id}.1`);
    json(['label', 'add', epic.id, child.id, 'sprint-1']);
    expect(json(['label', 'list', child.id])).toEqual(['sprint-1']);
    expect(json(['label', 'list'])).toEqual([{ label: 'sprint-1', count: 2 }]);
    json(['label', 'remove', child.id, 'sprint-1']);
    const c = json(['comments', 'add', child.id, 'found the cause']);
    expect(c).toMatchObject({ author: 'alice', text: 'found the cause', issue_id: child.id });
    expect(json(['comments', child.id]).map((x: any) => x.text)).toEqual(['found the cause']);
    expect(json(['search', 'child']).map((x: any) => x.id)).toEqual([child.id]);
    const stats = json(['stats']);
    expect(stats).toMatchObject({ total: 2, by_status: { open: 2 }, by_type: { epic: 1, task: 1 } });
    const prime = bd(['prime']);
    expect(prime.code).toBe(0);
    expect(prime.stdout).toContain('# Beads');
    expect(prime.stdout).toContain('bd update <id> --claim');
    expect(prime.stdout).toContain(child.id);
    expect(json(['list', '--parent', epic.id]).map((x: any) => x.id)).toEqual([child.id]);
  });

  it('export writes the original format; import of an original export creates and updates beads', () => {
    const { bd, json, cwd } = bdFolder('bd');
    const mine = json(['create', 'Local bead']);
    // Lines as the original Beads writes them: RFC 3339 nanosecond times, numeric comment ids (old
    // versions), dependency metadata as JSON text, fields we do not model, and a memory record.
    const original = [
      {
        _type: 'issue', id: 'bd-a1b2', title: 'Set up database', description: 'Postgres', status: 'closed', priority: 1, issue_type: 'feature',
        created_at: '2025-10-30T14:11:15.924424355-07:00', created_by: 'steve', updated_at: '2025-10-30T19:15:47.086461274Z',
        closed_at: '2025-10-30T19:15:47.086461013Z', close_reason: 'done', external_ref: 'gh-9', labels: ['db'],
        comments: [{ id: 7, issue_id: 'bd-a1b2', author: 'steve', text: 'ok', created_at: '2025-10-30T15:00:00Z' }],
        dependency_count: 0, dependent_count: 1, comment_count: 1,
      },
      {
        _type: 'issue', id: 'bd-c3d4', title: 'Create API', status: 'open', priority: 2, issue_type: 'task',
        created_at: '2025-10-31T09:00:00Z', updated_at: '2025-10-31T09:00:00Z',
        dependencies: [{ issue_id: 'bd-c3d4', depends_on_id: 'bd-a1b2', type: 'waits-for', created_at: '2025-10-31T09:00:00Z', metadata: '{"gate":"all-children"}' }],
        dependency_count: 1, dependent_count: 0, comment_count: 0,
      },
      { _type: 'memory', key: 'style', value: 'terse' },
    ];
    const file = join(cwd, 'original.jsonl');
    writeFileSync(file, original.map((r) => JSON.stringify(r)).join('\n') + '\n');
    expect(json(['import', file])).toMatchObject({ added: 2, updated: 0, skipped: 1 });
    expect(json(['import', file])).toMatchObject({ added: 0, unchanged: 2 });
    const [a] = json(['show', 'bd-a1b2']);
    expect(a).toMatchObject({ status: 'closed', external_ref: 'gh-9', comments: [{ id: '7', text: 'ok' }] });
    expect(json(['ready']).map((x: any) => x.id)).toEqual(['bd-c3d4', mine.id]);

    const out = join(cwd, 'export.jsonl');
    expect(bd(['export', '-o', out]).code).toBe(0);
    const exported = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.map((r) => r.id)).toEqual(['bd-a1b2', 'bd-c3d4', mine.id].sort());
    const first = exported.find((r) => r.id === 'bd-a1b2');
    expect(Object.keys(first)[0]).toBe('_type');
    expect(first).toMatchObject({ _type: 'issue', dependency_count: 0, dependent_count: 1, comment_count: 1, external_ref: 'gh-9' });
    expect(exported.find((r) => r.id === 'bd-c3d4').dependencies[0].metadata).toBe('{"gate":"all-children"}');

    // Round trip into a fresh ledger gives the same beads.
    const other = tempDir('bd-e2e-');
    expect(runCli('bd', ['init', '--prefix', 'bd'], { cwd: other }).code).toBe(0);
    const imported = JSON.parse(runCli('bd', ['import', out, '--json'], { cwd: other }).stdout);
    expect(imported.added).toBe(3);
    const again = runCli('bd', ['export'], { cwd: other }).stdout;
    expect(again).toBe(readFileSync(out, 'utf8'));
  });

  it('routes ids to their ledger by prefix from anywhere in a town', () => {
    const base = tempDir('bd-e2e-');
    expect(runCli('gt', ['install', 'town'], { cwd: base }).code).toBe(0);
    const town = join(base, 'town');
    const created = JSON.parse(runCli('bd', ['create', 'Town work', '--json'], { cwd: town, env: { BD_ACTOR: 'mayor' } }).stdout);
    expect(created.id).toMatch(/^hq-/);
    const fromSub = runCli('bd', ['show', created.id, '--json'], { cwd: join(town, 'mayor') });
    expect(fromSub.code).toBe(0);
    expect(JSON.parse(fromSub.stdout)[0].title).toBe('Town work');
  });
});
