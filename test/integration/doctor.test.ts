import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { tempDir } from '../helpers/cli.js';
import { git, makeTown, pidOf, waitFor, type TestTown } from '../helpers/town.js';
import { makeRigTown, type RigTown } from './polecat-helpers.js';

/**
 * `gt doctor` against real towns: each check is broken for real (a killed worker, a namespace
 * without our search attributes, a hand-edited ledger, a terminated polecat workflow with its
 * tmux session still running, ...), found, and where it is safe repaired by `--fix`.
 */

interface Check {
  group: string;
  name: string;
  status: 'ok' | 'warning' | 'error';
  message: string;
  fix?: string;
}
interface Report {
  checks: Check[];
  fixed: string[];
  errors: number;
  warnings: number;
}

const towns: TestTown[] = [];
function rigTown(): RigTown {
  const t = makeRigTown();
  towns.push(t);
  return t;
}
afterEach(() => {
  for (const t of towns.splice(0)) ('cleanup' in t ? (t as RigTown).cleanup() : t.stop());
});

let connection: Connection | undefined;
async function client(namespace = 'default'): Promise<Client> {
  connection ??= await Connection.connect({ address: inject('temporalAddress') });
  return new Client({ connection, namespace });
}
afterAll(async () => {
  await connection?.close();
});

