// Shared by the benchmarks that need a town with a rig and the scripted agent (not a benchmark:
// the dispatcher skips files starting with "_").
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const project = fileURLToPath(new URL('..', import.meta.url));
export const gtBin = join(project, 'bin', 'gt.js');
export const bdBin = join(project, 'bin', 'bd.js');
export const scriptedAgent = join(project, 'test', 'fixtures', 'scripted-agent.mjs');

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

export function cli(bin, args, cwd, env) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function git(cwd, ...args) {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Bead statuses straight from a ledger file (no process per poll). */
export function statuses(ledgerFile) {
  const out = new Map();
  for (const line of readFileSync(ledgerFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const b = JSON.parse(line);
      if (b.id) out.set(b.id, b.status);
    } catch {
      // a line being written
    }
  }
  return out;
}

/**
 * A fresh town with its own embedded engine, rig `bench` (prefix bn) on a bare remote, and the
 * scripted agent as default agent. `settings(s)` may adjust settings/config.json before start.
 */
export async function benchTown(name, settingsPatch = () => {}) {
  // Each town its own name (so two never share a task queue, or a name on a cluster).
  const base = mkdtempSync(join(tmpdir(), `gt-bench-${name}-`));
  const root = join(base, 'town');
  const tag = `bench${name}${Math.random().toString(36).slice(2, 6)}`.replace(/[^a-z0-9]/gi, '');
  const env = { ...process.env, BD_ACTOR: 'bench', GT_TMUX_SOCKET: tag, SCRIPTED_AGENT_LOG: join(base, 'sessions.log'), SCRIPTED_AGENT_CPU_LOG: join(base, 'agent-cpu.log') };
  for (const k of ['GT_ROOT', 'GT_ROLE', 'GT_RIG', 'GT_POLECAT', 'GT_BEAD', 'BEADS_DIR', 'TEMPORAL_ADDRESS', 'GT_TASK_QUEUE']) delete env[k];

  const remote = join(base, 'remote.git');
  git(base, 'init', '-q', '--bare', '-b', 'main', remote);
  const seed = join(base, 'seed');
  mkdirSync(seed);
  git(seed, 'init', '-q', '-b', 'main');
  writeFileSync(join(seed, 'README.md'), '# bench\n');
  git(seed, 'add', '.');
  git(seed, '-c', 'user.name=b', '-c', 'user.email=b@localhost', 'commit', '-q', '-m', 'init');
  git(seed, 'push', '-q', remote, 'main');

  cli(gtBin, ['install', root, '--name', tag], base, env);
  const settingsFile = join(root, 'settings', 'config.json');
  const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));
  settings.temporal = { ...settings.temporal, grpc_port: await freePort(), ui_port: await freePort() };
  settingsPatch(settings);
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  cli(gtBin, ['rig', 'add', 'bench', remote, '--prefix', 'bn'], root, env);
  cli(gtBin, ['config', 'agent', 'set', 'scripted', scriptedAgent], root, env);
  cli(gtBin, ['config', 'default-agent', 'scripted'], root, env);
  const rigHosts = [];
  return {
    base,
    root,
    env,
    remote,
    sessionsLog: env.SCRIPTED_AGENT_LOG,
    /** CPU ms of each scripted agent session that ended, the commands it ran included. */
    agentCpuMs: () => {
      try {
        return readFileSync(env.SCRIPTED_AGENT_CPU_LOG, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1]));
      } catch {
        return [];
      }
    },
    serverPid: () => Number(readFileSync(join(root, '.gt', 'run', 'temporal.pid'), 'utf8').trim()),
    ledger: join(root, 'bench', '.beads', 'issues.jsonl'),
    create: (title, mode) => JSON.parse(cli(bdBin, ['create', title, '--json', ...(mode ? ['-l', `agent:${mode}`] : [])], join(root, 'bench'), env)).id,
    gt: (args) => cli(gtBin, args, root, env),
    workerPid: () => Number(readFileSync(join(root, '.gt', 'run', 'worker.pid'), 'utf8').trim()),
    /**
     * `count` rig hosts (`gt worker --rig bench --host hostN`) on this machine, once they poll:
     * [{ host, pid of the worker process }]. On the embedded server (which other machines cannot
     * reach, so `gt worker` asks for it by name) they are given its address on loopback.
     */
    rigHosts: async (count) => {
      cli(gtBin, ['rig', 'run-on', 'bench', 'workers'], root, env);
      const started = [];
      for (let i = 1; i <= count; i++) {
        const host = `host${i}`;
        const child = spawn(process.execPath, [gtBin, 'worker', '--rig', 'bench', '--host', host, ...(settings.temporal.address ? [] : ['--address', `127.0.0.1:${settings.temporal.grpc_port}`])], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const pid = await new Promise((resolve, reject) => {
          const timer = setInterval(() => {
            const m = /gt worker (\d+): polling/.exec(out);
            if (m) {
              clearInterval(timer);
              resolve(Number(m[1]));
            } else if (child.exitCode !== null) {
              clearInterval(timer);
              reject(new Error(`gt worker --host ${host} exited: ${out}`));
            }
          }, 100);
        });
        rigHosts.push({ host, child });
        started.push({ host, pid });
      }
      return started;
    },
    down: () => {
      for (const { host, child } of rigHosts.splice(0)) {
        child.kill('SIGTERM');
        spawnSync('tmux', ['-L', `${tag}-${host}`, 'kill-server'], { stdio: 'ignore' });
      }
      spawnSync(process.execPath, [gtBin, 'down'], { cwd: root, env, stdio: 'ignore' });
      spawnSync('tmux', ['-L', tag, 'kill-server'], { stdio: 'ignore' });
    },
  };
}

