import {
  POLECAT_FAILED_LABEL,
  SKIPPED_LABEL,
  type BeadPhase,
  type ConvoyBead,
  type ConvoySettings,
  type ConvoySnapshot,
  type ConvoyState,
} from './types.js';

/**
 * Pure planning for convoys and mountains: waves, cycles, how a look at the ledgers changes a
 * convoy's state, what to dispatch next, the ETA and the text of reports. No I/O and no clock of
 * its own (times are passed in), so the workflow can use it and unit tests can pin it down.
 */

export const PHASES: readonly BeadPhase[] = ['waiting', 'ready', 'running', 'closed', 'failed', 'skipped', 'held', 'missing'];

/** A node of a dependency graph: the ids it waits for (edges to ids outside the graph are ignored). */
export interface GraphNode {
  id: string;
  deps: string[];
}

/**
 * One cycle of the graph as a closed path `[a, b, c, a]` (a waits for b, b for c, c for a), or
 * undefined. The cycle found first in id order, so the answer is stable.
 */
export function findCycle(nodes: GraphNode[]): string[] | undefined {
  const edges = new Map(nodes.map((n) => [n.id, n.deps]));
  const color = new Map<string, 1 | 2>();
  for (const start of [...edges.keys()].sort()) {
    if (color.has(start)) continue;
    // Iterative DFS: a 10k-bead chain must not overflow the stack.
    const path: string[] = [];
    const stack: Array<{ id: string; i: number }> = [{ id: start, i: 0 }];
    color.set(start, 1);
    path.push(start);
    while (stack.length) {
      const frame = stack[stack.length - 1]!;
      const deps = (edges.get(frame.id) ?? []).filter((d) => edges.has(d));
      if (frame.i < deps.length) {
        const next = deps[frame.i++]!;
        const c = color.get(next);
        if (c === 1) return [...path.slice(path.indexOf(next)), next];
        if (c === undefined) {
          color.set(next, 1);
          path.push(next);
          stack.push({ id: next, i: 0 });
        }
        continue;
      }
      color.set(frame.id, 2);
      path.pop();
      stack.pop();
    }
  }
  return undefined;
}

export function describeCycle(cycle: string[]): string {
  return cycle.join(' → ');
}

/**
 * Waves: wave 1 holds the nodes that wait for nothing in the graph, wave n+1 those whose latest
 * dependency is in wave n. Throws on a cycle (call findCycle first to name it).
 */
export function computeWaves(nodes: GraphNode[]): string[][] {
  const edges = new Map(nodes.map((n) => [n.id, n.deps]));
  const wave = new Map<string, number>();
  const visit = (root: string): number => {
    const known = wave.get(root);
    if (known !== undefined) return known;
    // Iterative post-order: depth of a 10k chain is fine.
    const stack: Array<{ id: string; i: number; max: number }> = [{ id: root, i: 0, max: 0 }];
    const onStack = new Set([root]);
    while (stack.length) {
      const f = stack[stack.length - 1]!;
      const deps = (edges.get(f.id) ?? []).filter((d) => edges.has(d));
      if (f.i < deps.length) {
        const d = deps[f.i++]!;
        const w = wave.get(d);
        if (w !== undefined) {
          f.max = Math.max(f.max, w);
          continue;
        }
        if (onStack.has(d)) throw new Error(`dependency cycle: ${describeCycle(findCycle(nodes) ?? [d, d])}`);
        onStack.add(d);
        stack.push({ id: d, i: 0, max: 0 });
        continue;
      }
      wave.set(f.id, f.max + 1);
      onStack.delete(f.id);
      stack.pop();
      const parent = stack[stack.length - 1];
      if (parent) parent.max = Math.max(parent.max, f.max + 1);
    }
    return wave.get(root)!;
  };
  const out: string[][] = [];
  for (const n of nodes) {
    const w = visit(n.id);
    (out[w - 1] ??= []).push(n.id);
  }
  return out.map((ids) => ids ?? []);
}

export function emptyCounts(): Record<BeadPhase, number> {
  return Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<BeadPhase, number>;
}

export interface ReconcileResult {
  /** Any bead changed phase: the convoy made progress (or at least something happened). */
  progressed: boolean;
  /** Mountain: failed beads to give up on, with the reason recorded on them. */
  skip: Array<{ id: string; reason: string }>;
  /** Mountain: failed beads to put back to open and dispatch again. */
  retry: Array<{ id: string; failures: number }>;
  /** Beads that failed in this look, for the reports. */
  failed: string[];
}

