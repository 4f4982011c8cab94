import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareWorktree, type PreparedWorktree } from '../../src/activities/git.js';
import { tempDir } from '../helpers/cli.js';
import { git as gitSync, makeRemote, waitFor } from '../helpers/town.js';
import { rigFixture, type RigFixture } from './refinery-fixture.js';

/**
 * The race that once deleted merged work: polecat worktrees created and reused in a rig's shared
 * repository while the refinery's push moves refs/remotes/origin/<default> in that same
 * repository. Judged by content: every new branch starts exactly at the commit it reports (HEAD,
 * index and files), and a polecat's commit on it changes only the polecat's own file (no merged
 * file is reverted).
 */

const run = promisify(execFile);
async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd, env: { ...process.env, LC_ALL: 'C' } })).stdout.trim();
}

const fixtures: RigFixture[] = [];
afterEach(async () => {
  for (const fx of fixtures.splice(0)) await fx.close();
});

/** Assert a freshly prepared branch is its base commit, whole; then commit one file on it and check nothing else changed. */
async function checkAndCommit(p: PreparedWorktree, file: string): Promise<void> {
  expect(await git(p.worktree, 'rev-parse', 'HEAD')).toBe(p.base);
  expect(await git(p.worktree, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  // Index and files both equal the base commit's tree.
  await git(p.worktree, 'diff', '--cached', '--quiet', p.base);
  await git(p.worktree, 'diff', '--quiet', p.base);
  writeFileSync(join(p.worktree, file), `${file}\n`);
  await git(p.worktree, 'add', '-A');
  await git(p.worktree, '-c', 'user.name=polecat', '-c', 'user.email=p@localhost', 'commit', '-qm', `work ${file}`);
  expect(await git(p.worktree, 'diff', '--name-status', p.base, 'HEAD')).toBe(`A\t${file}`);
}

/** A rig-style shared repository: a bare clone with remote-tracking refs, like `gt rig add` makes. */
function sharedRepo(remote: string, base: string): string {
  const repo = join(base, '.repo.git');
  gitSync(base, 'clone', '-q', '--bare', remote, repo);
  gitSync(repo, 'config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*');
  gitSync(repo, 'fetch', '-q', 'origin');
  return repo;
}

describe('git under one discipline', () => {
  it('a new branch is exactly the commit it starts from while origin/main moves under it', async () => {
    const base = tempDir('gt-gitrace-');
    const remote = makeRemote({ 'README.md': '# race\n' });
    const repo = sharedRepo(remote, base);
    const pusher = join(base, 'pusher');
    gitSync(repo, 'worktree', 'add', '-q', '--detach', pusher, 'refs/remotes/origin/main');

    // What the refinery's push does, as fast as it can and without any lock (a writer that
    // does not know about ours): a new commit on main, pushed, then origin/main moved locally.
    let stop = false;
    let pushes = 0;
    const pushing = (async () => {
      while (!stop) {
        writeFileSync(join(pusher, `merged-${pushes}.txt`), `merged ${pushes}\n`);
        await git(pusher, 'add', '-A');
        await git(pusher, '-c', 'user.name=refinery', '-c', 'user.email=r@localhost', 'commit', '-qm', `merge ${pushes}`);
        const sha = await git(pusher, 'rev-parse', 'HEAD');
        await git(pusher, 'push', '-q', 'origin', `${sha}:refs/heads/main`);
        await git(pusher, 'update-ref', 'refs/remotes/origin/main', sha).catch(() => undefined);
        pushes++;
      }
    })();

    mkdirSync(join(base, 'polecats'));
    let checked = 0;
    let refused = 0;
    const polecat = async (name: string) => {
      for (let round = 0; round < 30; round++) {
        let p: PreparedWorktree;
        try {
          p = await prepareWorktree({ repo, worktree: join(base, 'polecats', name), branch: `polecat/${name}/b${round}`, defaultBranch: 'main', who: name });
        } catch (err) {
          // A foreign writer holding git's own ref lock makes fetch refuse: an error, never a wrong tree.
          if (!/cannot lock ref|unable to update local ref|failed to lock/i.test((err as Error).message)) throw err;
          refused++;
          continue;
        }
        await checkAndCommit(p, `${name}-${round}.txt`);
        checked++;
      }
    };
    try {
      await Promise.all(['a', 'b', 'c', 'd'].map(polecat));
    } finally {
      stop = true;
      await pushing;
    }
    expect(pushes).toBeGreaterThan(10);
    expect(checked).toBeGreaterThan(100);
    expect(refused).toBeLessThan(20);
  });

  it('a polecat switching its worktree to its next bead while the merge queue detaches it from the merged one: the switch wins, the merged branch goes', async () => {
    const fx = await rigFixture();
    fixtures.push(fx);
    const names = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'];
    const requests = names.map((name, i) => fx.branch(name, fx.createBead(`merge ${i}`, `${fx.rig}/polecats/${name}`), { [`${name}.txt`]: `${name}\n` }));
    await fx.submitTogether(requests);
    // Each polecat moves on as soon as its work is on the remote: about when the merge queue
    // records it (closes the bead, detaches the worktree, deletes the branch), in either order.
    const moved = Promise.all(
      requests.map(async (mr) => {
        await waitFor(async () => (fx.remoteLog().some((s) => s.startsWith(`work on ${mr.bead}`)) ? true : undefined), 90_000, `${mr.bead} on main`);
        const p = await prepareWorktree({ repo: fx.repo, worktree: mr.worktree, branch: `polecat/${mr.polecat}/next`, defaultBranch: 'main', who: mr.polecat });
        writeFileSync(join(p.worktree, `${mr.polecat}-next.txt`), 'next\n');
        await git(p.worktree, 'add', '-A');
        await git(p.worktree, '-c', 'user.name=polecat', '-c', 'user.email=p@localhost', 'commit', '-qm', `next of ${mr.polecat}`);
      }),
    );
    const q = await fx.settled(requests.map((r) => r.bead), 120_000);
    await moved;
    expect(q.recent.filter((r) => requests.some((m) => m.bead === r.bead)).map((r) => r.status)).toEqual(requests.map(() => 'merged'));
    for (const mr of requests) {
      // Still on its own next branch (never detached under it), with its commit there.
      expect(await git(mr.worktree, 'symbolic-ref', 'HEAD')).toBe(`refs/heads/polecat/${mr.polecat}/next`);
      expect(await git(mr.worktree, 'log', '-1', '--format=%s')).toBe(`next of ${mr.polecat}`);
      expect(await git(mr.worktree, 'status', '--porcelain')).toBe('');
    }
    // The merged branches are gone, here and on the remote; the next ones stay.
    await waitFor(async () => (gitSync(fx.repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/').includes(requests[5]!.branch) ? undefined : true), 30_000, 'merged branches deleted');
    const heads = gitSync(fx.repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/').trim().split('\n');
    for (const mr of requests) {
      expect(heads).not.toContain(`refs/heads/${mr.branch}`);
      expect(heads).toContain(`refs/heads/polecat/${mr.polecat}/next`);
    }
  });

  it('the refinery merges while polecats prepare and reuse worktrees: main keeps every merge, no branch starts from a half-moved ref', async () => {
    const fx = await rigFixture();
    fixtures.push(fx);
    const beads: string[] = [];
    const requests = [];
    for (let i = 0; i < 8; i++) {
      const bead = fx.createBead(`merge ${i}`, `${fx.rig}/polecats/m${i}`);
      beads.push(bead);
      requests.push(fx.branch(`m${i}`, bead, { [`merged-${i}.txt`]: `merged ${i}\n` }, `merge ${i}`));
    }
    for (const mr of requests) await fx.submit(mr);

    let settled = false;
    let checked = 0;
    const polecatDir = join(fx.t.root, fx.rig, 'polecats');
    const polecat = async (name: string) => {
      for (let round = 0; !settled || round < 3; round++) {
        const p = await prepareWorktree({ repo: fx.repo, worktree: join(polecatDir, name), branch: `polecat/${name}/r${round}`, defaultBranch: 'main', who: name });
        await checkAndCommit(p, `${name}-${round}.txt`);
        checked++;
      }
    };
    const polecats = Promise.all(['p1', 'p2', 'p3'].map(polecat));
    try {
      const q = await fx.settled(beads, 120_000);
      expect(q.recent.filter((r) => beads.includes(r.bead)).map((r) => r.status)).toEqual(beads.map(() => 'merged'));
    } finally {
      settled = true;
      await polecats;
    }
    expect(checked).toBeGreaterThan(8);
    const onMain = gitSync(fx.remote, 'ls-tree', '--name-only', 'main').trim().split('\n');
    for (let i = 0; i < 8; i++) expect(onMain).toContain(`merged-${i}.txt`);
    // Every merge after the first was rebased onto a moved main: committed by the rig's refinery, authored by its polecat.
    const rebased = gitSync(fx.remote, 'log', '--format=%s|%an|%cn', 'main').trim().split('\n').filter((l) => /^merge [1-7]\|/.test(l));
    expect(rebased).toHaveLength(7);
    for (const line of rebased) expect(line.split('|')[2]).toBe(`${fx.rig}/refinery`);
  });
});
