import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { checkedOutRef, commonGitDir, prepareWorktree, refsOf } from '../../src/activities/git.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** A rig-like repository: a bare origin, a clone with origin/main, and one worktree on a branch. */
function rig() {
  const base = tempDir('gt-refs-');
  const origin = join(base, 'origin.git');
  git(base, 'init', '-q', '--bare', '-b', 'main', origin);
  const seed = join(base, 'seed');
  git(base, 'clone', '-q', origin, seed);
  writeFileSync(join(seed, 'README.md'), '# r\n');
  git(seed, 'add', '.');
  git(seed, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'init');
  git(seed, 'push', '-q', 'origin', 'HEAD:main');
  const repo = join(base, 'repo');
  git(base, 'clone', '-q', origin, repo);
  const worktree = join(base, 'polecats', 'toast');
  mkdirSync(join(base, 'polecats'));
  git(repo, 'worktree', 'add', '-q', '-b', 'polecat/toast/a', worktree, 'origin/main');
  return { base, repo, worktree };
}

describe('git refs read in one run or from git files', () => {
  it('refsOf gives exactly the refs asked for that exist, not those a name is a folder of', async () => {
    const { repo } = rig();
    const main = git(repo, 'rev-parse', 'refs/remotes/origin/main');
    const refs = await refsOf(['refs/remotes/origin/main', 'refs/heads/polecat/toast/a', 'refs/heads/polecat/nux/none', 'refs/heads/polecat/toast'], repo);
    expect([...refs.keys()].sort()).toEqual(['refs/heads/polecat/toast/a', 'refs/remotes/origin/main']);
    expect(refs.get('refs/remotes/origin/main')).toBe(main);
    expect(refs.get('refs/heads/polecat/toast/a')).toBe(git(repo, 'rev-parse', 'refs/heads/polecat/toast/a'));
  });

  it("checkedOutRef and commonGitDir say what git says, for a worktree, the main one, detached and not a repository", async () => {
    const { base, repo, worktree } = rig();
    expect(await checkedOutRef(worktree)).toBe(git(worktree, 'symbolic-ref', '--quiet', 'HEAD'));
    expect(await checkedOutRef(repo)).toBe('refs/heads/main');
    const sameDir = (a: string | undefined, b: string) => expect(a && realpathSync(a)).toBe(realpathSync(b));
    sameDir(await commonGitDir(worktree), resolve(worktree, git(worktree, 'rev-parse', '--git-common-dir')));
    sameDir(await commonGitDir(repo), resolve(repo, git(repo, 'rev-parse', '--git-common-dir')));
    git(worktree, 'checkout', '-q', '--detach');
    expect(await checkedOutRef(worktree)).toBeUndefined();
    const plain = join(base, 'plain');
    mkdirSync(plain);
    expect(await commonGitDir(plain)).toBeUndefined();
  });

  it('prepareWorktree switches a reused worktree to a new branch from origin/main, keeping uncommitted work on the old one', async () => {
    const { repo, worktree } = rig();
    writeFileSync(join(worktree, 'left.txt'), 'not committed\n');
    const prepared = await prepareWorktree({ repo, worktree, branch: 'polecat/toast/b', defaultBranch: 'main', who: 'r/polecats/toast' });
    expect(prepared).toMatchObject({ reused: true, savedWip: 'polecat/toast/a', base: git(repo, 'rev-parse', 'origin/main') });
    expect(git(worktree, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('polecat/toast/b');
    expect(git(worktree, 'rev-parse', 'HEAD')).toBe(prepared.base);
    expect(git(repo, 'show', 'polecat/toast/a:left.txt')).toBe('not committed');
    // Again on the same branch: nothing to do. Then back to an existing branch.
    expect(await prepareWorktree({ repo, worktree, branch: 'polecat/toast/b', defaultBranch: 'main', who: 'r/polecats/toast' })).toMatchObject({ reused: true });
    await prepareWorktree({ repo, worktree, branch: 'polecat/toast/a', defaultBranch: 'main', who: 'r/polecats/toast' });
    expect(git(worktree, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('polecat/toast/a');
    expect(git(worktree, 'status', '--porcelain')).toBe('');
  });
});
