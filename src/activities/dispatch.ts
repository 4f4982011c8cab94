import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { Ledger } from '../beads/ledger.js';
import { newsOf, tellConvoys } from '../convoy/tell.js';
import { settingsKey, type DispatchSettings } from '../dispatch/types.js';
import { workingPolecats } from '../polecat/hook.js';
import { poolNames } from '../polecat/names.js';
import { maxPolecatsPerRig, polecatLimits } from '../polecat/settings.js';
import { ASSIGN_SIGNAL, POLECAT_WORKFLOW, polecatAddress, type PolecatInput, type WorkItem } from '../polecat/state.js';
import { engineConfig, rigTaskQueue } from '../temporal/config.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { GtKind, GtRig, GtStatus } from '../temporal/search-attributes.js';
import { ledgerDirForId } from '../town/routes.js';
import { readRigSettings } from '../town/settings.js';
import { lazyClient } from './client.js';
import { eventWriter } from './events.js';

/**
 * Activities of the rig dispatcher: its settings, what the ledger already has hooked, hooking a
 * bead to the polecat chosen for it, and handing the bead to that polecat's workflow. Each is
 * safe to run again: a bead already hooked to that polecat is left as it is, and a polecat
 * ignores a bead it already has.
 */
export function dispatchActivities(root: string) {
  const getClient = lazyClient(root);
  const tell = newsTeller(root, getClient);
  const event = eventWriter(root);
  return {
    async dispatchSettings(rig: string): Promise<DispatchSettings> {
      return settingsOf(rig);
    },

    /** polecat → bead for beads hooked to this rig's polecats (by slings made before the dispatcher ran). */
    async dispatchSeed(rig: string): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const [name, beads] of workingPolecats(root, rig)) out[name] = beads[0]!;
      return out;
    },

    /** The bead goes on the polecat's hook, unless it was closed or hooked elsewhere meanwhile (then `refused` says why). Runs of before dispatchBeads. */
    async hookBeadForPolecat(input: { rig: string; name: string; bead: string; by: string }): Promise<{ refused?: string }> {
      const [outcome] = await hookBeads(input.rig, input.by, [input]);
      return outcome!.refused ? { refused: outcome!.refused } : {};
    },

    /** Tell polecat `<rig>/<name>` about the bead, starting its workflow if it is not running. Runs of before dispatchBeads. */
    async handBeadToPolecat(input: { rig: string; name: string; item: WorkItem }): Promise<string> {
      return startPolecat(await getClient(), engineConfig(root).taskQueue, input.rig, input.name, input.item);
    },

    /**
     * A whole sling in one activity: every bead goes on its polecat's hook in one ledger write
     * (unless it was closed or hooked elsewhere meanwhile: `refused` says why), then each hooked
     * bead is handed to its polecat's workflow. Safe to run again: a bead already hooked to its
     * polecat is left as it is, and a polecat ignores a bead it already has.
     * With `expect` (the settingsKey of the settings the dispatcher decided on), the first attempt
     * does nothing when the rig's settings are not those now (or cannot be read): `{ stale: true }`
     * sends the dispatcher to read them again. A later attempt never asks: its first may have hooked
     * the beads already, and only the same names find them hooked as they should be.
     */
    async dispatchBeads(input: { rig: string; by: string; convoy?: string; beads: Array<{ name: string; item: WorkItem }>; expect?: string }): Promise<Array<{ bead: string; refused?: string }> | { stale: true }> {
      if (input.expect && Context.current().info.attempt === 1 && !sameSettings(input.expect, input.rig)) return { stale: true };
      const outcomes = await hookBeads(input.rig, input.by, input.beads.map((b) => ({ name: b.name, bead: b.item.bead })));
      const slung = input.beads.filter((_, i) => !outcomes[i]!.refused);
      if (input.convoy && slung.length) {
        const detail = `dispatched ${slung.map((b) => `${b.item.bead} → ${b.name}`).join(', ')}`;
        event('convoy.dispatch', { actor: input.convoy, convoy: input.convoy, rig: input.rig, key: input.rig, beads: slung.map((b) => b.item.bead), detail });
      }
      const client = await getClient();
      const townQueue = engineConfig(root).taskQueue;
      await Promise.all(input.beads.map((b, i) => (outcomes[i]!.refused ? undefined : startPolecat(client, townQueue, input.rig, b.name, b.item))));
      return outcomes;
    },
  };

  function settingsOf(rig: string): DispatchSettings {
    return { pool: poolNames(readRigSettings(root, rig)), cap: maxPolecatsPerRig(root, rig), heartbeatMs: polecatLimits(root, rig).heartbeatMs };
  }

  function sameSettings(expected: string, rig: string): boolean {
    try {
      return settingsKey(settingsOf(rig)) === expected;
    } catch {
      return false;
    }
  }

  /** Hook beads to polecats: one ledger write per ledger, then the events and the convoys' news. */
  async function hookBeads(rig: string, by: string, beads: Array<{ name: string; bead: string }>): Promise<Array<{ bead: string; refused?: string }>> {
    const outcomes = beads.map((b) => ({ bead: b.bead, refused: undefined as string | undefined }));
    const byLedger = new Map<string, number[]>();
    beads.forEach((b, i) => {
      const dir = ledgerDirForId(b.bead, root);
      byLedger.set(dir, [...(byLedger.get(dir) ?? []), i]);
    });
    for (const [dir, indexes] of byLedger) {
      await Ledger.open(dir).transactionAsync((tx) => {
        for (const i of indexes) {
          const addr = polecatAddress(rig, beads[i]!.name);
          const bead = tx.lookup(beads[i]!.bead);
          if (!bead) outcomes[i]!.refused = `bead ${beads[i]!.bead} is in no ledger of this town`;
          else if (bead.status === 'hooked' && bead.assignee === addr) continue;
          else if (bead.status === 'closed') outcomes[i]!.refused = `bead ${bead.id} is closed`;
          else if (bead.status === 'hooked') outcomes[i]!.refused = `bead ${bead.id} is already on the hook of ${bead.assignee ?? 'someone'}`;
          else {
            tx.update(bead.id, { status: 'hooked', assignee: addr });
            tx.addComment(bead.id, `slung to ${addr} by ${by}`);
          }
        }
      }, { actor: by });
    }
    const hooked = beads.filter((_, i) => !outcomes[i]!.refused);
    for (const b of hooked) {
      const addr = polecatAddress(rig, b.name);
      event('sling', { actor: by, rig, bead: b.bead, polecat: addr, key: b.bead, detail: `${b.bead} slung to ${addr} by ${by}` });
    }
    if (hooked.length) await tell(hooked.map((b) => b.bead), `slung to ${hooked.map((b) => polecatAddress(rig, b.name)).join(', ')}`);
    return outcomes;
  }
}

