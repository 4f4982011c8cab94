import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import { parseDuration } from '../formula/duration.js';
import { acquireLock } from '../lock.js';
import type { MergeOutcome, MergeRequest, RefinerySettings } from '../refinery/types.js';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { readRigSettings, readTownSettings } from '../town/settings.js';
import { releaseInDispatcher } from '../dispatch/client.js';
import { lazyClient } from './client.js';
import { eventWriter } from './events.js';
import { newsTeller } from './dispatch.js';
import { commitOf, git, gitMessage, gitOk, runGit, withRepoLock } from './git.js';
import { killGroup, runChild } from './process.js';
import { tmuxSocket } from './tmux.js';
import { engineConfig } from '../temporal/config.js';
import { townEnv } from '../town/env.js';

const DEFAULT_TEST_TIMEOUT = '30m';
const DEFAULT_HISTORY_LIMIT = 5000;
/** Room for fetch, rebase and push around the test command. */
const MERGE_OVERHEAD_MS = 10 * 60_000;
/** Rounds of rebase-test-push when the remote moves under us (someone else pushed). */
const PUSH_ROUNDS = 5;
/** Comments carry the reason; a test log can be long, the bead needs only its end. */
const REASON_LIMIT = 6000;

function clip(text: string, limit = REASON_LIMIT): string {
  return text.length <= limit ? text : `...${text.slice(text.length - limit)}`;
}

function short(sha: string): string {
  return sha.slice(0, 10);
}

function remove(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone
  }
}

