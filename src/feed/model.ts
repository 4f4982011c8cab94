/**
 * What `gt feed` shows, as plain data: one snapshot of the town (gathered by gather.ts from the
 * engine's queries, the ledgers and the event stream) and pure functions over it: the problems
 * it holds (stalled, waiting on a person, blocked after attempts, zombies), filtering, and the
 * rows of each panel. No I/O here, so all of it is unit-tested.
 */
import type { ConvoyBudget } from '../convoy/budget.js';
import type { TownEvent } from '../events/log.js';
import type { MoleculeState } from '../molecule/state.js';
import type { PolecatStatus } from '../polecat/state.js';

export interface AgentRow {
  rig: string;
  name: string;
  address: string;
  session: string;
  /** The polecat workflow's status; `none` when no workflow answers for it. */
  status: PolecatStatus | 'none';
  bead?: string;
  attempt?: number;
  maxAttempts?: number;
  /** When its current session started (ISO). */
  startedAt?: string;
  /** Last sign of life of its agent (its log or progress file changed), ms since the epoch. */
  lastProgressAt?: number;
  sessionAlive: boolean;
  /** Beads the ledger has on its hook. */
  hooked: string[];
  /** Beads waiting in its workflow's queue. */
  queued: string[];
  /** The rig's stall_timeout in ms. */
  stallMs: number;
  /** When the engine last nudged its current session for silence (a `nudge` event), ms since the epoch. */
  nudgedAt?: number;
  /** Its session waits at a trust, permission or input prompt (from the polecat's state). */
  awaiting?: { kind: string; text: string; since: string; escalatedAt?: string };
}

export interface ConvoyRow {
  id: string;
  title: string;
  mode: 'convoy' | 'mountain';
  status: string;
  done: number;
  total: number;
  etaMs?: number;
  landedAt?: string;
  human: boolean;
  stalledSince?: string;
  /** Beads the convoy sees as failed (blocked after attempts, or blocked by a person), with why. */
  failed: { bead: string; reason?: string }[];
  /** Its beads as its workflow last answered (the dashboard's drill-down). */
  beads?: { id: string; title: string; phase: string; rig?: string; polecat?: string }[];
  /** Its `--budget` and what its beads' sessions spent, as its workflow last answered. */
  budget?: ConvoyBudget;
}

export interface MergeRow {
  rig: string;
  bead: string;
  branch: string;
  polecat: string;
  status: string;
  reason?: string;
  at?: string;
}

export interface GateRow {
  molecule: string;
  step: string;
  bead: string;
  waitingFor: string;
}

export interface BlockedRow {
  bead: string;
  title: string;
  rig?: string;
  reason?: string;
}

/** Ready work of a rig's ledger (the dashboard's "ready work"). */
export interface ReadyRow {
  bead: string;
  title: string;
  rig: string;
  priority?: number;
}

/** A message in the town's mail (the HQ ledger). */
export interface MailRow {
  id: string;
  from: string;
  to: string;
  subject: string;
  sentAt: string;
  read: boolean;
}

/** A formula run as its workflow last answered: its steps with their dependencies and states. */
export interface FormulaRow {
  molecule: string;
  state: MoleculeState;
}

export interface EngineStall {
  workflowId: string;
  why: string;
}

export interface Snapshot {
  at: number;
  rigs: string[];
  agents: AgentRow[];
  convoys: ConvoyRow[];
  merges: MergeRow[];
  gates: GateRow[];
  blocked: BlockedRow[];
  /** The town's tmux sessions of polecats (by name), whether or not a workflow is behind them. */
  sessions: string[];
  /** session name → polecat address, for every polecat session name the town can have. */
  sessionOwners: Record<string, string>;
  stalls: EngineStall[];
  /** Convoys landed in the last 24 hours. */
  landed24h: number;
  /** Why the engine could not be asked (the panels then show what the ledgers say). */
  engineError?: string;
  /** Gathered only when asked for (`extras`: the dashboard shows them, the TUI does not). */
  ready?: ReadyRow[];
  mail?: MailRow[];
  formulas?: FormulaRow[];
}

export type ProblemKind = 'stalled' | 'waiting' | 'blocked' | 'zombie';

