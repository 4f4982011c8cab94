import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maybeRecordHistory } from '../helpers/histories.js';
import { git, killWorkers, waitFor } from '../helpers/town.js';
import { LINES, refExists, rigFixtures, type RigFixture } from './refinery-fixture.js';

/**
 * The batched merge queue end to end: real git remote, real worker, the test run's Temporal
 * server. Requests are submitted while the worker is down so the queue takes them as one batch.
 * Outcomes are judged by content: what is on the remote's main, how many pushes moved it (its
 * reflog), what the ledger says, how often the test command ran.
 */

const fixture = rigFixtures();

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function events(fx: RigFixture): { type: string; bead?: string }[] {
  return lines(join(fx.t.root, '.gt', 'events.jsonl')).map((l) => JSON.parse(l));
}

/** Every bead's file on the remote's main (its content is its place `i` in `all`), and each bead's commit on main exactly once. */
function expectOnMainOnce(fx: RigFixture, beads: string[], all = beads): void {
  const subjects = fx.remoteLog();
  for (const id of beads) {
    const i = all.indexOf(id);
    expect(subjects.filter((s) => s === `work on ${id}`)).toHaveLength(1);
    expect(git(fx.remote, 'show', `main:${id}.txt`)).toBe(`${i}\n`);
    const bead = fx.bead(id);
    expect(bead.status).toBe('closed');
    expect(bead.comments?.filter((c) => c.text.startsWith('Merged into')).length).toBe(1);
    // The bead's merged commit is on main, and is its work (or, for a branch of more commits, its last).
    const sha = String(bead.metadata?.merged_sha);
    expect(git(fx.remote, 'merge-base', '--is-ancestor', sha, 'main')).toBe('');
    expect(git(fx.remote, 'log', '-1', '--format=%s', sha)).toMatch(new RegExp(`^(work|more) on ${id}\n$`));
    // One merge event per bead in the town's event stream.
    expect(events(fx).filter((e) => e.type === 'merge.merged' && e.bead === id)).toHaveLength(1);
  }
}

