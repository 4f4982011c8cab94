import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT, tempDir } from '../helpers/cli.js';
import { git, makeRemote, waitFor } from '../helpers/town.js';
import { SCRIPTED_AGENT } from '../integration/polecat-helpers.js';

/**
 * More than one machine, for real: network namespaces as hosts, each with its own veth pair on
 * a bridge of their own (no address outside them is used), the cluster of scripts/cluster.sh on
 * one, the town (its `gt up` worker: orchestration, ledgers) on another, and two rig hosts
 * running `gt worker` for both rigs. A convoy across the two rigs lands; kill -9 of every process
 * of one rig host mid-convoy leaves its beads to the other host: 0 lost, 0 merged twice.
 * The hosts share this machine's disk (the town folder, the rigs' remotes); they share nothing
 * else: each has its own network, its own tmux server, its own processes.
 *
 * Needs root (ip netns) and builds the Temporal server on first use. Run: `npm run test:cluster`.
 */

const tag = Math.random().toString(36).slice(2, 6);
const NET = `gtc${tag}-net`;
const HOSTS = { cluster: 1, town: 2, h1: 3, h2: 4 } as const;
type Host = keyof typeof HOSTS;
const ns = (h: Host) => `gtc${tag}-${h}`;
const ip = (h: Host) => `10.77.0.${HOSTS[h]}`;
const CLUSTER = `${ip('cluster')}:7233`;

function sh(cmd: string, args: string[], opts: { ok?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !opts.ok) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const base = tempDir('gt-cluster-');
chmodSync(base, 0o755); // PostgreSQL runs as its own user and must reach its data folder
const root = join(base, 'town');
const clusterDir = join(base, 'cluster');
const agentLog = join(base, 'agent-sessions.log');
const children: ChildProcess[] = [];

/** The environment a person on a host has: no gt variables of this test process. */
function hostEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(GT_|BD_|BEADS_|TEMPORAL_)/.test(k)) env[k] = v;
  }
  return { ...env, BD_ACTOR: 'tester', SCRIPTED_AGENT_LOG: agentLog, SCRIPTED_AGENT_SLOW_MS: '5000', ...extra };
}

