import { randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';
import type { Client } from '@temporalio/client';
import { followEvents, readEvents, type TownEvent } from '../events/log.js';
import { HANDOFF_UPDATE, type HandoffReceipt } from '../polecat/state.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import type { EngineConfig } from '../temporal/config.js';
import { FeedSource } from './gather.js';
import { concernOf, detectProblems, emptySnapshot, withNudges, type Problem, type Snapshot } from './model.js';

/** Events kept in memory for the event panel. */
const EVENTS_KEPT = 500;

/**
 * The live state behind the TUI: the snapshot, the events, the problems. New events (the town's
 * event stream, followed) are shown at once and make the store ask the engine again about what
 * they concern; a slow timer asks about everything (things that emit no event, like silence).
 * Listeners are told at most every `minRenderMs`.
 */
export class FeedStore {
  snapshot: Snapshot = emptySnapshot();
  events: TownEvent[] = [];
  problems: Problem[] = [];
  /** Bumped on every change (the view's external-store version). */
  version = 0;
  private source: FeedSource;
  private listeners = new Set<() => void>();
  private stopFollow?: () => void;
  private timer?: NodeJS.Timeout;
  private watchers: FSWatcher[] = [];
  private pending?: NodeJS.Timeout;
  private busy = Promise.resolve();

  constructor(
    readonly root: string,
    private readonly client: Client,
    config: EngineConfig,
    /** `extras`: also ready work, mail and formula runs, and a ledger write is shown at once (the dashboard). */
    private readonly opts: { rig?: string; sinceMs?: number; refreshMs?: number; minRenderMs?: number; extras?: boolean } = {},
  ) {
    this.source = new FeedSource(root, client, config, opts.rig, opts.extras);
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getVersion = (): number => this.version;

  private changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.rebuild();
    }, this.opts.minRenderMs ?? 300);
  }

  private rebuild(): void {
    try {
      this.snapshot = withNudges(this.source.snapshot(), this.events);
    } catch (err) {
      this.snapshot = { ...this.snapshot, at: Date.now(), engineError: (err as Error).message };
    }
    this.problems = detectProblems(this.snapshot);
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** Ask again, one refresh at a time (a burst of events queues one more, not one each). */
  private ask(what: () => Promise<void>): void {
    this.busy = this.busy.then(what).catch(() => undefined).then(() => this.changed());
  }

  async start(): Promise<void> {
    const filter = { rig: this.opts.rig, sinceMs: this.opts.sinceMs };
    const past = readEvents(this.root, filter);
    this.events = past.slice(-EVENTS_KEPT);
    this.stopFollow = followEvents(this.root, filter, (e) => {
      this.events.push(e);
      if (this.events.length > EVENTS_KEPT) this.events.splice(0, this.events.length - EVENTS_KEPT);
      this.version++;
      for (const fn of this.listeners) fn();
      const concern = concernOf(e);
      this.ask(() => this.source.refreshConcern(concern));
    });
    if (this.opts.extras) this.watchLedgers();
    await this.source.refresh(0);
    this.rebuild();
    this.timer = setInterval(() => this.ask(() => this.source.refresh()), this.opts.refreshMs ?? 5000);
  }

  /** Ready work and mail change with no event: a write to a ledger (the town's, each rig's) shows them. */
  private watchLedgers(): void {
    const dirs = [townPaths(this.root).beads, ...Object.keys(readRigs(this.root).rigs).filter((r) => !this.opts.rig || r === this.opts.rig).map((r) => rigPaths(this.root, r).beads)];
    for (const dir of dirs) {
      try {
        this.watchers.push(watch(dir, (_type, file) => void (file === 'issues.jsonl' && this.changed())));
      } catch {
        // no ledger there (yet): the slow timer shows it
      }
    }
  }

  stop(): void {
    for (const w of this.watchers.splice(0)) w.close();
    this.stopFollow?.();
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }

  /** Ask a polecat's workflow for a fresh session (what `gt handoff` does from inside it). */
  async handoff(address: string, by: string): Promise<HandoffReceipt> {
    const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(address);
    if (!m) throw new Error(`${address} is not a polecat`);
    const receipt = await this.client.workflow
      .getHandle(polecatWorkflowId(m[1]!, m[2]!))
      .executeUpdate<HandoffReceipt, [{ note?: string }]>(HANDOFF_UPDATE, { args: [{ note: `handoff asked by ${by} from gt feed` }], updateId: `handoff-${m[2]}-${randomUUID()}` });
    this.ask(() => this.source.refreshPolecat(m[1]!, m[2]!));
    return receipt;
  }
}
