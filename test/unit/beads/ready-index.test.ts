import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Ledger } from '../../../src/beads/ledger.js';
import { parentOf } from '../../../src/beads/graph.js';
import { dropCachedState } from '../../../src/beads/store.js';
import { tempLedger } from './helpers.js';

/** A deterministic pseudo-random sequence. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let dir: string;
let ledger: Ledger;

beforeEach(() => {
  process.env.BD_ACTOR = 'alice';
  ({ dir, ledger } = tempLedger('rx'));
});

/** Whether the summary cache holds a ready index now (what the last write left). */
function hasIndex(): boolean {
  const text = readFileSync(join(dir, 'summary-cache.jsonl'), 'utf8');
  return Boolean((JSON.parse(text.slice(0, text.indexOf('\n'))) as { ready?: unknown }).ready);
}

/** `bd ready --json` worked out from scratch: files read anew, no index used or saved. */
function fromScratch(filter: { assignee?: string; unassigned?: boolean; limit?: number } = {}): string {
  dropCachedState(dir);
  let ready = ledger.readySummaries({ now: Date.now() });
  if (filter.assignee !== undefined) ready = ready.filter((b) => b.assignee === filter.assignee);
  if (filter.unassigned) ready = ready.filter((b) => !b.assignee);
  if (filter.limit !== undefined) ready = ready.slice(0, filter.limit);
  return ledger.jsonArray(ready);
}

