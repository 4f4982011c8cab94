import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { acquireLockSync, withLock } from '../lock.js';
import { processEnv } from '../town/env.js';
import { execFile, type ExecError } from './launcher.js';

/**
 * The one git helper: argument arrays only (branch names and paths are never shell text), no
 * prompts, no signing or hooks from the user's global config getting in the way of unattended
 * work, C locale so messages can be recognised, and nothing of the caller's own git identity
 * or repository variables.
 *
 * A rig's shared repository (the bare clone its polecat worktrees and refinery worktree hang
 * off) is changed under one lock per repository (`withRepoLock`): fetch, reset, the refinery's
 * push, branch deletion and the update of `refs/remotes/origin/*`. Two changes are made
 * without it, so a hundred polecats starting at once do not queue behind the merge queue or
 * each other: a new polecat worktree on a new branch (its branch and its worktree entry are its
 * own, and git guards them: ref locks, a worktree being added is locked against prune), and the
 * switch of an existing worktree to another branch, which takes that worktree's own lock
 * (`withWorktreeLock`), as the merge queue does to detach a worktree from a merged branch. Locks
 * are taken repository first, then worktree, never the other way round. New branches start
 * from a commit id resolved once, never from a moving ref.
 */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const FIXED_CONFIG = ['-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', '-c', 'rebase.autoStash=false', '-c', 'advice.detachedHead=false'];

/** Variables that would point git at another repository or give its commits someone else's name. */
const INHERITED_GIT_VARS = /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|COMMON_DIR|NAMESPACE|AUTHOR_\w+|COMMITTER_\w+)$/;

/** gitEnv of a frozen process environment (see town/env.ts). */
let cachedGitEnv: { from: NodeJS.ProcessEnv; env: NodeJS.ProcessEnv } | undefined;

export function gitEnv(): NodeJS.ProcessEnv {
  const from = processEnv();
  if (from !== process.env && cachedGitEnv?.from === from) return { ...cachedGitEnv.env };
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(from)) if (!INHERITED_GIT_VARS.test(k)) env[k] = v;
  Object.assign(env, { GIT_TERMINAL_PROMPT: '0', GCM_INTERACTIVE: 'never', LC_ALL: 'C', GIT_EDITOR: 'true' });
  if (from !== process.env) cachedGitEnv = { from, env };
  return { ...env };
}

