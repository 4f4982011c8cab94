import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasSession, sendText, tmux, tmuxAvailable } from '../activities/tmux.js';
import { GtError, usageError } from '../errors.js';
import { resolveAddress } from '../mail/mail.js';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';

/**
 * The town's agents as a person reaches them: by address (`mayor`, `<rig>/polecats/<name>`,
 * `<rig>/crew/<name>`), each with its tmux session and, for one running headless, its log.
 */
export const MAYOR_SESSION = 'gt-mayor';

export interface AgentTarget {
  /** The town the agent belongs to (its tmux server is the town's). */
  root: string;
  address: string;
  role: 'mayor' | 'polecat' | 'crew';
  rig?: string;
  name?: string;
  session: string;
  /** Everything the agent printed (its tmux pane piped there, or its headless output). */
  log: string;
}

export function mayorTarget(root: string): AgentTarget {
  return { root, address: 'mayor', role: 'mayor', session: MAYOR_SESSION, log: join(townPaths(root).logs, 'mayor.log') };
}

function rigAgent(root: string, rig: string, role: 'polecat' | 'crew', name: string): AgentTarget {
  const prefix = readRigs(root).rigs[rig]!.prefix;
  if (role === 'polecat') {
    // Same names the polecat activities give their sessions and logs.
    return { root, address: `${rig}/polecats/${name}`, role, rig, name, session: `${prefix}-${name}`, log: join(townPaths(root).logs, 'polecats', rig, `${name}.log`) };
  }
  return { root, address: `${rig}/crew/${name}`, role, rig, name, session: `${prefix}-crew-${name}`, log: join(townPaths(root).logs, 'crew', rig, `${name}.log`) };
}

/** The agent an address names; refuses an address that names nobody in this town. */
export function resolveAgentTarget(root: string, address: string): AgentTarget {
  const canonical = resolveAddress(root, address);
  if (canonical === 'mayor') return mayorTarget(root);
  const [rig, kind, name] = canonical.split('/') as [string, string, string];
  return rigAgent(root, rig, kind === 'polecats' ? 'polecat' : 'crew', name);
}

function folders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Every agent the town has a folder for, the Mayor first. */
export function townAgents(root: string): AgentTarget[] {
  const out = [mayorTarget(root)];
  for (const rig of Object.keys(readRigs(root).rigs).sort()) {
    const p = rigPaths(root, rig);
    for (const name of folders(p.polecats)) out.push(rigAgent(root, rig, 'polecat', name));
    for (const name of folders(p.crew)) out.push(rigAgent(root, rig, 'crew', name));
  }
  return out;
}

export function requireTmux(): void {
  if (!tmuxAvailable()) {
    throw new GtError('tmux is not installed (or not on PATH)', { hint: 'install tmux; agents without it run headless and are reached with `gt mail send`' });
  }
}

/**
 * A nudge is typed into a terminal: control characters (Ctrl-C is one) would act on the agent
 * instead of being read by it, so they are refused; line breaks become spaces so the text
 * arrives as one prompt.
 */
export function nudgeText(message: string): string {
  const text = typeof message === 'string' ? message.replace(/\r?\n|\t/g, ' ').trim() : '';
  if (!text) throw usageError('the message is empty', 'e.g. gt nudge mayor "check your mail"');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(text)) throw usageError('the message contains control characters', 'send plain text; it is typed into the agent\'s terminal');
  return text;
}

/** Type `message` into the agent's session and press Enter. */
export async function nudgeAgent(target: AgentTarget, message: string): Promise<void> {
  const text = nudgeText(message);
  requireTmux();
  if (!(await hasSession(target.root, target.session))) {
    throw new GtError(`${target.address} is not running: there is no tmux session ${target.session}`, {
      hint: target.role !== 'mayor' && existsSync(target.log)
        ? `it may run headless (see \`gt peek ${target.address}\`); reach it with \`gt mail send ${target.address} -s ... -m ...\``
        : `\`gt agents\` lists running agents${target.role === 'mayor' ? '; start the Mayor with `gt mayor start`' : ''}`,
    });
  }
  await sendText(target.root, target.session, text);
}

/** The last `lines` lines an agent showed: its tmux pane, or the end of its log when it has no session. */
export async function peekAgent(target: AgentTarget, lines: number): Promise<{ source: 'tmux' | 'log'; text: string }> {
  if (tmuxAvailable() && (await hasSession(target.root, target.session))) {
    // -J joins lines tmux wrapped at the window's width, so output reads as the agent wrote it.
    const screen = (await tmux(target.root, ['capture-pane', '-p', '-J', '-t', `=${target.session}:`, '-S', `-${lines}`])).replace(/\s+$/, '');
    return { source: 'tmux', text: screen.split('\n').slice(-lines).join('\n') };
  }
  if (existsSync(target.log)) {
    const text = readFileSync(target.log, 'utf8').replace(/\s+$/, '');
    return { source: 'log', text: text.split('\n').slice(-lines).join('\n') };
  }
  throw new GtError(`${target.address} is not running and has no log (no tmux session ${target.session}, no ${target.log})`, {
    hint: '`gt agents` lists running agents',
  });
}