/**
 * Fold one look at the ledgers into the convoy's state. A bead that was running and comes back
 * blocked failed: a polecat that gave up (label polecat:failed) ran its rig's max_attempts
 * sessions, so that many failures count; any other block counts one. A mountain skips a bead once
 * its failures reach skip_after_failures, and otherwise sends it round again.
 */
export function reconcile(state: ConvoyState, snap: ConvoySnapshot, settings: ConvoySettings, now: string): ReconcileResult {
  const res: ReconcileResult = { progressed: false, skip: [], retry: [], failed: [] };
  const meta = snap.convoy.meta;
  state.title = snap.convoy.title;
  state.owner = meta.owner ?? state.owner;
  state.notify = Boolean(meta.notify);
  state.human = Boolean(meta.human);
  state.maxConcurrent = meta.max_concurrent;
  if (meta.budget) {
    // A new limit (raised, or changed in kind) is looked at afresh at the next dispatch.
    const same = state.budget && state.budget.tokens === meta.budget.tokens && state.budget.usd === meta.budget.usd;
    state.budget = same ? state.budget : { ...meta.budget, spentTokens: state.budget?.spentTokens, spentUsd: state.budget?.spentUsd };
  } else if (state.budget) {
    delete state.budget;
  }
  state.epic = meta.epic ?? state.epic;
  const before = new Map(state.beads.map((b) => [b.id, b]));
  const beads: ConvoyBead[] = [];
  for (const s of snap.beads) {
    const prev = before.get(s.id);
    const b: ConvoyBead = prev
      ? { ...prev, title: s.title, rig: s.rig, status: s.status }
      : { id: s.id, title: s.title, rig: s.rig, status: s.status, phase: 'waiting', attempts: 0, failures: 0 };
    const was = prev?.phase;
    let phase: BeadPhase;
    b.blockedBy = undefined;
    if (s.missing) {
      phase = 'missing';
      b.reason = 'no ledger of this town has this bead';
    } else if (s.status === 'closed') {
      phase = 'closed';
      b.mergedSha = s.mergedSha;
      b.reason = s.closeReason;
      b.closedAt ??= now;
    } else if (s.status === 'blocked') {
      if (s.labels.includes(SKIPPED_LABEL)) {
        phase = 'skipped';
        b.reason = b.reason ?? s.lastComment;
      } else {
        phase = 'failed';
        if (was === 'running') {
          b.failures += s.labels.includes(POLECAT_FAILED_LABEL) ? Math.max(1, s.maxAttempts ?? 1) : 1;
          b.reason = s.lastComment ?? 'blocked';
          res.failed.push(b.id);
          if (state.mode === 'mountain') {
            if (b.failures >= settings.skipAfter) {
              res.skip.push({ id: b.id, reason: `failed ${b.failures} time${b.failures === 1 ? '' : 's'} (skip_after_failures ${settings.skipAfter}); last: ${b.reason}` });
            } else {
              res.retry.push({ id: b.id, failures: b.failures });
            }
          }
        } else if (was !== 'failed') {
          b.reason = s.lastComment ?? 'blocked';
        }
      }
    } else if (s.status === 'hooked' || s.status === 'in_progress' || (s.status === 'open' && s.inFlight)) {
      phase = 'running';
      if (s.assignee) b.polecat = s.assignee;
      if (was !== 'running') b.dispatchedAt ??= now;
      b.reason = undefined;
    } else if (s.status === 'open' && s.blockers.length === 0) {
      phase = 'ready';
      if (was !== 'ready') b.readyAt = now;
      b.reason = undefined;
    } else {
      phase = 'waiting';
      b.blockedBy = s.blockers.length ? [...s.blockers] : undefined;
      b.reason = s.blockers.length ? undefined : `status ${s.status}`;
    }
    if (phase !== 'running' && phase !== 'closed') b.dispatchedAt = phase === 'failed' || phase === 'skipped' ? b.dispatchedAt : undefined;
    b.phase = phase;
    if (was !== phase) res.progressed = true;
    beads.push(b);
  }
  markHeld(beads);
  state.beads = beads;
  state.waves = runtimeWaves(beads);
  const waveOf = new Map<string, number>();
  state.waves.forEach((ids, i) => ids.forEach((id) => waveOf.set(id, i + 1)));
  for (const b of beads) b.wave = waveOf.get(b.id);
  state.counts = countPhases(beads);
  if (res.progressed) state.lastProgressAt = now;
  return res;
}

