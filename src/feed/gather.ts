import type { Client } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmuxArgs } from '../activities/tmux.js';
import { Ledger } from '../beads/ledger.js';
import { CONVOY_QUERY, POLECAT_FAILED_LABEL, convoyWorkflowId, type ConvoyState } from '../convoy/types.js';
import { listConvoys } from '../convoy/store.js';
import { parseDuration } from '../formula/duration.js';
import { MOLECULE_QUERY, type MoleculeState } from '../molecule/state.js';
import { workingPolecats } from '../polecat/hook.js';
import { polecatAddress, type PolecatState } from '../polecat/state.js';
import { REFINERY_QUEUE_QUERY, unfinished, type RefineryState } from '../refinery/types.js';
import { polecatWorkflowId, refineryWorkflowId } from '../temporal/merge-protocol.js';
import { rigTaskQueue, type EngineConfig } from '../temporal/config.js';
import { townStalls, townHeartbeatMs } from '../temporal/stalls.js';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';
import { readRigSettings, readTownSettings } from '../town/settings.js';
import { hostEnv } from '../town/env.js';
import { toMessage } from '../mail/mail.js';
import type { AgentRow, BlockedRow, Concern, ConvoyRow, FormulaRow, GateRow, MailRow, MergeRow, ReadyRow, Snapshot } from './model.js';

const run = promisify(execFile);

/** With `extras`: how many ended formula runs are kept, ready beads per rig and messages shown. */
const ENDED_RUNS_KEPT = 10;
const READY_SHOWN = 50;
const MAIL_SHOWN = 20;

/**
 * Where the feed's snapshot comes from: the engine (polecat, convoy, refinery and formula
 * workflows answer queries; pending activities tell stalls), the ledgers (hooks, blocked
 * beads, convoys) and the files the agent activities keep (a session's log and progress file
 * change when its agent does something). One engine connection, kept open. Everything is asked
 * on `refresh()` (the slow timer) and only what an event concerns on `refreshConcern()`.
 */
export class FeedSource {
  private polecats = new Map<string, PolecatState | undefined>();
  private convoyStates = new Map<string, ConvoyState>();
  private queues = new Map<string, RefineryState>();
  private gates: GateRow[] = [];
  /** Formula runs by molecule id, newest first (the running ones, and with `extras` the last ended ones). */
  private molecules = new Map<string, MoleculeState>();
  private stalls: { workflowId: string; why: string }[] = [];
  private sessions: string[] = [];
  private engineError: string | undefined;
  private lastStallsAt = 0;

  constructor(
    readonly root: string,
    private readonly client: Client,
    private readonly config: EngineConfig,
    private readonly rigFilter?: string,
    /** Also gather ready work, mail and recent formula runs (the dashboard shows them). */
    private readonly extras = false,
  ) {}

  private rigs(): Record<string, { prefix: string }> {
    const all = readRigs(this.root).rigs;
    return this.rigFilter ? { [this.rigFilter]: all[this.rigFilter]! } : all;
  }