/** Run git; never throws for a non-zero exit (the caller decides what a failure means). `env` adds variables (e.g. a commit's author). */
export async function runGit(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<GitResult> {
  try {
    const { stdout, stderr } = await execFile('git', [...FIXED_CONFIG, ...args], { cwd, env: { ...gitEnv(), ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as ExecError;
    // A string code (ENOENT, ...) means git itself could not be run.
    if (typeof err.code === 'number') return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    return { code: 127, stdout: err.stdout ?? '', stderr: `error: cannot run git: ${err.message}` };
  }
}

/** Run git and return its trimmed stdout; a non-zero exit throws with git's own message. */
export async function git(args: string[], cwd: string): Promise<string> {
  const r = await runGit(args, cwd);
  if (r.code !== 0) throw new Error(`git ${args[0]} (in ${cwd}) failed: ${gitMessage(r)}`);
  return r.stdout.trim();
}

/** Git's meaningful error lines, without hints and progress chatter. */
export function gitMessage(r: GitResult): string {
  const lines = (r.stderr || r.stdout).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('hint:'));
  const fatal = lines.filter((l) => /^(fatal|error):/.test(l));
  return (fatal.length ? fatal.join('; ') : lines.slice(-3).join('; ')) || `exit code ${r.code}`;
}

export async function gitOk(args: string[], cwd: string): Promise<boolean> {
  return (await runGit(args, cwd)).code === 0;
}

/** Git for the CLI (synchronous): trimmed stdout; a non-zero exit throws, its `stderr` saying why. */
export function gitSync(args: string[], cwd?: string): string {
  return execFileSync('git', [...FIXED_CONFIG, ...args], { cwd, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 }).trim();
}

/** The commit a ref points at now (read once), or undefined when there is none. */
export async function commitOf(ref: string, cwd: string): Promise<string | undefined> {
  const r = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], cwd);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

function repoLockFile(repo: string): string {
  return join(repo, 'gt-worktrees.lock');
}

const REPO_LOCK_MS = 300_000;

/** One worktree's lock: its switch to another branch, its detach from a merged one (kept in the repository, so it outlives the worktree). */
function worktreeLockFile(repo: string, worktree: string): string {
  return join(repo, 'gt-worktree-locks', `${createHash('sha256').update(resolve(worktree)).digest('hex').slice(0, 16)}.lock`);
}

/** Hold one worktree's lock while `fn` moves it to another branch (or off one). Taken after the repository's lock when both are needed. */
export async function withWorktreeLock<T>(repo: string, worktree: string, fn: () => Promise<T>): Promise<T> {
  return withLock(worktreeLockFile(repo, worktree), fn, { timeoutMs: REPO_LOCK_MS, what: `the worktree ${worktree}` });
}

/** `withWorktreeLock` for synchronous callers (the CLI). */
export function withWorktreeLockSync<T>(repo: string, worktree: string, fn: () => T): T {
  const release = acquireLockSync(worktreeLockFile(repo, worktree), { timeoutMs: REPO_LOCK_MS, what: `the worktree ${worktree}` });
  try {
    return fn();
  } finally {
    release();
  }
}

/**
 * Hold the rig repository's lock while `fn` changes its refs or worktrees. `repo` is the shared
 * (bare) repository; every worktree of it takes this same lock.
 */
export async function withRepoLock<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  return withLock(repoLockFile(repo), fn, { timeoutMs: REPO_LOCK_MS, what: `the rig repository ${repo}` });
}

/** `withRepoLock` for synchronous callers (the CLI). */
export function withRepoLockSync<T>(repo: string, fn: () => T): T {
  const release = acquireLockSync(repoLockFile(repo), { timeoutMs: REPO_LOCK_MS, what: `the rig repository ${repo}` });
  try {
    return fn();
  } finally {
    release();
  }
}

/** A fetch of the rig's remote younger than this is good enough for a new polecat branch. */
const SHARED_FETCH_MS = 5_000;

function fetchStamp(repo: string): string {
  return join(repo, 'gt-fetched');
}

function fetchedWithin(repo: string, ms: number): boolean {
  try {
    return Date.now() - statSync(fetchStamp(repo)).mtimeMs < ms;
  } catch {
    return false;
  }
}

/**
 * `git fetch --prune origin` in the rig repository, unless one finished less than `maxAgeMs`
 * ago (0: always). Callers hold the repository's lock.
 */
export async function fetchOrigin(repo: string, maxAgeMs = 0): Promise<void> {
  if (maxAgeMs > 0 && fetchedWithin(repo, maxAgeMs)) return;
  const stamp = fetchStamp(repo);
  const started = new Date();
  await git(['fetch', '--quiet', '--prune', 'origin'], repo);
  try {
    writeFileSync(stamp, '');
    utimesSync(stamp, started, started);
  } catch {
    // only an optimisation
  }
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
 * A worktree at `worktree` on `branch`: created from origin/<default> as fetched in the last 5 s, or the
 * existing branch when there is one (work of an earlier attempt or a sent-back merge). An idle
 * polecat's worktree is reused; anything it left uncommitted is committed to its old branch first,
 * so switching never loses work. A new branch starts at the commit origin/<default> had when it
 * was read (once), so its index and files are exactly that commit's.
 */
export async function prepareWorktree(input: PrepareWorktreeInput): Promise<PreparedWorktree> {
  const { repo, worktree, branch, defaultBranch } = input;
  // A burst of slings shares one fetch (the refinery's pushes update origin/<default> here as they happen).
  if (!fetchedWithin(repo, SHARED_FETCH_MS)) await withRepoLock(repo, () => fetchOrigin(repo, SHARED_FETCH_MS));
  // The three refs this needs, in one git run: the base, the branch here, the branch as pushed.
  const baseRef = `refs/remotes/origin/${defaultBranch}`;
  const refs = await refsOf([baseRef, `refs/heads/${branch}`, `refs/remotes/origin/${branch}`], repo);
  const base = refs.get(baseRef);
  if (!base) throw new Error(`the rig repository has no origin/${defaultBranch} (in ${repo})`);
  let branchExists = refs.has(`refs/heads/${branch}`);
  // Work pushed from another clone (a rig host that died, or one without the town folder): go on from it.
  const pushed = branchExists ? undefined : refs.get(`refs/remotes/origin/${branch}`);
  if (pushed) branchExists = (await runGit(['branch', '--quiet', '--no-track', branch, pushed], repo)).code === 0 || (await hasBranch(repo, branch));
  if (!existsSync(join(worktree, '.git')) && !branchExists) {
    const args = ['worktree', 'add', '--quiet', '--no-track', '-b', branch, worktree, base];
    if ((await runGit(args, repo)).code === 0) return { worktree, branch, base, reused: false };
    // A stale entry in the way (or a race with an earlier attempt): the locked path below sorts it out.
  }
  // A worktree of this polecat's already: switched under its own lock, not the repository's.
  if (existsSync(join(worktree, '.git'))) return withWorktreeLock(repo, worktree, () => switchWorktree(input, base, branchExists));
  return withRepoLock(repo, async () => {
    const branchExists = await hasBranch(repo, branch);
    if (existsSync(join(worktree, '.git'))) return withWorktreeLock(repo, worktree, () => switchWorktree(input, base, branchExists));
    const args = branchExists
      ? ['worktree', 'add', '--quiet', worktree, branch]
      : ['worktree', 'add', '--quiet', '--no-track', '-b', branch, worktree, base];
    // Pruning scans every worktree of the rig: only when a stale entry is in the way.
    if ((await runGit(args, repo)).code !== 0) {
      await git(['worktree', 'prune'], repo);
      await git(args, repo);
    }
    return { worktree, branch, base, reused: false };
  });
}

/**
 * An existing worktree onto `branch` (made from `base` when new); anything left uncommitted is
 * first committed where it was. Callers hold the worktree's lock; `branchExists` is what they
 * read of the branch before it (looked at again here only if the switch says otherwise).
 */
async function switchWorktree(input: PrepareWorktreeInput, base: string, branchExists: boolean): Promise<PreparedWorktree> {
  const { repo, worktree, branch } = input;
  let savedWip: string | undefined;
  // Where HEAD is and whether anything is uncommitted, in one git run.
  const status = await git(['status', '--porcelain=v2', '--branch'], worktree);
  const head = /^# branch\.head (.+)$/m.exec(status)?.[1];
  let current = !head || head === '(detached)' ? 'HEAD' : head;
  if (current === branch) return { worktree, branch, base, reused: true };
  if (status.split('\n').some((line) => line && !line.startsWith('#'))) {
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
  const switchArgs = (exists: boolean) => (exists ? ['switch', '--quiet', branch] : ['switch', '--quiet', '--no-track', '-c', branch, base]);
  const switched = await runGit(switchArgs(branchExists), worktree);
  if (switched.code !== 0) {
    // The branch came or went since it was read (outside this lock): read it again.
    const existsNow = await hasBranch(repo, branch);
    if (existsNow === branchExists) throw new Error(`git switch (in ${worktree}) failed: ${gitMessage(switched)}`);
    await git(switchArgs(existsNow), worktree);
  }
  return { worktree, branch, base, reused: true, savedWip };
}

/** Whether the repository has branch `branch` (refs/heads/<branch>). */
function hasBranch(repo: string, branch: string): Promise<boolean> {
  return gitOk(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], repo);
}

/** ref → object name for those of `refs` that exist (one git run; each name exact, nothing below it). */
export async function refsOf(refs: string[], cwd: string): Promise<Map<string, string>> {
  const wanted = new Set(refs);
  const out = new Map<string, string>();
  for (const line of (await git(['for-each-ref', '--format=%(objectname) %(refname)', ...refs], cwd)).split('\n')) {
    const [sha, ref] = line.split(' ');
    if (sha && ref && wanted.has(ref)) out.set(ref, sha);
  }
  return out;
}

/** The branch a worktree has checked out (`refs/heads/...`), read from its HEAD file; undefined when detached. */
export async function checkedOutRef(worktree: string): Promise<string | undefined> {
  const dir = worktreeGitDir(worktree);
  try {
    if (dir) return /^ref: (.+)$/m.exec(readFileSync(join(dir, 'HEAD'), 'utf8'))?.[1]?.trim();
  } catch {
    // no HEAD file where git keeps it: ask git
  }
  const r = await runGit(['symbolic-ref', '--quiet', 'HEAD'], worktree);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The repository's common git folder (where `info/exclude` is) of a worktree, read from its git files; undefined when it is not one. */
export async function commonGitDir(worktree: string): Promise<string | undefined> {
  const dir = worktreeGitDir(worktree);
  if (dir) {
    try {
      return resolve(dir, readFileSync(join(dir, 'commondir'), 'utf8').trim());
    } catch {
      // a main worktree: its git folder is the common one
      if (existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects'))) return dir;
    }
  }
  const r = await runGit(['rev-parse', '--git-common-dir'], worktree);
  return r.code === 0 ? resolve(worktree, r.stdout.trim()) : undefined;
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