/** Waiting beads that depend (through other convoy beads) on a failed or skipped one cannot run: held. */
function markHeld(beads: ConvoyBead[]): void {
  const byId = new Map(beads.map((b) => [b.id, b]));
  let changed = true;
  while (changed) {
    changed = false;
    for (const b of beads) {
      if (b.phase !== 'waiting' || !b.blockedBy) continue;
      const stuck = b.blockedBy.find((id) => {
        const p = byId.get(id)?.phase;
        return p === 'failed' || p === 'skipped' || p === 'held' || p === 'missing';
      });
      if (stuck) {
        b.phase = 'held';
        b.reason = `depends on ${stuck}, which ${byId.get(stuck)!.phase === 'held' ? 'is held' : `${byId.get(stuck)!.phase === 'missing' ? 'is missing' : byId.get(stuck)!.phase}`}`;
        changed = true;
      }
    }
  }
}

/** Waves over the beads not yet closed, from their current blockers inside the convoy. */
function runtimeWaves(beads: ConvoyBead[]): string[][] {
  const open = beads.filter((b) => b.phase !== 'closed');
  const ids = new Set(open.map((b) => b.id));
  const nodes = open.map((b) => ({ id: b.id, deps: (b.blockedBy ?? []).filter((d) => ids.has(d)) }));
  if (findCycle(nodes)) return [open.map((b) => b.id)];
  return computeWaves(nodes);
}

export function countPhases(beads: ConvoyBead[]): Record<BeadPhase, number> {
  const c = emptyCounts();
  for (const b of beads) c[b.phase] += 1;
  return c;
}

/** Ready beads to dispatch now: none while paused or finished; at most max_concurrent running; earlier waves first. */
export function pickDispatch(state: ConvoyState): string[] {
  if (state.paused || state.cancelled || state.status === 'landed') return [];
  const running = state.beads.filter((b) => b.phase === 'running').length;
  const room = state.maxConcurrent ? Math.max(0, state.maxConcurrent - running) : Number.POSITIVE_INFINITY;
  const ready = state.beads.filter((b) => b.phase === 'ready' && b.rig);
  ready.sort((a, b) => (a.wave ?? 1) - (b.wave ?? 1));
  return ready.slice(0, room === Number.POSITIVE_INFINITY ? ready.length : room).map((b) => b.id);
}

export function allClosed(state: ConvoyState): boolean {
  return state.beads.length > 0 && state.beads.every((b) => b.phase === 'closed');
}

/** Nothing can move without a person: no bead ready, running or waiting on unfinished work, and not all closed. */
export function isStuck(state: ConvoyState): boolean {
  if (state.beads.length === 0 || allClosed(state)) return false;
  return state.beads.every((b) => b.phase === 'closed' || b.phase === 'failed' || b.phase === 'skipped' || b.phase === 'held' || b.phase === 'missing');
}

/** Work still to do that the convoy is waiting on (for stall detection). */
export function hasOutstandingWork(state: ConvoyState): boolean {
  return state.beads.some((b) => b.phase === 'ready' || b.phase === 'running' || b.phase === 'waiting');
}

/**
 * Beads closed per minute since the first dispatch, and the time left at that rate for the beads
 * that can still be done. Undefined until something closed.
 */
export function estimate(state: ConvoyState, nowMs: number): { rate?: number; etaMs?: number } {
  const starts = state.beads.map((b) => (b.dispatchedAt ? Date.parse(b.dispatchedAt) : NaN)).filter((t) => !Number.isNaN(t));
  const closes = state.beads.map((b) => (b.closedAt ? Date.parse(b.closedAt) : NaN)).filter((t) => !Number.isNaN(t));
  const first = Math.min(Date.parse(state.startedAt), ...starts);
  const minutes = (nowMs - first) / 60_000;
  if (!closes.length || minutes <= 0) return {};
  const rate = closes.length / minutes;
  const left = state.beads.filter((b) => b.phase === 'ready' || b.phase === 'running' || b.phase === 'waiting').length;
  return { rate, etaMs: Math.round((left / rate) * 60_000) };
}

