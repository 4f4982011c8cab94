import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import { parseDuration } from '../formula/duration.js';
import { acquireLock } from '../lock.js';
import type { MergeOutcome, MergeRequest, PreparedBatch, PushOutcome, RefinerySettings, TestOutcome } from '../refinery/types.js';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { townCaller } from '../remote/forward.js';
import { readRigSettings, readTownSettings } from '../town/settings.js';
import { releaseInDispatcher } from '../dispatch/client.js';
import { lazyClient } from './client.js';
import { eventWriter } from './events.js';
import { newsTeller } from './dispatch.js';
import { checkedOutRef, commitOf, fetchOrigin, git, gitMessage, gitOk, runGit, withRepoLock, withWorktreeLock, worktreeGitDir } from './git.js';
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
/** An adaptive queue's batches grow to this many requests unless `merge_queue.max_batch_size` says otherwise. */
const DEFAULT_MAX_BATCH = 32;
/** Test runs at once while looking for the culprit of a red batch, unless `merge_queue.max_concurrent` says otherwise. */
const DEFAULT_MAX_CONCURRENT = 2;
/** A batch's candidate is kept under this ref while it is tested, so its commits survive a worker restart. */
const BATCH_REFS = 'refs/gt/batch';
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

/** A commit as one `git log` call reads it. */
interface CommitMeta {
  sha: string;
  parents: string[];
  author: string;
  email: string;
  date: string;
  message: string;
}

