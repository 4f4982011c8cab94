import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maybeRecordHistory } from '../helpers/histories.js';
import { git, killWorkers, waitFor } from '../helpers/town.js';
import { LINES, refExists, rigFixtures } from './refinery-fixture.js';

/** The refinery end to end: real git remote, real worker, the test run's Temporal server. */

const fixture = rigFixtures();

describe('refinery', () => {
  it('merges two requests in arrival order: remote has both, beads closed, branches deleted', async () => {
    const fx = await fixture();
    const a = fx.createBead('add alpha', `${fx.rig}/polecats/toast`);
    const b = fx.createBead('add beta', `${fx.rig}/polecats/nux`);
    const mrA = fx.branch('toast', a, { 'alpha.txt': 'alpha\n' }, 'add alpha');
    const mrB = fx.branch('nux', b, { 'beta.txt': 'beta\n' }, 'add beta');
    // One branch was pushed by its polecat: the refinery deletes it on the remote as well.
    git(mrB.worktree, 'push', '-q', 'origin', mrB.branch);
    await fx.submit(mrA);
    await fx.submit(mrB);
    const q = await fx.settled([a, b]);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-merged');

    expect(fx.remoteLog().slice(0, 3)).toEqual(['add beta', 'add alpha', 'seed']);
    const merged = q.recent.filter((r) => r.status === 'merged');
    expect(merged.map((r) => r.bead)).toEqual([b, a]);
    expect(q.merged).toBe(2);
    expect(q.pending).toEqual([]);
    expect(q.current).toBeUndefined();

    for (const [id, mr] of [[a, mrA], [b, mrB]] as const) {
      const bead = fx.bead(id);
      expect(bead.status).toBe('closed');
      expect(bead.close_reason).toBe('merged');
      const sha = q.recent.find((r) => r.bead === id)!.sha!;
      expect(bead.metadata?.merged_sha).toBe(sha);
      expect(bead.comments?.some((c) => c.text.includes(sha))).toBe(true);
      expect(git(fx.remote, 'merge-base', '--is-ancestor', sha, 'main')).toBe('');
      expect(refExists(fx.repo, `refs/heads/${mr.branch}`)).toBe(false);
      expect(refExists(fx.remote, `refs/heads/${mr.branch}`)).toBe(false);
    }
    // The polecats' files are untouched; their worktrees sit on the merged commit.
    expect(readFileSync(join(mrA.worktree, 'alpha.txt'), 'utf8')).toBe('alpha\n');
    // The queue reads the same through the CLI.
    const listed = fx.t.gt(['mq', 'list', '--rig', fx.rig, '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)[0].merged).toBe(2);
    const text = fx.t.gt(['mq', 'list']);
    expect(text.stdout).toContain(`${fx.rig}: 0 pending, 2 merged, 0 sent back`);
  });

  it('two branches editing the same line: the first merges, the second goes back with the conflict', async () => {
    const fx = await fixture();
    const a = fx.createBead('two is 2', `${fx.rig}/polecats/toast`);
    const b = fx.createBead('two is II', `${fx.rig}/polecats/nux`);
    const mrA = fx.branch('toast', a, { 'lines.txt': LINES.replace('two', '2') });
    const mrB = fx.branch('nux', b, { 'lines.txt': LINES.replace('two', 'II') });
    await fx.submit(mrA);
    await fx.submit(mrB);
    const q = await fx.settled([a, b]);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-conflict');

    expect(git(fx.remote, 'show', 'main:lines.txt')).toBe(LINES.replace('two', '2'));
    const rejected = q.recent.find((r) => r.bead === b)!;
    expect(rejected.status).toBe('rejected');
    expect(rejected.kind).toBe('conflict');
    expect(rejected.reason).toMatch(/conflict[\s\S]*lines\.txt/);
    expect(rejected.polecatNotified).toBe(false);
    expect(q.rejected).toBe(1);

    const bead = fx.bead(b);
    expect(bead.status).toBe('open');
    expect(bead.assignee).toBeUndefined();
    expect(bead.comments?.at(-1)?.text).toMatch(/Merge rejected[\s\S]*conflict[\s\S]*lines\.txt/);
    // The branch stays for the polecat to fix; the merged one is gone.
    expect(refExists(fx.repo, `refs/heads/${mrB.branch}`)).toBe(true);
    expect(refExists(fx.repo, `refs/heads/${mrA.branch}`)).toBe(false);
    expect(fx.bead(a).status).toBe('closed');
    // The refinery worktree is clean and on main after the failed rebase.
    const wt = join(fx.t.root, fx.rig, 'refinery', 'rig');
    expect(git(wt, 'status', '--porcelain')).toBe('');
    expect(git(wt, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('main');
  });

  it('a red test_command sends the work back with the test output; a green one merges', async () => {
    const fx = await fixture();
    fx.rigSettings((s) => {
      s.merge_queue = { test_command: 'if grep -q BROKEN lines.txt; then echo "check failed: BROKEN marker in lines.txt"; exit 3; fi; echo all good' };
    });
    const good = fx.createBead('good change');
    const bad = fx.createBead('bad change', `${fx.rig}/polecats/nux`);
    await fx.submit(fx.branch('toast', good, { 'extra.txt': 'fine\n' }));
    await fx.submit(fx.branch('nux', bad, { 'lines.txt': LINES + 'BROKEN\n' }));
    const q = await fx.settled([good, bad]);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-test-failed');

    expect(q.recent.find((r) => r.bead === good)!.status).toBe('merged');
    const rejected = q.recent.find((r) => r.bead === bad)!;
    expect(rejected.status).toBe('rejected');
    expect(rejected.kind).toBe('test');
    expect(rejected.reason).toMatch(/exit code 3[\s\S]*check failed: BROKEN marker/);
    const bead = fx.bead(bad);
    expect(bead.status).toBe('open');
    expect(bead.assignee).toBeUndefined();
    expect(bead.comments?.at(-1)?.text).toContain('check failed: BROKEN marker in lines.txt');
    expect(git(fx.remote, 'show', 'main:lines.txt')).toBe(LINES);
    expect(fx.remoteLog()[0]).toBe(`work on ${good}`);
  });

  it('kill -9 of the worker mid-merge: after restart nothing is lost or merged twice', async () => {
    const fx = await fixture();
    const runs = join(fx.t.root, 'test-runs.log');
    fx.rigSettings((s) => {
      // One request a batch: this is the kill of a single merge (refinery-batch.test.ts kills a batch).
      s.merge_queue = { batch_size: 1, test_command: `echo "$GT_BEAD" >> '${runs}'; sleep 3` };
    });
    const ids = ['first', 'second', 'third'].map((n) => fx.createBead(`${n} change`));
    const mrs = ids.map((id, i) => fx.branch(`cat${i}`, id, { [`f${i}.txt`]: `${i}\n` }, `change ${i}`));
    for (const mr of mrs) await fx.submit(mr);
    const lines = () => {
      try {
        return readFileSync(runs, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };

    // 1: while the first request's tests run.
    await waitFor(() => lines().length >= 1, 60_000, 'the first test run');
    killWorkers(fx.t.root);
    expect(fx.t.gt(['up']).code).toBe(0);
    // 2: the moment the first merge reaches the remote (before or during its bookkeeping).
    await waitFor(() => fx.remoteLog().includes('change 0'), 60_000, 'the first merge on the remote');
    killWorkers(fx.t.root);
    expect(fx.t.gt(['up']).code).toBe(0);

    const q = await fx.settled(ids, 120_000);
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-worker-killed');
    expect(q.recent.map((r) => r.status)).toEqual(['merged', 'merged', 'merged']);
    expect(q.recent.map((r) => r.bead)).toEqual([...ids].reverse());
    const log = fx.remoteLog();
    expect(log.slice(0, 4)).toEqual(['change 2', 'change 1', 'change 0', 'seed']);
    expect(log).toHaveLength(4);
    for (const id of ids) {
      const bead = fx.bead(id);
      expect(bead.status).toBe('closed');
      expect(bead.comments?.filter((c) => c.text.startsWith('Merged into')).length).toBe(1);
    }
    for (const mr of mrs) expect(refExists(fx.repo, `refs/heads/${mr.branch}`)).toBe(false);
    // The first request's tests ran again after the kill; each later one ran at least once.
    expect(lines().filter((l) => l === ids[0]).length).toBeGreaterThanOrEqual(2);
  });

  it('continues as new when the history grows, carrying the queue over', async () => {
    const fx = await fixture();
    fx.rigSettings((s) => {
      s.merge_queue = { history_limit: 10, test_command: 'sleep 1' };
    });
    const ids = [0, 1, 2, 3].map((i) => fx.createBead(`change ${i}`));
    const mrs = ids.map((id, i) => fx.branch(`cat${i}`, id, { [`g${i}.txt`]: `${i}\n` }, `change ${i}`));
    await fx.submit(mrs[0]!);
    const firstRun = (await fx.client.workflow.getHandle(`refinery/${fx.rig}`).describe()).runId;
    for (const mr of mrs.slice(1)) await fx.submit(mr);
    // The same request again (a retried `gt done`) is queued once.
    await fx.submit(mrs[3]!);
    await fx.settled(ids);
    // Requests that arrive together are merged in one batch, and the refinery continues as new
    // after it (its history is full): wait for that rather than catch the run before it.
    const q = await waitFor(async () => {
      const state = await fx.queue();
      return state && state.generation >= 1 ? state : undefined;
    }, 60_000, 'the refinery to continue as new');
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-continued');
    expect(q.merged).toBe(4);
    expect(q.recent.map((r) => r.bead)).toEqual([...ids].reverse());
    expect(fx.remoteLog().slice(0, 5)).toEqual(['change 3', 'change 2', 'change 1', 'change 0', 'seed']);
    const lastRun = (await fx.client.workflow.getHandle(`refinery/${fx.rig}`).describe()).runId;
    expect(lastRun).not.toBe(firstRun);
  });

  it('refuses bad merge requests before sending anything', async () => {
    const fx = await fixture();
    const id = fx.createBead('x');
    const good = { bead: id, branch: `polecat/toast/${id}`, polecat: 'toast', worktree: join(fx.t.root, fx.rig, 'polecats', 'toast'), submittedAt: new Date().toISOString() };
    for (const [patch, message] of [
      [{ bead: 'not an id' }, /invalid bead id/],
      [{ branch: '-x' }, /starts with '-'/],
      [{ branch: 'a..b' }, /'\.\.'/],
      [{ branch: 'has space' }, /space/],
      [{ polecat: 'a/b' }, /invalid polecat name/],
      [{ worktree: 'relative/path' }, /not an absolute path/],
      [{ submittedAt: 'yesterday' }, /not an ISO time/],
    ] as const) {
      await expect(fx.submit({ ...good, ...patch })).rejects.toThrow(message);
    }
    expect(await fx.queue()).toBeUndefined();
    const unknown = fx.t.gt(['mq', 'list', '--rig', 'nosuchrig']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no rig named "nosuchrig"/);
    expect(unknown.stdout).toBe('');
  });

  it('a request whose branch or bead does not exist is sent back without touching the remote', async () => {
    const fx = await fixture();
    const id = fx.createBead('ghost work', `${fx.rig}/polecats/ghost`);
    await fx.submit({ bead: id, branch: `polecat/ghost/${id}`, polecat: 'ghost', worktree: join(fx.t.root, fx.rig, 'polecats', 'ghost'), submittedAt: new Date().toISOString() });
    const empty = fx.createBead('no commits');
    const worktree = join(fx.t.root, fx.rig, 'polecats', 'idle');
    git(fx.repo, 'worktree', 'add', '-q', '-b', `polecat/idle/${empty}`, worktree, 'refs/remotes/origin/main');
    await fx.submit({ bead: empty, branch: `polecat/idle/${empty}`, polecat: 'idle', worktree, submittedAt: new Date().toISOString() });
    await fx.submit({ ...fx.branch('toast', 'mq-zzzzz', { 'z.txt': 'z\n' }), bead: 'mq-zzzzz' });
    const q = await fx.settled([id, empty, 'mq-zzzzz']);
    const by = Object.fromEntries(q.recent.map((r) => [r.bead, r]));
    expect(by[id]!.kind).toBe('missing-branch');
    expect(by[empty]!.kind).toBe('empty');
    expect(by['mq-zzzzz']!.kind).toBe('missing-bead');
    expect(fx.remoteLog()).toEqual(['seed']);
    expect(fx.bead(id).status).toBe('open');
    expect(fx.bead(id).comments?.at(-1)?.text).toMatch(/does not exist/);
  });
  it('a request that comes again after its work merged (branch gone) is dropped: the bead stays closed, nothing goes back, merged once', async () => {
    const fx = await fixture();
    const id = fx.createBead('merged once', `${fx.rig}/polecats/toast`);
    const mr = fx.branch('toast', id, { 'once.txt': 'once\n' });
    await fx.submit(mr);
    await fx.settled([id]);
    expect(fx.bead(id).status).toBe('closed');
    expect(refExists(fx.repo, `refs/heads/${mr.branch}`)).toBe(false);
    // The same work again, as a retried gt done sends it after the queue forgot the first (its own submittedAt).
    await fx.submit({ ...mr, submittedAt: new Date(Date.parse(mr.submittedAt) + 1000).toISOString() });
    const q = await waitFor(async () => {
      const q = await fx.queue();
      const records = q?.recent.filter((r) => r.bead === id) ?? [];
      return records.length === 2 ? q : undefined;
    }, 60_000, 'the second request to finish');
    maybeRecordHistory(`refinery/${fx.rig}`, 'refinery-already-merged');
    const [again, first] = q!.recent.filter((r) => r.bead === id);
    expect(first!.status).toBe('merged');
    expect(again!.status).toBe('merged');
    expect(again!.sha).toBe(first!.sha);
    expect(again!.reason).toMatch(/already merged/);
    expect(again!.polecatNotified).toBeUndefined();
    expect(q!.rejected).toBe(0);
    const bead = fx.bead(id);
    expect(bead.status).toBe('closed');
    expect(bead.comments?.some((c) => c.text.startsWith('Merge rejected'))).toBe(false);
    expect(fx.remoteLog().filter((m) => m.includes(id))).toHaveLength(1);
  });
});