describe('batched merge queue', () => {
  it('a batch of green requests lands in one push, each bead once on main in arrival order, one test run', async () => {
    const fx = await fixture();
    const runs = join(fx.t.root, 'test-runs.log');
    fx.rigSettings((s) => {
      s.merge_queue = { batch_size: 5, test_command: `echo "$GT_BEADS" >> '${runs}'` };
    });
    const ids = [0, 1, 2, 3, 4].map((i) => fx.createBead(`change ${i}`, `${fx.rig}/polecats/cat${i}`));
    const mrs = ids.map((id, i) => fx.branch(`cat${i}`, id, { [`${id}.txt`]: `${i}\n` }));
    // One branch has two commits (rebased in a worktree; the others are picked in the object store).
    writeFileSync(join(mrs[2]!.worktree, 'more.txt'), 'more\n');
    git(mrs[2]!.worktree, 'add', '-A');
    git(mrs[2]!.worktree, 'commit', '-qm', `more on ${ids[2]}`);
    await fx.submitTogether(mrs);
    const q = await fx.settled(ids);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-batch');

    const subjects = [...ids].map((id) => `work on ${id}`);
    subjects.splice(3, 0, `more on ${ids[2]}`);
    expect(fx.remoteLog()).toEqual(subjects.reverse().concat('seed'));
    expect(git(fx.remote, 'show', 'main:more.txt')).toBe('more\n');
    // Authors are kept; the committer is the rig's refinery.
    expect(git(fx.remote, 'log', '-1', '--format=%cn', 'main').trim()).toBe(`${fx.rig}/refinery`);
    expect(git(fx.remote, 'log', '-1', '--format=%an', 'main').trim()).toBe(git(mrs[4]!.worktree, 'log', '-1', '--format=%an').trim());
    expect(fx.remotePushes()).toHaveLength(1);
    expectOnMainOnce(fx, ids);
    expect(lines(runs)).toEqual([ids.join(' ')]);
    const batch = q.batches![0]!;
    expect(batch.members.map((m) => [m.bead, m.status])).toEqual(ids.map((id) => [id, 'merged']));
    expect(batch.pushedSha).toBe(git(fx.remote, 'rev-parse', 'main').trim());
    expect(batch.tests.map((t) => [t.upTo, t.result])).toEqual([[5, 'green']]);
    expect(q.testRuns).toBe(1);
    for (const mr of mrs) expect(refExists(fx.repo, `refs/heads/${mr.branch}`)).toBe(false);
    expect(git(fx.repo, 'for-each-ref', 'refs/gt/batch')).toBe('');
    const text = fx.t.gt(['mq', 'list', '--rig', fx.rig]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`batch ${batch.id} (5): done: 5 merged in one push (${batch.pushedSha!.slice(0, 10)})`);
    expect(text.stdout).toContain('tests: 1-5 green');
  });

  it('a red batch is bisected: only the culprit goes back with the test output, the others land in order', async () => {
    const fx = await fixture();
    const runs = join(fx.t.root, 'test-runs.log');
    fx.rigSettings((s) => {
      s.merge_queue = {
        batch_size: 6,
        max_concurrent: 2,
        test_command: `echo "$GT_BEADS" >> '${runs}'; if grep -q BROKEN *.txt; then echo "check failed: BROKEN marker"; exit 3; fi`,
      };
    });
    const ids = [0, 1, 2, 3, 4, 5].map((i) => fx.createBead(`change ${i}`, `${fx.rig}/polecats/cat${i}`));
    const culprit = ids[3]!;
    const mrs = ids.map((id, i) => fx.branch(`cat${i}`, id, { [`${id}.txt`]: id === culprit ? `${i}\nBROKEN\n` : `${i}\n` }));
    await fx.submitTogether(mrs);
    const q = await fx.settled(ids);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-bisect');

    const good = ids.filter((id) => id !== culprit);
    expect(fx.remoteLog()).toEqual([...good].reverse().map((id) => `work on ${id}`).concat('seed'));
    expectOnMainOnce(fx, good, ids);
    expect(git(fx.remote, 'ls-tree', '--name-only', 'main')).not.toContain(`${culprit}.txt`);

    const bad = fx.bead(culprit);
    expect(bad.status).toBe('open');
    expect(bad.assignee).toBeUndefined();
    expect(bad.comments?.filter((c) => c.text.startsWith('Merge rejected'))).toHaveLength(1);
    expect(bad.comments?.at(-1)?.text).toMatch(/exit code 3[\s\S]*check failed: BROKEN marker/);
    expect(refExists(fx.repo, `refs/heads/${mrs[3]!.branch}`)).toBe(true);
    // No good request was sent back; the culprit was, once.
    const rejected = q.recent.filter((r) => r.status !== 'merged');
    expect(rejected.map((r) => [r.bead, r.kind])).toEqual([[culprit, 'test']]);
    for (const id of good) expect(fx.bead(id).comments?.some((c) => c.text.startsWith('Merge rejected'))).toBe(false);

    // The first batch: all six red, then prefixes until the culprit (the 4th) is pinned; the three before it pushed at once.
    const first = q.batches!.at(-1)!;
    expect(first.culprit).toBe(culprit);
    expect(first.tests[0]).toMatchObject({ upTo: 6, result: 'red' });
    expect(first.tests.find((t) => t.upTo === 3)?.result).toBe('green');
    expect(first.tests.find((t) => t.upTo === 4)?.result).toBe('red');
    expect(first.requeued).toEqual([ids[4], ids[5]]);
    // The two after the culprit went round again as the next batch, alone in one push.
    expect(fx.remotePushes()).toHaveLength(2);
    expect(lines(runs)[0]).toBe(ids.join(' '));
    expect(lines(runs).at(-1)).toBe(`${ids[4]} ${ids[5]}`);
    expect(q.testRuns).toBe(lines(runs).length);
    const text = fx.t.gt(['mq', 'list', '--rig', fx.rig]).stdout;
    expect(text).toContain(`culprit ${culprit} sent back`);
    expect(text).toMatch(/tests: 1-6 red, .*1-4 red/);
  });

  it('a request conflicting with main goes back before the test, one conflicting with a request ahead of it waits a batch', async () => {
    const fx = await fixture();
    const runs = join(fx.t.root, 'test-runs.log');
    fx.rigSettings((s) => {
      s.merge_queue = { batch_size: 4, test_command: `echo "$GT_BEADS" >> '${runs}'` };
    });
    const ids = [0, 1, 2, 3].map((i) => fx.createBead(`change ${i}`, `${fx.rig}/polecats/cat${i}`));
    const mrs = [
      fx.branch('cat0', ids[0]!, { [`${ids[0]}.txt`]: '0\n' }),
      fx.branch('cat1', ids[1]!, { 'lines.txt': LINES.replace('one', 'ONE') }),
      fx.branch('cat2', ids[2]!, { 'lines.txt': LINES.replace('three', '3') }),
      fx.branch('cat3', ids[3]!, { 'lines.txt': LINES.replace('three', 'III') }),
    ];
    // Someone changes line one on main after request 1 branched: it conflicts with main.
    fx.pushToMain({ 'lines.txt': LINES.replace('one', 'uno') }, 'uno');
    await fx.submitTogether(mrs);
    const q = await fx.settled(ids);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-batch-conflict');

    expect(fx.remoteLog()).toEqual([`work on ${ids[2]}`, `work on ${ids[0]}`, 'uno', 'seed']);
    // Two pushes moved main: someone else's "uno", then the batch's one.
    expect(fx.remotePushes()).toHaveLength(2);
    expect(git(fx.remote, 'show', 'main:lines.txt')).toBe('uno\ntwo\n3\n');
    const by = Object.fromEntries(q.recent.map((r) => [r.bead, r]));
    expect(by[ids[0]!]!.status).toBe('merged');
    expect(by[ids[2]!]!.status).toBe('merged');
    expect([by[ids[1]!]!.kind, by[ids[3]!]!.kind]).toEqual(['conflict', 'conflict']);
    expect(by[ids[1]!]!.reason).toMatch(/lines\.txt/);
    for (const id of [ids[1]!, ids[3]!]) {
      expect(fx.bead(id).status).toBe('open');
      expect(fx.bead(id).comments?.filter((c) => c.text.startsWith('Merge rejected'))).toHaveLength(1);
    }
    // The conflicting request held nothing up: the batch tested (once) and pushed the two that fit.
    const first = q.batches!.at(-1)!;
    expect(lines(runs)[0]).toBe(`${ids[0]} ${ids[2]}`);
    expect(first.members.find((m) => m.bead === ids[1])!.status).toBe('rejected');
    // Request 3 conflicted only with request 2 (ahead of it): it waited for the next batch, which found it conflicting with main.
    expect(first.requeued).toEqual([ids[3]]);
    expect(lines(runs)).toHaveLength(1);
  });

  it('kill -9 of the worker mid-batch: after restarts every bead is on main exactly once, in one push', async () => {
    const fx = await fixture();
    const runs = join(fx.t.root, 'test-runs.log');
    fx.rigSettings((s) => {
      s.merge_queue = { batch_size: 4, test_command: `echo "$GT_BEADS" >> '${runs}'; sleep 3` };
    });
    const ids = [0, 1, 2, 3].map((i) => fx.createBead(`change ${i}`, `${fx.rig}/polecats/cat${i}`));
    const mrs = ids.map((id, i) => fx.branch(`cat${i}`, id, { [`${id}.txt`]: `${i}\n` }));
    await fx.submitTogether(mrs);

    // 1: while the batch's test runs.
    await waitFor(() => lines(runs).length >= 1, 60_000, 'the first test run');
    killWorkers(fx.t.root);
    expect(fx.t.gt(['up']).code).toBe(0);
    // 2: the moment the batch reaches the remote (before or during its bookkeeping).
    await waitFor(() => fx.remoteLog().includes(`work on ${ids[3]}`), 60_000, 'the batch on the remote');
    killWorkers(fx.t.root);
    expect(fx.t.gt(['up']).code).toBe(0);

    const q = await fx.settled(ids, 120_000);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-batch-worker-killed');
    expect(q.recent.map((r) => r.status)).toEqual(['merged', 'merged', 'merged', 'merged']);
    expect(fx.remoteLog()).toEqual([...ids].reverse().map((id) => `work on ${id}`).concat('seed'));
    expect(fx.remotePushes()).toHaveLength(1);
    expectOnMainOnce(fx, ids);
    for (const mr of mrs) expect(refExists(fx.repo, `refs/heads/${mr.branch}`)).toBe(false);
    // The test ran again after the first kill (the run it was in was lost with the worker).
    expect(lines(runs).length).toBeGreaterThanOrEqual(2);
    expect(new Set(lines(runs))).toEqual(new Set([ids.join(' ')]));
  });

  it('adaptive: the batch size starts at 8, grows while batches pass and halves after a red one', async () => {
    const fx = await fixture();
    fx.rigSettings((s) => {
      s.merge_queue = { max_batch_size: 16, test_command: 'if grep -q BROKEN *.txt; then exit 1; fi' };
    });
    const ids = Array.from({ length: 17 }, (_, i) => fx.createBead(`change ${i}`, `${fx.rig}/polecats/cat${i}`));
    const culprit = ids[16]!;
    const mrs = ids.map((id, i) => fx.branch(`cat${i}`, id, { [`${id}.txt`]: id === culprit ? 'BROKEN\n' : `${i}\n` }));
    await fx.submitTogether(mrs);
    const q = await fx.settled(ids);
    // 8 (green and full: the size doubles to 16), then the 9 left: red, bisected (eight more
    // merged); it halves the size from 16.
    const sizes = [...q.batches!].reverse().map((b) => b.members.length);
    expect(sizes).toEqual([8, 9]);
    expect(q.batchSize).toBe(8);
    expect(q.merged).toBe(16);
    expect(fx.bead(culprit).status).toBe('open');
  });
});