export function formatDurationMs(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${String(s % 60).padStart(2, '0')}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60 ? `${String(m % 60).padStart(2, '0')}m` : ''}`;
}

export function summaryLine(state: ConvoyState): string {
  const c = state.counts;
  const parts = [`${c.closed}/${state.beads.length} closed`];
  for (const p of ['running', 'ready', 'waiting', 'failed', 'skipped', 'held', 'missing'] as const) if (c[p]) parts.push(`${c[p]} ${p}`);
  return parts.join(', ');
}

/** What an agent working a convoy bead was last seen doing (gathered by the stall activity). */
export interface AgentSighting {
  polecat: string;
  status?: string;
  session?: number;
  silentForMs?: number;
}

/** The stall report mailed to the Mayor: which beads wait on what, which agents are silent. */
export function stallReport(state: ConvoyState, agents: AgentSighting[], nowMs: number): { subject: string; body: string } {
  const idle = nowMs - Date.parse(state.lastProgressAt);
  const subject = `STALLED: ${state.mode} ${state.convoy} (${state.title}): no progress for ${formatDurationMs(idle)}`;
  const lines = [`${state.mode} ${state.convoy} "${state.title}" has made no progress for ${formatDurationMs(idle)} (${summaryLine(state)}).`, ''];
  const running = state.beads.filter((b) => b.phase === 'running');
  if (running.length) {
    lines.push('Running:');
    for (const b of running) {
      const a = agents.find((x) => x.polecat === b.polecat);
      const seen = a?.silentForMs !== undefined ? `silent for ${formatDurationMs(a.silentForMs)}` : 'no sign of its session';
      lines.push(`  ${b.id} ${b.title}: ${b.polecat ?? 'unknown agent'}${a?.status ? ` (${a.status}${a.session ? `, session ${a.session}` : ''})` : ''}, ${seen}`);
    }
  }
  const waiting = state.beads.filter((b) => b.phase === 'waiting');
  if (waiting.length) {
    lines.push('Waiting:');
    for (const b of waiting) lines.push(`  ${b.id} ${b.title}: ${b.blockedBy?.length ? `waits on ${b.blockedBy.join(', ')}` : b.reason ?? 'not ready'}`);
  }
  const ready = state.beads.filter((b) => b.phase === 'ready');
  if (ready.length) lines.push(`Ready but not dispatched${state.paused ? ' (paused)' : ' (no free polecat or max-concurrent reached)'}: ${ready.map((b) => b.id).join(', ')}`);
  const stuck = state.beads.filter((b) => b.phase === 'failed' || b.phase === 'skipped' || b.phase === 'held');
  if (stuck.length) {
    lines.push('Stuck:');
    for (const b of stuck) lines.push(`  ${b.id} ${b.title}: ${b.phase}${b.reason ? ` (${b.reason})` : ''}`);
  }
  lines.push('', `Details: gt mountain status ${state.convoy}`);
  return { subject, body: lines.join('\n') };
}

/** The note to the owner when the convoy lands, or a mountain can go no further. */
export function finishReport(state: ConvoyState): { subject: string; body: string } {
  const landed = state.status === 'landed';
  const subject = landed
    ? `LANDED: ${state.mode} ${state.convoy} (${state.title}): ${state.beads.length} bead${state.beads.length === 1 ? '' : 's'} done`
    : `INCOMPLETE: ${state.mode} ${state.convoy} (${state.title}): ${summaryLine(state)}`;
  const lines = [landed ? `All ${state.beads.length} beads of "${state.title}" are closed.` : `"${state.title}" went as far as it can: ${summaryLine(state)}.`, ''];
  for (const b of state.beads) {
    const what = b.phase === 'closed' ? (b.mergedSha ? `merged ${b.mergedSha.slice(0, 10)}` : `closed${b.reason ? ` (${b.reason})` : ''}`) : `${b.phase}${b.reason ? `: ${b.reason}` : ''}`;
    lines.push(`  ${b.id} ${b.title}: ${what}${b.attempts > 1 ? ` after ${b.attempts} dispatches` : ''}`);
  }
  if (!landed) lines.push('', 'Fix the failed or skipped beads (then set them open) and the convoy carries on by itself.');
  return { subject, body: lines.join('\n') };
}

/** The convoy's current details for the Web UI (markdown): summary, then a row per bead. */
export function convoyDetails(state: ConvoyState): string {
  const rows = state.beads.map((b) => {
    const result = b.phase === 'closed' ? (b.mergedSha ? `merged ${b.mergedSha.slice(0, 10)}` : 'closed') : b.blockedBy?.length ? `waits on ${b.blockedBy.join(', ')}` : (b.reason ?? '').split('\n')[0]!.slice(0, 80);
    return `| ${b.id} | ${b.phase} | ${b.polecat ?? '-'} | ${b.attempts} | ${result.replace(/\|/g, '/')} | ${b.title.split('\n')[0]!.slice(0, 60).replace(/\|/g, '/')} |`;
  });
  return [`**${state.status}** · ${summaryLine(state)}${state.etaMs !== undefined && state.status !== 'landed' ? ` · ETA ${formatDurationMs(state.etaMs)}` : ''}`, '', '| bead | state | polecat | tries | result | title |', '|---|---|---|---|---|---|', ...rows].join('\n');
}