export interface Problem {
  kind: ProblemKind;
  /** What it is about: an agent's address, a bead, a convoy, a session. */
  subject: string;
  why: string;
  /** The agent to attach to or nudge for it, if any. */
  agent?: string;
}

export function emptySnapshot(at = Date.now()): Snapshot {
  return { at, rigs: [], agents: [], convoys: [], merges: [], gates: [], blocked: [], sessions: [], sessionOwners: {}, stalls: [], landed24h: 0 };
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d`;
}

/** How long after a nudge a session's output is taken for the nudge's own echo. */
const NUDGE_ECHO_MS = 3000;

/** Each agent's last `nudge` event for the session it runs now (from the event stream). */
export function withNudges(s: Snapshot, events: TownEvent[]): Snapshot {
  const last = new Map<string, number>();
  for (const e of events) if (e.type === 'nudge') last.set(`${e.actor} ${e.bead} ${e.attempt}`, Date.parse(e.at));
  if (!last.size) return s;
  return { ...s, agents: s.agents.map((a) => {
    const at = last.get(`${a.address} ${a.bead} ${a.attempt}`);
    return at === undefined ? a : { ...a, nudgedAt: at };
  }) };
}

const WORKING: ReadonlySet<string> = new Set(['preparing', 'working', 'submitting']);

/**
 * Everything in the snapshot that needs a look, each with why:
 *  stalled  a working agent with no progress past its rig's stall_timeout, an activity the
 *           engine reports stuck, a mountain that stopped moving
 *  waiting  a human gate of a formula run, a `--human` convoy awaiting approval
 *  blocked  a bead a polecat gave up on after its attempts (or a person blocked)
 *  zombie   a polecat session with no work behind it, a hooked bead no workflow works
 */
export function detectProblems(s: Snapshot): Problem[] {
  const out: Problem[] = [];
  const now = s.at;
  for (const a of s.agents) {
    // Waiting at a prompt is not stalling: a person is needed.
    if (a.status === 'working' && a.awaiting) {
      out.push({
        kind: 'waiting',
        subject: a.address,
        agent: a.address,
        why: `awaiting input (${a.awaiting.kind} prompt) for ${ago(now - Date.parse(a.awaiting.since))} on ${a.bead ?? 'its bead'}: ${a.awaiting.text}${a.awaiting.escalatedAt ? ' (the Mayor was told)' : ''}`,
      });
    } else if (a.status === 'working' && a.nudgedAt !== undefined && (a.lastProgressAt ?? 0) < a.nudgedAt + NUDGE_ECHO_MS) {
      out.push({
        kind: 'stalled',
        subject: a.address,
        agent: a.address,
        why: `nudged ${ago(now - a.nudgedAt)} ago after no progress for ${ago(a.stallMs)} (stall_timeout) on ${a.bead ?? 'its bead'}, still silent; its session is restarted after nudge_grace${a.attempt ? ` (session ${a.attempt}${a.maxAttempts ? ` of ${a.maxAttempts}` : ''})` : ''}`,
      });
    } else if (a.status === 'working' && a.lastProgressAt !== undefined && now - a.lastProgressAt > a.stallMs) {
      out.push({
        kind: 'stalled',
        subject: a.address,
        agent: a.address,
        why: `no progress for ${ago(now - a.lastProgressAt)} on ${a.bead ?? 'its bead'} (stall_timeout ${ago(a.stallMs)})${a.attempt ? `, session ${a.attempt}${a.maxAttempts ? ` of ${a.maxAttempts}` : ''}` : ''}`,
      });
    }
  }
  const agentByWorkflow = new Map(s.agents.map((a) => [`polecat/${a.rig}/${a.name}`, a.address]));
  for (const st of s.stalls) out.push({ kind: 'stalled', subject: st.workflowId, agent: agentByWorkflow.get(st.workflowId), why: st.why });
  for (const c of s.convoys) {
    if (c.status === 'stalled') out.push({ kind: 'stalled', subject: c.id, why: `${c.mode} "${c.title}" has not moved${c.stalledSince ? ` since ${c.stalledSince.slice(11, 19)}` : ''} (${c.done}/${c.total} done)` });
  }

  for (const g of s.gates) out.push({ kind: 'waiting', subject: g.bead, why: `gate "${g.step}" of ${g.molecule} waits for ${g.waitingFor}` });
  for (const c of s.convoys) {
    if (c.status === 'awaiting-approval') out.push({ kind: 'waiting', subject: c.id, why: `${c.mode} "${c.title}" (--human) awaits approval: gt convoy approve ${c.id}` });
  }

  const blocked = new Map<string, Problem>();
  for (const b of s.blocked) blocked.set(b.bead, { kind: 'blocked', subject: b.bead, why: `"${b.title}" is blocked${b.reason ? `: ${b.reason}` : ''}` });
  for (const c of s.convoys) {
    for (const f of c.failed) {
      if (!blocked.has(f.bead)) blocked.set(f.bead, { kind: 'blocked', subject: f.bead, why: `failed in ${c.id}${f.reason ? `: ${f.reason}` : ''}` });
    }
  }
  out.push(...blocked.values());

  const byAddress = new Map(s.agents.map((a) => [a.address, a]));
  for (const session of s.sessions) {
    const owner = s.sessionOwners[session];
    if (!owner) continue;
    const a = byAddress.get(owner);
    if (!a || a.status === 'none') out.push({ kind: 'zombie', subject: session, agent: owner, why: `tmux session ${session} runs but no polecat workflow is behind ${owner}` });
    else if (!WORKING.has(a.status) && a.status !== 'stopping') out.push({ kind: 'zombie', subject: session, agent: owner, why: `tmux session ${session} runs but ${owner} is ${a.status} (no bead being worked)` });
  }
  for (const a of s.agents) {
    for (const bead of a.hooked) {
      if (a.status === 'none') out.push({ kind: 'zombie', subject: bead, agent: a.address, why: `${bead} is hooked to ${a.address} but no polecat workflow is behind it (gt unsling ${bead})` });
      else if (a.bead !== bead && !a.queued.includes(bead)) out.push({ kind: 'zombie', subject: bead, agent: a.address, why: `${bead} is hooked to ${a.address}, whose workflow is ${a.status}${a.bead ? ` on ${a.bead}` : ''}, not on it` });
    }
  }
  return out;
}

/** Case-insensitive: every word of `text` is in one of the row's strings. */
export function matchesFilter(fields: Array<string | number | undefined>, text: string): boolean {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const hay = fields.filter((f) => f !== undefined).join(' ').toLowerCase();
  return words.every((w) => hay.includes(w));
}

/** Add a chunk of typed text to a prompt's text: up to a carriage return (then done), with backspaces applied. */
export function typeInto(text: string, chunk: string): { text: string; done: boolean } {
  let out = text;
  for (const ch of chunk) {
    if (ch === '\r' || ch === '\n') return { text: out, done: true };
    if (ch === '\x7f' || ch === '\b') out = out.slice(0, -1);
    // eslint-disable-next-line no-control-regex
    else if (!/[\x00-\x1f]/.test(ch)) out += ch;
  }
  return { text: out, done: false };
}

export type PanelId = 'agents' | 'convoys' | 'merges' | 'events' | 'problems';

/** One line of a panel: its text, what it is about and the agent it belongs to (for attach, nudge, handoff). */
export interface Row {
  key: string;
  text: string;
  agent?: string;
  /** Colour hint for the view. */
  tone?: 'ok' | 'warn' | 'bad' | 'dim';
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export function agentRows(s: Snapshot): Row[] {
  const rows: Row[] = [];
  const rigs = [...new Set([...s.rigs, ...s.agents.map((a) => a.rig)])].sort();
  for (const rig of rigs) {
    const agents = s.agents.filter((a) => a.rig === rig);
    rows.push({ key: `rig:${rig}`, text: `${rig} (${agents.filter((a) => WORKING.has(a.status)).length}/${agents.length} working)`, tone: 'dim' });
    for (const a of agents) {
      const progress = a.lastProgressAt !== undefined ? `progress ${ago(s.at - a.lastProgressAt)} ago` : '';
      const attempt = a.attempt ? `#${a.attempt}${a.maxAttempts ? `/${a.maxAttempts}` : ''}` : '';
      const waiting = a.status === 'working' && a.awaiting !== undefined;
      const stalled = !waiting && a.status === 'working' && a.lastProgressAt !== undefined && s.at - a.lastProgressAt > a.stallMs;
      rows.push({
        key: a.address,
        agent: a.address,
        text: `  ${pad(a.name, 12)} ${pad(waiting ? 'awaiting' : a.status, 10)} ${pad(a.bead ?? '-', 12)} ${pad(attempt, 5)} ${pad(a.sessionAlive ? 'tmux' : '', 4)} ${waiting ? `${a.awaiting!.kind} prompt: ${a.awaiting!.text.slice(0, 60)}` : progress}`.trimEnd(),
        tone: stalled || waiting ? 'bad' : WORKING.has(a.status) ? 'ok' : 'dim',
      });
    }
  }
  return rows;
}

