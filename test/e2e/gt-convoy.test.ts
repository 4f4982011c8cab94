import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRemote, makeTown, type TestTown } from '../helpers/town.js';

/**
 * `gt convoy` / `gt mountain` refusals and staging, through the built CLI. Every refusal says
 * what was wrong and how to fix it, exits non-zero, and leaves every ledger byte-identical.
 * None of these needs the engine.
 */

const towns: TestTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.stop();
});

interface Town extends TestTown {
  make(rig: string, title: string, extra?: string[]): string;
  ledgers(): string;
}

function town(): Town {
  const t = makeTown();
  towns.push(t);
  for (const [rig, prefix] of [['alpha', 'al'], ['beta', 'be']] as const) {
    const r = t.gt(['rig', 'add', rig, makeRemote(), '--prefix', prefix]);
    if (r.code !== 0) throw new Error(`gt rig add failed: ${r.stderr}`);
  }
  return Object.assign(t, {
    make(rig: string, title: string, extra: string[] = []): string {
      const r = t.bd(['create', title, '--json', ...extra], { cwd: join(t.root, rig) });
      if (r.code !== 0) throw new Error(`bd create failed: ${r.stderr}`);
      return (JSON.parse(r.stdout) as { id: string }).id;
    },
    ledgers(): string {
      return ['.beads', 'alpha/.beads', 'beta/.beads']
        .map((d) => readdirSync(join(t.root, d)).filter((f) => f === 'issues.jsonl' || f === 'events.jsonl').sort().map((f) => `${d}/${f}:${readFileSync(join(t.root, d, f), 'utf8')}`).join('\n'))
        .join('\n');
    },
  });
}

function refused(t: Town, args: string[], code: number, message: RegExp, hint?: RegExp): void {
  const before = t.ledgers();
  const r = t.gt(args);
  expect(r.code, `gt ${args.join(' ')}: ${r.stderr}`).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(message);
  if (hint) expect(r.stderr).toMatch(hint);
  expect(t.ledgers()).toBe(before);
}

describe('gt convoy / gt mountain', { timeout: 120_000 }, () => {
  it('stage computes waves across rigs without dispatching; launch-free commands read the ledger', () => {
    const t = town();
    const a1 = t.make('alpha', 'A1');
    const b1 = t.make('beta', 'B1');
    const a2 = t.make('alpha', 'A2');
    expect(t.bd(['dep', 'add', b1, a1], { cwd: join(t.root, 'beta') }).code).toBe(0);
    expect(t.bd(['dep', 'add', a2, b1], { cwd: join(t.root, 'alpha') }).code).toBe(0);
    const r = t.gt(['convoy', 'stage', a1, b1, a2, '--json']);
    expect(r.stderr).toBe('');
    const staged = JSON.parse(r.stdout);
    expect(staged.staged).toBe(true);
    expect(staged.plan.waves).toEqual([[a1], [b1], [a2]]);
    const list = JSON.parse(t.gt(['convoy', 'list', '--json']).stdout);
    expect(list).toEqual([expect.objectContaining({ id: staged.convoy, staged: true, total: 3, closed: 0 })]);
    const show = JSON.parse(t.gt(['convoy', 'show', staged.convoy, '--json']).stdout);
    expect(show.source).toBe('ledger');
    expect(show.beads.map((b: { id: string; phase: string }) => [b.id, b.phase])).toEqual([[a1, 'ready'], [b1, 'waiting'], [a2, 'waiting']]);
    // Staged means not dispatched.
    for (const id of [a1, b1, a2]) expect(JSON.parse(t.bd(['show', id, '--json']).stdout)[0].status).toBe('open');
    const text = t.gt(['convoy', 'stage', staged.convoy]);
    expect(text.stdout).toMatch(/wave 1:\n {4}\S+ {2}alpha {2}A1/);
    refused(t, ['convoy', 'approve', staged.convoy], 1, /is staged, not running/, /gt convoy launch/);
  });

  it('refuses bad input and changes nothing', () => {
    const t = town();
    const a1 = t.make('alpha', 'A1');
    const a2 = t.make('alpha', 'A2');
    refused(t, ['convoy', 'create', 'X', 'al-zzzzz'], 1, /no bead "al-zzzzz"/, /hint:/);
    refused(t, ['convoy', 'create', 'X', a1, a1], 2, /given twice/);
    refused(t, ['convoy', 'create', 'X', a1, '--max-concurrent', '0'], 2, /--max-concurrent must be a whole number/);
    refused(t, ['convoy', 'create', 'X', a1, '--owner', 'nobody/at/all'], 1, /no rig named "nobody"/, /known rigs/);
    refused(t, ['convoy', 'create'], 2, /missing required argument/);
    const hqBead = t.bd(['create', 'Town work', '--json']);
    refused(t, ['convoy', 'create', 'X', JSON.parse(hqBead.stdout).id], 1, /belongs to no rig/);

    // A bead already travelling in an open convoy cannot join another.
    const staged = JSON.parse(t.gt(['convoy', 'stage', a1, '--json']).stdout);
    refused(t, ['convoy', 'create', 'Y', a2, a1], 1, new RegExp(`${a1} is already in the open convoy ${staged.convoy}`), /gt convoy show/);
    refused(t, ['convoy', 'add', staged.convoy, 'al-zzzzz'], 1, /no bead "al-zzzzz"/);
    refused(t, ['convoy', 'add', a2, a1], 1, /is not a convoy/);
    refused(t, ['convoy', 'close', staged.convoy], 1, /still has 1 unfinished bead/, /--force/);
    refused(t, ['convoy', 'show', 'hq-cv-zzzzz'], 1, /no bead "hq-cv-zzzzz"/);

    // A mountain needs children; an epic whose work reaches a cycle (through another rig) is refused at stage, naming it.
    refused(t, ['mountain', a2], 1, new RegExp(`${a2} has no children`), /--parent/);
    const epic = t.make('alpha', 'Epic', ['-t', 'epic']);
    const c1 = t.make('alpha', 'Child 1', ['--parent', epic]);
    t.make('alpha', 'Child 2', ['--parent', epic]);
    const other = t.make('beta', 'Other rig');
    expect(t.bd(['dep', 'add', c1, other], { cwd: join(t.root, 'alpha') }).code).toBe(0);
    expect(t.bd(['dep', 'add', other, c1], { cwd: join(t.root, 'beta') }).code).toBe(0);
    const cycle = new RegExp(`dependency cycle: (${c1} → ${other} → ${c1}|${other} → ${c1} → ${other})`);
    refused(t, ['convoy', 'stage', epic], 1, cycle, /bd dep remove/);
    refused(t, ['mountain', epic], 1, cycle);
    refused(t, ['mountain'], 2, /no epic given/);
    refused(t, ['mountain', 'pause', 'hq-cv-zzzzz'], 1, /no bead "hq-cv-zzzzz"/);
    refused(t, ['convoy', 'create', 'X', epic], 1, /is an epic/, /gt mountain/);
  });
});
