import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GtError, usageError } from '../../errors.js';
import { readRigs, requireTownRoot } from '../../town/layout.js';
import { action, collect } from '../run.js';

export function registerWorkerCommands(program: Command): void {
  program
    .command('worker')
    .description("run a rig host in the foreground: a worker serving only the given rigs' polecats, merge queue, agents, git and worktrees (their task queues gt-<town>-<rig>), while orchestration and dispatch stay with the town's own worker; the town's folder must be reachable here at the same path (this machine, or a shared file system)")
    .option('--rig <name>', 'a rig to serve (repeat for more; default: every rig set to run on workers)', collect)
    .option('--address <host:port>', "the town's Temporal cluster (default: temporal.address of the town's settings, or TEMPORAL_ADDRESS)")
    .option('--host <name>', 'how this host is named in `gt status` (default: the host name)')
    .action(action(async (opts: { rig?: string[]; address?: string; host?: string }) => {
      const root = requireTownRoot();
      if (opts.address !== undefined && !/^[^\s:]+:\d{1,5}$/.test(opts.address)) {
        throw usageError(`--address must be host:port, e.g. 10.0.0.5:7233 (got "${opts.address}")`);
      }
      if (opts.host !== undefined && !/^[A-Za-z0-9_.-]+$/.test(opts.host)) {
        throw usageError(`--host must be a plain name (letters, digits, . _ -), got "${opts.host}"`);
      }
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
      const { townEnv } = await import('../../town/env.js');
      const { tmuxSocket } = await import('../../activities/tmux.js');
      const { PROJECT_ROOT } = await import('../../temporal/binary.js');
      const host = opts.host ?? hostname();
      const args = [join(PROJECT_ROOT, 'dist', 'worker.js'), '--rig-host', '--host', host, ...rigs.flatMap((r) => ['--rig', r])];
      // The town's environment, as for the worker `gt up` starts (agents never run as the caller),
      // with a tmux server of this host's own: sessions here are this host's, not the town's.
      const env = townEnv(root, config, `${tmuxSocket(root)}-${host}`, host);
      const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
      const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
      process.exitCode = code;
    }));
}
