import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { inject } from 'vitest';
import { runCli, tempDir, type CliResult } from './cli.js';

/**
 * A temp town wired to the test run's Temporal server, with short thresholds, and helpers to
 * run `gt`/`bd` in it. `stop()` stops its worker.
 */
export interface TestTown {
  root: string;
  env: Record<string, string>;
  gt(args: string[], opts?: { cwd?: string; env?: Record<string, string> }): CliResult;
  bd(args: string[], opts?: { cwd?: string; env?: Record<string, string> }): CliResult;
  bdJson<T = unknown>(args: string[], opts?: { cwd?: string }): T;
  writeFormula(name: string, toml: string): void;
  settings(patch: (s: Record<string, any>) => void): void;
  stop(): void;
}

export function makeTown(opts: { git?: boolean; external?: boolean } = {}): TestTown {
  const base = tempDir('gt-town-');
  const root = join(base, 'town');
  // A unique town name gives each test town its own task queue on the shared test server.
  const name = basename(base).replace(/[^A-Za-z0-9_.-]/g, '-');
  const install = runCli('gt', ['install', root, '--name', name, ...(opts.git ? ['--git'] : [])], { cwd: base });
  if (install.code !== 0) throw new Error(`gt install failed: ${install.stderr}`);
  const env: Record<string, string> = { BD_ACTOR: 'tester' };
  if (opts.external !== false) env.TEMPORAL_ADDRESS = inject('temporalAddress');
  const town: TestTown = {
    root,
    env,
    gt: (args, o = {}) => runCli('gt', args, { cwd: o.cwd ?? root, env: { ...env, ...o.env } }),
    bd: (args, o = {}) => runCli('bd', args, { cwd: o.cwd ?? root, env: { ...env, ...o.env } }),
    bdJson: (args, o = {}) => {
      const r = runCli('bd', [...args, '--json'], { cwd: o.cwd ?? root, env });
      if (r.code !== 0) throw new Error(`bd ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    writeFormula: (name, toml) => {
      mkdirSync(join(root, '.beads', 'formulas'), { recursive: true });
      writeFileSync(join(root, '.beads', 'formulas', `${name}.formula.toml`), toml);
    },
    settings: (patch) => {
      const file = join(root, 'settings', 'config.json');
      const s = JSON.parse(readFileSync(file, 'utf8'));
      patch(s);
      writeFileSync(file, JSON.stringify(s, null, 2));
    },
    stop: () => {
      runCli('gt', ['down'], { cwd: root, env });
    },
  };
  town.settings((s) => {
    s.thresholds = { ...s.thresholds, heartbeat_timeout: '3s', stall_timeout: '5s' };
  });
  return town;
}

/** Wait until `fn` returns a truthy value (polling), or throw after `timeoutMs`. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 60_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A town service's pid: the worker, its rig worker (the child serving the town's rigs), the embedded server. */
export function pidOf(root: string, service: 'worker' | 'worker-rigs' | 'temporal'): number {
  return Number(readFileSync(join(root, '.gt', 'run', `${service}.pid`), 'utf8').trim());
}

export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A bare "remote" repository on branch main with one commit holding `files` (default a README),
 * like a project on a git host: what `gt rig add` clones in tests.
 */
export function makeRemote(files: Record<string, string> = { 'README.md': '# test project\n' }): string {
  const base = mkdtempSync(join(tmpdir(), 'gt-remote-'));
  const remote = join(base, 'remote.git');
  git(base, 'init', '-q', '--bare', '-b', 'main', remote);
  const seed = join(base, 'seed');
  git(base, 'clone', '-q', remote, seed);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(seed, name), text);
  git(seed, 'add', '-A');
  git(seed, '-c', 'user.name=seed', '-c', 'user.email=seed@localhost', 'commit', '-qm', 'seed');
  git(seed, 'push', '-q', 'origin', 'HEAD:main');
  return remote;
}

/**
 * kill -9 of the town's worker and its rig worker at one instant (both stopped first), as when
 * the machine's worker processes die together: what was in flight in either is cut off.
 */
export function killWorkers(root: string): void {
  const pids = [pidOf(root, 'worker'), pidOf(root, 'worker-rigs')];
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  for (const pid of pids) process.kill(pid, 'SIGKILL');
}
