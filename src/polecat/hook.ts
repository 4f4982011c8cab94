import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import { townPaths } from '../town/layout.js';
import { ledgerDirForId, townRoutes } from '../town/routes.js';

/**
 * The hook: a bead in status `hooked` whose assignee is the agent's address. The ledger is the
 * one source of truth, so a restarted agent (or a person) always finds the same work.
 */

export interface HookedBead {
  bead: Bead;
  ledgerDir: string;
}

/** Every bead hooked to `address`, in any ledger of the town; `hint` (e.g. GT_BEAD) is looked at first. */
export function hookedTo(root: string, address: string, hint?: string): HookedBead[] {
  if (hint) {
    try {
      const dir = ledgerDirForId(hint, root);
      const bead = Ledger.open(dir).tryGet(hint);
      if (bead && bead.status === 'hooked' && bead.assignee === address) return [{ bead, ledgerDir: dir }];
    } catch {
      // an unknown prefix or a missing ledger: fall back to the full search
    }
  }
  const found: HookedBead[] = [];
  for (const route of townRoutes(root)) {
    if (!existsSync(join(route.dir, 'config.json'))) continue;
    const ledger = Ledger.open(route.dir);
    for (const s of ledger.listSummaries({ status: 'hooked', assignee: address })) {
      found.push({ bead: ledger.get(s.id), ledgerDir: route.dir });
    }
  }
  return found;
}

/** Assignees of every hooked bead in the town whose address starts with `<rig>/polecats/`: rig polecat name → bead ids. */
export function workingPolecats(root: string, rig: string): Map<string, string[]> {
  const prefix = `${rig}/polecats/`;
  const busy = new Map<string, string[]>();
  for (const route of townRoutes(root)) {
    if (!existsSync(join(route.dir, 'config.json'))) continue;
    for (const s of Ledger.open(route.dir).listSummaries({ status: 'hooked' })) {
      if (!s.assignee?.startsWith(prefix)) continue;
      const name = s.assignee.slice(prefix.length);
      busy.set(name, [...(busy.get(name) ?? []), s.id]);
    }
  }
  return busy;
}

/** Where a polecat's session notes live (formula, vars, handoff note), outside its worktree. */
export function polecatRunFile(root: string, rig: string, name: string): string {
  return join(townPaths(root).run, 'polecats', rig, `${name}.json`);
}

export interface PolecatRunInfo {
  bead: string;
  branch: string;
  worktree: string;
  attempt: number;
  formula: string;
  vars: Record<string, string>;
  handoff?: string;
  session?: string;
  headless?: boolean;
  startedAt: string;
}
