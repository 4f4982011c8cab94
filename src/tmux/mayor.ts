import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { claudeSettings } from '../polecat/runtime-files.js';
import { integrationFor } from '../town/integrations.js';
import { townPaths } from '../town/layout.js';
import { hasSession, killSession, newSession, panePid, sendText, tmuxArgs, tmuxSocket } from '../activities/tmux.js';
import { killGroup } from '../activities/process.js';
import { GtError } from '../errors.js';
import { engineConfig } from '../temporal/config.js';
import { townEnv } from '../town/env.js';
import { buildStartCommand, chooseRuntime, commandExists, type ChosenRuntime } from '../town/runtimes.js';
import { MAYOR_SESSION, mayorTarget, requireTmux } from './agents.js';

/**
 * The Mayor: an agent runtime in the town root, in tmux session `gt-mayor` of the town's own tmux
 * server, reading the role context `gt install` wrote (CLAUDE.md / AGENTS.md). A person attaches
 * to talk to it.
 */

const FIRST_PROMPT =
  'You are the Mayor of this Gas Town; your role and tools are in CLAUDE.md (AGENTS.md). ' +
  'Run `gt mail inbox` to see reports from polecats, then ask the overseer what to build.';

/** How long a freshly started agent must stay up to count as started. */
const SETTLE_MS = 500;

export async function mayorRunning(root: string): Promise<boolean> {
  return hasSession(root, MAYOR_SESSION);
}

export async function startMayor(root: string, agentFlag?: string): Promise<ChosenRuntime> {
  requireTmux();
  const runtime = chooseRuntime({ root, role: 'mayor', agentFlag });
  if (await mayorRunning(root)) {
    throw new GtError(`the Mayor is already running (tmux session ${MAYOR_SESSION})`, { hint: 'attach with `gt mayor attach`, or stop it with `gt mayor stop`' });
  }
  if (!commandExists(runtime.command)) {
    throw new GtError(`cannot start the Mayor: agent "${runtime.name}" (chosen by ${runtime.source}) runs "${runtime.command}", which is not on PATH`, {
      hint: 'install it, pick another agent with --agent <name>, or set one with `gt config agent set <name> "<command>"`',
    });
  }
  // Claude Code gets the same hooks as a polecat's (its role comes back after a compaction); a
  // person's settings/claude-settings.json that does not parse refuses the start.
  let settingsFile: string | undefined;
  if (integrationFor(runtime.provider, runtime).style === 'claude-settings') {
    settingsFile = join(townPaths(root).run, 'mayor.claude-settings.json');
    const settings = claudeSettings(root);
    mkdirSync(dirname(settingsFile), { recursive: true });
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
  }
  const start = buildStartCommand(runtime, FIRST_PROMPT, { settingsFile });
  const log = mayorTarget(root).log;
  mkdirSync(dirname(log), { recursive: true });
  await newSession(root, {
    session: MAYOR_SESSION,
    cwd: root,
    env: { ...townEnv(root, engineConfig(root), tmuxSocket(root)), ...start.env, GT_ROLE: 'mayor', BD_ACTOR: 'mayor' },
    argv: start.argv,
    logFile: log,
  });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  if (!(await mayorRunning(root))) {
    throw new GtError(`the Mayor's agent (${start.argv[0]}) exited right after it started`, { hint: `see ${log}` });
  }
  if (start.typedPrompt) await sendText(root, MAYOR_SESSION, start.typedPrompt);
  return runtime;
}

export async function stopMayor(root: string): Promise<void> {
  requireTmux();
  if (!(await mayorRunning(root))) {
    throw new GtError('the Mayor is not running', { hint: 'start it with `gt mayor start`' });
  }
  // The agent may ignore the hang-up tmux sends; stop its whole process group too.
  const pid = await panePid(root, MAYOR_SESSION).catch(() => undefined);
  await killSession(root, MAYOR_SESSION);
  if (pid) killGroup(pid, 'SIGTERM');
}

/**
 * Join the Mayor's session in this terminal. Inside a session of the town's own tmux server the
 * client switches to it; otherwise tmux takes over the terminal until the person detaches.
 * Returns tmux's exit code.
 */
export function attachMayor(root: string): number {
  const socket = tmuxSocket(root);
  // TMUX is "<socket path>,<pid>,<session>": a client of this town's server can switch.
  const inTownServer = Boolean(process.env.TMUX && basename(process.env.TMUX.split(',')[0] ?? '') === socket);
  const args = inTownServer ? ['switch-client', '-t', `=${MAYOR_SESSION}`] : ['attach-session', '-t', `=${MAYOR_SESSION}`];
  const env = { ...process.env };
  if (!inTownServer) delete env.TMUX;
  const r = spawnSync('tmux', [...tmuxArgs(root), ...args], { stdio: 'inherit', env });
  return r.status ?? 1;
}
