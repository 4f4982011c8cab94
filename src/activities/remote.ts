import { ApplicationFailure } from '@temporalio/activity';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allowedList, checkTownCommand, IDENTITY_VARS, type TownCommand, type TownCommandResult } from '../remote/commands.js';
import { appendEvent } from '../events/log.js';
import { PROJECT_ROOT } from '../temporal/binary.js';
import { engineConfig } from '../temporal/config.js';
import { townEnv } from '../town/env.js';
import { readRigs, readTownJson, rigPaths, townPaths } from '../town/layout.js';
import type { RigHostSetup } from '../remote/home.js';
import { readRigSettings } from '../town/settings.js';
import { tmuxSocket } from './tmux.js';

/** Longest a command sent by a remote agent may run in the town (a `gt done` waits on its polecat's update). */
const COMMAND_TIMEOUT_MS = 10 * 60_000;

/**
 * A command an agent on a host without the town folder sent through the engine, run here in the
 * town folder as that agent: the same `gt`/`bd`, the agent's identity variables, in its rig's
 * folder (its worktree when the town has it), so it reads and writes the ledgers as if the agent
 * ran it here. Only the agent commands of remote/commands.ts; anything else is refused unrun.
 */
export function remoteActivities(root: string) {
  return {
    /**
     * What a rig host without the town folder needs to serve `rigs` (default: every rig that runs
     * on workers): the town's and the rigs' settings and entries. Refused (changing nothing) for a
     * rig the town does not have or one still on the town's own worker, as `gt worker` refuses them.
     */
    async rigHostSetup(input: { rigs?: string[] }): Promise<RigHostSetup> {
      const rigsJson = readRigs(root);
      const all = Object.keys(rigsJson.rigs).sort();
      const refuse = (message: string, hint: string, exitCode = 1) => ApplicationFailure.create({ message, type: 'RigHostRefused', nonRetryable: true, details: [{ hint, exitCode }] });
      for (const rig of input.rigs ?? []) {
        if (!all.includes(rig)) throw refuse(`unknown rig "${rig}"`, all.length ? `the rigs of this town: ${all.join(', ')} (gt rig list)` : 'this town has no rigs yet: gt rig add <name> <git-url>', 2);
        if (readRigSettings(root, rig).run_on !== 'workers') throw refuse(`rig ${rig} runs its agents on the town's own worker, so a rig host would share its work with it`, `first move it to the rig hosts: gt rig run-on ${rig} workers`);
      }
      const rigs = input.rigs ?? all.filter((r) => readRigSettings(root, r).run_on === 'workers');
      if (!rigs.length) throw refuse('no rig of this town runs on workers, so a rig host has nothing to serve', 'move one: gt rig run-on <rig> workers (then gt worker --rig <rig>)');
      const json = (file: string): Record<string, unknown> => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {});
      return {
        townJson: readTownJson(root),
        rigsJson,
        settings: json(townPaths(root).settings),
        taskQueue: engineConfig(root).taskQueue,
        rigs: Object.fromEntries(rigs.map((r) => [r, { config: json(rigPaths(root, r).config), settings: json(rigPaths(root, r).settings) }])),
      };
    },

    /** An event a rig host without the town folder wrote, into the town's stream (once: by its id). */
    async recordTownEvent(event: Parameters<typeof appendEvent>[1]): Promise<void> {
      appendEvent(root, event);
    },

    async runTownCommand(cmd: TownCommand): Promise<TownCommandResult> {
      const check = checkTownCommand(cmd.bin, cmd.args);
      if ('refused' in check) throw ApplicationFailure.nonRetryable(`${check.refused}; these are: ${allowedList()}`, 'RefusedCommand');
      const identity: Record<string, string> = {};
      for (const k of IDENTITY_VARS) if (typeof cmd.env[k] === 'string') identity[k] = cmd.env[k]!;
      const rig = identity.GT_RIG && readRigs(root).rigs[identity.GT_RIG] ? identity.GT_RIG : undefined;
      const home = rig && identity.GT_ROLE === 'polecat' && identity.GT_POLECAT ? join(rigPaths(root, rig).polecats, identity.GT_POLECAT) : undefined;
      const cwd = home && existsSync(home) ? home : rig ? rigPaths(root, rig).dir : root;
      const env: Record<string, string> = { ...townEnv(root, engineConfig(root), tmuxSocket(root)), ...identity };
      // A polecat's call is progress its session watch sees, as when the agent runs it here.
      if (rig && identity.GT_POLECAT) env.GT_PROGRESS_FILE = join(townPaths(root).run, 'polecats', rig, `${identity.GT_POLECAT}.progress`);
      return new Promise<TownCommandResult>((resolve, reject) => {
        const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', `${cmd.bin}.js`), ...cmd.args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.stdin.end(cmd.stdin ?? '');
        const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
        child.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 + 9 : 1), stdout, stderr: signal ? `${stderr}error: the command was stopped after ${COMMAND_TIMEOUT_MS / 60_000} min in the town\n` : stderr });
        });
      });
    },
  };
}
