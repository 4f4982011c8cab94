import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PROJECT, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { ledgerDirForId } from '../../src/town/routes.js';

const IDENTITY = ['-c', 'user.name=test', '-c', 'user.email=test@localhost'];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...IDENTITY, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A bare "remote" whose HEAD is `head`, with one commit on it and one on a side branch. */
function makeRemote(base: string, name = 'remote', head = 'main'): { bare: string; work: string } {
  const work = join(base, `${name}-work`);
  mkdirSync(work);
  git(work, 'init', '-q', '-b', head);
  writeFileSync(join(work, 'README.md'), '# hello\n');
  git(work, 'add', 'README.md');
  git(work, 'commit', '-q', '-m', 'first');
  git(work, 'checkout', '-q', '-b', 'side');
  writeFileSync(join(work, 'side.txt'), 'side\n');
  git(work, 'add', 'side.txt');
  git(work, 'commit', '-q', '-m', 'side');
  git(work, 'checkout', '-q', head);
  const bare = join(base, `${name}.git`);
  git(base, 'clone', '-q', '--bare', work, bare);
  git(work, 'remote', 'add', 'origin', bare);
  return { bare, work };
}

function makeTown(base: string, opts: { git?: boolean } = {}): string {
  const r = runCli('gt', ['install', 'town', ...(opts.git ? ['--git'] : [])], { cwd: base });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return join(base, 'town');
}

const gt = (town: string, ...args: string[]) => runCli('gt', args, { cwd: town });
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** Everything a refused command must leave as it was. */
function snapshot(town: string) {
  return { rigs: readFileSync(join(town, 'mayor', 'rigs.json'), 'utf8'), entries: readdirSync(town).sort() };
}

