import { Ledger, type LedgerTx } from '../beads/ledger.js';
import type { Bead, Status } from '../beads/model.js';
import type { StepBeadChange } from '../molecule/state.js';

/**
 * Ledger work done on behalf of workflows. Each call is one locked write that waits for the
 * lock without blocking the worker, and is idempotent: a retried activity changes nothing twice.
 * Calls for the same ledger and actor that come while a write is under way (the parallel steps
 * of a molecule) are joined into the next write: one lock and one fsync for all of them; with
 * `gatherMs` (a write nobody waits for) the write waits that long for others to join it. A joined
 * write that fails is redone call by call, so one bad change never fails the others.
 */
export function applyChanges(ledgerDir: string, changes: StepBeadChange[], actor: string, opts: { gatherMs?: number } = {}): Promise<void> {
  const key = `${ledgerDir}\0${actor}`;
  let batch = waiting.get(key);
  if (!batch) {
    const next: Batch = { calls: [], started: false };
    batch = next;
    waiting.set(key, next);
    next.start = () => {
      if (next.started) return;
      next.started = true;
      clearTimeout(next.timer);
      const write = (writes.get(key) ?? Promise.resolve()).then(() => writeBatch(key, ledgerDir, actor, next));
      writes.set(key, write);
      void write.finally(() => {
        if (writes.get(key) === write) writes.delete(key);
      });
    };
    // A write nobody waits for (off the critical path) waits a moment for others to join it.
    if (opts.gatherMs) next.timer = setTimeout(next.start, opts.gatherMs);
  }
  const joined = batch;
  const done = new Promise<void>((resolve, reject) => joined.calls.push({ changes, resolve, reject }));
  if (!opts.gatherMs) joined.start!();
  return done;
}

interface Batch {
  calls: Array<{ changes: StepBeadChange[]; resolve: () => void; reject: (err: unknown) => void }>;
  started: boolean;
  start?: () => void;
  timer?: NodeJS.Timeout;
}
/** Per ledger and actor: the batch still taking calls, and the write under way. */
const waiting = new Map<string, Batch>();
const writes = new Map<string, Promise<void>>();

async function writeBatch(key: string, ledgerDir: string, actor: string, batch: Batch): Promise<void> {
  const ledger = Ledger.open(ledgerDir);
  try {
    await ledger.transactionAsync((tx) => {
      // From here on new calls start the next batch.
      if (waiting.get(key) === batch) waiting.delete(key);
      for (const call of batch.calls) applyTo(tx, call.changes);
    }, { actor });
    for (const call of batch.calls) call.resolve();
  } catch (err) {
    if (waiting.get(key) === batch) waiting.delete(key);
    if (batch.calls.length === 1) {
      batch.calls[0]!.reject(err);
      return;
    }
    for (const call of batch.calls) {
      try {
        await ledger.transactionAsync((tx) => applyTo(tx, call.changes), { actor });
        call.resolve();
      } catch (one) {
        call.reject(one);
      }
    }
  }
}

function applyTo(tx: LedgerTx, changes: StepBeadChange[]): void {
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
}

/** A bead as the ledger has it now, or undefined when it does not exist (yet). */
export async function beadFor(ledgerDir: string, id: string): Promise<Bead | undefined> {
  return Ledger.open(ledgerDir).tryGet(id);
}

/** The status of a bead, or undefined when it does not exist (yet). */
export async function beadStatus(ledgerDir: string, id: string): Promise<Status | undefined> {
  return Ledger.open(ledgerDir).tryGet(id)?.status;
}
