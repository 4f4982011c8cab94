import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { gitEnv, gitSync as git } from '../activities/git.js';
import { initLedger } from '../beads/ledger.js';
import { GtError, usageError } from '../errors.js';
import { withLockSync } from '../lock.js';
import {
  HQ_PREFIX,
  isDirectory,
  readJsonFile,
  readRigs,
  rigPaths,
  townPaths,
  writeJsonFile,
  type RigEntry,
  type RigsJson,
} from './layout.js';
import { writeRigSettings } from './settings.js';

/** `<rig>/config.json`: the rig's identity. */
export interface RigConfig {
  type: 'rig';
  version: number;
  name: string;
  git_url: string;
  default_branch: string;
  prefix: string;
}

/** One rig as `gt rig list` shows it. */
export interface RigInfo extends RigEntry {
  name: string;
  path: string;
  polecats: number;
  crew: number;
}

export interface AddRigOptions {
  name: string;
  gitUrl: string;
  prefix?: string;
  branch?: string;
  /** Where a relative local path in `gitUrl` is resolved from (default: process.cwd()). */
  cwd?: string;
  /** Called with a one-line progress message before slow steps (clone, fetch). */
  progress?: (message: string) => void;
}

export interface CrewInfo {
  name: string;
  rig: string;
  path: string;
  branch?: string;
}

/**
 * Names a rig may not take: `hq` is the town ledger's prefix and alias in the original; the others
 * are folders the town itself keeps at its top level, which a rig folder would collide with.
 */
export const RESERVED_RIG_NAMES: readonly string[] = ['hq', 'mayor', 'settings', 'deacon', 'plugins'];

/** Rig and crew names become folder names and parts of agent addresses (`<rig>/crew/<name>`). */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const NAME_MAX = 64;

/** Bead ids are `<prefix>-<hash>`; a prefix without '-' keeps id → ledger routing unambiguous. */
const PREFIX_RE = /^[a-z][a-z0-9]{0,15}$/;

function checkName(kind: 'rig' | 'crew', name: string): void {
  const example = kind === 'rig' ? 'gt rig add my_project <git-url>' : 'gt crew add alice --rig <rig>';
  if (!name || !name.trim()) throw usageError(`${kind} name is empty`, `give a name, e.g. \`${example}\``);
  if (name.includes('/') || name.includes('\\')) {
    throw usageError(`${kind} name "${name}" contains a path separator`, `a ${kind} name is one folder name, e.g. \`${example}\``);
  }
  if (name.includes('..')) throw usageError(`${kind} name "${name}" contains ".."`, `use letters, digits, '_' and '-' only`);
  if (/\s/.test(name)) throw usageError(`${kind} name "${name}" contains whitespace`, `use '_' or '-' instead of spaces`);
  if (name.length > NAME_MAX) throw usageError(`${kind} name "${name}" is longer than ${NAME_MAX} characters`);
  if (!NAME_RE.test(name)) {
    throw usageError(`${kind} name "${name}" may hold only letters, digits, '_' and '-', and must start with a letter or digit`);
  }
}

/** Throws a usage error unless `name` can be a new rig's name (format and reserved words only). */
export function validateRigName(name: string): void {
  checkName('rig', name);
  if (RESERVED_RIG_NAMES.includes(name.toLowerCase())) {
    throw usageError(`rig name "${name}" is reserved for the town itself`, `reserved names: ${RESERVED_RIG_NAMES.join(', ')}`);
  }
}

export function validateCrewName(name: string): void {
  checkName('crew', name);
}

/** Split "myProject" → ["my", "Project"], "HTMLParser" → ["HTML", "Parser"]. */
function splitCamelCase(word: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 1; i < word.length; i++) {
    const prev = word[i - 1]!;
    const cur = word[i]!;
    const lowerToUpper = /[a-z0-9]/.test(prev) && /[A-Z]/.test(cur);
    const acronymEnd = i >= 2 && /[A-Z]/.test(prev) && /[A-Z]/.test(word[i - 2]!) && /[a-z]/.test(cur);
    if (lowerToUpper) {
      parts.push(word.slice(start, i));
      start = i;
    } else if (acronymEnd) {
      parts.push(word.slice(start, i - 1));
      start = i - 1;
    }
  }
  parts.push(word.slice(start));
  return parts.filter(Boolean);
}