async function startPolecat(client: Client, townQueue: string, rig: string, name: string, item: WorkItem): Promise<string> {
  const workflowId = polecatWorkflowId(rig, name);
  const input: PolecatInput = { rig, name };
  await client.workflow.signalWithStart(POLECAT_WORKFLOW, {
    workflowId,
    taskQueue: rigTaskQueue({ taskQueue: townQueue }, rig),
    args: [input],
    signal: ASSIGN_SIGNAL,
    signalArgs: [item],
    typedSearchAttributes: [
      { key: GtKind, value: 'polecat' },
      { key: GtRig, value: rig },
      { key: GtStatus, value: 'idle' },
    ],
    staticSummary: `polecat ${name} @ ${rig}`,
  });
  return workflowId;
}

/**
 * After an activity changed beads in the ledger: tell the convoys that track them. Best effort:
 * the change is already written, and a convoy that missed the news is caught by `gt convoy check`.
 */
export function newsTeller(root: string, getClient: () => Promise<Client>) {
  return async (beads: string[], what: string, opts: { inFlight?: string[] } = {}): Promise<void> => {
    try {
      const { convoys, news } = newsOf(root, beads, what, opts.inFlight);
      if (convoys.length) await tellConvoys(await getClient(), convoys, news);
    } catch (err) {
      process.stderr.write(`worker: could not tell the convoys of ${beads.join(' ')} (${what}): ${(err as Error).message}\n`);
    }
  };
}
