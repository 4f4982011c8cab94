import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { GtError } from '../errors.js';
import { tailOf } from '../fsutil.js';
import { processAlive, processExiting, withLock } from '../lock.js';
import { tmuxSocket } from '../activities/tmux.js';
import { hostEnv, rigHostName, townEnv } from '../town/env.js';
import { townPaths } from '../town/layout.js';
import { findTemporalCli, workerProcessArgs } from './binary.js';
import { engineConfig, type EngineConfig } from './config.js';
import { devServerSearchAttributeFlags } from './search-attributes.js';

/**
 * The town's background processes: the embedded Temporal dev server (unless an external cluster
 * is configured) and the worker. Each has a pid file under `.gt/run/` and a log under `.gt/logs/`.
 */
export type ServiceName = 'temporal' | 'worker';

export function serviceFiles(root: string, name: ServiceName) {
  const p = townPaths(root);
  return {
    pid: join(p.run, `${name}.pid`),
    ready: join(p.run, `${name}.ready`),
    log: join(p.logs, `${name}.log`),
    /** The worker's child serving the rigs that run on the town (temporal/town-rigs.ts). */
    rigsPid: join(p.run, `${name}-rigs.pid`),
  };
}

function pidIn(file: string): number | undefined {
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
}

function recordedPid(root: string, name: ServiceName): number | undefined {
  return pidIn(serviceFiles(root, name).pid);
}

/** A pid that runs, or undefined (a stale pid file, or a process being killed, is ignored). */
function live(pid: number | undefined): number | undefined {
  return pid !== undefined && processAlive(pid) && !processExiting(pid) ? pid : undefined;
}

/** The pid of a running service, or undefined. */
export function servicePid(root: string, name: ServiceName): number | undefined {
  return live(recordedPid(root, name));
}

/** The pid of the town's rig worker (the worker's child), while the worker runs. */
export function rigWorkerPid(root: string): number | undefined {
  return servicePid(root, 'worker') ? live(pidIn(serviceFiles(root, 'worker').rigsPid)) : undefined;
}

/**
 * Wait until a service that is being killed (`kill -9` a moment ago) is gone, so what it holds
 * (its port, its pid file) is free before another is started in its place.
 */
async function outlive(root: string, name: ServiceName): Promise<void> {
  const pid = recordedPid(root, name);
  if (pid === undefined) return;
  const deadline = Date.now() + 30_000;
  while (processAlive(pid) && processExiting(pid)) {
    if (Date.now() > deadline) throw new GtError(`the ${name} (pid ${pid}) was killed but has not exited after 30 s`, { hint: `see what it waits on: cat /proc/${pid}/stack, or ps -o stat,wchan -p ${pid}` });
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Dynamic config of the embedded server (the tests' server runs with the same; the cluster's
 * scripts/cluster/dynamicconfig.yaml says the same).
 * - An activity a workflow task schedules on its own task queue comes back in the answer to that
 *   task (eager execution): one trip through the server's matching fewer an activity. The SDK
 *   asks for it; the server grants it only with this on (its default is off).
 * - The history service reads a shard's transfer queue (the tasks that hand a workflow task or
 *   a signal on) and its timer queue at most 20 times a second by default, and the embedded
 *   server has one shard: a task made while the last read is under 50 ms old waits for the next.
 *   A convoy's signal to its dispatcher is two such tasks in a row (the signal, then the
 *   dispatcher's workflow task): about 50 ms on every dispatch. Reads happen only when there are
 *   new tasks, so a higher ceiling costs nothing when the town is quiet.
 */
export function devServerDynamicConfigFlags(): string[] {
  return [
    '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
    '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=500',
    '--dynamic-config-value', 'history.timerProcessorMaxPollRPS=500',
  ];
}

export function devServerArgs(root: string, config: EngineConfig): string[] {
  return [
    'server', 'start-dev',
    '--db-filename', join(townPaths(root).temporal, 'dev.db'),
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    '--ip', '127.0.0.1',
    '--port', String(config.grpcPort),
    '--ui-port', String(config.uiPort),
    '--namespace', config.namespace,
    '--log-level', 'warn',
    ...devServerDynamicConfigFlags(),
    ...devServerSearchAttributeFlags(),
  ];
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolve when a TCP port accepts connections, or reject after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portOpen(host, port)) return;
    if (!isAlive()) throw new Error('process exited before it opened its port');
    if (Date.now() > deadline) throw new Error(`port ${host}:${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function spawnDetached(root: string, name: ServiceName, command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const files = serviceFiles(root, name);
  mkdirSync(townPaths(root).run, { recursive: true });
  mkdirSync(townPaths(root).logs, { recursive: true });
  const log = openSync(files.log, 'a');
  const child = spawn(command, args, { cwd: root, detached: true, stdio: ['ignore', log, log], env });
  if (!child.pid) throw new GtError(`could not start ${name}: ${command}`);
  child.unref();
  writeFileSync(files.pid, `${child.pid}\n`);
  return child.pid;
}


async function startServer(root: string, config: EngineConfig): Promise<void> {
  if (servicePid(root, 'temporal')) return;
  await outlive(root, 'temporal');
  mkdirSync(townPaths(root).temporal, { recursive: true });
  if (await portOpen('127.0.0.1', config.grpcPort)) {
    throw new GtError(`port ${config.grpcPort} is already in use (another town's engine, or another program)`, {
      hint: `give this town its own ports: set temporal.grpc_port (and temporal.ui_port) in ${townPaths(root).settings}, or point it at a running cluster with temporal.address`,
    });
  }
  const cli = findTemporalCli();
  const pid = spawnDetached(root, 'temporal', cli, devServerArgs(root, config), hostEnv());
  try {
    await waitForPort('127.0.0.1', config.grpcPort, 60_000, () => processAlive(pid));
  } catch (err) {
    throw new GtError(`the Temporal dev server did not start: ${(err as Error).message}\n${tailOf(serviceFiles(root, 'temporal').log, 15) || '(no log)'}`, {
      hint: `see ${serviceFiles(root, 'temporal').log}; is port ${config.grpcPort} taken? set temporal.grpc_port in settings/config.json`,
    });
  }
}