/**
 * The bead-id prefix a rig gets when `--prefix` is not given, following the original Gas Town:
 * a language suffix (`-py`, `-go`) is ignored; a name of several words (split on '-', '_' or
 * camelCase) gives the initials ("my-project" → "mp", "gasTown" → "gt"); a single word of at
 * most three letters is kept whole ("api" → "api"); a longer one gives its first two letters
 * ("myrig" → "my"). Always lower-case.
 */
export function derivePrefix(name: string): string {
  let stem = name;
  for (const suffix of ['-py', '-go']) {
    if (stem.toLowerCase().endsWith(suffix) && stem.length > suffix.length) stem = stem.slice(0, -suffix.length);
  }
  let parts = stem.split(/[-_]+/).filter(Boolean);
  if (parts.length === 1) parts = splitCamelCase(parts[0]!);
  if (parts.length >= 2) return parts.map((p) => p[0]!).join('').toLowerCase();
  const word = parts[0] ?? stem;
  return (word.length <= 3 ? word : word.slice(0, 2)).toLowerCase();
}

/** Throws unless `prefix` is a well-formed bead-id prefix that is neither `hq` nor taken by another rig. */
export function checkPrefix(prefix: string, rigs: RigsJson, forRig: string, derived: boolean): void {
  const how = derived ? `derived from the rig name "${forRig}"` : 'given with --prefix';
  const fix = derived ? 'choose one with --prefix <p>' : 'choose another --prefix';
  if (!PREFIX_RE.test(prefix)) {
    throw usageError(
      `bead prefix "${prefix}" (${how}) is not valid: it must be 1-16 lower-case letters or digits, starting with a letter`,
      derived ? 'choose one with --prefix <p>, e.g. --prefix ab' : 'e.g. --prefix ab',
    );
  }
  if (prefix === HQ_PREFIX) {
    throw usageError(`bead prefix "${prefix}" (${how}) belongs to the town's own ledger`, fix);
  }
  for (const [name, entry] of Object.entries(rigs.rigs)) {
    if (name !== forRig && entry.prefix === prefix) {
      throw new GtError(`bead prefix "${prefix}" (${how}) is already used by rig "${name}"`, { hint: fix, exitCode: derived ? 1 : 2 });
    }
  }
}

/**
 * Git accepts URLs with a scheme, scp-like `host:path`, and local paths. A local path is made
 * absolute (against `cwd`) so later clones made from other folders find the same repository.
 */
export function normalizeGitUrl(url: string, cwd: string = process.cwd()): string {
  const trimmed = url.trim();
  if (!trimmed) throw usageError('git URL is empty', 'give a URL or a path, e.g. `gt rig add myrig https://host/repo.git`');
  if (/[\0\r\n]/.test(trimmed)) throw usageError('git URL contains a control character');
  if (trimmed.startsWith('-')) throw usageError(`git URL "${trimmed}" starts with '-'`, 'give a URL or a path (prefix a relative path with ./)');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(trimmed)) return trimmed;
  // Git's own rule: a colon before the first slash means scp-like ssh syntax (user@host:repo).
  const colon = trimmed.indexOf(':');
  const slash = trimmed.indexOf('/');
  if (colon > 0 && (slash === -1 || colon < slash)) return trimmed;
  const path = resolve(cwd, trimmed);
  if (!existsSync(path)) {
    throw new GtError(`no repository at ${path} (the git URL "${trimmed}" is a local path that does not exist)`, {
      hint: 'check the path, or give a URL such as https://host/owner/repo.git or file:///path/to/repo.git',
    });
  }
  return path;
}

function gitOk(args: string[], cwd?: string): boolean {
  try {
    git(args, cwd);
    return true;
  } catch {
    return false;
  }
}

/** Git's last meaningful stderr line: what went wrong, without its progress chatter. */
function gitFailure(err: unknown): string {
  const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('hint:'));
  const fatal = lines.filter((l) => /^(fatal|error):/.test(l));
  return (fatal.length ? fatal.join('; ') : lines.slice(-2).join('; ')) || (err as Error).message;
}

