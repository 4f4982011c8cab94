import { createRequire } from 'node:module';
import { appendFileSync, existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLockSync, processAlive } from '../lock.js';
import { writeFileAtomic } from '../fsutil.js';
import { ledgerPaths, type LedgerPaths } from './store.js';

/**
 * Ledger changes reach git history without making any write wait for git: a write appends what
 * changed (who, what) to `commit-queue.jsonl` and, unless a committer is already pending, starts
 * a detached committer process. That process waits a moment so a burst of writes becomes one
 * commit, takes the ledger lock and commits `.beads/` with the actor as author and every change
 * in the message. Git trouble never fails a write: the queue stays and the next committer (or
 * `flushLedgerCommits`, called by `gt down`) tries again, so changes may be batched, never lost.
 */

export interface QueuedChange {
  actor: string;
  changes: string[];
  at: string;
}

// child_process loads only when git is in play: most ledger commands never need it.
const require = createRequire(import.meta.url);
const childProcess = (): typeof import('node:child_process') => require('node:child_process');

/** How long a committer waits for more writes before committing. */
export const COMMIT_DELAY_MS = 1500;
/** A pending marker older than this, or whose process is gone, is stale (its committer died). */
const PENDING_STALE_MS = 120_000;
/** Files of the ledger that belong in history. */
const TRACKED = ['issues.jsonl', 'events.jsonl', 'config.json', '.gitignore'];

/** The root of the git work tree holding `dir`, or undefined. */
export function gitWorkTreeOf(dir: string): string | undefined {
  let cur = dir;
  for (;;) {
    if (existsSync(join(cur, '.git'))) return cur;
    const parent = dirname(cur);
    if (parent === cur) return undefined;
    cur = parent;
  }
}

function logError(paths: LedgerPaths, what: string, err: unknown): void {
  try {
    appendFileSync(join(paths.dir, 'commit-errors.log'), `${new Date().toISOString()} ${what}: ${(err as Error)?.message ?? String(err)}\n`);
  } catch {
    // nowhere left to report; the queue is still there for the next try
  }
}

function pendingAlive(paths: LedgerPaths): boolean {
  try {
    const pid = Number(readFileSync(paths.commitPending, 'utf8').trim());
    if (Date.now() - statSync(paths.commitPending).mtimeMs > PENDING_STALE_MS) return false;
    return processAlive(pid);
  } catch {
    return false;
  }
}

function committerScript(): string | undefined {
  const here = fileURLToPath(import.meta.url);
  if (!/\.c?js$/.test(here)) return undefined;
  // dist/beads/committer.js: next to this module when compiled by tsc; from the bundled `bd`
  // (dist/bundle/, where this code may sit in dist/bundle/chunks/) it is a level or two up.
  for (let dir = dirname(here), up = 0; up < 3; dir = dirname(dir), up++) {
    const script = join(dir, basename(dir) === 'beads' ? '' : 'beads', 'committer.js');
    if (existsSync(script)) return script;
  }
  return undefined;
}

/**
 * Record a write for git and make sure a committer will pick it up. Call with the ledger lock
 * held, after the write. Never throws.
 */
export function queueLedgerCommit(dir: string, actor: string, changes: string[]): void {
  const paths = ledgerPaths(dir);
  try {
    if (changes.length === 0 || !gitWorkTreeOf(dir)) return;
    const entry: QueuedChange = { actor, changes, at: new Date().toISOString() };
    appendFileSync(paths.commitQueue, JSON.stringify(entry) + '\n');
    if (pendingAlive(paths)) return;
    const script = committerScript();
    // Running from sources (unit tests): no committer to start; flushLedgerCommits commits.
    if (!script) return;
    const child = childProcess().spawn(process.execPath, [script, dir], { detached: true, stdio: 'ignore', env: process.env });
    child.on('error', (err) => logError(paths, 'starting the committer', err));
    child.unref();
    if (child.pid) writeFileSync(paths.commitPending, String(child.pid));
  } catch (err) {
    logError(paths, 'queueing a commit', err);
  }
}