describe('gt rig add', () => {
  it('adds a rig from a local path: bare clone that fetches, ledger, refinery worktree, config, rigs.json', () => {
    const base = tempDir();
    const { bare, work } = makeRemote(base);
    const town = makeTown(base);
    const r = gt(town, 'rig', 'add', 'my-project', bare, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ name: 'my-project', git_url: bare, default_branch: 'main', prefix: 'mp', polecats: 0 });

    const rig = join(town, 'my-project');
    expect(readJson(join(rig, 'config.json'))).toEqual({ type: 'rig', version: 1, name: 'my-project', git_url: bare, default_branch: 'main', prefix: 'mp' });
    expect(readJson(join(rig, 'settings', 'config.json'))).toMatchObject({ type: 'rig-settings' });
    expect(readJson(join(rig, '.beads', 'config.json')).prefix).toBe('mp');
    const entry = readJson(join(town, 'mayor', 'rigs.json')).rigs['my-project'];
    expect(entry).toMatchObject({ git_url: bare, default_branch: 'main', prefix: 'mp' });
    expect(Number.isNaN(Date.parse(entry.added_at))).toBe(false);

    // The rig's prefix routes bead ids to its ledger from anywhere in the town.
    expect(ledgerDirForId('mp-abc12', town)).toBe(join(rig, '.beads'));

    // The refinery works on the default branch, in a worktree of the shared bare repository.
    const refinery = join(rig, 'refinery', 'rig');
    expect(readFileSync(join(refinery, 'README.md'), 'utf8')).toBe('# hello\n');
    expect(git(refinery, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(git(refinery, 'rev-parse', '--git-common-dir')).toBe(join(rig, '.repo.git'));

    // `git fetch` keeps remote-tracking refs current, so new worktrees branch from a fresh origin/main.
    const repo = join(rig, '.repo.git');
    expect(git(repo, 'config', 'remote.origin.fetch')).toBe('+refs/heads/*:refs/remotes/origin/*');
    expect(git(repo, 'rev-parse', '--abbrev-ref', 'origin/HEAD')).toBe('origin/main');
    writeFileSync(join(work, 'new.txt'), 'new\n');
    git(work, 'add', 'new.txt');
    git(work, 'commit', '-q', '-m', 'second');
    git(work, 'push', '-q', 'origin', 'main');
    git(repo, 'fetch', '-q', 'origin');
    expect(git(repo, 'rev-parse', 'origin/main')).toBe(git(work, 'rev-parse', 'HEAD'));
    expect(git(repo, 'rev-parse', 'origin/side')).toBe(git(work, 'rev-parse', 'side'));
  });

  it('adds a rig from a file:// URL with --prefix and --branch, and records it in a --git town', () => {
    const base = tempDir();
    const { bare } = makeRemote(base);
    const town = makeTown(base, { git: true });
    const url = pathToFileURL(bare).href;
    const r = gt(town, 'rig', 'add', 'proj', url, '--prefix', 'pj', '--branch', 'side');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Added rig proj \(prefix pj, branch side\)/);
    expect(readJson(join(town, 'proj', 'config.json'))).toMatchObject({ git_url: url, default_branch: 'side', prefix: 'pj' });
    expect(git(join(town, 'proj', 'refinery', 'rig'), 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('side');
    // Config and ledger are in the town's history; clones and worktrees are ignored; nothing is left uncommitted.
    const tracked = git(town, 'ls-files').split('\n');
    for (const f of ['proj/config.json', 'proj/settings/config.json', 'proj/.beads/config.json', 'mayor/rigs.json']) expect(tracked).toContain(f);
    expect(tracked.some((f) => f.startsWith('proj/.repo.git') || f.startsWith('proj/refinery'))).toBe(false);
    expect(git(town, 'log', '-1', '--format=%s')).toContain('gt rig add proj');
    expect(git(town, 'status', '--porcelain')).toBe('');
  });

  it('detects a default branch other than main from the remote HEAD', () => {
    const base = tempDir();
    const { bare } = makeRemote(base, 'remote', 'trunk');
    const town = makeTown(base);
    const r = gt(town, 'rig', 'add', 'tr', bare, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).default_branch).toBe('trunk');
  });

  it('resolves a relative local path against the current folder', () => {
    const base = tempDir();
    makeRemote(base);
    const town = makeTown(base);
    const r = gt(town, 'rig', 'add', 'rel', '../remote.git', '--json');
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).git_url).toBe(join(base, 'remote.git'));
  });

  it('two adds at once both land in rigs.json', async () => {
    const base = tempDir();
    const { bare } = makeRemote(base);
    const town = makeTown(base);
    const runAsync = (args: string[]) =>
      new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), ...args], { cwd: town });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    const results = await Promise.all(['alpha', 'beta', 'gamma'].map((n) => runAsync(['rig', 'add', n, bare, '--prefix', n.slice(0, 3)])));
    for (const r of results) expect(r.stderr).toBe('');
    expect(Object.keys(readJson(join(town, 'mayor', 'rigs.json')).rigs).sort()).toEqual(['alpha', 'beta', 'gamma']);
  });

  describe('refuses bad input with a clear message, a non-zero exit, and nothing created', () => {
    const base = tempDir();
    const { bare } = makeRemote(base);
    const emptyRemote = join(base, 'empty.git');
    git(base, 'init', '-q', '--bare', emptyRemote);
    const town = makeTown(base);
    expect(gt(town, 'rig', 'add', 'my-project', bare).code).toBe(0);
    mkdirSync(join(town, 'stray'));
    writeFileSync(join(town, 'stray', 'keep.txt'), 'mine');

    const cases: Array<[string, string[], RegExp]> = [
      ['an empty name', ['', bare], /name is empty/],
      ['a name with a slash', ['a/b', bare], /path separator/],
      ['a name with ..', ['..', bare], /contains "\.\."/],
      ['a name with a space', ['has space', bare], /whitespace/],
      ['the reserved name hq', ['hq', bare], /reserved/],
      ['the reserved name mayor', ['mayor', bare], /reserved/],
      ['an existing rig', ['my-project', bare], /rig "my-project" already exists/],
      ['an existing folder', ['stray', bare], /already exists but is not a registered rig/],
      ['a malformed prefix', ['okname', bare, '--prefix', 'Bad-Prefix'], /bead prefix "Bad-Prefix".*not valid/],
      ['the hq prefix', ['okname', bare, '--prefix', 'hq'], /town's own ledger/],
      ['a prefix another rig has', ['okname', bare, '--prefix', 'mp'], /already used by rig "my-project"/],
      ['a derived prefix another rig has', ['my-pad', bare], /"mp" \(derived from the rig name "my-pad"\) is already used/],
      ['an unreachable URL', ['okname', 'http://127.0.0.1:1/nothing.git'], /could not clone http:\/\/127\.0\.0\.1:1\/nothing\.git/],
      ['a missing local path', ['okname', join(base, 'no-such-repo')], /no repository at .*no-such-repo/],
      ['a missing file:// repository', ['okname', pathToFileURL(join(base, 'gone.git')).href], /could not clone file:/],
      ['an empty repository', ['okname', emptyRemote], /is empty \(no branches\)/],
      ['a branch the remote lacks', ['okname', bare, '--branch', 'nope'], /branch "nope" does not exist.*\n.*main, side/],
      ['a malformed branch name', ['okname', bare, '--branch', 'a..b'], /not a valid branch name/],
      ['an option-like URL', ['okname', '--', '--upload-pack=touch'], /starts with '-'/],
    ];
    it.each(cases)('%s', (_what, args, message) => {
      const before = snapshot(town);
      const r = gt(town, 'rig', 'add', ...args);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.code).not.toBe(0);
      expect(snapshot(town)).toEqual(before);
      expect(readFileSync(join(town, 'stray', 'keep.txt'), 'utf8')).toBe('mine');
    });

    it('outside a town', () => {
      const r = gt(tempDir(), 'rig', 'add', 'x', bare);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/not inside a Gas Town town/);
    });
  });
});

