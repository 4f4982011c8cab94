import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TOWN_MARKER } from '../town/layout.js';

export { TOWN_ACTIVITIES, type TownActivity } from './protocol.js';

/**
 * The commands an agent on a host without the town folder may send to the town through the
 * engine (`GT_TOWN_REMOTE`): the ones an agent session uses, nothing that runs the town. Both
 * the agent's CLI (before anything is sent) and the town's activity (whoever started the
 * workflow) check a command against this list. Cheap: no Temporal SDK import.
 */

export type RemoteBin = 'gt' | 'bd';

/** A command sent to the town: which program, its arguments, and who the agent is. */
export interface TownCommand {
  bin: RemoteBin;
  args: string[];
  /** The agent's identity variables (GT_ROLE, GT_RIG, GT_POLECAT, GT_BEAD, BD_ACTOR, …), nothing else. */
  env: Record<string, string>;
  /** What the agent gave on stdin, for the one command that reads it: `gt prime --hook` (the runtime's hook JSON). */
  stdin?: string;
}

export interface TownCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `<bin> <command> [<subcommand>]` an agent may run remotely, and whether it writes. */
const ALLOWED: Record<RemoteBin, Record<string, { sub?: string[]; write: boolean | ((sub: string | undefined) => boolean) }>> = {
  gt: {
    hook: { write: false },
    prime: { write: false },
    done: { write: true },
    handoff: { write: true },
    mail: { sub: ['send', 'inbox', 'read', 'check'], write: (sub) => sub === 'send' || sub === 'read' },
  },
  bd: {
    show: { write: false },
    ready: { write: false },
    create: { write: true },
    update: { write: true },
    close: { write: true },
    comments: { sub: ['add'], write: (sub) => sub === 'add' },
  },
};

/** The variables of the agent's environment that go with a command: who it is, nothing of its host. */
/** Whether a command reads its stdin (so the CLI sends it along). */
export function readsStdin(bin: string, args: string[]): boolean {
  return bin === 'gt' && args[0] === 'prime' && args.includes('--hook');
}

export const IDENTITY_VARS = ['GT_ROLE', 'GT_RIG', 'GT_POLECAT', 'GT_CREW', 'GT_BEAD', 'GT_ATTEMPT', 'GT_AGENT', 'GT_WORKER_HOST', 'BD_ACTOR'] as const;

/** What may be sent, for error messages. */
export function allowedList(): string {
  return Object.entries(ALLOWED)
    .flatMap(([bin, cmds]) => Object.entries(cmds).map(([c, a]) => `${bin} ${c}${a.sub ? (bin === 'bd' ? ` [${a.sub.join('|')}]` : ` ${a.sub.join('|')}`) : ''}`))
    .join(', ');
}

/**
 * Why `bin args` may not be sent to the town, or undefined when it may; `write` says whether it
 * may change the ledger (a write is run at most once; a read may be run again after a lost worker).
 */
export function checkTownCommand(bin: string, args: string[]): { refused: string } | { write: boolean } {
  const cmds = ALLOWED[bin as RemoteBin];
  const words = args.filter((a) => !a.startsWith('-'));
  const [name, sub] = words;
  const entry = cmds && name !== undefined ? cmds[name] : undefined;
  const shown = [bin, ...args.slice(0, 2)].join(' ');
  if (!entry) return { refused: `\`${shown}\` is not a command an agent can run on a host without the town folder` };
  // `gt mail check --inject` and `bd comments <id>` have no subcommand word, or an id in its place.
  const subcommand = entry.sub?.includes(sub ?? '') ? sub : undefined;
  if (entry.sub && bin === 'gt' && subcommand === undefined) return { refused: `\`${shown}\` is not a command an agent can run on a host without the town folder` };
  const write = typeof entry.write === 'function' ? entry.write(subcommand) : entry.write;
  return { write };
}

/**
 * The town this process reaches through the engine: `GT_TOWN_REMOTE` names it when the town
 * folder is not on this host (no `GT_ROOT`, one that is not there, or a rig host home). Undefined:
 * the ordinary local CLI. Cheap: the CLI asks this before loading anything.
 */
export function remoteTownName(env: NodeJS.ProcessEnv = process.env, args: string[] = []): string | undefined {
  const name = env.GT_TOWN_REMOTE;
  if (!name) return undefined;
  if (env.GT_ROOT && existsSync(join(resolve(env.GT_ROOT), TOWN_MARKER))) {
    // A rig host home: the ledgers are the town's, but `gt done` and `gt handoff` (updates of
    // the polecat's workflow, from its worktree here) run here.
    if (!isRigHostHome(resolve(env.GT_ROOT))) return undefined;
    const first = args.find((a) => !a.startsWith('-'));
    if (first === 'done' || first === 'handoff') return undefined;
  }
  return name;
}

/** Whether GT_ROOT is a rig host home: a town folder's settings and rigs without its ledgers. */
export function isRigHostHome(root: string): boolean {
  return existsSync(join(root, RIG_HOST_HOME_MARKER));
}

/** The file that makes a folder a rig host home (its town's name and engine). */
export const RIG_HOST_HOME_MARKER = join('mayor', 'rig-host.json');
