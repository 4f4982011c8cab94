import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initLedger, Ledger } from '../../../src/beads/ledger.js';
import { applyChanges } from '../../../src/activities/ledger.js';

function ledger(): { dir: string; ids: string[] } {
  const dir = join(mkdtempSync(join(tmpdir(), 'beads-joined-')), '.beads');
  initLedger(dir, 'jw');
  const ids = Ledger.open(dir).createMany(Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, title: `Step ${i}` }))).map((b) => b.id);
  return { dir, ids };
}

/** The molecule's step mirror: calls that come together are joined into one ledger write. */
describe('joined ledger writes of workflow activities', () => {
  it('applies every call of a burst, in fewer writes than calls', async () => {
    const { dir, ids } = ledger();
    const before = Ledger.open(dir).events().length;
    await Promise.all(ids.map((id, i) => applyChanges(dir, [{ bead: id, status: i % 2 ? 'closed' : 'in_progress', reason: 'done' }], 'gt-molecule', { gatherMs: i % 3 ? 20 : undefined })));
    const l = Ledger.open(dir);
    ids.forEach((id, i) => expect(l.get(id).status, id).toBe(i % 2 ? 'closed' : 'in_progress'));
    // One event per change, whatever the joining; beads changed by one write share its time.
    expect(l.events().length - before).toBe(ids.length);
    expect(new Set(ids.map((id) => l.get(id).updated_at)).size).toBeLessThan(ids.length / 2);
  });

  it('one bad change fails only its own call; the others are written', async () => {
    const { dir, ids } = ledger();
    const calls = [
      applyChanges(dir, [{ bead: ids[0]!, status: 'closed', reason: 'done' }], 'gt-molecule', { gatherMs: 30 }),
      applyChanges(dir, [{ bead: 'jw-nosuch', status: 'closed' }], 'gt-molecule', { gatherMs: 30 }),
      applyChanges(dir, [{ bead: ids[1]!, status: 'blocked', comment: 'step failed: exit 1' }], 'gt-molecule'),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/jw-nosuch/);
    const l = Ledger.open(dir);
    expect(l.get(ids[0]!).status).toBe('closed');
    expect(l.get(ids[1]!).status).toBe('blocked');
    expect(l.get(ids[1]!).comments?.at(-1)?.text).toBe('step failed: exit 1');
  });

  it('writes the calls of one ledger in the order they came (a start before its close)', async () => {
    const { dir, ids } = ledger();
    const start = applyChanges(dir, [{ bead: ids[2]!, status: 'in_progress' }], 'gt-molecule', { gatherMs: 10 });
    const close = applyChanges(dir, [{ bead: ids[2]!, status: 'closed', reason: 'done (exit 0, attempt 1)' }], 'gt-molecule', { gatherMs: 10 });
    await Promise.all([start, close]);
    const bead = Ledger.open(dir).get(ids[2]!);
    expect(bead.status).toBe('closed');
    expect(bead.close_reason).toBe('done (exit 0, attempt 1)');
  });
});