  private polecatNames(rig: string, hooked: Map<string, string[]>): string[] {
    let folders: string[] = [];
    try {
      folders = readdirSync(rigPaths(this.root, rig).polecats, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch {
      folders = [];
    }
    return [...new Set([...folders, ...hooked.keys()])].sort();
  }

  private async query<T>(workflowId: string, query: string): Promise<T | undefined> {
    try {
      return await this.client.workflow.getHandle(workflowId).query<T>(query);
    } catch (err) {
      const e = err as Error;
      if (e.name === 'WorkflowNotFoundError' || /not found/i.test(e.message)) return undefined;
      if (/UNAVAILABLE|ECONNREFUSED|DEADLINE/i.test(e.message)) this.engineError = e.message.split('\n')[0];
      return undefined;
    }
  }

  async refreshPolecat(rig: string, name: string): Promise<void> {
    this.polecats.set(`${rig}/${name}`, await this.query<PolecatState>(polecatWorkflowId(rig, name), 'polecatState'));
  }

  async refreshQueue(rig: string): Promise<void> {
    const q = await this.query<RefineryState>(refineryWorkflowId(rig), REFINERY_QUEUE_QUERY);
    if (q) this.queues.set(rig, q);
    else this.queues.delete(rig);
  }

  async refreshConvoy(id: string): Promise<void> {
    const s = await this.query<ConvoyState>(convoyWorkflowId(id), CONVOY_QUERY);
    if (s) this.convoyStates.set(id, s);
  }

  /** The town's polecat tmux sessions: one `list-sessions` (asynchronous, on the slow timer only). */
  private async refreshSessions(): Promise<void> {
    try {
      const { stdout } = await run('tmux', [...tmuxArgs(this.root), 'list-sessions', '-F', '#{session_name}'], { env: hostEnv() });
      this.sessions = stdout.split('\n').filter(Boolean);
    } catch {
      this.sessions = [];
    }
  }

  async refreshMolecule(id: string): Promise<void> {
    const m = await this.query<MoleculeState>(id, MOLECULE_QUERY);
    if (m) this.molecules.set(id, m);
  }

  /**
   * Formula runs of this town: the running ones are asked for their state (their human gates
   * come from it); with `extras`, the last ones that ended too, each asked once (an ended run
   * does not change).
   */
  private async refreshMolecules(): Promise<void> {
    try {
      const of = `GtKind = 'formula' AND TaskQueue = '${this.config.taskQueue.replace(/'/g, "''")}'`;
      const ids = async (query: string, max: number) => {
        const out: string[] = [];
        for await (const w of this.client.workflow.list({ query })) if (out.push(w.workflowId) >= max) break;
        return out;
      };
      const runs = (await ids(`${of} AND ExecutionStatus = 'Running'`, 200)).map((id) => ({ id, running: true }));
      if (this.extras) runs.push(...(await ids(`${of} AND ExecutionStatus != 'Running'`, ENDED_RUNS_KEPT)).map((id) => ({ id, running: false })));
      const ended = (m: MoleculeState | undefined) => m !== undefined && m.status !== 'running' && m.status !== 'poured';
      await Promise.all(runs.filter((r) => r.running || !ended(this.molecules.get(r.id))).map((r) => this.refreshMolecule(r.id)));
      const kept = new Set(runs.map((r) => r.id));
      for (const id of this.molecules.keys()) if (!kept.has(id)) this.molecules.delete(id);
    } catch (err) {
      this.engineError = (err as Error).message.split('\n')[0];
    }
    this.gatesFromMolecules();
  }

  private gatesFromMolecules(): void {
    const gates: GateRow[] = [];
    for (const [id, m] of this.molecules) {
      if (m.status !== 'running') continue;
      for (const s of m.steps) {
        if (s.kind === 'gate' && s.status === 'waiting' && s.waitingFor && /approv/.test(s.waitingFor)) gates.push({ molecule: id, step: s.id, bead: s.bead, waitingFor: s.waitingFor });
      }
    }
    this.gates = gates;
  }

  /** Everything: the slow timer. Stalls (a describe per workflow) at most every `stallsEveryMs`. */
  async refresh(stallsEveryMs = 15_000): Promise<void> {
    this.engineError = undefined;
    const rigs = Object.keys(this.rigs());
    const jobs: Promise<void>[] = [this.refreshSessions(), this.refreshMolecules()];
    for (const rig of rigs) {
      for (const name of this.polecatNames(rig, workingPolecats(this.root, rig))) jobs.push(this.refreshPolecat(rig, name));
      jobs.push(this.refreshQueue(rig));
    }
    for (const c of listConvoys(this.root)) if (!c.staged) jobs.push(this.refreshConvoy(c.id));
    if (Date.now() - this.lastStallsAt >= stallsEveryMs) {
      this.lastStallsAt = Date.now();
      const queues = [this.config.taskQueue, ...rigs.map((r) => rigTaskQueue(this.config, r))];
      jobs.push(
        townStalls(this.client, this.rigFilter ? queues.slice(1) : queues, townHeartbeatMs(this.root))
          .then((s) => void (this.stalls = s.map((x) => ({ workflowId: x.workflowId, why: x.why }))))
          .catch(() => undefined),
      );
    }
    await Promise.all(jobs);
  }

  /** What a new event concerns, asked again. */
  async refreshConcern(c: Concern): Promise<void> {
    if (c.all) return this.refresh(Number.POSITIVE_INFINITY);
    const jobs: Promise<void>[] = [];
    if (c.polecat && (!this.rigFilter || c.polecat.rig === this.rigFilter)) jobs.push(this.refreshPolecat(c.polecat.rig, c.polecat.name));
    if (c.mergeQueue && (!this.rigFilter || c.mergeQueue === this.rigFilter)) jobs.push(this.refreshQueue(c.mergeQueue));
    if (c.convoy) jobs.push(this.refreshConvoy(c.convoy));
    if (c.molecule) jobs.push(this.refreshMolecule(c.molecule).then(() => this.gatesFromMolecules()));
    await Promise.all(jobs);
  }

  private stallMsOf(rig: string): { stallMs: number; maxAttempts: number } {
    const town = readTownSettings(this.root).thresholds ?? {};
    let rigT: typeof town = {};
    try {
      rigT = readRigSettings(this.root, rig).thresholds ?? {};
    } catch {
      rigT = {};
    }
    let stallMs = 15 * 60_000;
    try {
      stallMs = parseDuration(rigT.stall_timeout ?? town.stall_timeout ?? '15m');
    } catch {
      // broken settings: the default (gt doctor names the bad key)
    }
    return { stallMs, maxAttempts: rigT.max_attempts ?? town.max_attempts ?? 3 };
  }

  /** The snapshot from what was last asked, plus the ledgers and files read now (cheap, local). */
  snapshot(now = Date.now()): Snapshot {
    const rigs = this.rigs();
    const agents: AgentRow[] = [];
    const sessionOwners: Record<string, string> = {};
    const blocked: BlockedRow[] = [];
    for (const [rig, entry] of Object.entries(rigs)) {
      const limits = this.stallMsOf(rig);
      const hooked = workingPolecats(this.root, rig);
      for (const name of this.polecatNames(rig, hooked)) {
        const st = this.polecats.get(`${rig}/${name}`);
        const session = `${entry.prefix}-${name}`;
        const address = polecatAddress(rig, name);
        sessionOwners[session] = address;
        agents.push({
          rig,
          name,
          address,
          session,
          status: st?.status ?? 'none',
          bead: st?.current?.bead,
          attempt: st?.current?.attempt,
          maxAttempts: limits.maxAttempts,
          startedAt: st?.current?.attempts?.at(-1)?.startedAt ?? st?.current?.startedAt,
          lastProgressAt: st?.current ? this.lastProgress(rig, name, st.current.attempts?.at(-1)?.startedAt ?? st.current.startedAt) : undefined,
          sessionAlive: this.sessions.includes(session),
          hooked: hooked.get(name) ?? [],
          queued: (st?.queue ?? []).map((w) => w.bead),
          stallMs: limits.stallMs,
          ...(st?.current?.awaiting ? { awaiting: st.current.awaiting } : {}),
        });
      }
      const dir = rigPaths(this.root, rig).beads;
      if (existsSync(join(dir, 'config.json'))) {
        for (const b of Ledger.open(dir).list({ status: 'blocked', labels: [POLECAT_FAILED_LABEL] })) {
          blocked.push({ bead: b.id, title: b.title, rig, reason: b.comments?.at(-1)?.text?.split('\n')[0]?.slice(0, 160) });
        }
      }
    }

    const convoys: ConvoyRow[] = [];
    let landed24h = 0;
    for (const c of listConvoys(this.root, { all: true })) {
      if (c.status === 'closed') {
        if (c.closed_at && now - Date.parse(c.closed_at) < 86_400_000) landed24h++;
        if (!c.closed_at || now - Date.parse(c.closed_at) > 86_400_000) continue;
      }
      const s = this.convoyStates.get(c.id);
      const beads = (s?.beads ?? []).filter((b) => !this.rigFilter || b.rig === this.rigFilter);
      if (this.rigFilter && s && !beads.length) continue;
      convoys.push({
        id: c.id,
        title: c.title,
        mode: c.mountain ? 'mountain' : 'convoy',
        status: s?.status ?? (c.staged ? 'staged' : c.status === 'closed' ? 'landed' : 'open'),
        done: s ? s.counts.closed : c.closed,
        total: s ? s.beads.length : c.total,
        etaMs: s?.etaMs,
        landedAt: s?.landedAt ?? c.closed_at,
        human: s?.human ?? false,
        stalledSince: s?.stalledSince,
        failed: beads.filter((b) => b.phase === 'failed').map((b) => ({ bead: b.id, reason: b.reason })),
        beads: s ? beads.map((b) => ({ id: b.id, title: b.title, phase: b.phase, rig: b.rig, polecat: b.polecat })) : undefined,
        ...(s?.budget ? { budget: s.budget } : {}),
      });
    }

    const merges: MergeRow[] = [];
    for (const rig of Object.keys(rigs).sort()) {
      const q = this.queues.get(rig);
      if (!q) continue;
      const row = (r: RefineryState['pending'][number]): MergeRow => ({ rig, bead: r.bead, branch: r.branch, polecat: r.polecat, status: r.status, reason: r.reason, at: r.endedAt ?? r.startedAt ?? r.submittedAt });
      for (const r of unfinished(q)) merges.push(row(r));
      for (const r of q.recent.slice(0, 10)) merges.push(row(r));
    }

    const extras = this.extras ? this.extraRows(rigs) : {};
    return {
      ...extras,
      at: now,
      rigs: Object.keys(rigs).sort(),
      agents,
      convoys,
      merges,
      gates: this.gates,
      blocked,
      sessions: this.sessions.filter((s) => s in sessionOwners),
      sessionOwners,
      stalls: this.rigFilter ? this.stalls.filter((s) => s.workflowId.includes(`/${this.rigFilter}`)) : this.stalls,
      landed24h,
      engineError: this.engineError,
    };
  }

  /** Ready work, the newest mail and the formula runs (local reads, and the runs last asked). */
  private extraRows(rigs: Record<string, { prefix: string }>): Pick<Snapshot, 'ready' | 'mail' | 'formulas'> {
    const ready: ReadyRow[] = [];
    for (const rig of Object.keys(rigs).sort()) {
      const dir = rigPaths(this.root, rig).beads;
      if (!existsSync(join(dir, 'config.json'))) continue;
      for (const b of Ledger.open(dir).ready({ limit: READY_SHOWN })) ready.push({ bead: b.id, title: b.title, rig, priority: b.priority });
    }
    const mail: MailRow[] = [];
    if (existsSync(join(townPaths(this.root).beads, 'config.json'))) {
      const messages = Ledger.open(townPaths(this.root).beads).list({ issue_type: 'message', all: true }).map(toMessage);
      messages.sort((a, b) => (a.sent_at < b.sent_at ? 1 : a.sent_at > b.sent_at ? -1 : b.id.localeCompare(a.id)));
      for (const m of messages.slice(0, MAIL_SHOWN)) mail.push({ id: m.id, from: m.from, to: m.to, subject: m.subject, sentAt: m.sent_at, read: m.read });
    }
    const formulas: FormulaRow[] = [...this.molecules].map(([molecule, state]) => ({ molecule, state })).sort((a, b) => (a.state.startedAt < b.state.startedAt ? 1 : -1));
    return { ready, mail, formulas };
  }

  /** The newest of: its session's start, its log and its progress file changing (what the agent activity watches). */
  private lastProgress(rig: string, name: string, startedAt: string | undefined): number | undefined {
    const runDir = join(townPaths(this.root).run, 'polecats', rig);
    let best = startedAt ? Date.parse(startedAt) : undefined;
    for (const f of [join(townPaths(this.root).logs, 'polecats', rig, `${name}.log`), join(runDir, `${name}.progress`)]) {
      try {
        const t = statSync(f).mtimeMs;
        if (best === undefined || t > best) best = t;
      } catch {
        // not written yet
      }
    }
    return best;
  }
}