describe('the ready index kept by writers', () => {
  it.each([
    { name: 'a ledger of a few hundred beads', size: 300, links: 150, steps: 400, seed: 20251124 },
    { name: 'a small, densely linked ledger (deep parent chains, gates)', size: 40, links: 90, steps: 400, seed: 7 },
  ])('answers `bd ready --json` byte for byte as a full computation, after every random write: $name', ({ size, links, steps: count, seed: seedValue }) => {
    const rand = rng(seedValue);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const types = ['task', 'task', 'bug', 'feature', 'chore', 'epic', 'epic', 'molecule'];
    const statuses = ['open', 'open', 'open', 'in_progress', 'blocked', 'deferred', 'hooked', 'pinned', 'closed'];
    const people = ['ann', 'bob', 'cy'];
    const seed = ledger.createMany(
      Array.from({ length: size }, (_, i) => ({
        title: `bead ${i}`,
        priority: Math.floor(rand() * 5),
        issue_type: pick(types),
        status: pick(statuses) as never,
        assignee: rand() < 0.3 ? pick(people) : undefined,
      })),
    );
    const ids = seed.map((b) => b.id);
    // Some structure to start from: parents, blockers, gates.
    for (let i = 0; i < links; i++) {
      try {
        const type = pick(['blocks', 'blocks', 'parent-child', 'parent-child', 'waits-for']);
        ledger.addDependency(pick(ids), pick(ids), type, type === 'waits-for' && rand() < 0.5 ? { gate: 'any-children' } : {});
      } catch {
        // cycles and duplicate parents are refused: fine
      }
    }

    let hits = 0;
    let steps = 0;
    const ops: Array<() => void> = [
      () => {
        const parent = rand() < 0.4 ? pick(ids) : undefined;
        const deps = rand() < 0.4 ? [pick(ids)] : undefined;
        const b = ledger.create({
          title: `new ${steps}`, priority: Math.floor(rand() * 5), issue_type: pick(types), parent, deps,
          status: rand() < 0.8 ? 'open' : (pick(statuses) as never), assignee: rand() < 0.3 ? pick(people) : undefined,
        });
        ids.push(b.id);
      },
      () => ledger.update(pick(ids), { status: pick(statuses) as never, force: true }),
      () => ledger.update(pick(ids), { priority: Math.floor(rand() * 5) }),
      () => ledger.update(pick(ids), { assignee: rand() < 0.5 ? pick(people) : null }),
      () => ledger.update(pick(ids), { notes: `note ${steps}` }),
      () => ledger.update(pick(ids), { title: `bead → ${steps} ✓ déjà` }),
      () => ledger.update(pick(ids), { issue_type: pick(types) }),
      () => ledger.close(pick(ids), { force: true }),
      () => ledger.close(pick(ids), { force: true, reason: pick(['done', 'failed: red tests', 'aborted']) }),
      () => ledger.addDependency(pick(ids), pick(ids), 'conditional-blocks'),
      () => ledger.reopen(pick(ids)),
      () => ledger.addDependency(pick(ids), pick(ids), 'blocks'),
      () => ledger.addDependency(pick(ids), pick(ids), 'parent-child'),
      () => ledger.addDependency(pick(ids), pick(ids), 'waits-for', { gate: rand() < 0.5 ? 'any-children' : 'all-children' }),
      () => {
        const b = ledger.get(pick(ids));
        const d = b.dependencies?.[0];
        if (d) ledger.removeDependency(b.id, d.depends_on_id, d.type);
      },
      () => ledger.addDependency(pick(ids), pick(ids), 'related'),
      // The top of a parent chain: what changes the readiness of beads further down.
      ...[0, 1].map(() => () => {
        let b = ledger.get(pick(ids));
        for (let depth = 0, p = parentOf(b); p && depth < 64; depth++, p = parentOf(b)) b = ledger.get(p);
        ledger.update(b.id, { status: pick(['open', 'blocked', 'deferred', 'closed', 'in_progress']), force: true });
      }),
      () => ledger.update(pick(ids), { defer_until: rand() < 0.5 ? '2001-01-01T00:00:00Z' : null }),
      () => ledger.createMany([{ title: 'pair a', key: 'a' }, { title: 'pair b', parent: { key: 'a' }, deps: [pick(ids)] }]).forEach((b) => ids.push(b.id)),
    ];

    for (steps = 0; steps < count; steps++) {
      // Mostly as the CLI runs: each write in a process that read the files anew.
      if (rand() < 0.9) dropCachedState(dir);
      try {
        pick(ops)();
      } catch {
        // a refused write (a cycle, an unknown state change) changes nothing
      }
      const kept = hasIndex();
      const actual = ledger.readyJson();
      if (kept) {
        expect(Buffer.isBuffer(actual)).toBe(true);
        hits++;
      }
      expect(actual.toString(), `after step ${steps}`).toBe(fromScratch());
      if (steps % 25 === 0) {
        for (const filter of [{ assignee: 'ann' }, { unassigned: true }, { limit: 3 }]) {
          expect(ledger.readyJson(filter).toString()).toBe(fromScratch(filter));
        }
      }
    }
    // The writers kept the index for most writes (the rest rebuilt it on the next read).
expect(hits).toBeGreaterThan(count / 2);
  });

  it('keeps the index across a write only when the version it read had one', () => {
    const a = ledger.create({ title: 'a' });
    const b = ledger.create({ title: 'b', deps: [a.id] });
    dropCachedState(dir);
    ledger.update(a.id, { notes: 'no index yet' });
    expect(hasIndex()).toBe(false);
    dropCachedState(dir); // as a new `bd ready` process: it saves the index for the version it read
    expect(ledger.readyJson().toString()).toBe(fromScratch());
    expect(hasIndex()).toBe(true);
    dropCachedState(dir);
    ledger.close(a.id);
    expect(hasIndex()).toBe(true);
    const out = ledger.readyJson();
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(JSON.parse(out.toString()).map((x: { id: string }) => x.id)).toEqual([b.id]);
    expect(out.toString()).toBe(fromScratch());
  });

  it('drops the index when a changed bead has a defer time', () => {
    const a = ledger.create({ title: 'a' });
    ledger.readyJson();
    dropCachedState(dir);
    ledger.update(a.id, { defer_until: new Date(Date.now() + 3_600_000).toISOString() });
    expect(hasIndex()).toBe(false);
    expect(ledger.readyJson().toString()).toBe('[]\n');
  });
});