function doctor(t: TestTown, args: string[] = [], env: Record<string, string> = {}): { code: number; report: Report; stderr: string } {
  const r = t.gt(['doctor', '--json', ...args], { env });
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`gt doctor ${args.join(' ')} printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

function find(report: Report, name: string | RegExp, status?: Check['status']): Check[] {
  return report.checks.filter((c) => (typeof name === 'string' ? c.name === name : name.test(c.name)) && (!status || c.status === status));
}

function errorsOf(report: Report): Check[] {
  return report.checks.filter((c) => c.status === 'error');
}

function up(t: TestTown): void {
  const r = t.gt(['up']);
  if (r.code !== 0) throw new Error(`gt up failed: ${r.stderr}`);
}

const rigDir = (t: RigTown) => join(t.root, t.rig);
const repoOf = (t: RigTown) => join(t.root, t.rig, '.repo.git');
const ledgerFile = (t: RigTown) => join(t.root, t.rig, '.beads', 'issues.jsonl');

describe('gt doctor', { timeout: 240_000 }, () => {
  it('a healthy town passes (exit 0); a killed worker is an error for each queue, and --fix starts it again', async () => {
    const t = rigTown();
    up(t);
    const healthy = doctor(t);
    expect(errorsOf(healthy.report)).toEqual([]);
    expect(healthy.code).toBe(0);
    for (const group of ['engine', 'town', 'ledgers', 'agents', 'sessions']) expect(healthy.report.checks.some((c) => c.group === group)).toBe(true);
    expect(find(healthy.report, 'search attributes', 'ok')).toHaveLength(1);
    expect(find(healthy.report, `worker on ${t.env.GT_TASK_QUEUE}-${t.rig}`, 'ok')).toHaveLength(1);
    const text = t.gt(['doctor']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^engine$/m);
    expect(text.stdout).toMatch(/all checks passed|0 errors/);

    const worker = pidOf(t.root, 'worker');
    process.kill(worker, 'SIGKILL');
    await waitFor(() => spawnSync('kill', ['-0', String(worker)]).status !== 0, 10_000, 'the worker to die');
    const broken = doctor(t);
    expect(broken.code).toBe(1);
    const down = find(broken.report, /^worker on /, 'error');
    expect(down.map((c) => c.name).sort()).toEqual([`worker on ${t.env.GT_TASK_QUEUE}`, `worker on ${t.env.GT_TASK_QUEUE}-${t.rig}`].sort());
    expect(down[0]!.message).toMatch(/no worker polls/);
    expect(down[0]!.fix).toBe('gt up');
    const human = t.gt(['doctor']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/FAIL worker on .*no worker polls/);
    expect(human.stdout).toMatch(/fix: gt up/);

    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed.join('\n')).toMatch(/started the worker \(pid \d+\)/);
    expect(errorsOf(fixed.report)).toEqual([]);
    expect(fixed.code).toBe(0);
    expect(pidOf(t.root, 'worker')).not.toBe(worker);
  });

  it('a namespace without our search attributes is an error; --fix registers them', async () => {
    const t = makeTown();
    towns.push(t);
    const namespace = `doctor-${Math.random().toString(36).slice(2, 8)}`;
    execFileSync(findTemporalCli(), ['operator', 'namespace', 'create', '--address', inject('temporalAddress'), '--namespace', namespace], { stdio: 'ignore' });
    t.settings((s) => {
      s.temporal = { ...s.temporal, namespace };
    });
    const c = await client(namespace);
    await waitFor(() => c.connection.operatorService.listSearchAttributes({ namespace }).then(() => true), 30_000, 'the new namespace');
    const before = doctor(t);
    expect(before.code).toBe(1);
    const sa = find(before.report, 'search attributes', 'error')[0]!;
    expect(sa.message).toContain(`namespace ${namespace} lacks the search attributes GtKind, GtRig, GtBead, GtConvoy, GtFormula, GtStatus`);

    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed).toContain(`registered the search attributes GtKind, GtRig, GtBead, GtConvoy, GtFormula, GtStatus in namespace ${namespace}`);
    expect(find(fixed.report, 'search attributes', 'ok')).toHaveLength(1);
    const listed = await c.connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(listed.customAttributes ?? {})).toEqual(expect.arrayContaining(['GtKind', 'GtStatus']));
  });

  it('engine: a temporal CLI that does not run, an unreachable cluster, an embedded server that is down', () => {
    const t = makeTown();
    towns.push(t);
    const bad = join(tempDir('gt-badcli-'), 'temporal');
    writeFileSync(bad, '#!/bin/sh\necho "temporal: cannot load" >&2\nexit 3\n');
    chmodSync(bad, 0o755);
    const cli = doctor(t, [], { TEMPORAL_CLI: bad });
    const found = find(cli.report, 'temporal CLI')[0]!;
    // An external cluster needs no local CLI: a warning, not an error.
    expect(found.status).toBe('warning');
    expect(found.message).toContain(`${bad} does not run: temporal: cannot load`);

    const noNamespace = doctor(t, [], { TEMPORAL_NAMESPACE: 'no-such-namespace' });
    expect(find(noNamespace.report, 'search attributes', 'error')[0]!).toMatchObject({
      message: expect.stringContaining('cannot list the search attributes of namespace no-such-namespace'),
      fix: expect.stringContaining('check that namespace no-such-namespace exists'),
    });

    const closed = doctor(t, [], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(closed.code).toBe(1);
    expect(find(closed.report, 'server', 'error')[0]!.message).toMatch(/cannot reach the Temporal cluster at 127\.0\.0\.1:1/);
    expect(find(closed.report, 'search attributes', 'warning')[0]!.message).toMatch(/not checked/);

    const embedded = makeTown({ external: false });
    towns.push(embedded);
    embedded.settings((s) => {
      s.temporal = { ...s.temporal, grpc_port: 1 };
    });
    const local = doctor(embedded);
    expect(local.code).toBe(1);
    expect(find(local.report, 'server', 'error')[0]).toMatchObject({ message: expect.stringMatching(/embedded Temporal server is not running/), fix: 'gt up' });
  });

  it('town: bad settings keys are named, a missing default branch, a stray polecat folder, stale worktrees and branches (pruned by --fix)', () => {
    const t = rigTown();
    t.settings((s) => {
      s.thresholds.stall_timout = '5m';
      s.temporal.grpc_prot = 7233;
    });
    writeFileSync(join(rigDir(t), 'settings', 'config.json'), JSON.stringify({ type: 'rig-settings', merge_queue: { test_timeout: 'soon' } }));
    const settings = doctor(t);
    const town = find(settings.report, 'settings', 'error')[0]!;
    expect(town.message).toContain('unknown key "thresholds.stall_timout" (did you mean "thresholds.stall_timeout"?)');
    expect(town.message).toContain('unknown key "temporal.grpc_prot" (did you mean "temporal.grpc_port"?)');
    expect(find(settings.report, `settings of ${t.rig}`, 'error')[0]!.message).toMatch(/merge_queue\.test_timeout is not a duration/);
    t.settings((s) => {
      delete s.thresholds.stall_timout;
      delete s.temporal.grpc_prot;
    });
    writeFileSync(join(rigDir(t), 'settings', 'config.json'), JSON.stringify({ type: 'rig-settings', merge_queue: { test_timeout: '10m' } }));

    // A worktree whose folder was deleted by hand; a folder that is no worktree; a branch of a closed bead.
    const repo = repoOf(t);
    git(repo, 'worktree', 'add', '-q', '--detach', join(rigDir(t), 'polecats', 'ghost'), 'refs/remotes/origin/main');
    rmSync(join(rigDir(t), 'polecats', 'ghost'), { recursive: true, force: true });
    mkdirSync(join(rigDir(t), 'polecats', 'stray'));
    const closed = t.create('Finished by hand');
    expect(t.bd(['close', closed, '-r', 'done'], { cwd: rigDir(t) }).code).toBe(0);
    const open = t.create('Still open');
    git(repo, 'branch', `polecat/nux/${closed}`, 'refs/remotes/origin/main');
    git(repo, 'branch', `polecat/nux/${open}`, 'refs/remotes/origin/main');
    const sha = git(repo, 'rev-parse', `polecat/nux/${closed}`).trim();

    const broken = doctor(t);
    expect(find(broken.report, /^settings/, 'error')).toEqual([]);
    const worktrees = find(broken.report, `worktrees of ${t.rig}`);
    expect(worktrees.find((c) => c.status === 'warning')!.message).toMatch(/whose folder is gone: .*polecats\/ghost/);
    expect(worktrees.find((c) => c.status === 'error')!).toMatchObject({ message: expect.stringMatching(/polecats\/stray is not a worktree/), fix: expect.stringContaining(`gt polecat nuke ${t.rig}/stray`) });
    const branches = find(broken.report, `branches of ${t.rig}`, 'warning');
    expect(branches.map((c) => c.message)).toEqual([`branch polecat/nux/${closed} is left over: bead ${closed} is closed`]);

    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed).toEqual(expect.arrayContaining([
      expect.stringMatching(/^pruned the stale worktree .*polecats\/ghost/),
      `deleted branch polecat/nux/${closed} of closed bead ${closed} (was ${sha.slice(0, 12)}; restore with git -C ${t.rig}/.repo.git branch polecat/nux/${closed} ${sha})`,
    ]));
    expect(git(repo, 'worktree', 'list')).not.toContain('ghost');
    expect(git(repo, 'branch', '--list', 'polecat/*').trim().split('\n').map((b) => b.trim())).toEqual([`polecat/nux/${open}`]);
    // Not safe to repair: a folder that may hold someone's work stays, and stays an error.
    expect(find(fixed.report, `worktrees of ${t.rig}`, 'error')).toHaveLength(1);
    expect(fixed.code).toBe(1);
    rmSync(join(rigDir(t), 'polecats', 'stray'), { recursive: true });

    // The rig's repository lost its default branch.
    git(repo, 'update-ref', '-d', 'refs/remotes/origin/main');
    const noBranch = doctor(t);
    expect(find(noBranch.report, `repository of ${t.rig}`, 'error')[0]).toMatchObject({ message: expect.stringContaining('has no origin/main'), fix: expect.stringContaining('fetch origin') });
    git(repo, 'fetch', '-q', 'origin');
    expect(find(doctor(t).report, `repository of ${t.rig}`, 'ok')).toHaveLength(1);

    // A lost runtime folder is made again; settings that are not JSON are named, and the run goes on.
    rmSync(join(t.root, '.gt', 'logs'), { recursive: true, force: true });
    expect(find(doctor(t).report, 'layout', 'warning')[0]!.message).toBe('missing folder .gt/logs');
    expect(doctor(t, ['--fix']).report.fixed).toContain('made .gt/logs');
    const settingsFile = join(t.root, 'settings', 'config.json');
    writeFileSync(settingsFile, readFileSync(settingsFile, 'utf8').replace(/\}\s*$/, ''));
    const unreadable = doctor(t);
    expect(unreadable.code).toBe(1);
    expect(find(unreadable.report, 'settings', 'error')[0]!.message).toMatch(/settings\/config\.json is not valid JSON/);
    expect(find(unreadable.report, 'settings', 'error').some((c) => c.group === 'engine')).toBe(true);
    expect(find(unreadable.report, `ledger ${t.rig}/.beads/issues.jsonl`, 'ok')).toHaveLength(1);
    writeFileSync(settingsFile, '{}\n');

    // A branch of a bead that is nowhere; a closed bead's branch still checked out; a lost refinery worktree; a rigs.json that does not parse.
    git(repo, 'branch', 'polecat/nux/pc-zzzzz', 'refs/remotes/origin/main');
    const inUse = t.create('Closed while checked out');
    git(repo, 'worktree', 'add', '-q', '-b', `polecat/dag/${inUse}`, join(rigDir(t), 'polecats', 'dag'), 'refs/remotes/origin/main');
    expect(t.bd(['close', inUse, '-r', 'done'], { cwd: rigDir(t) }).code).toBe(0);
    rmSync(join(rigDir(t), 'refinery', 'rig'), { recursive: true, force: true });
    const more = doctor(t);
    expect(find(more.report, `branches of ${t.rig}`, 'warning').map((c) => c.message).sort()).toEqual([
      `branch polecat/dag/${inUse} of closed bead ${inUse} is still checked out in ${t.rig}/polecats/dag`,
      'branch polecat/nux/pc-zzzzz names bead pc-zzzzz, which is in no ledger of this town',
    ]);
    expect(find(more.report, 'layout', 'error')[0]!.message).toBe(`rig ${t.rig} is missing ${t.rig}/refinery/rig`);
    // Neither is deleted by --fix: one is in use, the other may hold work.
    doctor(t, ['--fix']);
    expect(git(repo, 'branch', '--list', 'polecat/*')).toContain(`polecat/dag/${inUse}`);
    expect(git(repo, 'branch', '--list', 'polecat/*')).toContain('polecat/nux/pc-zzzzz');
    const rigsJson = join(t.root, 'mayor', 'rigs.json');
    writeFileSync(rigsJson, '{"rigs": ');
    const noRigs = doctor(t);
    expect(noRigs.code).toBe(1);
    expect(find(noRigs.report, 'layout', 'error')[0]!.message).toMatch(/mayor\/rigs\.json is not valid JSON/);
  });

  it('ledgers: a corrupt line is named with file and line, dangling dependencies and cycles are found', () => {
    const t = rigTown();
    const a = t.create('A');
    const b = t.create('B');
    expect(t.bd(['dep', 'add', a, b], { cwd: rigDir(t) }).code).toBe(0);
    // Hand edits (a bad merge of the JSONL): b depends on a (a cycle) and on a bead that is nowhere.
    const lines = readFileSync(ledgerFile(t), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; dependencies?: unknown[] });
    const rb = lines.find((l) => l.id === b)!;
    rb.dependencies = [
      { issue_id: b, depends_on_id: a, type: 'blocks', created_at: new Date().toISOString(), created_by: 'hand' },
      { issue_id: b, depends_on_id: 'pc-gone1', type: 'blocks', created_at: new Date().toISOString(), created_by: 'hand' },
    ];
    writeFileSync(ledgerFile(t), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const found = doctor(t);
    expect(found.code).toBe(1);
    expect(find(found.report, 'dependencies in pc', 'warning')[0]!.message).toContain(`${b} → pc-gone1 (blocks)`);
    const cycle = find(found.report, 'cycles in pc', 'error')[0]!;
    expect(cycle.message).toMatch(/1 blocking cycle/);
    expect(cycle.message).toContain(a);
    expect(cycle.message).toContain(b);

    const good = readFileSync(ledgerFile(t), 'utf8');
    writeFileSync(ledgerFile(t), good + '{"id": "pc-broken", "title": \n');
    const corrupt = doctor(t);
    const parse = find(corrupt.report, `ledger ${t.rig}/.beads/issues.jsonl`, 'error')[0]!;
    expect(parse.message).toMatch(new RegExp(`issues\\.jsonl:${good.split('\n').length}: not valid JSON`));
    expect(parse.fix).toMatch(/fix or remove line/);
    // The town's own ledger still parses and is reported on its own.
    expect(find(corrupt.report, 'ledger .beads/issues.jsonl', 'ok')).toHaveLength(1);
  });

  it('a hooked bead whose polecat workflow is gone, with its tmux session still running: --fix gives the hook back and stops the zombie', async () => {
    const t = rigTown();
    // A slow agent: it prints a line a second (never stalled) for longer than the test runs.
    t.env.SCRIPTED_AGENT_SLOW_MS = '600000';
    const bead = t.create('Works for ten minutes', 'slow');
    const slung = JSON.parse(t.gt(['sling', bead, t.rig, '--no-convoy', '--json']).stdout) as { polecat: string }[];
    const polecat = slung[0]!.polecat;
    const session = `${t.prefix}-${polecat}`;
    const hasSession = () => spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'has-session', '-t', `=${session}`]).status === 0;
    await waitFor(hasSession, 60_000, `session ${session}`);
    expect(doctor(t).code).toBe(0);

    // The workflow is lost (terminated from outside); the agent's session goes on, unwatched.
    const c = await client();
    await c.workflow.getHandle(`polecat/${t.rig}/${polecat}`).terminate('test: lost');
    const broken = doctor(t);
    expect(broken.code).toBe(1);
    const hook = find(broken.report, 'hooks in pc', 'error')[0]!;
    expect(hook.message).toBe(`${bead} is hooked to ${t.rig}/polecats/${polecat}, but polecat workflow polecat/${t.rig}/${polecat} is not running: nobody works it`);
    expect(find(broken.report, 'zombie sessions', 'error')[0]!.message).toContain(`tmux session ${session} (tmux -L ${t.env.GT_TMUX_SOCKET})`);

    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed).toEqual(expect.arrayContaining([
      `gave ${bead} back: open and unassigned (it was hooked to ${t.rig}/polecats/${polecat}); rig ${t.rig}'s dispatcher was told`,
      `stopped the zombie tmux session ${session}`,
    ]));
    expect(errorsOf(fixed.report)).toEqual([]);
    expect(fixed.code).toBe(0);
    expect(hasSession()).toBe(false);
    expect(t.bead(bead)).toMatchObject({ status: 'open' });
    expect(t.bead(bead).assignee).toBeUndefined();
    const dispatch = await c.workflow.getHandle(`dispatch/${t.rig}`).query<{ owners: Record<string, string>; busy: Record<string, string> }>('dispatchState');
    expect(dispatch.owners[bead]).toBeUndefined();
    expect(dispatch.busy[polecat]).toBeUndefined();
  });

  it("a dispatcher that still gives a bead to a polecat that lost it: --fix tells it, and the bead can be slung again", async () => {
    const t = rigTown();
    t.env.SCRIPTED_AGENT_SLOW_MS = '600000';
    const bead = t.create('Taken back by hand', 'slow');
    const slung = JSON.parse(t.gt(['sling', bead, t.rig, '--no-convoy', '--json']).stdout) as { polecat: string }[];
    const polecat = slung[0]!.polecat;
    const c = await client();
    await waitFor(async () => (await c.workflow.getHandle(`polecat/${t.rig}/${polecat}`).query<{ status: string }>('polecatState')).status === 'working', 60_000, 'the polecat to work');
    await c.workflow.getHandle(`polecat/${t.rig}/${polecat}`).terminate('test: lost');
    // Someone puts the bead back by hand, without gt unsling: the dispatcher is not told.
    expect(t.bd(['update', bead, '-s', 'open', '-a', ''], { cwd: rigDir(t) }).code).toBe(0);
    const broken = doctor(t);
    expect(find(broken.report, `dispatcher of ${t.rig}`, 'error')[0]!.message).toBe(
      `dispatch/${t.rig} still gives ${bead} to ${polecat}, but the ledger says open and the polecat does not have it: gt sling ${bead} would do nothing`,
    );
    // As it says: a sling now is answered "already" and the bead stays open.
    t.gt(['sling', bead, t.rig, '--no-convoy', '--json']);
    expect(t.bead(bead).status).toBe('open');
    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed).toContain(`told dispatch/${t.rig} that ${bead} is nobody's (it still gave it to ${polecat})`);
    expect(errorsOf(fixed.report)).toEqual([]);
    const again = t.gt(['sling', bead, t.rig, '--no-convoy', '--json']);
    expect(again.code).toBe(0);
    await waitFor(() => t.bead(bead).status === 'hooked', 30_000, `${bead} hooked again`);
  });

  it('a bead hooked by hand to an idle polecat is re-adopted by --fix and worked to the end', async () => {
    const t = rigTown();
    const first = t.create('First');
    const slung = JSON.parse(t.gt(['sling', first, t.rig, '--no-convoy', '--json']).stdout) as { polecat: string }[];
    const polecat = slung[0]!.polecat;
    await waitFor(() => t.bead(first).status === 'closed', 150_000, `${first} to be merged`);
    const c = await client();
    await waitFor(async () => (await c.workflow.getHandle(`polecat/${t.rig}/${polecat}`).query<{ status: string }>('polecatState')).status === 'idle', 30_000, 'the polecat to be idle');

    const second = t.create('Hooked by hand');
    expect(t.bd(['update', second, '-s', 'hooked', '-a', `${t.rig}/polecats/${polecat}`], { cwd: rigDir(t) }).code).toBe(0);
    const broken = doctor(t);
    expect(find(broken.report, 'hooks in pc', 'error')[0]!.message).toContain(`polecat workflow polecat/${t.rig}/${polecat} runs but does not have it`);
    // With the worker gone too, the polecat cannot be asked: a warning, until --fix has started the worker again.
    const worker = pidOf(t.root, 'worker');
    process.kill(worker, 'SIGKILL');
    await waitFor(() => spawnSync('kill', ['-0', String(worker)]).status !== 0, 10_000, 'the worker to die');
    expect(find(doctor(t).report, 'hooks in pc', 'warning')[0]!.message).toMatch(/cannot tell whether its workflow has it \(no worker polls/);
    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed[0]).toMatch(/^started the worker/);
    expect(fixed.report.fixed).toContain(`re-adopted ${second}: handed it back to the idle polecat ${t.rig}/polecats/${polecat}`);
    await waitFor(() => t.bead(second).status === 'closed', 150_000, `${second} to be merged`);
    expect(t.remoteFiles()).toContain(`${second}.txt`);
    // A town after real work is healthy: no finding about merged branches, idle worktrees or the dispatcher's record.
    const after = await waitFor(() => {
      const r = doctor(t);
      return r.code === 0 && r.report.warnings === 0 ? r : undefined;
    }, 30_000, 'gt doctor to pass after the merge');
    expect(errorsOf(after.report)).toEqual([]);
  });

  it('agents: a runtime not on PATH is an error for the rig whose polecats would run it; no tmux is a warning', () => {
    const t = rigTown();
    t.settings((s) => {
      s.agents.ghost = { command: 'no-such-agent-here', args: [] };
    });
    writeFileSync(join(rigDir(t), 'settings', 'config.json'), JSON.stringify({ type: 'rig-settings', agent: 'ghost' }));
    const r = doctor(t);
    expect(find(r.report, 'agent for the Mayor', 'ok')[0]!.message).toContain('scripted');
    expect(find(r.report, `agent for polecats of ${t.rig}`, 'error')[0]).toMatchObject({
      message: `agent "ghost" (chosen by agent in ${t.rig}/settings/config.json) runs "no-such-agent-here", which is not on PATH: its sessions could only fail`,
      fix: expect.stringContaining('gt config agent set'),
    });
    // A PATH with git but no tmux.
    const bin = tempDir('gt-notmux-');
    execFileSync('ln', ['-s', execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), join(bin, 'git')]);
    const noTmux = doctor(t, [], { PATH: bin });
    expect(find(noTmux.report, 'tmux', 'warning')[0]!.message).toMatch(/tmux cannot be run/);
    expect(find(noTmux.report, 'tmux sessions', 'warning')[0]!.message).toBe('not checked: tmux cannot be run');
  });

  it('a bead in the merge queue by its ledger that no merge queue has is given back by --fix', () => {
    const t = rigTown();
    const bead = t.create('Lost in the queue');
    expect(t.bd(['update', bead, '-s', 'in_progress', '-a', `${t.rig}/polecats/rust`], { cwd: rigDir(t) }).code).toBe(0);
    const r = doctor(t);
    expect(find(r.report, 'hooks in pc', 'error')[0]!.message).toBe(
      `${bead} is in_progress to ${t.rig}/polecats/rust, but polecat workflow polecat/${t.rig}/rust is not running and rig ${t.rig}'s merge queue does not have it: nobody works it`,
    );
    const fixed = doctor(t, ['--fix']);
    expect(fixed.report.fixed).toContain(`gave ${bead} back: open and unassigned (it was in_progress to ${t.rig}/polecats/rust); rig ${t.rig}'s dispatcher was told`);
    expect(find(fixed.report, 'hooks in pc', 'ok')).toHaveLength(1);
    expect(t.bead(bead).status).toBe('open');
    expect(t.bead(bead).comments?.at(-1)?.text).toMatch(/^given back by gt doctor: it was in_progress/);
  });

  it('bad input: gt doctor --rig unknown is refused, changes nothing', () => {
    const t = rigTown();
    const before = readFileSync(ledgerFile(t));
    const settings = readFileSync(join(t.root, 'settings', 'config.json'));
    for (const args of [['doctor', '--rig', 'unknown'], ['doctor', '--rig', 'unknown', '--fix', '--json']]) {
      const r = t.gt(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('no rig named "unknown" in this town');
      expect(r.stderr).toContain(`known rigs: ${t.rig}`);
      expect(r.stdout).toBe('');
    }
    expect(readFileSync(ledgerFile(t)).equals(before)).toBe(true);
    expect(readFileSync(join(t.root, 'settings', 'config.json')).equals(settings)).toBe(true);
    // --rig with a known rig checks only that rig (plus the town-wide checks).
    const one = doctor(t, ['--rig', t.rig]);
    expect(find(one.report, `repository of ${t.rig}`)).toHaveLength(1);
  });
});
