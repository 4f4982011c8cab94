import type { Client } from '@temporalio/client';
import { usageError } from '../errors.js';
import type { GateRow } from '../feed/model.js';
import { parseCommand } from './palette.js';

/**
 * What the dashboard's buttons and forms do: the same client calls the `gt` commands make, run in
 * this process (no `gt` child process). Each returns one line saying what happened; bad input
 * throws a GtError naming what was wrong, before anything changes.
 */
export type ActionFields = Record<string, string | undefined>;
export type Action = (fields: ActionFields) => Promise<string>;

function required(fields: ActionFields, name: string, what: string): string {
  const v = fields[name]?.trim();
  if (!v) throw usageError(`no ${what} given`, `fill in the ${name} field`);
  return v;
}

export function dashboardActions(root: string, client: Client, by: string, gates: () => GateRow[]): Record<string, Action> {
  const actions: Record<string, Action> = {
    /** gt sling <bead…> [<rig> | <rig>/<polecat>], with a convoy tracking them as gt sling makes. */
    sling: async (f) => {
      const beads = required(f, 'bead', 'bead').split(/[\s,]+/).filter(Boolean);
      const target = f.target?.trim();
      const { sling, slingTarget } = await import('../polecat/client.js');
      const { rig, polecat, beads: ids } = slingTarget(root, target ? [...beads, target] : beads);
      const slung = await sling(root, { beads: ids, rig, polecat, by });
      let convoy = '';
      try {
        const { convoyForSling } = await import('../convoy/client.js');
        const c = await convoyForSling(root, slung, rig, by);
        if (c) convoy = `; convoy ${c.convoy} tracks them`;
      } catch (err) {
        convoy = `; no convoy tracks them: ${(err as Error).message}`;
      }
      return `Slung ${slung.map((s) => `${s.bead} to ${s.address}`).join(', ')}${convoy}`;
    },
    /** gt nudge <agent> <message> */
    nudge: async (f) => {
      const { nudgeAgent, nudgeText, resolveAgentTarget } = await import('../tmux/agents.js');
      const text = nudgeText(f.message ?? '');
      const target = resolveAgentTarget(root, required(f, 'agent', 'agent'));
      await nudgeAgent(target, text);
      return `Nudged ${target.address} (tmux session ${target.session})`;
    },
    /** bd gate approve: a formula run's human gate. */
    'approve-gate': async (f) => {
      const molecule = required(f, 'molecule', 'formula run');
      const step = required(f, 'step', 'gate step');
      const { approveGate } = await import('../molecule/engine.js');
      const r = await approveGate(client, molecule, { step, approver: by, note: 'approved from gt dashboard' });
      return `Approved gate ${r.step} of ${r.molecule} (${r.bead}) as ${r.approver}`;
    },
    /** gt convoy approve: a --human convoy may land. */
    'approve-convoy': async (f) => {
      const { approveConvoy } = await import('../convoy/client.js');
      const r = await approveConvoy(root, required(f, 'convoy', 'convoy'), by);
      return `Approved ${r.convoy}`;
    },
    /** gt mountain pause */
    pause: async (f) => {
      const { pauseConvoy } = await import('../convoy/client.js');
      const r = await pauseConvoy(root, required(f, 'convoy', 'mountain'), by);
      return `Paused ${r.convoy}: nothing new is dispatched${r.running ? `; ${r.running} bead${r.running === 1 ? '' : 's'} still being worked will finish` : ''}`;
    },
    /** gt mountain resume */
    resume: async (f) => {
      const { resumeConvoy } = await import('../convoy/client.js');
      const r = await resumeConvoy(root, required(f, 'convoy', 'mountain'), by);
      return `Resumed ${r.convoy}`;
    },
    /** gt convoy create <name> <beads…> [--human] */
    'create-convoy': async (f) => {
      const name = required(f, 'name', 'convoy name');
      const beads = required(f, 'beads', 'bead').split(/[\s,]+/).filter(Boolean);
      const { createConvoy } = await import('../convoy/client.js');
      const c = await createConvoy(root, { name, beads, human: f.human === '1' || f.human === 'on', by });
      return `Created convoy ${c.convoy} "${c.title}" tracking ${c.beads.join(', ')}`;
    },
    /** The command palette: a line naming one of the actions above. */
    run: async (f) => {
      const { action, fields } = parseCommand(f.command ?? '', gates());
      return actions[action]!(fields);
    },
  };
  return actions;
}