describe('gt rig list', () => {
  it('shows name, prefix, git url, default branch and polecat count', () => {
    const base = tempDir();
    const { bare } = makeRemote(base);
    const town = makeTown(base);
    expect(JSON.parse(gt(town, 'rig', 'list', '--json').stdout)).toEqual([]);
    expect(gt(town, 'rig', 'list').stdout).toMatch(/No rigs yet/);
    gt(town, 'rig', 'add', 'backend', bare);
    gt(town, 'rig', 'add', 'api', pathToFileURL(bare).href);
    mkdirSync(join(town, 'backend', 'polecats', 'nux'));
    mkdirSync(join(town, 'backend', 'polecats', 'furiosa'));
    const rigs = JSON.parse(gt(town, 'rig', 'list', '--json').stdout);
    expect(rigs.map((r: { name: string }) => r.name)).toEqual(['api', 'backend']);
    expect(rigs[1]).toMatchObject({ name: 'backend', prefix: 'ba', git_url: bare, default_branch: 'main', polecats: 2 });
    expect(rigs[0]).toMatchObject({ name: 'api', prefix: 'api', polecats: 0 });
    const text = gt(town, 'rig', 'list');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+PREFIX\s+BRANCH\s+POLECATS\s+GIT URL$/m);
    expect(text.stdout).toMatch(new RegExp(`^backend\\s+ba\\s+main\\s+2\\s+${bare.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });
});

describe('gt crew', () => {
  it('adds a full clone of the rig remote with a git identity, and lists it', () => {
    const base = tempDir();
    const { bare } = makeRemote(base);
    const town = makeTown(base);
    gt(town, 'rig', 'add', 'proj', bare);
    const r = gt(town, 'crew', 'add', 'alice', '--rig', 'proj', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const dir = join(town, 'proj', 'crew', 'alice');
    expect(JSON.parse(r.stdout)).toEqual({ name: 'alice', rig: 'proj', path: dir, branch: 'main' });
    expect(git(dir, 'remote', 'get-url', 'origin')).toBe(bare);
    expect(git(dir, 'config', '--local', 'user.name')).toBe('alice');
    expect(git(dir, 'config', '--local', 'user.email')).toMatch(/alice/);
    expect(existsSync(join(dir, '.git', 'objects', 'info', 'alternates'))).toBe(false);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# hello\n');
    // A full clone: every branch of the remote is there, and it can commit on its own.
    expect(git(dir, 'branch', '-r')).toContain('origin/side');
    writeFileSync(join(dir, 'x.txt'), 'x');
    execFileSync('git', ['add', 'x.txt'], { cwd: dir });
    execFileSync('git', ['commit', '-q', '-m', 'x'], { cwd: dir });

    // Inside a rig folder --rig may be left out.
    const bob = runCli('gt', ['crew', 'add', 'bob'], { cwd: join(town, 'proj') });
    expect(bob.code).toBe(0);
    expect(bob.stdout).toMatch(/Created crew member bob in rig proj/);

    const list = JSON.parse(gt(town, 'crew', 'list', '--json').stdout);
    expect(list.map((c: { rig: string; name: string }) => `${c.rig}/${c.name}`)).toEqual(['proj/alice', 'proj/bob']);
    expect(JSON.parse(gt(town, 'crew', 'list', '--rig', 'proj', '--json').stdout)).toHaveLength(2);
    expect(gt(town, 'crew', 'list').stdout).toMatch(/^proj\s+alice\s+main\s/m);
  });

  describe('refuses bad input with a clear message, a non-zero exit, and nothing created', () => {
    const base = tempDir();
    const { bare } = makeRemote(base);
    const town = makeTown(base);
    gt(town, 'rig', 'add', 'proj', bare);
    gt(town, 'crew', 'add', 'alice', '--rig', 'proj');
    const crewDir = join(town, 'proj', 'crew');

    const cases: Array<[string, string[], RegExp]> = [
      ['an empty name', ['', '--rig', 'proj'], /name is empty/],
      ['a name with a slash', ['a/b', '--rig', 'proj'], /path separator/],
      ['a name with ..', ['..', '--rig', 'proj'], /contains "\.\."/],
      ['a name with a space', ['bo b', '--rig', 'proj'], /whitespace/],
      ['an existing member', ['alice', '--rig', 'proj'], /"alice" already exists in rig "proj"/],
      ['an unknown rig', ['carol', '--rig', 'nope'], /no rig named "nope".*\n.*known rigs: proj/],
      ['no rig at the town level', ['carol'], /which rig\? pass --rig/],
    ];
    it.each(cases)('%s', (_what, args, message) => {
      const before = readdirSync(crewDir).sort();
      const r = gt(town, 'crew', 'add', ...args);
      expect(r.stderr).toMatch(message);
      expect(r.code).not.toBe(0);
      expect(readdirSync(crewDir).sort()).toEqual(before);
    });

    it('a rig whose remote is gone: clone failure, no folder left', () => {
      const base2 = tempDir();
      const { bare: bare2 } = makeRemote(base2);
      const town2 = makeTown(base2);
      gt(town2, 'rig', 'add', 'proj', bare2);
      execFileSync('rm', ['-rf', bare2]);
      const r = gt(town2, 'crew', 'add', 'dave', '--rig', 'proj');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/could not clone/);
      expect(readdirSync(join(town2, 'proj', 'crew'))).toEqual([]);
    });

    it('crew list of an unknown rig', () => {
      const r = gt(town, 'crew', 'list', '--rig', 'nope');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/no rig named "nope"/);
    });
  });
});
