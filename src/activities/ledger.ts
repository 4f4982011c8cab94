import { Ledger } from '../beads/ledger.js';
import type { Status } from '../beads/model.js';
import type { StepBeadChange } from '../molecule/state.js';

/**
 * Ledger work done on behalf of workflows. Each call is one locked write that waits for the
 * lock without blocking the worker, and is idempotent: a retried activity changes nothing twice.
 */
export async function applyChanges(ledgerDir: string, changes: StepBeadChange[], actor: string): Promise<void> {
  const ledger = Ledger.open(ledgerDir);
  await ledger.transactionAsync((tx) => {
    for (const change of changes) {
      const bead = tx.get(change.bead);
      if (change.comment && bead.comments?.at(-1)?.text !== change.comment) tx.addComment(bead.id, change.comment);
      for (const label of change.labels ?? []) if (!tx.get(bead.id).labels?.includes(label)) tx.addLabel(bead.id, label);
      const now = tx.get(bead.id).status;
      if (now === change.status) continue;
      // A bead closed by hand (the original's way to finish a step) stays closed; only the run's own end closes it again.
      if (now === 'closed' && change.status !== 'closed') continue;
      if (change.status === 'closed') tx.close(bead.id, { reason: change.reason, force: true });
      else tx.update(bead.id, { status: change.status as Status });
    }
  }, { actor });
}

/** The status of a bead, or undefined when it does not exist (yet). */
export async function beadStatus(ledgerDir: string, id: string): Promise<Status | undefined> {
  return Ledger.open(ledgerDir).tryGet(id)?.status;
}