/** Activities of a rig's merge queue, bound to the town they act on. */
export function refineryActivities(root: string) {
  const getClient = lazyClient(root);
  const tell = newsTeller(root, getClient);
  const event = eventWriter(root);
  /** In a rig host home (no ledgers here), the town says which beads are gone. */
  const town = townCaller(root, getClient);
  const missingHere = (beads: string[]): [string, string][] =>
    beads.flatMap((id) => {
      const ledger = Ledger.open(ledgerDirForId(id, root));
      return ledger.tryGet(id) ? [] : [[id, ledger.dir] as [string, string]];
    });
  /** The beads of `beads` that are not in their ledger, with that ledger's folder. */
  const missingBeads = async (beads: string[]): Promise<Map<string, string>> => new Map(town ? await town<[string, string][]>('missingBeads', [beads]) : missingHere(beads));
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
    await abortInProgress(worktree);
    await runGit(['reset', '--hard', '--quiet'], worktree);
    await runGit(['clean', '-ffdq'], worktree);
    const remote = await commitOf(`refs/remotes/origin/${defaultBranch}`, worktree);
    if (remote) await git(['checkout', '--quiet', '--force', '-B', defaultBranch, remote], worktree);
  }

  /** Abort a rebase, merge or cherry-pick an earlier attempt left half done in the worktree (git is run only when there is one). */
  async function abortInProgress(worktree: string): Promise<void> {
    const dir = worktreeGitDir(worktree);
    const inProgress = (name: string) => !dir || existsSync(join(dir, name));
    if (inProgress('rebase-merge') || inProgress('rebase-apply')) await runGit(['rebase', '--abort'], worktree);
    if (inProgress('MERGE_HEAD')) await runGit(['merge', '--abort'], worktree);
    if (inProgress('CHERRY_PICK_HEAD')) await runGit(['cherry-pick', '--abort'], worktree);
  }

  /** Fetch and read origin/<default> once: the base a branch is rebased onto. Callers hold the repository's lock. */
  async function fetchBase(repo: string, defaultBranch: string): Promise<string> {
    await fetchOrigin(repo);
    const base = await commitOf(`refs/remotes/origin/${defaultBranch}`, repo);
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

  /** What a merge queue's test command runs with: the town's environment, as the rig's refinery, on that bead and branch. */
  function testEnv(rig: string, bead: string, branch: string): NodeJS.ProcessEnv {
    return { ...townEnv(root, engineConfig(root), tmuxSocket(root)), GT_RIG: rig, GT_ROLE: 'refinery', GT_BEAD: bead, GT_BRANCH: branch, BD_ACTOR: `${rig}/refinery` };
  }

  async function runTest(rig: string, mr: MergeRequest, worktree: string, command: string, timeoutMs: number, f: ReturnType<typeof files>) {
    mkdirSync(dirname(f.log), { recursive: true });
    writeFileSync(f.log, '');
    return runChild({
      shell: command,
      cwd: worktree,
      env: testEnv(rig, mr.bead, mr.branch),
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
    const gone = (await missingBeads([mr.bead])).get(mr.bead);
    if (gone !== undefined) {
      return { result: 'rejected', kind: 'missing-bead', reason: `bead ${mr.bead} is not in the ledger at ${gone}` };
    }
    stopLeftoverTest(f.testState);
    try {
      let base = await locked(async () => {
        await resetWorktree(worktree, defaultBranch);
        return fetchBase(repo, defaultBranch);
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
          return { ok: false as const, base: await fetchBase(repo, defaultBranch) };
        });
        if (pushed.ok) return { result: 'merged', sha: rebased, defaultBranch, alreadyPushed: false };
        base = pushed.base;
      }
    } finally {
      await locked(() => resetWorktree(worktree, defaultBranch));
    }
  }

  /**
   * Delete merged branches, local and remote, in one go: their polecats' worktrees keep their
   * files on a detached HEAD, one `ls-remote` says which exist there, one push deletes those.
   */
  async function deleteBranches(rig: string, branches: string[]): Promise<void> {
    const { repo } = rigEntry(rig);
    const wanted = new Set(branches.map((b) => `refs/heads/${b}`));
    // Git keeps a branch a worktree has checked out: a polecat's worktree still on its merged
    // branch is detached first, under that worktree's own lock (a polecat switching it to its
    // next bead takes the same), and looked at again there (it may have switched meanwhile).
    let stale = false;
    for (const block of (await runGit(['worktree', 'list', '--porcelain'], repo)).stdout.split('\n\n')) {
      const path = /^worktree (.+)$/m.exec(block)?.[1];
      const head = /^branch (.+)$/m.exec(block)?.[1];
      if (!path || !head || !wanted.has(head)) continue;
      if (/^prunable/m.test(block) || !existsSync(path)) {
        stale = true;
        continue;
      }
      await withWorktreeLock(repo, path, async () => {
        if ((await checkedOutRef(path)) === head) await git(['checkout', '--quiet', '--detach'], path);
      });
    }
    // Which of them the remote has: read without the lock (a look, no change here).
    const remote = await runGit(['ls-remote', '--heads', 'origin', ...branches.map((b) => `refs/heads/${b}`)], repo);
    if (remote.code !== 0) throw new Error(`cannot list the remote's branches: ${gitMessage(remote)}`);
    const onRemote = remote.stdout.split('\n').map((l) => l.split('\t')[1]).filter((r): r is string => !!r && wanted.has(r));
    await withRepoLock(repo, async () => {
      // An entry of a worktree whose folder is gone still holds its branch: pruned only then.
      if (stale) await runGit(['worktree', 'prune'], repo);
      const refs = new Set((await git(['for-each-ref', '--format=%(refname)', ...branches.flatMap((b) => [`refs/heads/${b}`, `refs/remotes/origin/${b}`])], repo)).split('\n'));
      const local = branches.filter((b) => refs.has(`refs/heads/${b}`));
      if (local.length) await git(['branch', '--quiet', '-D', ...local], repo);
      if (onRemote.length) await git(['push', '--quiet', 'origin', '--delete', ...onRemote], repo);
      const tracking = branches.filter((b) => refs.has(`refs/remotes/origin/${b}`) && !onRemote.includes(`refs/heads/${b}`)).map((b) => `origin/${b}`);
      if (tracking.length) await runGit(['branch', '--quiet', '-r', '-D', ...tracking], repo);
    });
  }

  /** Close merged beads (one ledger transaction per ledger), then per bead: release it at the dispatcher, log, tell its convoys; then delete their branches. Idempotent. */
  async function recordMerged(rig: string, items: { mr: MergeRequest; sha: string }[], defaultBranch: string): Promise<void> {
    const byLedger = new Map<string, typeof items>();
    for (const it of items) {
      const dir = ledgerDirForId(it.mr.bead, root);
      byLedger.set(dir, [...(byLedger.get(dir) ?? []), it]);
    }
    for (const [dir, group] of byLedger) {
      await Ledger.open(dir).transactionAsync((tx) => {
        for (const { mr, sha } of group) {
          const bead = tx.lookup(mr.bead);
          if (!bead) continue;
          const note = `Merged into ${defaultBranch} as ${sha} (branch ${mr.branch}, polecat ${mr.polecat}) by the ${rig} refinery`;
          if (!bead.comments?.some((c) => c.text === note)) tx.addComment(bead.id, note);
          const metadata = bead.metadata && typeof bead.metadata === 'object' ? bead.metadata : {};
          tx.update(bead.id, { metadata: { ...metadata, merged_sha: sha, merged_branch: mr.branch, merged_into: defaultBranch } });
          if (tx.lookup(bead.id)!.status !== 'closed') tx.close(bead.id, { reason: 'merged', force: true });
        }
      }, { actor: `${rig}/refinery` });
    }
    // The news first: a bead waiting on these is slung while their branches are deleted (a
    // dozen git commands under the repository's lock, which polecats' worktrees queue on too).
    // Each bead's branch is its own (polecat and bead), so its polecat may start on the next.
    // One event per bead of the batch (the key), written once however often the activity runs.
    for (const { mr, sha } of items) {
      event('merge.merged', { actor: `${rig}/refinery`, rig, bead: mr.bead, key: mr.bead, sha, branch: mr.branch, detail: `${mr.branch} merged into ${defaultBranch} as ${short(sha)}` });
    }
    // One message for the whole batch to the dispatcher and to each convoy (not one a bead), at once.
    const client = await getClient();
    const beads = items.map((it) => it.mr.bead);
    const merged = items.map(({ mr, sha }) => `${mr.bead} as ${short(sha)}`).join(', ');
    await Promise.all([releaseInDispatcher(client, rig, { beads, why: `merged: ${merged}` }), tell(beads, `merged ${merged}`)]);
    await deleteBranches(rig, items.map((it) => it.mr.branch));
    for (const { mr } of items) remove(files(rig, mr).marker);
  }

  /** Batch files: the candidate's push marker and the test state of each slot. */
  const batchFiles = (rig: string, key: string) => {
    const run = join(townPaths(root).run, 'refinery', rig);
    return {
      marker: join(run, `batch-${key}.pushed.json`),
      testState: (slot: number) => join(run, `batch-${key}.slot${slot}.test`),
      log: (slot: number) => join(townPaths(root).logs, 'refinery', rig, `batch-${key}.slot${slot}.log`),
    };
  };

  /** Test slot 0 is the refinery worktree; slot n a worktree of its own beside it, made when first needed. */
  function slotPaths(rig: string, slot: number) {
    const worktree = rigPaths(root, rig).refinery;
    return {
      worktree: slot === 0 ? worktree : join(dirname(worktree), `test-${slot}`),
      lock: join(townPaths(root).run, 'refinery', slot === 0 ? `${rig}.lock` : `${rig}.slot${slot}.lock`),
    };
  }

  async function withSlot<T>(rig: string, slot: number, fn: () => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 1000);
    try {
      const release = await acquireLock(slotPaths(rig, slot).lock, { timeoutMs: 3_600_000, what: `the ${rig} refinery worktree ${slot}` });
      try {
        return await fn();
      } finally {
        release();
      }
    } finally {
      clearInterval(beat);
    }
  }

  async function isAncestor(a: string, b: string, cwd: string): Promise<boolean> {
    return gitOk(['merge-base', '--is-ancestor', a, b], cwd);
  }

  /**
   * Cherry-pick the one commit `c` onto `onto` without a worktree: a three-way merge of trees
   * (`git merge-tree`, whose merge base is c's parent, as in a rebase) and a new commit with c's
   * author and message; its committer is the rig's refinery.
   */
  async function pickOnto(rig: string, repo: string, c: CommitMeta, onto: string, trees: Map<string, string>): Promise<{ ok: true; sha: string } | { ok: false; where: string }> {
    const merged = await runGit(['merge-tree', '--write-tree', '--name-only', '--no-messages', onto, c.sha], repo);
    const [tree, ...conflicted] = merged.stdout.trim().split('\n');
    if (merged.code === 1) return { ok: false, where: conflicted.length ? `conflicting files: ${[...new Set(conflicted)].join(', ')}` : gitMessage(merged) };
    if (merged.code !== 0 || !tree) throw new Error(`git merge-tree (in ${repo}) failed: ${gitMessage(merged)}`);
    const ontoTree = trees.get(onto) ?? (await git(['rev-parse', `${onto}^{tree}`], repo));
    if (tree === ontoTree) return { ok: true, sha: onto };
    const made = await runGit(['commit-tree', tree, '-p', onto, '-m', c.message], repo, {
      GIT_AUTHOR_NAME: c.author,
      GIT_AUTHOR_EMAIL: c.email,
      GIT_AUTHOR_DATE: c.date,
      GIT_COMMITTER_NAME: `${rig}/refinery`,
      GIT_COMMITTER_EMAIL: `${rig}.refinery@gastown.local`,
    });
    if (made.code !== 0) throw new Error(`git commit-tree (in ${repo}) failed: ${gitMessage(made)}`);
    const sha = made.stdout.trim();
    trees.set(sha, tree);
    return { ok: true, sha };
  }

  /** The commits reachable from any of `tips` but not from `base`, each with its parents, author and message: one git call. */
  async function commitsSince(repo: string, base: string, tips: string[]): Promise<Map<string, CommitMeta>> {
    if (!tips.length) return new Map();
    const out = await git(['log', '--format=%x1e%H%x00%P%x00%an%x00%ae%x00%aD%x00%B', `^${base}`, ...new Set(tips)], repo);
    return out.split('\x1e').filter((chunk) => chunk.trim()).map((chunk) => {
      const [sha, parents, author, email, date, ...message] = chunk.split('\0');
      return { sha: sha!.trim(), parents: parents!.split(' ').filter(Boolean), author: author!, email: email!, date: date!, message: message.join('\0').trim() };
    }).reduce((all, c) => all.set(c.sha, c), new Map<string, CommitMeta>());
  }

  /** A branch's own commits (not on base), from its tip back through `since`. */
  function branchCommits(since: Map<string, CommitMeta>, tip: string): CommitMeta[] {
    const out: CommitMeta[] = [];
    const seen = new Set<string>();
    for (const todo = [tip]; todo.length; ) {
      const c = since.get(todo.pop()!);
      if (!c || seen.has(c.sha)) continue;
      seen.add(c.sha);
      out.push(c);
      todo.push(...c.parents);
    }
    return out;
  }

  /** The tips of `branches` (local, else the remote's), read in one git call. */
  async function branchTips(repo: string, branches: string[]): Promise<Map<string, string>> {
    if (!branches.length) return new Map();
    const out = await git(['for-each-ref', '--format=%(objectname) %(refname)', ...branches.flatMap((b) => [`refs/heads/${b}`, `refs/remotes/origin/${b}`])], repo);
    const refs = new Map(out.split('\n').filter(Boolean).map((l) => [l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' '))] as const));
    const tips = new Map<string, string>();
    for (const b of branches) {
      const tip = refs.get(`refs/heads/${b}`) ?? refs.get(`refs/remotes/origin/${b}`);
      if (tip) tips.set(b, tip);
    }
    return tips;
  }

  /** Rebase `tip` onto `onto` in the worktree; the new tip, or the conflict. Callers hold the repository's lock. */
  async function rebaseOnto(rig: string, worktree: string, tip: string, onto: string): Promise<{ ok: true; sha: string } | { ok: false; where: string }> {
    await git(['checkout', '--quiet', '--force', '--detach', tip], worktree);
    // Rebased commits keep their author; their committer is this rig's refinery, whoever started the worker.
    const r = await runGit(['-c', `user.name=${rig}/refinery`, '-c', `user.email=${rig}.refinery@gastown.local`, 'rebase', '--quiet', onto], worktree);
    if (r.code === 0) return { ok: true, sha: await git(['rev-parse', 'HEAD'], worktree) };
    const conflicted = (await runGit(['diff', '--name-only', '--diff-filter=U'], worktree)).stdout.trim().split('\n').filter(Boolean);
    await runGit(['rebase', '--abort'], worktree);
    return { ok: false, where: conflicted.length ? `conflicting files: ${conflicted.join(', ')}` : gitMessage(r) };
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
      const townMq = town.merge_queue ?? {};
      const size = mq.batch_size ?? townMq.batch_size ?? 'adaptive';
      const whole = (v: unknown, fallback: number) => (Number.isInteger(v) && (v as number) >= 1 ? (v as number) : fallback);
      return {
        heartbeatTimeout: rigSettings.thresholds?.heartbeat_timeout ?? town.thresholds?.heartbeat_timeout ?? '30s',
        historyLimit: Number.isFinite(limit) && limit >= 10 ? limit : DEFAULT_HISTORY_LIMIT,
        mergeTimeoutMs: testMs + MERGE_OVERHEAD_MS,
        batchSize: size === 'adaptive' ? 'adaptive' : whole(size, 1),
        maxBatchSize: whole(mq.max_batch_size ?? townMq.max_batch_size, DEFAULT_MAX_BATCH),
        maxConcurrent: whole(mq.max_concurrent ?? townMq.max_concurrent, DEFAULT_MAX_CONCURRENT),
        testTimeoutMs: testMs,
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
      await recordMerged(rig, [{ mr, sha }], defaultBranch);
    },

    /**
     * After a batch's push: each bead closed with its own commit, then per bead the dispatcher
     * released and its convoys told, then every branch deleted (one push). Idempotent.
     */
    async refineryRecordMergedBatch(rig: string, key: string, items: { mr: MergeRequest; sha: string }[], defaultBranch: string): Promise<void> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        await recordMerged(rig, items, defaultBranch);
        remove(batchFiles(rig, key).marker);
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * A batch's candidate: the requests rebased one after another, in arrival order, onto the
     * default branch as the remote has it. Per request, before any test: a bead or branch that is
     * gone, a branch with nothing to merge, or one that conflicts with the default branch is
     * sent back; one clean on the default branch that conflicts only with a request ahead of it
     * waits for the next batch (that request may yet be sent back). The candidate is kept under
     * refs/gt/batch/<key> until the batch is done. Safe to run again: it starts over.
     */
    async refineryPrepareBatch(rig: string, key: string, mrs: MergeRequest[]): Promise<PreparedBatch> {
      return withSlot(rig, 0, async () => {
        const { defaultBranch, worktree, repo } = rigEntry(rig);
        const locked = <T>(fn: () => Promise<T>) => withRepoLock(repo, fn);
        // The worktree is needed only to rebase a branch of more than one commit.
        let worktreeUsed = false;
        const rebase = (tip: string, onto: string) => locked(async () => {
          if (!worktreeUsed) await resetWorktree(worktree, defaultBranch);
          worktreeUsed = true;
          return rebaseOnto(rig, worktree, tip, onto);
        });
        try {
          const base = await locked(async () => {
            const old = (await runGit(['for-each-ref', '--format=%(refname)', BATCH_REFS], repo)).stdout.split('\n').filter(Boolean);
            for (const ref of old) await runGit(['update-ref', '-d', ref], repo);
            return fetchBase(repo, defaultBranch);
          });
          const trees = new Map<string, string>();
          const tips = await branchTips(repo, mrs.map((mr) => mr.branch));
          const since = await commitsSince(repo, base, [...tips.values()]);
          const out: PreparedBatch = { defaultBranch, base, accepted: [], rejected: [], deferred: [] };
          const gone = await missingBeads(mrs.map((mr) => mr.bead));
          let candidate = base;
          for (const mr of mrs) {
            Context.current().heartbeat();
            const reject = (kind: PreparedBatch['rejected'][number]['kind'], reason: string) => void out.rejected.push({ bead: mr.bead, kind, reason });
            if (gone.has(mr.bead)) {
              reject('missing-bead', `bead ${mr.bead} is not in the ledger at ${gone.get(mr.bead)}`);
              continue;
            }
            const tip = tips.get(mr.branch);
            if (!tip) {
              reject('missing-branch', `branch ${mr.branch} does not exist in the rig's repository (nor on its remote)`);
              continue;
            }
            const commits = branchCommits(since, tip);
            if (!commits.length) {
              reject('empty', `branch ${mr.branch} has no commits that are not already on ${defaultBranch}: nothing to merge`);
              continue;
            }
            // The usual branch, one plain commit: replayed in the object store alone, no worktree, no lock.
            const single = commits.length === 1 && commits[0]!.parents.length === 1;
            const replay = (onto: string) => (single ? pickOnto(rig, repo, commits[0]!, onto, trees) : rebase(tip, onto));
            const onCandidate = await replay(candidate);
            if (onCandidate.ok && onCandidate.sha !== candidate) {
              out.accepted.push({ bead: mr.bead, sha: onCandidate.sha });
              candidate = onCandidate.sha;
              continue;
            }
            if (onCandidate.ok) {
              reject('empty', `branch ${mr.branch} has no changes that are not already on ${defaultBranch} or ahead of it in the merge queue: nothing to merge`);
              continue;
            }
            const onBase = candidate === base ? onCandidate : await replay(base);
            if (onBase.ok) {
              out.deferred.push(mr.bead);
              continue;
            }
            reject('conflict', `merge conflict: ${mr.branch} does not rebase cleanly onto ${defaultBranch} (${short(base)}); ${onBase.where}. Rebase onto ${defaultBranch}, resolve, commit and submit again.`);
          }
          if (candidate !== base) await git(['update-ref', `${BATCH_REFS}/${key}`, candidate], repo);
          return out;
        } finally {
          if (worktreeUsed) await locked(() => resetWorktree(worktree, defaultBranch));
        }
      });
    },

    /**
     * Run the rig's test command on a candidate commit in test slot `slot` (0: the refinery
     * worktree; others: worktrees of their own, so halves of a red batch are tested side by side).
     * A run an earlier attempt left (its worker died) is stopped and run again.
     */
    async refineryTestCandidate(rig: string, t: { key: string; sha: string; slot: number; beads: string[]; branch: string; base: string; defaultBranch: string }): Promise<TestOutcome> {
      return withSlot(rig, t.slot, async () => {
        const { repo } = rigEntry(rig);
        const settings = readRigSettings(root, rig).merge_queue ?? {};
        const command = settings.test_command?.trim();
        if (!command) return { ok: true };
        const { worktree } = slotPaths(rig, t.slot);
        const f = batchFiles(rig, t.key);
        stopLeftoverTest(f.testState(t.slot));
        await withRepoLock(repo, async () => {
          if (!existsSync(worktree)) {
            await runGit(['worktree', 'prune'], repo);
            await git(['worktree', 'add', '--quiet', '--force', '--detach', worktree, t.sha], repo);
          }
          await abortInProgress(worktree);
          await git(['checkout', '--quiet', '--force', '--detach', t.sha], worktree);
          await runGit(['clean', '-ffdq'], worktree);
        });
        mkdirSync(dirname(f.log(t.slot)), { recursive: true });
        writeFileSync(f.log(t.slot), '');
        const test = await runChild({
          shell: command,
          cwd: worktree,
          env: { ...testEnv(rig, t.beads.at(-1)!, t.branch), GT_BEADS: t.beads.join(' ') },
          logFile: f.log(t.slot),
          stateFile: f.testState(t.slot),
          timeoutMs: parseDuration(settings.test_timeout ?? DEFAULT_TEST_TIMEOUT),
        });
        if (!test.timedOut && test.code === 0) return { ok: true };
        const how = test.timedOut ? `timed out after ${settings.test_timeout ?? DEFAULT_TEST_TIMEOUT}` : test.code === null ? 'was killed' : `failed with exit code ${test.code}`;
        const ahead = t.beads.length > 1 ? ` after the ${t.beads.length - 1} request${t.beads.length > 2 ? 's' : ''} ahead of it in its batch (${t.beads.slice(0, -1).join(', ')})` : '';
        return { ok: false, reason: clip(`tests failed: \`${command}\` ${how} on ${t.branch} rebased onto ${t.defaultBranch} (${short(t.base)})${ahead}${test.tail ? `:\n${test.tail}` : ''}`) };
      });
    },

    /**
     * Fast-forward the remote's default branch from `base` to the candidate `sha` in one push.
     * Safe to run again after a worker died at any point: a marker written just before the push
     * tells a later attempt to look, and a push that happened is recognised and never repeated.
     * When the remote moved on (someone else pushed), nothing is pushed and the batch is redone.
     */
    async refineryPushBatch(rig: string, key: string, base: string, sha: string): Promise<PushOutcome> {
      return withSlot(rig, 0, async () => {
        const { defaultBranch, repo } = rigEntry(rig);
        const marker = batchFiles(rig, key).marker;
        return withRepoLock(repo, async () => {
          const now = await fetchBase(repo, defaultBranch);
          if (existsSync(marker)) {
            const pushed = JSON.parse(readFileSync(marker, 'utf8')) as { sha: string };
            if (await isAncestor(pushed.sha, now, repo)) return { pushed: true, alreadyPushed: true };
            remove(marker);
          }
          if (now !== base) return { pushed: false, reason: `${defaultBranch} moved on the remote (${short(base)} → ${short(now)}) while the batch was tested` };
          mkdirSync(dirname(marker), { recursive: true });
          writeFileSync(marker, JSON.stringify({ sha, base }) + '\n');
          const push = await runGit(['push', '--quiet', '--porcelain', 'origin', `${sha}:refs/heads/${defaultBranch}`], repo);
          if (push.code === 0) {
            await runGit(['update-ref', `refs/remotes/origin/${defaultBranch}`, sha], repo);
            await runGit(['update-ref', '-d', `${BATCH_REFS}/${key}`], repo);
            return { pushed: true, alreadyPushed: false };
          }
          remove(marker);
          const text = `${push.stdout}\n${push.stderr}`;
          if (/non-fast-forward|fetch first|\[rejected\]|stale info/.test(text)) {
            return { pushed: false, reason: `${defaultBranch} moved on the remote while the batch was pushed` };
          }
          throw new Error(`git push to origin ${defaultBranch} failed: ${gitMessage(push)}`);
        });
      });
    },

    /** Which of these beads are not in their ledger (the town's answer for a rig host home's merge queue). */
    async missingBeads(beads: string[]): Promise<[string, string][]> {
      return missingHere(beads);
    },

    /** After a rejection: the bead is open again, unassigned, with the reason as a comment. Idempotent. */
    async refineryRecordRejected(rig: string, mr: MergeRequest, reason: string): Promise<{ alreadyMerged?: string }> {
      const ledger = Ledger.open(ledgerDirForId(mr.bead, root));
      let alreadyMerged: string | undefined;
      await ledger.transactionAsync((tx) => {
        const bead = tx.lookup(mr.bead);
        if (!bead) return;
        // A request that came again after its work was merged (a retried gt done whose first
        // request the queue no longer remembers): its branch is gone because it was merged.
        // The bead stays closed and nothing goes back to the polecat.
        const meta = bead.metadata && typeof bead.metadata === 'object' ? (bead.metadata as Record<string, unknown>) : {};
        if (bead.status === 'closed' && meta.merged_branch === mr.branch && typeof meta.merged_sha === 'string') {
          alreadyMerged = meta.merged_sha;
          return;
        }
        const note = `Merge rejected by the ${rig} refinery (branch ${mr.branch}): ${reason}`;
        if (bead.comments?.at(-1)?.text !== note) tx.addComment(bead.id, note);
        if (bead.status === 'closed') tx.reopen(bead.id, 'merge rejected');
        tx.update(bead.id, { status: 'open', assignee: null });
      }, { actor: `${rig}/refinery` });
      if (alreadyMerged) return { alreadyMerged };
      event('merge.rejected', { actor: `${rig}/refinery`, rig, bead: mr.bead, branch: mr.branch, detail: reason.split('\n')[0] });
      // Still its polecat's: the refinery tells the polecat next, which reworks it.
      await tell([mr.bead], `merge rejected: ${reason.split('\n')[0]}`, { inFlight: [mr.bead] });
      return {};
    },
  };
}