export function convoyRows(s: Snapshot): Row[] {
  const rows: Row[] = [{ key: 'convoys:landed', text: `${s.landed24h} landed in the last 24 h`, tone: 'dim' }];
  for (const c of s.convoys) {
    const eta = c.etaMs !== undefined && c.status === 'running' ? ` ETA ${ago(c.etaMs)}` : '';
    rows.push({
      key: c.id,
      text: `${pad(c.id, 12)} ${pad(c.mode, 8)} ${pad(c.status, 17)} ${c.done}/${c.total}${eta}  ${c.title}`,
      tone: c.status === 'landed' ? 'ok' : c.status === 'stalled' || c.failed.length ? 'bad' : c.status === 'awaiting-approval' ? 'warn' : undefined,
    });
  }
  return rows;
}

export function mergeRows(s: Snapshot): Row[] {
  return s.merges.map((m) => ({
    key: `${m.rig}:${m.bead}:${m.status}:${m.at ?? ''}`,
    agent: `${m.rig}/polecats/${m.polecat}`,
    text: `${pad(m.rig, 10)} ${pad(m.status, 8)} ${pad(m.bead, 12)} ${m.branch}${m.reason ? `  ${m.reason.split('\n')[0]!.slice(0, 80)}` : ''}`,
    tone: m.status === 'merged' ? 'ok' : m.status === 'rejected' || m.status === 'failed' ? 'bad' : undefined,
  }));
}

