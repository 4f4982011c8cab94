import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { gitSync, withRepoLockSync, worktreeGitDir } from '../activities/git.js';
import { Ledger } from '../beads/ledger.js';
import { GtError } from '../errors.js';
import { readJsonFile, rigPaths, townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { checkSettings } from './settings.js';
import { ok, problem, type CheckResult, type DoctorContext } from './types.js';

/** The town on disk: its layout, settings, and each rig's bare repository, worktrees and branches. */

function git(args: string[], cwd: string): { out?: string; err?: string } {
  try {
    return { out: gitSync(args, cwd) };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { err: (e.stderr?.trim() || e.message).split('\n').filter((l) => l && !l.startsWith('hint:')).slice(-2).join(' ') };
  }
}

function checkLayout(ctx: DoctorContext): CheckResult[] {
  const p = townPaths(ctx.root);
  const out: CheckResult[] = [];
  for (const file of [p.townJson, p.rigsJson]) {
    try {
      readJsonFile(file);
    } catch (err) {
      out.push(problem('town', 'layout', 'error', (err as GtError).message, `restore ${relative(ctx.root, file)} (from the town's git history, if it has one)`));
    }
  }
  if (!existsSync(join(p.beads, 'config.json')) || !existsSync(join(p.beads, 'issues.jsonl'))) {
    out.push(problem('town', 'layout', 'error', `the town's ledger ${relative(ctx.root, p.beads)}/ is missing its config.json or issues.jsonl`, 'restore .beads/ from git or a backup'));
  }
  const missingDirs = [p.gt, p.temporal, p.logs, p.run].filter((d) => !existsSync(d));
  if (missingDirs.length) {
    const shown = missingDirs.map((d) => relative(ctx.root, d)).join(', ');
    out.push(problem('town', 'layout', 'warning', `missing folder${missingDirs.length === 1 ? '' : 's'} ${shown}`, 'gt doctor --fix makes them', async () => {
      for (const d of missingDirs) mkdirSync(d, { recursive: true });
      return `made ${shown}`;
    }));
  }
  for (const rig of Object.keys(ctx.rigs)) {
    const r = rigPaths(ctx.root, rig);
    const missing = [r.dir, r.config, r.repo, join(r.beads, 'issues.jsonl'), r.refinery, r.polecats].filter((f) => !existsSync(f));
    if (missing.length) {
      out.push(problem('town', 'layout', 'error', `rig ${rig} is missing ${missing.map((f) => relative(ctx.root, f)).join(', ')}`, `restore them, or remove the rig from mayor/rigs.json and add it again with gt rig add ${rig} ${ctx.rigs[rig]!.git_url}`));
    }
  }
  if (out.length === 0) out.push(ok('town', 'layout', `town files, ledger and .gt folders in place; ${Object.keys(ctx.rigs).length} rig${Object.keys(ctx.rigs).length === 1 ? '' : 's'} checked`));
  return out;
}

function checkRepo(ctx: DoctorContext, rig: string): CheckResult {
  const name = `repository of ${rig}`;
  const repo = rigPaths(ctx.root, rig).repo;
  const shown = relative(ctx.root, repo);
  const entry = ctx.rigs[rig]!;
  const bare = git(['rev-parse', '--is-bare-repository'], repo);
  if (bare.out !== 'true') {
    return problem('town', name, 'error', `${shown} is not a bare git repository${bare.err ? ` (${bare.err})` : ''}`, `restore it: git clone --bare ${entry.git_url} ${shown}`);
  }
  const branch = entry.default_branch;
  const remote = git(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}^{commit}`], repo);
  if (!remote.out) {
    return problem('town', name, 'error', `${shown} has no origin/${branch} (the rig's default branch in mayor/rigs.json)`, `git -C ${shown} fetch origin; if ${entry.git_url} has no branch ${branch}, set the right default_branch in mayor/rigs.json`);
  }
  const head = git(['symbolic-ref', '--short', 'HEAD'], repo);
  const headNote = head.out && head.out !== branch ? `; its HEAD names ${head.out}, not ${branch}` : '';
  return ok('town', name, `bare repository, default branch ${branch} at ${remote.out.slice(0, 8)}${headNote}`);
}

interface Worktree {
  path: string;
  branch?: string;
  prunable: boolean;
}

function worktrees(repo: string): Worktree[] {
  const out: Worktree[] = [];
  let cur: Worktree | undefined;
  for (const line of (git(['worktree', 'list', '--porcelain'], repo).out ?? '').split('\n')) {
    if (line.startsWith('worktree ')) {
      cur = { path: resolve(line.slice(9)), prunable: false };
      out.push(cur);
    } else if (cur && line.startsWith('branch refs/heads/')) cur.branch = line.slice(18);
    else if (cur && line.startsWith('prunable')) cur.prunable = true;
  }
  return out;
}

function folders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function checkWorktrees(ctx: DoctorContext, rig: string): CheckResult[] {
  const name = `worktrees of ${rig}`;
  const r = rigPaths(ctx.root, rig);
  if (!existsSync(r.repo)) return [];
  const list = worktrees(r.repo);
  const out: CheckResult[] = [];
  const gone = list.filter((w) => w.prunable || !existsSync(w.path));
  if (gone.length) {
    const shown = gone.map((w) => relative(ctx.root, w.path)).join(', ');
    out.push(problem('town', name, 'warning', `the repository still lists worktree${gone.length === 1 ? '' : 's'} whose folder is gone: ${shown}`, 'gt doctor --fix prunes them (git worktree prune)', async () => {
      withRepoLockSync(r.repo, () => gitSync(['worktree', 'prune'], r.repo));
      return `pruned the stale worktree${gone.length === 1 ? '' : 's'} ${shown} from ${relative(ctx.root, r.repo)}`;
    }));
  }
  const registered = new Set(list.filter((w) => existsSync(w.path)).map((w) => realpathSync(w.path)));
  const polecats = folders(r.polecats);
  for (const polecat of polecats) {
    const dir = resolve(r.polecats, polecat);
    const gitDir = worktreeGitDir(dir);
    if (registered.has(realpathSync(dir)) && gitDir) continue;
    out.push(problem('town', name, 'error', `polecat folder ${relative(ctx.root, dir)} is not a worktree of ${relative(ctx.root, r.repo)}${gitDir ? '' : ' (it has no .git)'}: a polecat cannot work there`, `look inside for work to keep, then gt polecat nuke ${rig}/${polecat}`));
  }
  if (out.length === 0) out.push(ok('town', name, `${polecats.length} polecat worktree${polecats.length === 1 ? '' : 's'}, all registered in the repository`));
  return out;
}

function beadStatus(ctx: DoctorContext, id: string): string | undefined {
  try {
    return Ledger.open(ledgerDirForId(id, ctx.root)).tryGet(id)?.status;
  } catch {
    return undefined;
  }
}

/** `polecat/<name>/<bead>` branches of the rig's repository whose bead is closed: left behind (a merge deletes its branch). */
function checkBranches(ctx: DoctorContext, rig: string): CheckResult[] {
  const name = `branches of ${rig}`;
  const repo = rigPaths(ctx.root, rig).repo;
  if (!existsSync(repo)) return [];
  const refs = (git(['for-each-ref', '--format=%(refname:lstrip=2) %(objectname)', 'refs/heads/polecat/'], repo).out ?? '').split('\n').filter(Boolean);
  const checkedOut = new Map(worktrees(repo).filter((w) => w.branch).map((w) => [w.branch!, w.path]));
  const out: CheckResult[] = [];
  let count = 0;
  for (const line of refs) {
    const [branch, sha] = line.split(' ') as [string, string];
    const m = /^polecat\/[^/]+\/(.+)$/.exec(branch);
    if (!m) continue;
    count++;
    const bead = m[1]!;
    const status = beadStatus(ctx, bead);
    if (status === undefined) {
      out.push(problem('town', name, 'warning', `branch ${branch} names bead ${bead}, which is in no ledger of this town`, `keep it if it holds work; else git -C ${relative(ctx.root, repo)} branch -D ${branch}`));
      continue;
    }
    if (status !== 'closed') continue;
    const where = checkedOut.get(branch);
    if (where) {
      out.push(problem('town', name, 'warning', `branch ${branch} of closed bead ${bead} is still checked out in ${relative(ctx.root, where)}`, `when that polecat moves on, gt doctor --fix deletes the branch`));
      continue;
    }
    out.push(problem('town', name, 'warning', `branch ${branch} is left over: bead ${bead} is closed`, 'gt doctor --fix deletes it (the message says how to restore it)', async () => {
      const deleted = withRepoLockSync(repo, () => {
        // Looked at again under the lock: a polecat may have taken the branch meanwhile.
        if (worktrees(repo).some((w) => w.branch === branch) || beadStatus(ctx, bead) !== 'closed') return false;
        gitSync(['branch', '-D', branch], repo);
        return true;
      });
      return deleted
        ? `deleted branch ${branch} of closed bead ${bead} (was ${sha.slice(0, 12)}; restore with git -C ${relative(ctx.root, repo)} branch ${branch} ${sha})`
        : `kept branch ${branch}: it is in use again`;
    }));
  }
  if (out.length === 0) out.push(ok('town', name, `${count} polecat branch${count === 1 ? '' : 'es'}, none of a closed bead`));
  return out;
}

export function checkTown(ctx: DoctorContext): CheckResult[] {
  const out = [...checkLayout(ctx), ...checkSettings(ctx)];
  for (const rig of Object.keys(ctx.rigs)) {
    if (!existsSync(rigPaths(ctx.root, rig).repo)) continue;
    out.push(checkRepo(ctx, rig), ...checkWorktrees(ctx, rig), ...checkBranches(ctx, rig));
  }
  return out;
}