function rigsLockPath(root: string): string {
  return townPaths(root).rigsJson + '.lock';
}

/** Read-modify-write of mayor/rigs.json under a cross-process lock, so concurrent adds all land. */
export function updateRigs<T>(root: string, fn: (rigs: RigsJson) => T): T {
  return withLockSync(rigsLockPath(root), () => {
    const rigs = readRigs(root);
    const result = fn(rigs);
    writeJsonFile(townPaths(root).rigsJson, rigs);
    return result;
  }, { what: 'mayor/rigs.json' });
}

export function requireRig(root: string, name: string): RigEntry {
  const rigs = readRigs(root).rigs;
  const entry = rigs[name];
  if (!entry) {
    const known = Object.keys(rigs);
    throw new GtError(`no rig named "${name}" in this town`, {
      hint: known.length ? `known rigs: ${known.join(', ')}` : 'add one with `gt rig add <name> <git-url>`',
    });
  }
  return entry;
}

/** The rig whose folder holds `cwd`, if any. */
export function rigForCwd(root: string, cwd: string = process.cwd()): string | undefined {
  const rel = relative(root, resolve(cwd));
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  const first = rel.split(sep)[0]!;
  return first in readRigs(root).rigs ? first : undefined;
}

function countSubfolders(dir: string): number {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).length;
  } catch {
    return 0;
  }
}

function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

export function listRigs(root: string): RigInfo[] {
  const rigs = readRigs(root).rigs;
  return Object.keys(rigs).sort().map((name) => {
    const p = rigPaths(root, name);
    return { name, ...rigs[name]!, path: p.dir, polecats: countSubfolders(p.polecats), crew: countSubfolders(p.crew) };
  });
}

/** While a slow, folder-creating step runs, note an interrupt so the half-made folder is removed. */
function trapInterrupts(): { interrupted: () => NodeJS.Signals | undefined; release: () => void } {
  let caught: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    caught = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    interrupted: () => caught,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function isTownGitRepo(root: string): boolean {
  return existsSync(join(root, '.git'));
}

/** Commit `paths` (relative to the town) in a `gt install --git` town; other staged work is left alone. */
function commitToTownGit(root: string, paths: string[], message: string): void {
  const run = (args: string[]) => git(['-c', 'user.name=gt', '-c', 'user.email=gt@localhost', ...args], root);
  // Other gt processes commit ledger changes to the same repository; wait out their index lock.
  for (let attempt = 0; ; attempt++) {
    try {
      run(['add', '--', ...paths]);
      run(['commit', '-q', '--no-verify', '-m', message, '--', ...paths]);
      return;
    } catch (err) {
      if (attempt < 20 && /index\.lock/.test(gitFailure(err))) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 + Math.random() * 200);
        continue;
      }
      throw err;
    }
  }
}

/**
 * `gt rig add`: bare clone, default branch, rig ledger, refinery worktree, config files and the
 * entry in mayor/rigs.json (which also routes the rig's bead ids). All checks run before anything
 * is created; if a later step fails the half-made rig folder is removed and rigs.json is untouched.
 */