/** Run the built gt/bd on a host, to the end. */
function on(host: Host, bin: 'gt' | 'bd', args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync('ip', ['netns', 'exec', ns(host), process.execPath, join(PROJECT, 'bin', `${bin}.js`), ...args], {
    cwd: opts.cwd ?? root,
    env: hostEnv(),
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(host: Host, bin: 'gt' | 'bd', args: string[], opts: { cwd?: string } = {}): string {
  const r = on(host, bin, args, opts);
  if (r.code !== 0) throw new Error(`${bin} ${args.join(' ')} on ${host} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A rig host: `gt worker` in the host's namespace, in the foreground. */
function rigHost(host: 'h1' | 'h2', rigs: string[], extraEnv: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn('ip', ['netns', 'exec', ns(host), process.execPath, join(PROJECT, 'bin', 'gt.js'), 'worker', '--host', host, ...rigs.flatMap((r) => ['--rig', r])], {
    cwd: root,
    env: hostEnv(extraEnv),
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  children.push(child);
  return { child, output: () => out };
}

/** `args` run on a host whose processes live in a mount namespace of their own where the town folder is an empty tmpfs. */
function hiddenOn(host: Host, args: string[]): string[] {
  return ['netns', 'exec', ns(host), 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs "$0" && exec "$@"', root, ...args];
}

/** A rig host that does not see the town folder: `gt worker --town`, its clones and worktrees in `home`. */
function hiddenRigHost(host: 'h1' | 'h2', home: string): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn('ip', hiddenOn(host, [process.execPath, join(PROJECT, 'bin', 'gt.js'), 'worker', '--town', `cluster${tag}`, '--home', home, '--host', host, '--address', CLUSTER]), { cwd: base, env: hostEnv() });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  children.push(child);
  return { child, output: () => out };
}

/** Every process in a host's namespace, killed at once: the machine is gone. */
function killHost(host: Host): number {
  // Again until none is left: a process may fork (tmux starting an agent) while its parent is killed.
  let killed = 0;
  for (let round = 0; round < 50; round++) {
    const pids = sh('ip', ['netns', 'pids', ns(host)], { ok: true }).split('\n').filter(Boolean);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
    }
    spawnSync('sleep', ['0.1']);
  }
  return killed;
}

function events(): Record<string, unknown>[] {
  try {
    return readFileSync(join(root, '.gt', 'events.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** The agents' own log: which bead each session worked, on which rig host. */
function sessions(): { bead: string; host?: string }[] {
  let text = '';
  try {
    text = readFileSync(agentLog, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((l) => {
    const m = /^(\S+) \S+(?: on (\S+))? session \d+$/.exec(l);
    return m ? [{ bead: m[1]!, host: m[2] }] : [];
  });
}

function mergesOf(remote: string, id: string): number {
  return git(remote, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith(`${id}:`)).length;
}

/** A bead's status, read on the town's host (ids route to their ledger by prefix). */
function beadStatus(id: string): string {
  return (JSON.parse(must('town', 'bd', ['show', id, '--json'])) as { status: string }[])[0]!.status;
}

const rigs: Record<string, { remote: string; prefix: string }> = {};

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the cluster suite makes network namespaces: run it as root (npm run test:cluster)');
  sh('ip', ['netns', 'add', NET]);
  sh('ip', ['netns', 'exec', NET, 'ip', 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['netns', 'exec', NET, 'ip', 'link', 'set', 'br0', 'up']);
  for (const host of Object.keys(HOSTS) as Host[]) {
    const n = HOSTS[host];
    sh('ip', ['netns', 'add', ns(host)]);
    // One veth pair per host: one end in the host, the other on the bridge.
    sh('ip', ['link', 'add', `gtc${tag}h${n}`, 'type', 'veth', 'peer', 'name', `gtc${tag}b${n}`]);
    sh('ip', ['link', 'set', `gtc${tag}h${n}`, 'netns', ns(host)]);
    sh('ip', ['link', 'set', `gtc${tag}b${n}`, 'netns', NET]);
    sh('ip', ['netns', 'exec', NET, 'ip', 'link', 'set', `gtc${tag}b${n}`, 'master', 'br0', 'up']);
    sh('ip', ['netns', 'exec', ns(host), 'ip', 'addr', 'add', `${ip(host)}/24`, 'dev', `gtc${tag}h${n}`]);
    sh('ip', ['netns', 'exec', ns(host), 'ip', 'link', 'set', `gtc${tag}h${n}`, 'up']);
    sh('ip', ['netns', 'exec', ns(host), 'ip', 'link', 'set', 'lo', 'up']);
  }
  // What the cluster needs installed and built (once, cached under .tools/) is made here, with
  // this machine's network: the hosts' namespaces reach only each other.
  const built = spawnSync('bash', [join(PROJECT, 'scripts', 'cluster.sh'), 'build'], { encoding: 'utf8', timeout: 1_800_000 });
  if (built.status !== 0) throw new Error(`scripts/cluster.sh build failed: ${built.stdout}\n${built.stderr}`);
  // The cluster, on its own host.
  const up = spawnSync('ip', ['netns', 'exec', ns('cluster'), 'bash', join(PROJECT, 'scripts', 'cluster.sh'), 'up', '--address', CLUSTER, '--dir', clusterDir], { encoding: 'utf8', env: hostEnv(), timeout: 1_800_000 });
  if (up.status !== 0) throw new Error(`scripts/cluster.sh up failed: ${up.stdout}\n${up.stderr}`);

  // The town, on another: two rigs whose agents run on the rig hosts.
  const install = spawnSync(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'install', root, '--name', `cluster${tag}`], { cwd: base, env: hostEnv(), encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`gt install failed: ${install.stderr}`);
  const settingsFile = join(root, 'settings', 'config.json');
  const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));
  settings.temporal = { address: CLUSTER, namespace: 'default' };
  settings.thresholds = { ...settings.thresholds, heartbeat_timeout: '3s', stall_timeout: '20s', nudge_grace: '5s', max_attempts: 3 };
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  for (const [name, prefix] of [['alpha', 'al'], ['beta', 'be']] as const) {
    const remote = makeRemote({ 'README.md': `# ${name}\n` });
    must('town', 'gt', ['rig', 'add', name, remote, '--prefix', prefix]);
    must('town', 'gt', ['rig', 'run-on', name, 'workers']);
    rigs[name] = { remote, prefix };
  }
  must('town', 'gt', ['config', 'agent', 'set', 'scripted', SCRIPTED_AGENT]);
  must('town', 'gt', ['config', 'default-agent', 'scripted']);
  must('town', 'gt', ['up']);
}, 1_900_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const host of ['h1', 'h2', 'town'] as Host[]) killHost(host);
  spawnSync('ip', ['netns', 'exec', ns('cluster'), 'bash', join(PROJECT, 'scripts', 'cluster.sh'), 'down', '--dir', clusterDir], { stdio: 'ignore' });
  killHost('cluster');
  for (const host of Object.keys(HOSTS) as Host[]) spawnSync('ip', ['netns', 'del', ns(host)], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NET], { stdio: 'ignore' });
});