/** What cleanEnvironment() took out of this run's environment (said on every results file's machine line). */
let removedFromEnv = [];

/**
 * The benchmarks measure the town, not the machine's shell: NODE_EXTRA_CA_CERTS makes Node 20
 * build its whole certificate store at every start (the bundled roots and the file's), about 40 ms
 * of CPU a process on a 2-core machine, where an agent session starts three Node processes. It is
 * taken out of the environment of everything a benchmark starts unless `--keep-env` is given,
 * and the results say so.
 */
export function cleanEnvironment(argv) {
  if (argv.includes('--keep-env')) return;
  for (const name of ['NODE_EXTRA_CA_CERTS']) {
    if (process.env[name] === undefined) continue;
    delete process.env[name];
    removedFromEnv.push(name);
  }
}

export function machineLine() {
  return import('node:os').then(({ cpus, totalmem }) => {
    const cpu = cpus();
    const env = removedFromEnv.length ? `; ${removedFromEnv.join(', ')} (set in this shell) unset for the run (\`--keep-env\` keeps it)` : '';
    return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform} ${process.arch}, Node ${process.version}${env}`;
  });
}

const CLK_TCK = 100;

/** CPU time (user + system) a process has used, in ms; NaN once it is gone. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function cmdlineOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The town's worker processes: the worker, its rig worker (the child serving the rigs, started
 * with --town-rigs), and the launcher of each (the small process it starts its commands from).
 */
export function workerTree(workerPid) {
  const workers = [workerPid, ...childrenOf(workerPid).filter((c) => cmdlineOf(c).includes('--town-rigs'))];
  const launchers = workers.flatMap((w) => childrenOf(w).filter((c) => cmdlineOf(c).includes('launcher.js')));
  return { workers, launchers };
}

/** CPU time of the worker's processes together (workerTree), in ms. */
export function workerCpuMs(workerPid) {
  const { workers, launchers } = workerTree(workerPid);
  return [...workers, ...launchers].reduce((sum, pid) => sum + (cpuMs(pid) || 0), 0);
}

/** memKb of the worker's processes added (workerTree). */
export function workerMemKb(workerPid, field) {
  const { workers, launchers } = workerTree(workerPid);
  return [...workers, ...launchers].reduce((sum, pid) => sum + (memKb(pid, field) || 0), 0);
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM); NaN once it is gone. */
export function memKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** The machine's load averages (1, 5, 15 min), as /proc/loadavg says them. */
export function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/**
 * Where a run's CPU went: the machine's busy time (/proc/stat) and the town's parts (the
 * worker, its launcher and the commands it ran: git, tmux clients, test commands; the Temporal
 * server). `snap()` before, `since(before)` after: seconds each.
 */
export function cpuAccount(town) {
  const own = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { self: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK, children: ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK };
    } catch {
      return { self: 0, children: 0 };
    }
  };
  const snap = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const { workers, launchers } = workerTree(town.workerPid());
    return {
      busy: ((fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) * 1000) / CLK_TCK,
      parts: new Map([...workers, ...launchers].map((pid) => [pid, { ...own(pid), launcher: launchers.includes(pid) }])),
      server: own(town.serverPid()).self,
    };
  };
  const since = (b) => {
    const a = snap();
    // A process started during the run (a launcher, a restarted rig worker) counts from zero.
    let worker = 0;
    let commands = 0;
    for (const [pid, now] of a.parts) {
      const was = b.parts.get(pid) ?? { self: 0, children: 0 };
      worker += now.self - was.self;
      if (now.launcher) commands += now.children - was.children;
    }
    const s = (ms) => ms / 1000;
    return { busy: s(a.busy - b.busy), worker: s(worker), commands: s(commands), server: s(a.server - b.server) };
  };
  return { snap, since };
}