function readQueue(paths: LedgerPaths): QueuedChange[] {
  let text: string;
  try {
    text = readFileSync(paths.commitQueue, 'utf8');
  } catch {
    return [];
  }
  const out: QueuedChange[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as QueuedChange);
    } catch {
      // a torn line from a crash mid-append: the change itself is on disk and still gets committed
    }
  }
  return out;
}

function emailFor(actor: string): string {
  const slug = actor.toLowerCase().replace(/[^a-z0-9._-]+/g, '.').replace(/^\.+|\.+$/g, '') || 'unknown';
  return `${slug}@localhost`;
}

/** Subject and body of the commit for a batch of queued changes. */
export function commitMessage(queue: QueuedChange[]): string {
  const lines = queue.flatMap((q) => q.changes.map((c) => ({ actor: q.actor, change: c })));
  const actors = [...new Set(queue.map((q) => q.actor))];
  const subject =
    lines.length === 1 ? `bd: ${lines[0].change}` : `bd: ${lines.length} changes by ${actors.join(', ')}`;
  const body = lines.slice(0, 500).map((l) => `- ${l.actor}: ${l.change}`);
  if (lines.length > 500) body.push(`- ... and ${lines.length - 500} more`);
  return `${subject.length > 120 ? subject.slice(0, 117) + '...' : subject}\n\n${body.join('\n')}\n`;
}

export interface FlushResult {
  committed: boolean;
  changes: number;
  error?: string;
}

/**
 * Commit everything queued for the ledger in `dir` now (synchronously, under the ledger lock).
 * For `gt down`, tests, and the committer process itself. Does nothing outside a git work tree.
 */
export function flushLedgerCommits(dir: string, opts: { ownPid?: number } = {}): FlushResult {
  const paths = ledgerPaths(dir);
  const root = gitWorkTreeOf(dir);
  if (!root) return { committed: false, changes: 0 };
  const release = acquireLockSync(paths.lock, { what: `the ledger in ${dir}` });
  try {
    if (opts.ownPid !== undefined) {
      try {
        if (readFileSync(paths.commitPending, 'utf8').trim() === String(opts.ownPid)) unlinkSync(paths.commitPending);
      } catch {
        // no marker
      }
    }
    const queue = readQueue(paths);
    const rel = TRACKED.filter((f) => existsSync(join(dir, f))).map((f) => relative(root, join(dir, f)) || f);
    const git = (args: string[], env?: NodeJS.ProcessEnv) =>
      childProcess().execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000, env: env ?? process.env });
    try {
      git(['add', '--', ...rel]);
      const staged = git(['diff', '--cached', '--name-only', '--', ...rel]).trim();
      if (!staged) {
        if (queue.length) writeFileAtomic(paths.commitQueue, '');
        return { committed: false, changes: 0 };
      }
      const actors = [...new Set(queue.map((q) => q.actor))];
      const author = actors.length ? actors.join(', ') : 'beads';
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (!env.GIT_COMMITTER_NAME && !gitConfig(git, 'user.name')) env.GIT_COMMITTER_NAME = 'beads';
      if (!env.GIT_COMMITTER_EMAIL && !gitConfig(git, 'user.email')) env.GIT_COMMITTER_EMAIL = 'beads@localhost';
      const message = queue.length ? commitMessage(queue) : 'bd: ledger changes\n';
      git(['commit', '-q', '--no-verify', `--author=${author} <${actors.length === 1 ? emailFor(actors[0]) : 'beads@localhost'}>`, '-m', message, '--', ...rel], env);
      writeFileAtomic(paths.commitQueue, '');
      return { committed: true, changes: queue.reduce((n, q) => n + q.changes.length, 0) };
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      logError(paths, 'git commit', new Error((e.stderr || e.message).trim()));
      return { committed: false, changes: 0, error: (e.stderr || e.message).trim() };
    }
  } finally {
    release();
  }
}

function gitConfig(git: (args: string[]) => string, key: string): string {
  try {
    return git(['config', '--get', key]).trim();
  } catch {
    return '';
  }
}