describe('more than one machine (network namespaces)', () => {
  it('bad input on a rig host: an unknown rig is refused, naming the rigs; a town of the same name elsewhere is refused', () => {
    const unknown = on('h2', 'gt', ['worker', '--rig', 'unknown']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: unknown rig "unknown"');
    expect(unknown.stderr).toContain('hint: the rigs of this town: alpha, beta');
    // Another town that took the same name, on the same cluster: its worker and its gt up are refused.
    const other = join(base, 'other');
    const install = spawnSync(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'install', other, '--name', `cluster${tag}`], { cwd: base, env: hostEnv(), encoding: 'utf8' });
    expect(install.status).toBe(0);
    const file = join(other, 'settings', 'config.json');
    const s = JSON.parse(readFileSync(file, 'utf8'));
    s.temporal = { address: CLUSTER };
    writeFileSync(file, JSON.stringify(s, null, 2));
    must('h2', 'gt', ['rig', 'add', 'alpha', rigs.alpha!.remote, '--prefix', 'ox'], { cwd: other });
    must('h2', 'gt', ['rig', 'run-on', 'alpha', 'workers'], { cwd: other });
    const worker = on('h2', 'gt', ['worker', '--rig', 'alpha'], { cwd: other });
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain(`another town named "cluster${tag}" already uses the engine at ${CLUSTER}`);
    const up = on('h2', 'gt', ['up'], { cwd: other });
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`another town named "cluster${tag}" already uses the engine at ${CLUSTER}`);
  });

  it('a convoy across two rigs on two rig hosts lands; kill -9 of one rig host mid-convoy: its beads finish on the other, 0 lost, 0 merged twice', async () => {
    const h1 = rigHost('h1', ['alpha', 'beta']);
    const h2 = rigHost('h2', ['alpha', 'beta']);
    await waitFor(() => h1.output().includes('polling') && h2.output().includes('polling'), 90_000, 'both rig hosts to poll');
    const status = JSON.parse(must('town', 'gt', ['status', '--json'])) as { workers: { host: string; queues: string[]; live: boolean }[] };
    for (const h of ['h1', 'h2']) {
      expect(status.workers.find((w) => w.host === h && w.live)?.queues.sort()).toEqual([`gt-cluster${tag}-alpha`, `gt-cluster${tag}-beta`]);
    }

    const ids: Record<string, string[]> = { alpha: [], beta: [] };
    for (const rig of ['alpha', 'beta']) {
      for (let i = 0; i < 3; i++) {
        const out = must('town', 'bd', ['create', `${rig} work ${i}`, '-l', 'agent:slow', '--json'], { cwd: join(root, rig) });
        ids[rig]!.push((JSON.parse(out) as { id: string }).id);
      }
    }
    const all = [...ids.alpha!, ...ids.beta!];
    const { convoy } = JSON.parse(must('town', 'gt', ['convoy', 'create', 'Across hosts', ...all, '--json'])) as { convoy: string };

    // Mid-convoy: h1 has an agent running on a bead not finished yet. Then the machine is gone.
    const onH1 = await waitFor(() => {
      const started = sessions().filter((l) => l.host === 'h1').map((l) => l.bead);
      const open = started.filter((b) => !events().some((e) => e.type === 'done' && e.bead === b));
      return open.length ? open : undefined;
    }, 120_000, 'an agent on h1');
    expect(killHost('h1')).toBeGreaterThan(0);
    // Counted once h1 is gone: a session it started up to the kill is h1's, not one after it.
    const before = sessions().length;

    await waitFor(() => beadStatus(convoy) === 'closed', 300_000, 'the convoy to land');
    for (const rig of ['alpha', 'beta']) {
      for (const id of ids[rig]!) {
        expect(beadStatus(id)).toBe('closed');
        expect(mergesOf(rigs[rig]!.remote, id)).toBe(1);
      }
    }
    // The beads h1 was working were taken on by h2 once it died, and h1 never came back.
    const after = sessions().slice(before);
    for (const bead of onH1) expect(after.filter((l) => l.bead === bead).map((l) => l.host)).toContain('h2');
    expect(after.filter((l) => l.host === 'h1')).toEqual([]);
    // The session h2 started again is in the town's event stream, naming the host.
    for (const bead of onH1) {
      expect(events().filter((e) => e.type === 'session.start' && e.bead === bead).map((e) => e.host)).toEqual(expect.arrayContaining(['h1', 'h2']));
    }
  }, 600_000);

  it("the town's worker killed -9 mid-convoy and started again: nothing lost, nothing merged twice", async () => {
    const h1 = rigHost('h1', ['alpha', 'beta']); // the host is back
    await waitFor(() => h1.output().includes('polling'), 90_000, 'h1 to poll again');
    const ids = convoyBeads(2);
    const { convoy } = JSON.parse(must('town', 'gt', ['convoy', 'create', 'Town worker restarted', ...ids.all, '--json'])) as { convoy: string };
    await waitFor(() => sessions().some((l) => ids.all.includes(l.bead)), 120_000, 'an agent of the convoy to start');
    const pid = Number(readFileSync(join(root, '.gt', 'run', 'worker.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 2000));
    must('town', 'gt', ['up']);
    await waitFor(() => beadStatus(convoy) === 'closed', 300_000, 'the convoy to land');
    for (const [rig, id] of ids.byRig) {
      expect(beadStatus(id)).toBe('closed');
      expect(mergesOf(rigs[rig]!.remote, id)).toBe(1);
    }
  }, 600_000);

  it("the cluster's database stopped for 20 s mid-convoy: the run waits and finishes", async () => {
    const ids = convoyBeads(2);
    const { convoy } = JSON.parse(must('town', 'gt', ['convoy', 'create', 'Database away', ...ids.all, '--json'])) as { convoy: string };
    await waitFor(() => sessions().some((l) => ids.all.includes(l.bead)), 120_000, 'an agent of the convoy to start');
    const pgCtl = (...args: string[]) => sh('ip', ['netns', 'exec', ns('cluster'), 'runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', join(clusterDir, 'postgres'), ...args]);
    pgCtl('stop', '-m', 'fast', '-w');
    await new Promise((r) => setTimeout(r, 20_000));
    const up = spawnSync('ip', ['netns', 'exec', ns('cluster'), 'bash', join(PROJECT, 'scripts', 'cluster.sh'), 'up', '--dir', clusterDir], { encoding: 'utf8', env: hostEnv() });
    expect(up.status, up.stderr).toBe(0);
    // The server rode it out: the same process (the script started only PostgreSQL again).
    expect(up.stdout).toContain('the Temporal server already runs');
    await waitFor(() => beadStatus(convoy) === 'closed', 300_000, 'the convoy to land');
    for (const [rig, id] of ids.byRig) {
      expect(beadStatus(id)).toBe('closed');
      expect(mergesOf(rigs[rig]!.remote, id)).toBe(1);
    }
  }, 600_000);

  it('a rig host whose clock is 5 minutes ahead serves both rigs: its beads merge once, none stalls or is redone', async () => {
    // Only the skewed host serves the rigs now.
    killHost('h1');
    killHost('h2');
    const skew = skewedClock('+5m');
    const hostClock = Number(spawnSync('ip', ['netns', 'exec', ns('h2'), 'date', '+%s'], { env: hostEnv(skew), encoding: 'utf8' }).stdout);
    expect(hostClock - Date.now() / 1000).toBeGreaterThan(290);
    expect(hostClock - Date.now() / 1000).toBeLessThan(310);
    const h2 = rigHost('h2', ['alpha', 'beta'], skew);
    await waitFor(() => h2.output().includes('polling'), 90_000, 'the skewed host to poll');
    const before = sessions().length;
    const ids = convoyBeads(2);
    const { convoy } = JSON.parse(must('town', 'gt', ['convoy', 'create', 'Clock off', ...ids.all, '--json'])) as { convoy: string };
    await waitFor(() => beadStatus(convoy) === 'closed', 300_000, 'the convoy to land');
    const worked = sessions().slice(before);
    for (const [rig, id] of ids.byRig) {
      expect(beadStatus(id)).toBe('closed');
      expect(mergesOf(rigs[rig]!.remote, id)).toBe(1);
      // One session each, on the skewed host: no timeout judged on its clock ended one early.
      expect(worked.filter((l) => l.bead === id).map((l) => l.host)).toEqual(['h2']);
      expect(events().filter((e) => e.bead === id && (e.type === 'stall' || e.type === 'session.restart' || e.type === 'session.failed'))).toEqual([]);
    }
  }, 600_000);

  it('a rig host that does not see the town folder (a tmpfs over it): gt worker --town serves both rigs from clones; a convoy lands, each bead merged once; a link dropped mid-call applies the call once; other commands are refused', async () => {
    killHost('h1');
    killHost('h2');
    const town = `cluster${tag}`;
    const home = join(base, 'h1-home');
    const hidden = (args: string[]) => hiddenOn('h1', args);
    const h1 = hiddenRigHost('h1', home);
    await waitFor(() => h1.output().includes('polling'), 120_000, 'the hidden rig host to poll');
    // Hidden for real: no process of that host sees the town's files.
    const pids = sh('ip', ['netns', 'pids', ns('h1')]).split('\n').filter(Boolean);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(existsSync(`/proc/${pid}/root${root}/mayor/town.json`), `process ${pid} sees the town`).toBe(false);

    const before = sessions().length;
    const ids = convoyBeads(2);
    const { convoy } = JSON.parse(must('town', 'gt', ['convoy', 'create', 'Town folder hidden', ...ids.all, '--json'])) as { convoy: string };
    await waitFor(() => beadStatus(convoy) === 'closed', 300_000, 'the convoy to land');
    const worked = sessions().slice(before);
    for (const [rig, id] of ids.byRig) {
      expect(beadStatus(id)).toBe('closed');
      expect(mergesOf(rigs[rig]!.remote, id)).toBe(1);
      expect(worked.filter((l) => l.bead === id).map((l) => l.host)).toEqual(['h1']);
      // The host's events reach the town's stream, once each.
      await waitFor(() => events().some((e) => e.type === 'session.exit' && e.bead === id), 30_000, `the session end of ${id} in the town's events`);
      expect(events().filter((e) => e.type === 'session.start' && e.bead === id).map((e) => e.host)).toEqual(['h1']);
    }
    // The work was done in the host's home: clones and worktrees there, no ledger.
    for (const rig of ['alpha', 'beta']) {
      expect(readdirSync(join(home, rig, 'polecats')).length).toBeGreaterThan(0);
      expect(existsSync(join(home, rig, '.beads'))).toBe(false);
    }

    // An agent's command from that host, as its sessions send them.
    const agentEnv = (extra: Record<string, string> = {}) => hostEnv({ GT_TOWN_REMOTE: town, TEMPORAL_ADDRESS: CLUSTER, GT_ROLE: 'polecat', GT_RIG: 'alpha', GT_POLECAT: 'far', BD_ACTOR: 'alpha/polecats/far', ...extra });
    const agent = (bin: 'gt' | 'bd', args: string[], extra: Record<string, string> = {}) => spawnSync('ip', hidden([process.execPath, join(PROJECT, 'bin', `${bin}.js`), ...args]), { cwd: base, env: agentEnv(extra), encoding: 'utf8', timeout: 180_000 });
    const ledger = join(root, 'alpha', '.beads', 'issues.jsonl');
    const linesWith = (title: string) => readFileSync(ledger, 'utf8').split('\n').filter((l) => l.includes(`"${title}"`)).length;
    // The same call id twice: run once.
    const key = { GT_CALL_ID: `cluster-${tag}-once` };
    const first = agent('bd', ['create', `Once ${tag}`, '--json'], key);
    expect(first.status, first.stderr).toBe(0);
    expect(agent('bd', ['create', `Once ${tag}`, '--json'], key).stdout).toBe(first.stdout);
    expect(linesWith(`Once ${tag}`)).toBe(1);
    // Bad input: refused on the host, the ledger byte-identical.
    const kept = readFileSync(ledger);
    const refused = agent('gt', ['sling', ids.all[0]!, 'alpha']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('is not a command an agent can run on a host without the town folder');
    expect(readFileSync(ledger).equals(kept)).toBe(true);

    // The link dropped mid-call: the call has reached the engine (the town's worker held still
    // meanwhile), then the host's link goes down and its connections are cut, the town runs the
    // command while the host is away, and the link comes back: the call gets its answer by its
    // id and the bead is created once.
    const title = `Dropped link ${tag}`;
    const callId = `cluster-${tag}-dropped`;
    const townWorker = Number(readFileSync(join(root, '.gt', 'run', 'worker.pid'), 'utf8'));
    process.kill(townWorker, 'SIGSTOP');
    const call = spawn('ip', hidden([process.execPath, join(PROJECT, 'bin', 'bd.js'), 'create', title, '--json']), { cwd: base, env: agentEnv({ GT_CALL_ID: callId }) });
    let callOut = '';
    let callErr = '';
    call.stdout!.on('data', (d) => (callOut += d));
    call.stderr!.on('data', (d) => (callErr += d));
    const exited = new Promise<number>((r) => call.on('exit', (c) => r(c ?? -1)));
    const link = `gtc${tag}h${HOSTS.h1}`;
    try {
      await waitFor(() => workflowExists(`cmd/${town}/${callId}`), 60_000, 'the call to reach the engine');
      sh('ip', ['netns', 'exec', ns('h1'), 'ip', 'link', 'set', link, 'down']);
      sh('ip', ['netns', 'exec', ns('h1'), 'ss', '-K', 'dst', ip('cluster')], { ok: true });
    } finally {
      process.kill(townWorker, 'SIGCONT');
    }
    await waitFor(() => linesWith(title) === 1, 60_000, 'the town to run the command');
    await new Promise((r) => setTimeout(r, 2000));
    // Its answer has not reached the host.
    expect(call.exitCode).toBeNull();
    sh('ip', ['netns', 'exec', ns('h1'), 'ip', 'link', 'set', link, 'up']);
    expect(await exited, callErr).toBe(0);
    const id = (JSON.parse(callOut) as { id: string }).id;
    expect(linesWith(title)).toBe(1);
    expect(beadStatus(id)).toBe('open');
  }, 600_000);

  it('two rig hosts that do not see the town folder: kill -9 of one mid-convoy, its beads finish on the other in its own clone, 0 lost, 0 merged twice', async () => {
    killHost('h1');
    const h1 = hiddenRigHost('h1', join(base, 'h1-home'));
    const h2 = hiddenRigHost('h2', join(base, 'h2-home'));
    await waitFor(() => h1.output().includes('polling') && h2.output().includes('polling'), 120_000, 'both hidden rig hosts to poll');
    const before = sessions().length;
    const ids = convoyBeads(2);
    const { convoy } = JSON.parse(must('town', 'gt', ['convoy', 'create', 'Hidden hosts, one lost', ...ids.all, '--json'])) as { convoy: string };
    // Which host gets a polecat is the engine's choice (the first workflow task's poller): the
    // host lost is the one found with an agent at work, whichever it is.
    const found = await waitFor(() => {
      const started = sessions().slice(before);
      const done = new Set(events().filter((e) => e.type === 'done').map((e) => e.bead));
      for (const host of ['h1', 'h2'] as const) {
        const open = started.filter((l) => l.host === host && !done.has(l.bead)).map((l) => l.bead);
        if (open.length) return { host, open };
      }
      return undefined;
    }, 120_000, 'an agent at work on a hidden rig host');
    const other = found.host === 'h1' ? 'h2' : 'h1';
    expect(killHost(found.host)).toBeGreaterThan(0);
    const after = sessions().length;
    await waitFor(() => beadStatus(convoy) === 'closed', 300_000, 'the convoy to land');
    for (const [rig, id] of ids.byRig) {
      expect(beadStatus(id)).toBe('closed');
      expect(mergesOf(rigs[rig]!.remote, id)).toBe(1);
    }
    const later = sessions().slice(after);
    for (const bead of found.open) expect(later.filter((l) => l.bead === bead).map((l) => l.host)).toContain(other);
    expect(later.filter((l) => l.host === found.host)).toEqual([]);
  }, 600_000);
});

/**
 * A host whose wall clock is off, for real: libfaketime (Debian's `faketime`, which
 * scripts/setup.sh installs) in every process the host starts (the worker, tmux, the agents,
 * git), the monotonic clock left alone as a real host's clock setting leaves it.
 */
function skewedClock(offset: string): Record<string, string> {
  const lib = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1'].find((f) => existsSync(f));
  if (!lib) throw new Error('libfaketime is missing: install the Debian package faketime (scripts/setup.sh does)');
  return { LD_PRELOAD: lib, FAKETIME: offset, DONT_FAKE_MONOTONIC: '1' };
}

/** Whether the cluster has a workflow of this id, asked from the town's host. */
function workflowExists(id: string): boolean {
  const script = `const { Client, Connection } = require(${JSON.stringify(join(PROJECT, 'node_modules', '@temporalio', 'client'))});
(async () => {
  const connection = await Connection.connect({ address: ${JSON.stringify(CLUSTER)} });
  try { await new Client({ connection }).workflow.getHandle(${JSON.stringify(id)}).describe(); process.exit(0); } catch { process.exit(1); }
})();`;
  return spawnSync('ip', ['netns', 'exec', ns('town'), process.execPath, '-e', script], { timeout: 20_000 }).status === 0;
}

/** `n` slow beads in each rig, for one convoy. */
function convoyBeads(n: number): { all: string[]; byRig: [string, string][] } {
  const byRig: [string, string][] = [];
  for (const rig of ['alpha', 'beta']) {
    for (let i = 0; i < n; i++) {
      const out = must('town', 'bd', ['create', `${rig} more work ${i}`, '-l', 'agent:slow', '--json'], { cwd: join(root, rig) });
      byRig.push([rig, (JSON.parse(out) as { id: string }).id]);
    }
  }
  return { all: byRig.map(([, id]) => id), byRig };
}
