import { usageError } from '../errors.js';
import type { GateRow, Snapshot } from '../feed/model.js';
import type { ActionFields } from './actions.js';

/**
 * The dashboard's command palette (Ctrl-K): one line, the words of a `gt` command, run as the
 * action of the button it stands for. Pure: the line and what the page shows in, the action out.
 */
export const PALETTE_HELP = 'sling <bead…> [<rig> | <rig>/<polecat>] · nudge <agent> <message…> · approve <convoy | gate bead> · pause <mountain> · resume <mountain> · convoy "<name>" <bead…> [--human]';

/** Words, with "double" or 'single' quotes holding spaces. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

export function parseCommand(line: string, gates: GateRow[]): { action: string; fields: ActionFields } {
  const [verb, ...args] = splitWords(line.trim());
  const need = (n: number, usage: string) => {
    if (args.length < n) throw usageError(`"${line.trim()}" is missing something`, `usage: ${usage}`);
  };
  switch (verb) {
    case 'sling':
      need(1, 'sling <bead…> [<rig> | <rig>/<polecat>]');
      return { action: 'sling', fields: { bead: args.join(' ') } };
    case 'nudge':
      need(2, 'nudge <agent> <message…>');
      return { action: 'nudge', fields: { agent: args[0], message: args.slice(1).join(' ') } };
    case 'approve': {
      need(1, 'approve <convoy | gate bead>');
      const gate = gates.find((g) => g.bead === args[0]);
      return gate ? { action: 'approve-gate', fields: { molecule: gate.molecule, step: gate.step } } : { action: 'approve-convoy', fields: { convoy: args[0] } };
    }
    case 'pause':
    case 'resume':
      need(1, `${verb} <mountain>`);
      return { action: verb, fields: { convoy: args[0] } };
    case 'convoy': {
      const human = args.includes('--human');
      const rest = args.filter((a) => a !== '--human');
      if (rest.length < 2) throw usageError(`"${line.trim()}" is missing something`, 'usage: convoy "<name>" <bead…> [--human]');
      return { action: 'create-convoy', fields: { name: rest[0], beads: rest.slice(1).join(' '), human: human ? '1' : undefined } };
    }
    default:
      throw usageError(verb ? `the palette has no command "${verb}"` : 'type a command', PALETTE_HELP);
  }
}

/** What the palette suggests as it is typed: a line for each thing the page shows that can be acted on. */
export function suggestions(s: Snapshot): string[] {
  const out: string[] = [];
  for (const r of s.ready ?? []) out.push(`sling ${r.bead} ${r.rig}`);
  for (const a of s.agents) if (a.sessionAlive) out.push(`nudge ${a.address} `);
  for (const c of s.convoys) {
    if (c.status === 'awaiting-approval') out.push(`approve ${c.id}`);
    if (c.mode === 'mountain' && (c.status === 'running' || c.status === 'stalled')) out.push(`pause ${c.id}`);
    if (c.mode === 'mountain' && c.status === 'paused') out.push(`resume ${c.id}`);
  }
  for (const g of s.gates) out.push(`approve ${g.bead}`);
  return out;
}