export function addRig(root: string, opts: AddRigOptions): RigInfo {
  const { name } = opts;
  validateRigName(name);
  const current = readRigs(root);
  if (current.rigs[name]) {
    throw new GtError(`rig "${name}" already exists (git_url ${current.rigs[name]!.git_url})`, {
      hint: 'choose another name, or use the existing rig',
    });
  }
  const p = rigPaths(root, name);
  if (existsSync(p.dir)) {
    throw new GtError(`${p.dir} already exists but is not a registered rig`, { hint: 'choose another name, or move that folder away' });
  }
  const derived = opts.prefix === undefined;
  const prefix = derived ? derivePrefix(name) : opts.prefix!.trim().replace(/-+$/, '');
  checkPrefix(prefix, current, name, derived);
  if (opts.branch !== undefined && (!opts.branch.trim() || !gitOk(['check-ref-format', '--branch', opts.branch]))) {
    throw usageError(`"${opts.branch}" is not a valid branch name`, 'pass the name of an existing branch of the remote, e.g. --branch main');
  }
  const gitUrl = normalizeGitUrl(opts.gitUrl, opts.cwd);

  // Creating the folder is the name reservation: a concurrent add of the same name fails here.
  try {
    mkdirSync(p.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new GtError(`${p.dir} already exists`, { hint: 'another `gt rig add` may be creating this rig right now' });
    }
    throw err;
  }
  const trap = trapInterrupts();
  try {
    const defaultBranch = cloneRepo(gitUrl, p.repo, opts.branch, opts.progress);
    if (trap.interrupted()) throw new GtError(`interrupted (${trap.interrupted()})`);
    mkdirSync(join(p.dir, 'refinery'), { recursive: true });
    try {
      git(['worktree', 'add', '--quiet', p.refinery, defaultBranch], p.repo);
    } catch (err) {
      throw new GtError(`could not create the refinery worktree: ${gitFailure(err)}`);
    }
    initLedger(p.beads, prefix);
    const config: RigConfig = { type: 'rig', version: 1, name, git_url: gitUrl, default_branch: defaultBranch, prefix };
    writeJsonFile(p.config, config);
    writeRigSettings(root, name, { type: 'rig-settings', version: 1 });
    mkdirSync(p.polecats, { recursive: true });
    mkdirSync(p.crew, { recursive: true });
    if (trap.interrupted()) throw new GtError(`interrupted (${trap.interrupted()})`);

    const entry: RigEntry = { git_url: gitUrl, default_branch: defaultBranch, prefix, added_at: new Date().toISOString() };
    withLockSync(rigsLockPath(root), () => {
      const rigs = readRigs(root);
      // Re-checked under the lock: another add may have taken the prefix while we were cloning.
      checkPrefix(prefix, rigs, name, derived);
      if (rigs.rigs[name]) throw new GtError(`rig "${name}" was added by another process meanwhile`);
      rigs.rigs[name] = entry;
      writeJsonFile(townPaths(root).rigsJson, rigs);
      if (isTownGitRepo(root)) {
        // Still under the lock, so two adds do not race on the town's git index.
        const files = [p.config, p.settings, p.beads, townPaths(root).rigsJson].map((f) => relative(root, f));
        try {
          commitToTownGit(root, files, `gt rig add ${name}: ${gitUrl}`);
        } catch (err) {
          process.stderr.write(`warning: rig "${name}" was added but could not be committed to the town's git: ${gitFailure(err)}\n`);
        }
      }
    }, { what: 'mayor/rigs.json' });
    return { name, ...entry, path: p.dir, polecats: 0, crew: 0 };
  } catch (err) {
    rmSync(p.dir, { recursive: true, force: true });
    throw err;
  } finally {
    trap.release();
  }
}

/**
 * Bare-clone `url` into `repoDir` and make it a fetching mirror: remote-tracking refs under
 * refs/remotes/origin (so worktrees branch from a fresh origin/<default> and the merge queue can
 * push), origin/HEAD, and HEAD on the default branch. Returns the default branch.
 */
