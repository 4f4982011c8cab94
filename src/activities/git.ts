import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { withLock } from '../lock.js';

/**
 * Git for polecat worktrees, run without blocking the worker (a hundred polecats share it).
 * Everything that changes the rig's bare clone (fetch, worktree add, branch creation) holds one
 * lock per rig: git's own ref locks fail rather than wait when many processes race.
 */

const run = promisify(execFile);

export function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GCM_INTERACTIVE: 'never', LC_ALL: 'C' };
}

export async function git(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('git', args, { cwd, env: gitEnv(), maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`git ${args.join(' ')} (in ${cwd}) failed: ${stderr.split('\n').filter((l) => !l.startsWith('hint:')).slice(-3).join('; ') || (err as Error).message}`);
  }
}

export async function gitOk(args: string[], cwd: string): Promise<boolean> {
  try {
    await git(args, cwd);
    return true;
  } catch {
    return false;
  }
}

export async function withRepoLock<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  return withLock(join(repo, 'gt-worktrees.lock'), fn, { timeoutMs: 300_000, what: `the rig repository ${repo}` });
}

export interface PrepareWorktreeInput {
  repo: string;
  worktree: string;
  branch: string;
  defaultBranch: string;
  /** Commit identity for a work-in-progress commit left behind by an earlier bead. */
  who: string;
}

export interface PreparedWorktree {
  worktree: string;
  branch: string;
  /** The default branch's commit the branch started from (or was found at). */
  base: string;
  /** The worktree existed already (an idle polecat's, reused). */
  reused: boolean;
  /** Uncommitted changes of an earlier bead were kept in a commit on that bead's branch. */
  savedWip?: string;
}

/**
 * A worktree at `worktree` on `branch`: created from a freshly fetched origin/<default>, or the
 * existing branch when there is one (work of an earlier attempt or a sent-back merge). An idle
 * polecat's worktree is reused; anything it left uncommitted is committed to its old branch first,
 * so switching never loses work.
 */
export async function prepareWorktree(input: PrepareWorktreeInput): Promise<PreparedWorktree> {
  const { repo, worktree, branch, defaultBranch } = input;
  return withRepoLock(repo, async () => {
    await git(['fetch', '--quiet', '--prune', 'origin'], repo);
    const base = await git(['rev-parse', `refs/remotes/origin/${defaultBranch}`], repo);
    const branchExists = await gitOk(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], repo);
    const reused = existsSync(join(worktree, '.git'));
    if (!reused) {
      await git(['worktree', 'prune'], repo);
      const args = branchExists
        ? ['worktree', 'add', '--quiet', worktree, branch]
        : ['worktree', 'add', '--quiet', '--no-track', '-b', branch, worktree, `refs/remotes/origin/${defaultBranch}`];
      await git(args, repo);
      return { worktree, branch, base, reused };
    }
    let savedWip: string | undefined;
    let current = await git(['rev-parse', '--abbrev-ref', 'HEAD'], worktree);
    if (current === branch) return { worktree, branch, base, reused };
    if (await git(['status', '--porcelain'], worktree)) {
      if (current === 'HEAD') {
        // A detached HEAD (the merge queue leaves one after merging): keep the files on a branch of their own.
        const wip = `${branch}-wip-${Date.now().toString(36)}`;
        await git(['switch', '--quiet', '-c', wip], worktree);
        current = wip;
      }
      await git(['add', '-A'], worktree);
      await git(['-c', `user.name=${input.who}`, '-c', 'user.email=gt@localhost', 'commit', '--quiet', '--no-verify', '-m', `WIP: left uncommitted on ${current} when ${input.who} moved to ${branch}`], worktree);
      savedWip = current;
    }
    if (branchExists) await git(['switch', '--quiet', branch], worktree);
    else await git(['switch', '--quiet', '--no-track', '-c', branch, `refs/remotes/origin/${defaultBranch}`], worktree);
    return { worktree, branch, base, reused, savedWip };
  });
}

/** The worktree's git folder (a worktree's `.git` is a file pointing at it). */
export function worktreeGitDir(worktree: string): string | undefined {
  const dotGit = join(worktree, '.git');
  try {
    const st = statSync(dotGit);
    if (st.isDirectory()) return dotGit;
    const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
    return m ? resolve(worktree, m[1]!.trim()) : undefined;
  } catch {
    return undefined;
  }
}

/** Commits on HEAD that origin/<default> does not have. */
export async function commitsAhead(worktree: string, defaultBranch: string): Promise<number> {
  return Number(await git(['rev-list', '--count', `refs/remotes/origin/${defaultBranch}..HEAD`], worktree));
}

export async function removeWorktree(repo: string, worktree: string): Promise<void> {
  await withRepoLock(repo, async () => {
    if (existsSync(worktree)) await git(['worktree', 'remove', '--force', worktree], repo).catch(() => undefined);
    await git(['worktree', 'prune'], repo);
  });
}