/** Activities of a rig's merge queue, bound to the town they act on. */
export function refineryActivities(root: string) {
  const getClient = lazyClient(root);
  const tell = newsTeller(root, getClient);
  const event = eventWriter(root);
  const files = (rig: string, mr: MergeRequest) => {
    // One set of files per request: a retried attempt finds what an earlier (dead) one left.
    const key = createHash('sha256').update(`${mr.bead}\0${mr.branch}\0${mr.submittedAt}`).digest('hex').slice(0, 16);
    const run = join(townPaths(root).run, 'refinery', rig);
    return {
      marker: join(run, `${mr.bead}.${key}.pushed.json`),
      testState: join(run, `${mr.bead}.${key}.test`),
      log: join(townPaths(root).logs, 'refinery', rig, `${mr.bead}.log`),
      lock: join(townPaths(root).run, 'refinery', `${rig}.lock`),
    };
  };

  const rigEntry = (rig: string) => {
    const entry = readRigs(root).rigs[rig];
    if (!entry) throw ApplicationFailure.nonRetryable(`no rig named "${rig}" in this town`, 'RigNotFound');
    const worktree = rigPaths(root, rig).refinery;
    if (!existsSync(worktree)) {
      throw ApplicationFailure.nonRetryable(`the refinery worktree ${worktree} is missing`, 'RefineryWorktreeMissing');
    }
    return { defaultBranch: entry.default_branch, worktree, repo: rigPaths(root, rig).repo };
  };

  /**
   * Leave the worktree on the default branch as the remote has it, whatever an earlier attempt
   * left. Callers hold the rig repository's lock.
   */
  async function resetWorktree(worktree: string, defaultBranch: string): Promise<void> {
    for (const op of ['rebase', 'merge', 'cherry-pick']) await runGit([op, '--abort'], worktree);
    await runGit(['reset', '--hard', '--quiet'], worktree);
    await runGit(['clean', '-ffdq'], worktree);
    const remote = await commitOf(`refs/remotes/origin/${defaultBranch}`, worktree);
    if (remote) await git(['checkout', '--quiet', '--force', '-B', defaultBranch, remote], worktree);
  }

  /** Fetch and read origin/<default> once: the base a branch is rebased onto. Callers hold the repository's lock. */
  async function fetchBase(worktree: string, defaultBranch: string): Promise<string> {
    await git(['fetch', '--quiet', '--prune', 'origin'], worktree);
    const base = await commitOf(`refs/remotes/origin/${defaultBranch}`, worktree);
    if (!base) throw new Error(`the rig repository has no origin/${defaultBranch} after a fetch`);
    return base;
  }

  /** Stop a test command an earlier attempt started (its worker died under it). */
  function stopLeftoverTest(stateFile: string): void {
    try {
      const pid = Number(readFileSync(`${stateFile}.pid`, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) killGroup(pid, 'SIGKILL');
    } catch {
      // none
    }
    for (const ext of ['.pid', '.exit', '.start']) remove(`${stateFile}${ext}`);
  }

  async function branchTip(worktree: string, branch: string): Promise<string | undefined> {
    return (await commitOf(`refs/heads/${branch}`, worktree)) ?? (await commitOf(`refs/remotes/origin/${branch}`, worktree));
  }

  async function runTest(rig: string, mr: MergeRequest, worktree: string, command: string, timeoutMs: number, f: ReturnType<typeof files>) {
    mkdirSync(dirname(f.log), { recursive: true });
    writeFileSync(f.log, '');
    return runChild({
      command: '/bin/sh',
      args: ['-c', command],
      cwd: worktree,
      env: {
        ...townEnv(root, engineConfig(root), tmuxSocket(root)),
        GT_RIG: rig,
        GT_ROLE: 'refinery',
        GT_BEAD: mr.bead,
        GT_BRANCH: mr.branch,
        BD_ACTOR: `${rig}/refinery`,
      },
      logFile: f.log,
      stateFile: f.testState,
      timeoutMs,
    });
  }

  /**
   * The merge itself. Every step that reads or moves the rig repository's refs (reset, fetch,
   * rebase, push, the update of origin/<default>) holds the repository's lock, the same one
   * polecat worktrees are prepared under; only the test command runs without it.
   */
  async function merge(rig: string, mr: MergeRequest): Promise<MergeOutcome> {
    const { defaultBranch, worktree, repo } = rigEntry(rig);
    const locked = <T>(fn: () => Promise<T>) => withRepoLock(repo, fn);
    const f = files(rig, mr);
    const ledger = Ledger.open(ledgerDirForId(mr.bead, root));
    if (!ledger.tryGet(mr.bead)) {
      return { result: 'rejected', kind: 'missing-bead', reason: `bead ${mr.bead} is not in the ledger at ${ledger.dir}` };
    }
    stopLeftoverTest(f.testState);
    try {
      let base = await locked(async () => {
        await resetWorktree(worktree, defaultBranch);
        return fetchBase(worktree, defaultBranch);
      });

      // An earlier attempt pushed and then lost its worker: the merge is done, do not redo it.
      if (existsSync(f.marker)) {
        const pushed = JSON.parse(readFileSync(f.marker, 'utf8')) as { sha: string };
        if (await gitOk(['merge-base', '--is-ancestor', pushed.sha, base], worktree)) {
          return { result: 'merged', sha: pushed.sha, defaultBranch, alreadyPushed: true };
        }
        remove(f.marker);
      }

      const tip = await branchTip(worktree, mr.branch);
      if (!tip) {
        return { result: 'rejected', kind: 'missing-branch', reason: `branch ${mr.branch} does not exist in the rig's repository (nor on its remote)` };
      }
      if (await gitOk(['merge-base', '--is-ancestor', tip, base], worktree)) {
        return {
          result: 'rejected',
          kind: 'empty',
          reason: `branch ${mr.branch} has no commits that are not already on ${defaultBranch}: nothing to merge`,
        };
      }

      const settings = readRigSettings(root, rig).merge_queue ?? {};
      const testTimeoutMs = parseDuration(settings.test_timeout ?? DEFAULT_TEST_TIMEOUT);
      for (let round = 1; ; round++) {
        const rebase = await locked(async () => {
          await git(['checkout', '--quiet', '--force', '--detach', tip], worktree);
          // Rebased commits keep their author; their committer is this rig's refinery, whoever started the worker.
          const r = await runGit(['-c', `user.name=${rig}/refinery`, '-c', `user.email=${rig}.refinery@gastown.local`, 'rebase', '--quiet', base], worktree);
          if (r.code === 0) return { ok: true as const, sha: await git(['rev-parse', 'HEAD'], worktree) };
          const conflicted = (await runGit(['diff', '--name-only', '--diff-filter=U'], worktree)).stdout.trim().split('\n').filter(Boolean);
          await runGit(['rebase', '--abort'], worktree);
          return { ok: false as const, where: conflicted.length ? `conflicting files: ${conflicted.join(', ')}` : gitMessage(r) };
        });
        if (!rebase.ok) {
          const where = rebase.where;
          return {
            result: 'rejected',
            kind: 'conflict',
            reason: `merge conflict: ${mr.branch} does not rebase cleanly onto ${defaultBranch} (${short(base)}); ${where}. Rebase onto ${defaultBranch}, resolve, commit and submit again.`,
          };
        }
        const rebased = rebase.sha;

        const command = settings.test_command?.trim();
        if (command) {
          Context.current().heartbeat();
          const test = await runTest(rig, mr, worktree, command, testTimeoutMs, f);
          if (test.timedOut || test.code !== 0) {
            const how = test.timedOut ? `timed out after ${settings.test_timeout ?? DEFAULT_TEST_TIMEOUT}` : test.code === null ? 'was killed' : `failed with exit code ${test.code}`;
            return {
              result: 'rejected',
              kind: 'test',
              reason: clip(`tests failed: \`${command}\` ${how} on ${mr.branch} rebased onto ${defaultBranch} (${short(base)})${test.tail ? `:\n${test.tail}` : ''}`),
            };
          }
        }

        const pushed = await locked(async () => {
          await git(['checkout', '--quiet', '--force', '-B', defaultBranch, rebased], worktree);
          mkdirSync(dirname(f.marker), { recursive: true });
          writeFileSync(f.marker, JSON.stringify({ sha: rebased, base, branch: mr.branch }) + '\n');
          const push = await runGit(['push', '--quiet', '--porcelain', 'origin', `${rebased}:refs/heads/${defaultBranch}`], worktree);
          if (push.code === 0) {
            await runGit(['update-ref', `refs/remotes/origin/${defaultBranch}`, rebased], worktree);
            return { ok: true as const };
          }
          remove(f.marker);
          const text = `${push.stdout}\n${push.stderr}`;
          const moved = /non-fast-forward|fetch first|\[rejected\]|stale info/.test(text);
          if (!moved || round >= PUSH_ROUNDS) throw new Error(`git push to origin ${defaultBranch} failed: ${gitMessage(push)}`);
          // Someone else pushed meanwhile: rebase onto the new tip and test again.
          return { ok: false as const, base: await fetchBase(worktree, defaultBranch) };
        });
        if (pushed.ok) return { result: 'merged', sha: rebased, defaultBranch, alreadyPushed: false };
        base = pushed.base;
      }
    } finally {
      await locked(() => resetWorktree(worktree, defaultBranch));
    }
  }

  /** Worktrees (polecats') that have `branch` checked out, so it can be released before deletion. */
  async function worktreesOn(repo: string, branch: string): Promise<string[]> {
    await runGit(['worktree', 'prune'], repo);
    const out = (await runGit(['worktree', 'list', '--porcelain'], repo)).stdout;
    const paths: string[] = [];
    for (const block of out.split('\n\n')) {
      const path = /^worktree (.+)$/m.exec(block)?.[1];
      if (path && block.split('\n').includes(`branch refs/heads/${branch}`)) paths.push(path);
    }
    return paths;
  }

  async function deleteBranch(rig: string, branch: string): Promise<void> {
    const { repo } = rigEntry(rig);
    await withRepoLock(repo, () => deleteBranchLocked(repo, branch));
  }

  async function deleteBranchLocked(repo: string, branch: string): Promise<void> {
    for (const path of await worktreesOn(repo, branch)) {
      // The work is merged; the polecat's worktree keeps its files on a detached HEAD.
      await git(['checkout', '--quiet', '--detach'], path);
    }
    if (await gitOk(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], repo)) {
      await git(['branch', '--quiet', '-D', branch], repo);
    }
    const remote = await runGit(['ls-remote', '--heads', 'origin', `refs/heads/${branch}`], repo);
    if (remote.code !== 0) throw new Error(`cannot list the remote's branches: ${gitMessage(remote)}`);
    if (remote.stdout.trim()) await git(['push', '--quiet', 'origin', '--delete', `refs/heads/${branch}`], repo);
    await runGit(['update-ref', '-d', `refs/remotes/origin/${branch}`], repo);
  }

  return {
    /** Knobs for one run of a rig's refinery workflow (a local activity). */
    async refinerySettings(rig: string): Promise<RefinerySettings> {
      const town = readTownSettings(root);
      const rigSettings = readRigSettings(root, rig);
      const mq = rigSettings.merge_queue ?? {};
      let testMs = 30 * 60_000;
      try {
        testMs = parseDuration(mq.test_timeout ?? DEFAULT_TEST_TIMEOUT);
      } catch {
        // a bad value is reported when a merge reads it
      }
      const limit = Number(mq.history_limit ?? DEFAULT_HISTORY_LIMIT);
      return {
        heartbeatTimeout: rigSettings.thresholds?.heartbeat_timeout ?? town.thresholds?.heartbeat_timeout ?? '30s',
        historyLimit: Number.isFinite(limit) && limit >= 10 ? limit : DEFAULT_HISTORY_LIMIT,
        mergeTimeoutMs: testMs + MERGE_OVERHEAD_MS,
      };
    },

    /**
     * Merge one request: rebase its branch onto the default branch as the remote has it, run the
     * rig's test command, fast-forward and push. Safe to run again after a worker died at any
     * point: a push that happened is recognised and never repeated. Heartbeats throughout.
     */
    async refineryMerge(rig: string, mr: MergeRequest): Promise<MergeOutcome> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        const release = await acquireLock(files(rig, mr).lock, { timeoutMs: 3_600_000, what: `the ${rig} refinery worktree` });
        try {
          return await merge(rig, mr);
        } finally {
          release();
        }
      } finally {
        clearInterval(beat);
      }
    },

    /** After a merge: the bead is closed with the merged commit, the branch deleted (local and remote). Idempotent. */
    async refineryRecordMerged(rig: string, mr: MergeRequest, sha: string, defaultBranch: string): Promise<void> {
      const ledger = Ledger.open(ledgerDirForId(mr.bead, root));
      await ledger.transactionAsync((tx) => {
        const bead = tx.lookup(mr.bead);
        if (!bead) return;
        const note = `Merged into ${defaultBranch} as ${sha} (branch ${mr.branch}, polecat ${mr.polecat}) by the ${rig} refinery`;
        if (!bead.comments?.some((c) => c.text === note)) tx.addComment(bead.id, note);
        const metadata = bead.metadata && typeof bead.metadata === 'object' ? bead.metadata : {};
        tx.update(bead.id, { metadata: { ...metadata, merged_sha: sha, merged_branch: mr.branch, merged_into: defaultBranch } });
        if (tx.lookup(bead.id)!.status !== 'closed') tx.close(bead.id, { reason: 'merged', force: true });
      }, { actor: `${rig}/refinery` });
      await deleteBranch(rig, mr.branch);
      remove(files(rig, mr).marker);
      await releaseInDispatcher(await getClient(), rig, { beads: [mr.bead], why: `merged as ${sha}` });
      event('merge.merged', { actor: `${rig}/refinery`, rig, bead: mr.bead, sha, branch: mr.branch, detail: `${mr.branch} merged into ${defaultBranch} as ${short(sha)}` });
      await tell([mr.bead], `merged as ${short(sha)}`);
    },

    /** After a rejection: the bead is open again, unassigned, with the reason as a comment. Idempotent. */
    async refineryRecordRejected(rig: string, mr: MergeRequest, reason: string): Promise<void> {
      const ledger = Ledger.open(ledgerDirForId(mr.bead, root));
      await ledger.transactionAsync((tx) => {
        const bead = tx.lookup(mr.bead);
        if (!bead) return;
        const note = `Merge rejected by the ${rig} refinery (branch ${mr.branch}): ${reason}`;
        if (bead.comments?.at(-1)?.text !== note) tx.addComment(bead.id, note);
        if (bead.status === 'closed') tx.reopen(bead.id, 'merge rejected');
        tx.update(bead.id, { status: 'open', assignee: null });
      }, { actor: `${rig}/refinery` });
      event('merge.rejected', { actor: `${rig}/refinery`, rig, bead: mr.bead, branch: mr.branch, detail: reason.split('\n')[0] });
      // Still its polecat's: the refinery tells the polecat next, which reworks it.
      await tell([mr.bead], `merge rejected: ${reason.split('\n')[0]}`, { inFlight: [mr.bead] });
    },
  };
}