export function cloneRepo(url: string, repoDir: string, branch: string | undefined, progress?: (m: string) => void): string {
  progress?.(`Cloning ${url} ...`);
  try {
    execFileSync('git', ['clone', '--bare', '--quiet', '--', url, repoDir], { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new GtError(`could not clone ${url}: ${gitFailure(err)}`, {
      hint: 'check the URL and that you can reach it (e.g. `git ls-remote <url>`); credentials must work without a prompt',
    });
  }
  if (!git(['for-each-ref', '--count=1', '--format=%(refname)', 'refs/heads'], repoDir)) {
    throw new GtError(`repository ${url} is empty (no branches)`, { hint: 'push at least one commit to it, then add the rig' });
  }
  git(['config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'], repoDir);
  // Worktrees of this repository commit as the rig unless an agent sets its own identity.
  git(['config', 'user.name', 'Gas Town'], repoDir);
  git(['config', 'user.email', 'gt@localhost'], repoDir);
  progress?.('Fetching remote-tracking branches ...');
  try {
    git(['fetch', '--quiet', '--prune', 'origin'], repoDir);
  } catch (err) {
    throw new GtError(`could not fetch from ${url}: ${gitFailure(err)}`);
  }
  let defaultBranch: string;
  if (branch !== undefined) {
    if (!gitOk(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}^{commit}`], repoDir)) {
      const branches = git(['for-each-ref', '--format=%(refname:lstrip=3)', 'refs/remotes/origin'], repoDir).split('\n').filter((b) => b && b !== 'HEAD');
      throw usageError(`branch "${branch}" does not exist on ${url}`, `its branches: ${branches.join(', ')}`);
    }
    defaultBranch = branch;
  } else {
    // A bare clone points HEAD at the remote's HEAD: that is the remote's default branch.
    let head = '';
    try {
      head = git(['symbolic-ref', '--short', 'HEAD'], repoDir);
    } catch {
      head = '';
    }
    if (!head || !gitOk(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${head}^{commit}`], repoDir)) {
      throw new GtError(`cannot tell the default branch of ${url} (its HEAD points to no branch)`, { hint: 'pass --branch <name>' });
    }
    defaultBranch = head;
  }
  git(['symbolic-ref', 'HEAD', `refs/heads/${defaultBranch}`], repoDir);
  git(['symbolic-ref', 'refs/remotes/origin/HEAD', `refs/remotes/origin/${defaultBranch}`], repoDir);
  git(['update-ref', `refs/heads/${defaultBranch}`, `refs/remotes/origin/${defaultBranch}`], repoDir);
  git(['config', `branch.${defaultBranch}.remote`, 'origin'], repoDir);
  git(['config', `branch.${defaultBranch}.merge`, `refs/heads/${defaultBranch}`], repoDir);
  return defaultBranch;
}

export function readRigConfig(root: string, rig: string): RigConfig {
  return readJsonFile<RigConfig>(rigPaths(root, rig).config);
}

/**
 * `gt crew add`: a person's own full clone of the rig's remote at `<rig>/crew/<name>`, on the
 * default branch, with origin = the rig's git_url and a git identity naming the crew member.
 */
export function addCrew(root: string, opts: { name: string; rig: string; progress?: (m: string) => void }): CrewInfo {
  const { name, rig } = opts;
  validateCrewName(name);
  const entry = requireRig(root, rig);
  const p = rigPaths(root, rig);
  const dir = join(p.crew, name);
  if (existsSync(dir)) throw new GtError(`crew member "${name}" already exists in rig "${rig}" (${dir})`, { hint: 'choose another name' });
  mkdirSync(p.crew, { recursive: true });
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new GtError(`${dir} already exists`);
    throw err;
  }
  const trap = trapInterrupts();
  try {
    opts.progress?.(`Cloning ${entry.git_url} into ${relative(root, dir)} ...`);
    // Borrow objects from the rig's bare clone, then copy them so the clone stands alone.
    const reference = isDirectory(p.repo) ? ['--reference-if-able', p.repo, '--dissociate'] : [];
    try {
      execFileSync('git', ['clone', '--quiet', '--branch', entry.default_branch, ...reference, '--', entry.git_url, dir], {
        env: gitEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      throw new GtError(`could not clone ${entry.git_url}: ${gitFailure(err)}`, { hint: 'check that the rig\'s remote is reachable (`git ls-remote <url>`)' });
    }
    if (trap.interrupted()) throw new GtError(`interrupted (${trap.interrupted()})`);
    git(['config', 'user.name', name], dir);
    git(['config', 'user.email', `${rig}.crew.${name}@gastown.local`], dir);
    return { name, rig, path: dir, branch: entry.default_branch };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    trap.release();
  }
}

export function listCrew(root: string, rig?: string): CrewInfo[] {
  const rigs = rig === undefined ? Object.keys(readRigs(root).rigs).sort() : (requireRig(root, rig), [rig]);
  const out: CrewInfo[] = [];
  for (const r of rigs) {
    for (const name of subfolders(rigPaths(root, r).crew)) {
      const path = join(rigPaths(root, r).crew, name);
      let branch: string | undefined;
      try {
        branch = git(['symbolic-ref', '--short', 'HEAD'], path);
      } catch {
        branch = undefined;
      }
      out.push({ name, rig: r, path, branch });
    }
  }
  return out;
}
