import type { Client } from '@temporalio/client';
import { Ledger } from '../beads/ledger.js';
import { ledgerDirForId } from '../town/routes.js';
import { beadLooker, hqLedger, trackedIds } from './store.js';
import { REFRESH_SIGNAL, convoyWorkflowId, type BeadNews } from './types.js';

/**
 * Convoys learn about their beads by message, never by watching the ledgers: whoever changes a
 * bead (a polecat's or the refinery's activity, the dispatcher, `bd` by hand) tells the open
 * convoys that track it, or track a bead that depends on it (its readiness may have changed).
 */

/** `beads` and the beads of the same ledger that depend on one of them (their readiness may have changed). */
export function withDependents(root: string, beads: string[]): Set<string> {
  const out = new Set(beads);
  for (const id of beads) {
    try {
      for (const d of Ledger.open(ledgerDirForId(id, root)).dependents(id)) out.add(d.issue_id);
    } catch {
      // a bead of no ledger: only its own id counts
    }
  }
  return out;
}

/** Open convoys tracking any of `beads` or a bead of the same ledger that depends on one of them. */
export function convoysTracking(root: string, beads: string[], interesting = withDependents(root, beads)): string[] {
  // Summaries carry the dependencies: no convoy bead is parsed whole, however many have landed.
  return hqLedger(root)
    .listSummaries({ issue_type: 'convoy' })
    .filter((c) => c.status !== 'closed' && trackedIds(c).some((t) => interesting.has(t)))
    .map((c) => c.id);
}

/**
 * The news of a change: the beads and their dependents as the ledgers have them now. `inFlight`
 * beads are open again but still their polecat's (sent back by the merge queue for rework).
 */
export function newsOf(root: string, beads: string[], what: string, inFlight: string[] = []): { convoys: string[]; news: BeadNews } {
  const interesting = withDependents(root, beads);
  const convoys = convoysTracking(root, beads, interesting);
  if (convoys.length === 0) return { convoys, news: { beads, what } };
  const look = beadLooker(root);
  const seen = [...interesting].map((id) => {
    const b = look(id);
    return inFlight.includes(id) && b.status === 'open' ? { ...b, inFlight: true } : b;
  });
  return { convoys, news: { beads, what, seen } };
}

/** Signal each convoy; a convoy whose workflow is gone is `gt convoy check`'s to restart. */
export async function tellConvoys(client: Client, convoys: string[], news: BeadNews): Promise<void> {
  await Promise.all(
    convoys.map((c) =>
      client.workflow
        .getHandle(convoyWorkflowId(c))
        .signal(REFRESH_SIGNAL, news)
        .catch(() => undefined),
    ),
  );
}

/**
 * A change made outside the engine (`bd close`, `bd update`, `gt unsling`): the same message,
 * sent from this process. Quiet when no open convoy tracks the beads; when the engine cannot be
 * reached the convoys are told later by `gt convoy check` (said on stderr).
 */
export async function tellConvoysByHand(root: string, beads: string[], what: string): Promise<void> {
  let told: ReturnType<typeof newsOf>;
  try {
    told = newsOf(root, beads, what);
  } catch {
    return;
  }
  const { convoys, news } = told;
  if (convoys.length === 0) return;
  const { engineConfig } = await import('../temporal/config.js');
  const { connectClient } = await import('../temporal/client.js');
  try {
    const client = await connectClient(engineConfig(root), { connectTimeout: '3s' });
    try {
      await tellConvoys(client, convoys, news);
    } finally {
      await client.connection.close();
    }
  } catch (err) {
    process.stderr.write(`note: convoy ${convoys.join(', ')} will see this change at the next \`gt convoy check\` (the engine is not reachable: ${(err as Error).message})\n`);
  }
}
