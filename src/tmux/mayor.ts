import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { hasSession, killSession, newSession, panePid, pipeToFile, sendText, tmuxBase } from '../activities/tmux.js';
import { killGroup } from '../activities/process.js';
import { GtError } from '../errors.js';
import { buildStartCommand, chooseRuntime, type ChosenRuntime } from '../town/runtimes.js';
import { MAYOR_SESSION, mayorTarget, requireTmux } from './agents.js';

/**
 * The Mayor: an agent runtime in the town root, in tmux session `gt-mayor`, reading the role
 * context `gt install` wrote (CLAUDE.md / AGENTS.md). A person attaches to talk to it.
 */

const FIRST_PROMPT =
  'You are the Mayor of this Gas Town; your role and tools are in CLAUDE.md (AGENTS.md). ' +
  'Run `gt mail inbox` to see reports from polecats, then ask the overseer what to build.';

/** How long a freshly started agent must stay up to count as started. */
const SETTLE_MS = 500;

function onPath(command: string): boolean {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (isAbsolute(command) || command.includes('/')) return executable(command);
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && executable(join(dir, command)));
}

export async function mayorRunning(): Promise<boolean> {
  return hasSession(MAYOR_SESSION);
}

export async function startMayor(root: string, agentFlag?: string): Promise<ChosenRuntime> {
  requireTmux();
  const runtime = chooseRuntime({ root, role: 'mayor', agentFlag });
  if (await mayorRunning()) {
    throw new GtError(`the Mayor is already running (tmux session ${MAYOR_SESSION})`, { hint: 'attach with `gt mayor attach`, or stop it with `gt mayor stop`' });
  }
  if (!onPath(runtime.command)) {
    throw new GtError(`cannot start the Mayor: agent "${runtime.name}" (chosen by ${runtime.source}) runs "${runtime.command}", which is not on PATH`, {
      hint: 'install it, pick another agent with --agent <name>, or set one with `gt config agent set <name> "<command>"`',
    });
  }
  const start = buildStartCommand(runtime, FIRST_PROMPT);
  const log = mayorTarget(root).log;
  mkdirSync(dirname(log), { recursive: true });
  await newSession({
    session: MAYOR_SESSION,
    cwd: root,
    env: { ...start.env, GT_ROOT: root, GT_ROLE: 'mayor', BD_ACTOR: 'mayor' },
    // Always several words, so tmux runs the command itself and no shell re-reads its arguments.
    argv: ['/bin/sh', '-c', 'exec "$@"', 'gt-mayor', ...start.argv],
  });
  await pipeToFile(MAYOR_SESSION, log).catch(() => undefined);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  if (!(await mayorRunning())) {
    throw new GtError(`the Mayor's agent (${start.argv[0]}) exited right after it started`, { hint: `see ${log}` });
  }
  if (start.typedPrompt) await sendText(MAYOR_SESSION, start.typedPrompt);
  return runtime;
}

export async function stopMayor(): Promise<void> {
  requireTmux();
  if (!(await mayorRunning())) {
    throw new GtError('the Mayor is not running', { hint: 'start it with `gt mayor start`' });
  }
  // The agent may ignore the hang-up tmux sends; stop its whole process group too.
  const pid = await panePid(MAYOR_SESSION).catch(() => undefined);
  await killSession(MAYOR_SESSION);
  if (pid) killGroup(pid, 'SIGTERM');
}

/**
 * Join the Mayor's session in this terminal. Inside tmux the client switches to it; outside,
 * tmux takes over the terminal until the person detaches. Returns tmux's exit code.
 */
export function attachMayor(): number {
  const args = process.env.TMUX ? ['switch-client', '-t', `=${MAYOR_SESSION}`] : ['attach-session', '-t', `=${MAYOR_SESSION}`];
  const r = spawnSync('tmux', [...tmuxBase(), ...args], { stdio: 'inherit' });
  return r.status ?? 1;
}