async function startWorker(root: string, config: EngineConfig): Promise<void> {
  if (servicePid(root, 'worker')) return;
  await outlive(root, 'worker');
  const files = serviceFiles(root, 'worker');
  try {
    unlinkSync(files.ready);
  } catch {
    // none
  }
  // The town's environment, never the caller's: a worker started by an agent's `gt done` must
  // not run (and commit) as that agent, nor see the town's own server as an external cluster.
  const pid = spawnDetached(root, 'worker', process.execPath, workerProcessArgs(), townEnv(root, config, tmuxSocket(root)));
  const deadline = Date.now() + 90_000;
  while (!existsSync(files.ready)) {
    if (!processAlive(pid)) {
      throw new GtError(`the worker exited while starting:\n${tailOf(files.log, 15) || '(no log)'}`, { hint: `see ${files.log}` });
    }
    if (Date.now() > deadline) throw new GtError('the worker did not become ready within 90 s', { hint: `see ${files.log}` });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Make sure the engine and the worker run for this town (what `gt up` does, and what any
 * command that needs the engine does implicitly). Safe to call from many processes at once.
 */
export async function ensureUp(root: string): Promise<EngineConfig> {
  const config = engineConfig(root);
  // On a rig host the town's services are another machine's: never start them here.
  if (rigHostName()) return config;
  if (servicePid(root, 'worker') && (config.external || servicePid(root, 'temporal'))) return config;
  await withLock(join(townPaths(root).run, 'up.lock'), async () => {
    if (!config.external) await startServer(root, config);
    const { connectClient, ensureSearchAttributes } = await import('./client.js');
    const client = await connectClient(config);
    try {
      // A cluster may not have the town's namespace yet (the embedded server is started with it).
      if (config.external) await (await import('./cluster.js')).ensureNamespace(client.connection, config.namespace);
      await ensureSearchAttributes(config);
      await (await import('./town-claim.js')).claimTown(client, root, config);
    } finally {
      await client.connection.close();
    }
    await startWorker(root, config);
  }, { what: 'starting the town services' });
  return config;
}

async function stopPid(pid: number, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (processAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Stop the worker (it finishes in-flight activity tasks first), then the dev server. */
export async function stopServices(root: string): Promise<{ worker: boolean; temporal: boolean }> {
  const result = { worker: false, temporal: false };
  for (const name of ['worker', 'temporal'] as const) {
    const pid = servicePid(root, name);
    if (pid) {
      await stopPid(pid, name === 'worker' ? 20_000 : 15_000);
      result[name] = true;
    }
    for (const f of [serviceFiles(root, name).pid, serviceFiles(root, name).ready, serviceFiles(root, name).rigsPid]) {
      try {
        unlinkSync(f);
      } catch {
        // none
      }
    }
  }
  return result;
}