export function problemRows(problems: Problem[]): Row[] {
  return problems.map((p) => ({ key: `${p.kind}:${p.subject}`, agent: p.agent, text: `${pad(p.kind, 8)} ${pad(p.subject, 20)} ${p.why}`, tone: p.kind === 'waiting' ? 'warn' : 'bad' }));
}

/** The agent an event is about, when its actor is a polecat. */
export function eventAgent(e: TownEvent): string | undefined {
  return /^[^/]+\/polecats\/[^/]+$/.test(e.actor) ? e.actor : undefined;
}

export function eventRow(e: TownEvent, format: (e: TownEvent) => string): Row {
  return { key: e.id, agent: eventAgent(e), text: format(e).slice(11), tone: /rejected|stall|blocked|incomplete/.test(e.type) ? 'bad' : /merged|landed|done/.test(e.type) ? 'ok' : undefined };
}

export function filterRows(rows: Row[], text: string): Row[] {
  return text ? rows.filter((r) => matchesFilter([r.text, r.key, r.agent], text)) : rows;
}

/** What a new event makes worth asking the engine again: the polecat, the rig's merge queue, a convoy. */
export interface Concern {
  polecat?: { rig: string; name: string };
  mergeQueue?: string;
  convoy?: string;
  /** A formula run (its steps started or ended). */
  molecule?: string;
  /** Everything (a sling may make a polecat the feed has not seen). */
  all?: boolean;
}

export function concernOf(e: TownEvent): Concern {
  const c: Concern = {};
  const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(e.actor);
  if (m) c.polecat = { rig: m[1]!, name: m[2]! };
  if (e.type.startsWith('merge.') && e.rig) c.mergeQueue = e.rig;
  if (e.type.startsWith('convoy.') || e.type.startsWith('mountain.')) c.convoy = typeof e.convoy === 'string' ? e.convoy : e.actor;
  if ((e.type.startsWith('step.') || e.type.startsWith('formula.')) && e.workflow) c.molecule = e.workflow;
  if (e.type === 'sling' || e.type === 'done' || e.type === 'merge.merged' || e.type === 'bead.blocked') c.all = true;
  return c;
}
