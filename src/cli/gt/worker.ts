import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { GtError, usageError } from '../../errors.js';
import { readRigs, requireTownRoot } from '../../town/layout.js';
import { action, collect } from '../run.js';

export function registerWorkerCommands(program: Command): void {
  program
    .command('worker')
    .description("run a rig host in the foreground: a worker serving only the given rigs' polecats, merge queue, agents, git and worktrees (their task queues gt-<town>-<rig>), while orchestration and dispatch stay with the town's own worker; run it in the town's folder (this machine, or a shared file system), or with --town <name> on a host without it")
    .option('--rig <name>', 'a rig to serve (repeat for more; default: every rig set to run on workers)', collect)
    .option('--address <host:port>', "the town's Temporal cluster (default: temporal.address of the town's settings, or TEMPORAL_ADDRESS)")
    .option('--host <name>', 'how this host is named in `gt status` (default: the host name)')
    .option('--town <name>', "on a host without the town folder: the town to serve, reached through the engine (its ledgers stay with the town; the rigs are cloned from their git URLs into --home)")
    .option('--home <dir>', 'with --town: the folder this host keeps its clones, worktrees, logs and run files in (default: ~/.gt-rig-host/<town>)')
    .action(action(async (opts: { rig?: string[]; address?: string; host?: string; town?: string; home?: string }) => {
      if (opts.address !== undefined && !/^[^\s:]+:\d{1,5}$/.test(opts.address)) {
        throw usageError(`--address must be host:port, e.g. 10.0.0.5:7233 (got "${opts.address}")`);
      }
      if (opts.host !== undefined && !/^[A-Za-z0-9_.-]+$/.test(opts.host)) {
        throw usageError(`--host must be a plain name (letters, digits, . _ -), got "${opts.host}"`);
      }
      if (opts.home !== undefined && opts.town === undefined) throw usageError('--home goes with --town <name> (a host without the town folder)');
      if (opts.town !== undefined) return runRigHostHome({ ...opts, town: opts.town });
      const root = requireTownRoot();
      const { rigRunsOn } = await import('../../temporal/worker.js');
      const all = Object.keys(readRigs(root).rigs).sort();
      for (const rig of opts.rig ?? []) {
        if (!all.includes(rig)) {
          throw usageError(`unknown rig "${rig}"`, all.length ? `the rigs of this town: ${all.join(', ')} (gt rig list)` : 'this town has no rigs yet: gt rig add <name> <git-url>');
        }
        if (rigRunsOn(root, rig) !== 'workers') {
          throw new GtError(`rig ${rig} runs its agents on the town's own worker, so a rig host would share its work with it`, {
            hint: `first move it to the rig hosts: gt rig run-on ${rig} workers`,
          });
        }
      }
      const rigs = opts.rig ?? all.filter((r) => rigRunsOn(root, r) === 'workers');
      if (!rigs.length) {
        throw new GtError('no rig of this town runs on workers, so a rig host has nothing to serve', { hint: 'move one: gt rig run-on <rig> workers (then gt worker --rig <rig>)' });
      }
      const { engineConfig } = await import('../../temporal/config.js');
      const config = engineConfig(root);
      if (opts.address) Object.assign(config, { address: opts.address, external: true });
      if (!config.external) {
        throw new GtError(`this town uses its embedded server (127.0.0.1:${config.grpcPort}), which other hosts cannot reach`, {
          hint: 'put the town on a cluster (scripts/cluster.sh up; temporal.address in settings/config.json), or give --address <host:port>',
        });
      }
      const { connectClient } = await import('../../temporal/client.js');
      const client = await connectClient(config);
      try {
        await (await import('../../temporal/town-claim.js')).checkTownClaim(client, root, config);
      } finally {
        await client.connection.close();
      }
      await runRigWorker(root, config, rigs, opts.host ?? hostname());
    }));
}

/** The rig host's worker process, in the foreground, for the town folder (or rig host home) at `root`. */
async function runRigWorker(root: string, config: import('../../temporal/config.js').EngineConfig, rigs: string[], host: string): Promise<void> {
  const { townEnv } = await import('../../town/env.js');
  const { tmuxSocket } = await import('../../activities/tmux.js');
  const { workerProcessArgs } = await import('../../temporal/binary.js');
  const args = workerProcessArgs(['--rig-host', '--host', host, ...rigs.flatMap((r) => ['--rig', r])]);
  // The town's environment, as for the worker `gt up` starts (agents never run as the caller),
  // with a tmux server of this host's own: sessions here are this host's, not the town's.
  const env = townEnv(root, config, `${tmuxSocket(root)}-${host}`, host);
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
  process.exitCode = code;
}

/**
 * `gt worker --town <name>`: a rig host without the town folder. The town (through the engine)
 * says what its rigs are; this host keeps a rig host home (remote/home.ts) with the rigs cloned
 * from their git URLs, and runs the rig worker there. Refused, changing nothing: no engine
 * address, a town the engine does not know, a rig the town does not have or keeps on its own worker.
 */
async function runRigHostHome(opts: { rig?: string[]; address?: string; host?: string; town: string; home?: string }): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.town)) throw usageError(`--town must be a town's name (letters, digits, . _ -), got "${opts.town}"`);
  const address = opts.address ?? process.env.TEMPORAL_ADDRESS;
  if (!address) throw usageError('--town needs the town\'s cluster: give --address <host:port> (or TEMPORAL_ADDRESS)');
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const host = opts.host ?? hostname();
  const home = resolve(opts.home ?? join(homedir(), '.gt-rig-host', opts.town));
  const { connectClient } = await import('../../temporal/client.js');
  const { requireTown } = await import('../../remote/client.js');
  const { callOnce } = await import('../../remote/call.js');
  const { WorkflowFailedError } = await import('@temporalio/client');
  const client = await connectClient({ address, namespace, external: true });
  let setup: import('../../remote/home.js').RigHostSetup;
  try {
    await requireTown(client, opts.town, address, namespace);
    setup = await callOnce(client, {
      workflowId: `rig-host/${opts.town}/${host}/${randomUUID()}`,
      taskQueue: process.env.GT_TASK_QUEUE ?? `gt-${opts.town}`,
      workflowType: 'townActivityWorkflow',
      args: ['rigHostSetup', [{ rigs: opts.rig }]],
      summary: `rig host ${host} starts`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const failure = (err.cause as Error & { cause?: Error & { details?: { hint?: string; exitCode?: number }[] } })?.cause;
    const details = failure?.details?.[0];
    throw new GtError(failure?.message ?? err.message, { hint: details?.hint, exitCode: details?.exitCode });
  } finally {
    await client.connection.close();
  }
  const { writeRigHostHome } = await import('../../remote/home.js');
  writeRigHostHome(home, setup, { address, namespace }, (m) => process.stdout.write(`gt worker: ${m}\n`));
  const { engineConfig } = await import('../../temporal/config.js');
  await runRigWorker(home, engineConfig(home), Object.keys(setup.rigs), host);
}
