import { Context } from '@temporalio/activity';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import { stallReport, type AgentSighting } from '../convoy/plan.js';
import { hqLedger, lookAtConvoy, rigOfBead, trackedIds, type ConvoyLook } from '../convoy/store.js';
import { withDependents } from '../convoy/tell.js';
import { DISPATCH_QUERY, dispatchWorkflowId, type DispatchState } from '../dispatch/types.js';
import { lazyClient } from './client.js';
import { eventWriter } from './events.js';
import {
  DEFAULT_SKIP_AFTER_FAILURES,
  POLECAT_FAILED_LABEL,
  SKIPPED_LABEL,
  STAGED_LABEL,
  type ConvoySettings,
  type ConvoySnapshot,
  type ConvoyState,
  type DispatchResult,
  type SnapshotBead,
} from '../convoy/types.js';
import { parseDuration } from '../formula/duration.js';
import { POLECAT_QUERY, polecatAddress, type PolecatState } from '../polecat/state.js';
import { engineConfig } from '../temporal/config.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { readRigs, townPaths } from '../town/layout.js';
import { townRoutes } from '../town/routes.js';
import { readTownSettings } from '../town/settings.js';
import { tmuxArgs } from './tmux.js';

/**
 * Activities of convoy and mountain workflows: looking at the ledgers (a heartbeating watch that
 * returns as soon as anything the convoy tracks changes), dispatching ready beads to polecats,
 * the ledger changes of skips, retries and landing, and telling people. Each is safe to run again.
 */

const DEFAULT_STALL = '15m';
const DEFAULT_HEARTBEAT = '30s';
/** How often the watch looks at the ledger files (a stat each; the ledgers are re-read only when they changed). */
const POLL_MS = Number(process.env.GT_CONVOY_POLL_MS ?? 200);
/** A bead open again after a dispatch may be rework a polecat has queued: ask it this often. */
const INFLIGHT_RECHECK_MS = 5000;

export interface ObserveInput {
  convoy: string;
  /** Return as soon as the fingerprint differs from this one (or at once without it). */
  since?: string;
  waitMs: number;
  /** bead → polecat address, for beads this convoy saw running. */
  running: Record<string, string>;
}

export function convoyActivities(root: string) {
  const getClient = lazyClient(root);
  const event = eventWriter(root);
  /** bead → polecat name, as the rig's dispatcher has it (undefined when it does not run). */
  const dispatcherOwners = async (rig: string): Promise<Record<string, string> | undefined> => {
    try {
      return (await (await getClient()).workflow.getHandle(dispatchWorkflowId(rig)).query<DispatchState>(DISPATCH_QUERY)).owners;
    } catch {
      return undefined;
    }
  };
  const hq = () => Ledger.open(townPaths(root).beads);
  const ledgerFor = (id: string): Ledger | undefined => {
    const route = townRoutes(root)
      .sort((a, b) => b.prefix.length - a.prefix.length)
      .find((r) => id.startsWith(`${r.prefix}-`));
    return route && existsSync(join(route.dir, 'config.json')) ? Ledger.open(route.dir) : undefined;
  };
  const ledgerStamps = (): string =>
    townRoutes(root)
      .map((r) => {
        try {
          const st = statSync(join(r.dir, 'issues.jsonl'));
          return `${st.size}:${st.mtimeMs}`;
        } catch {
          return '-';
        }
      })
      .join('|');

  async function polecatHas(address: string, bead: string): Promise<boolean | undefined> {
    const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(address);
    if (!m) return undefined;
    try {
      const state = await (await getClient()).workflow.getHandle(polecatWorkflowId(m[1]!, m[2]!)).query<PolecatState>(POLECAT_QUERY);
      return state.current?.bead === bead || state.queue.some((q) => q.bead === bead);
    } catch {
      return false;
    }
  }

  return {
    async convoySettings(): Promise<ConvoySettings> {
      const t = readTownSettings(root).thresholds ?? {};
      const ms = (text: string | undefined, fallback: string) => {
        try {
          return parseDuration(text ?? fallback);
        } catch {
          return parseDuration(fallback);
        }
      };
      const skip = t.skip_after_failures;
      return {
        stallMs: ms(t.stall_timeout, DEFAULT_STALL),
        heartbeatMs: Math.max(3000, ms(t.heartbeat_timeout, DEFAULT_HEARTBEAT)),
        pollMs: POLL_MS,
        skipAfter: Number.isInteger(skip) && skip! >= 1 ? skip! : DEFAULT_SKIP_AFTER_FAILURES,
      };
    },

    /**
     * One look at everything the convoy tracks; with `since`, a watch: it looks again whenever a
     * ledger file changes and returns once the answer differs (or after `waitMs`).
     */
    async observeConvoy(input: ObserveInput): Promise<ConvoySnapshot> {
      const ctx = Context.current();
      const deadline = Date.now() + input.waitMs;
      let stamps = '';
      let lastInflightCheck = 0;
      let fingerprint = '';
      let snap: ConvoyLook | undefined;
      for (;;) {
        const now = Date.now();
        const current = ledgerStamps();
        let reopened: SnapshotBead[];
        const recheck = now - lastInflightCheck >= INFLIGHT_RECHECK_MS;
        if (current !== stamps || !snap || recheck) {
          stamps = current;
          const look = lookAtConvoy(root, input.convoy);
          reopened = look.snap.beads.filter((b) => b.status === 'open');
          for (const s of reopened) {
            const polecat = input.running[s.id];
            if (polecat && (await polecatHas(polecat, s.id))) {
              s.inFlight = true;
              s.assignee = polecat;
            }
          }
          lastInflightCheck = now;
          snap = look.snap;
          fingerprint = createHash('sha1').update(JSON.stringify(snap)).digest('hex');
        }
        if (input.since === undefined || fingerprint !== input.since || Date.now() >= deadline) {
          return { ...snap, fingerprint, at: new Date().toISOString() };
        }
        ctx.heartbeat();
        await ctx.sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
      }
    },

    /**
     * Ask each rig's dispatcher for polecats for ready beads (one request per rig, its id stable
     * across retries of this activity, so a retry after a lost worker changes nothing twice).
     */
    async dispatchConvoyBeads(input: { convoy: string; beads: string[]; requestId?: string }): Promise<DispatchResult[]> {
      const { requestSling } = await import('../dispatch/client.js');
      const info = Context.current().info;
      const rigs = readRigs(root).rigs;
      const results: DispatchResult[] = [];
      const byRig = new Map<string, Array<{ id: string; title: string }>>();
      for (const id of input.beads) {
        const rig = rigOfBead(rigs, id);
        const bead = ledgerFor(id)?.tryGet(id);
        if (!rig || !bead) {
          results.push({ bead: id, result: 'refused', reason: rig ? 'not in any ledger' : 'its prefix belongs to no rig' });
          continue;
        }
        byRig.set(rig, [...(byRig.get(rig) ?? []), { id, title: bead.title }]);
      }
      const client = await getClient();
      const config = engineConfig(root);
      for (const [rig, beads] of byRig) {
        const receipt = await requestSling(client, config, rig, {
          // A convoy that asked by signal first and got no answer asks again under the same id.
          requestId: `${input.requestId ?? `${input.convoy}/${info.workflowExecution?.runId ?? input.convoy}/${info.activityId}`}/${rig}`,
          beads,
          by: input.convoy,
          // Asked by signal first: the dispatcher's hook writes the convoy's dispatch event.
          ...(input.requestId ? { convoy: input.convoy } : {}),
        });
        for (const r of receipt.results) results.push({ bead: r.bead, result: r.result, polecat: r.polecat ? polecatAddress(rig, r.polecat) : undefined, reason: r.reason });
        const slung = receipt.results.filter((r) => r.result === 'slung');
        if (slung.length && !input.requestId) event('convoy.dispatch', { actor: input.convoy, convoy: input.convoy, rig, key: rig, beads: slung.map((r) => r.bead), detail: `dispatched ${slung.map((r) => `${r.bead} → ${r.polecat}`).join(', ')}` });
      }
      return results;
    },

    /**
     * The convoy's beads as the ledgers have them now: all of them, or only `beads` and the
     * tracked beads that depend on them (their blockers may have changed). A bead open again
     * while its polecat still owns it (sent back for rework) counts as in flight.
     */
    async lookAtConvoyBeads(input: { convoy: string; beads?: string[] }): Promise<{ convoy: ConvoySnapshot['convoy']; tracked: string[]; beads: SnapshotBead[] }> {
      const wanted = input.beads ? withDependents(root, input.beads) : undefined;
      const { snap } = lookAtConvoy(root, input.convoy, wanted && ((id) => wanted.has(id)));
      const tracked = trackedIds(hqLedger(root).get(input.convoy));
      const owners = new Map<string, Record<string, string> | undefined>();
      for (const b of snap.beads) {
        if (b.status !== 'open' || !b.rig) continue;
        if (!owners.has(b.rig)) owners.set(b.rig, await dispatcherOwners(b.rig));
        const owner = owners.get(b.rig)?.[b.id];
        if (owner) {
          b.inFlight = true;
          b.assignee = polecatAddress(b.rig, owner);
        }
      }
      return { convoy: snap.convoy, tracked, beads: snap.beads };
    },

    /** Mountain bookkeeping: skipped beads get the label and the reason; retried ones go back to open. Idempotent. */
    async recordConvoyChanges(input: { convoy: string; skip: Array<{ id: string; reason: string }>; retry: Array<{ id: string; failures: number; skipAfter: number }> }): Promise<void> {
      for (const s of input.skip) {
        const ledger = ledgerFor(s.id);
        if (!ledger) continue;
        await ledger.transactionAsync((tx) => {
          const b = tx.lookup(s.id);
          if (!b || b.labels?.includes(SKIPPED_LABEL)) return;
          if (b.status !== 'blocked') tx.update(b.id, { status: 'blocked' });
          tx.addLabel(b.id, SKIPPED_LABEL);
          tx.addComment(b.id, `skipped by mountain ${input.convoy}: ${s.reason}. The rest of the mountain goes on around it; to try again, fix the cause, remove the label ${SKIPPED_LABEL} and set it open.`);
        }, { actor: input.convoy });
      }
      for (const r of input.retry) {
        const ledger = ledgerFor(r.id);
        if (!ledger) continue;
        await ledger.transactionAsync((tx) => {
          const b = tx.lookup(r.id);
          if (!b || b.status !== 'blocked' || b.labels?.includes(SKIPPED_LABEL)) return;
          tx.update(b.id, { status: 'open', assignee: null, remove_labels: b.labels?.includes(POLECAT_FAILED_LABEL) ? [POLECAT_FAILED_LABEL] : [] });
          tx.addComment(b.id, `mountain ${input.convoy} tries it again (${r.failures} of ${r.skipAfter} failures so far)`);
        }, { actor: input.convoy });
      }
    },

    /** All beads closed: the convoy bead is closed (and a mountain's epic, once all its children are). Idempotent. */
    async landConvoy(input: { convoy: string; reason: string; epic?: string }): Promise<void> {
      await hq().transactionAsync((tx) => {
        const c = tx.lookup(input.convoy);
        if (!c) return;
        if (c.labels?.includes(STAGED_LABEL)) tx.removeLabel(c.id, STAGED_LABEL);
        if (c.status !== 'closed') tx.close(c.id, { reason: input.reason, force: true });
      }, { actor: input.convoy });
      if (!input.epic) return;
      const ledger = ledgerFor(input.epic);
      if (!ledger) return;
      await ledger.transactionAsync((tx) => {
        const epic = tx.lookup(input.epic!);
        if (!epic || epic.status === 'closed') return;
        const open = ledger.children(epic.id).filter((c) => tx.lookup(c.id)?.status !== 'closed');
        if (open.length === 0) tx.close(epic.id, { reason: `every child landed (mountain ${input.convoy})`, force: true });
      }, { actor: input.convoy });
    },

    /** Cancelled or closed by hand: the convoy bead closes with the reason. Idempotent. */
    async closeConvoyBead(input: { convoy: string; reason: string; by: string }): Promise<void> {
      await hq().transactionAsync((tx) => {
        const c = tx.lookup(input.convoy);
        if (!c || c.status === 'closed') return;
        tx.close(c.id, { reason: input.reason, force: true });
      }, { actor: input.by });
    },

    /**
     * Tell the owner: mail (the durable record), and with `notify` a line in the town's event log
     * (`.gt/events.jsonl`, what `gt feed` shows), a tmux message and a desktop notice where those exist.
     */
    /** What the sessions of these beads spent so far (Claude Code transcripts, Codex rollouts), for the convoy's budget. */
    async convoySpend(input: { convoy: string; beads: string[] }): Promise<{ tokens: number; usd?: number; problems: number }> {
      const { spentOn } = await import('../costs/report.js');
      const spent = spentOn(root, input.beads);
      return { tokens: spent.tokens, ...(spent.usage.usd !== undefined ? { usd: spent.usage.usd } : {}), problems: spent.problems.length };
    },

    async notifyConvoy(input: { convoy: string; to: string; subject: string; body: string; notify: boolean; kind: string }): Promise<{ mail?: string }> {
      const { sendMailAsync } = await import('../mail/mail.js');
      let mail: string | undefined;
      const sent = await alreadySent(input.to, input.subject);
      if (sent) mail = sent;
      else {
        try {
          mail = (await sendMailAsync(root, { from: input.convoy, to: input.to, subject: input.subject, body: input.body })).id;
        } catch {
          // An owner that no longer exists (a nuked polecat): the Mayor hears instead.
          mail = (await sendMailAsync(root, { from: input.convoy, to: 'mayor', subject: input.subject, body: `(for ${input.to}, who cannot receive mail)\n${input.body}` })).id;
        }
      }
      event(`convoy.${input.kind}`, { actor: input.convoy, convoy: input.convoy, to: input.to, subject: input.subject, mail, detail: input.subject });
      if (input.notify) {
        await bestEffort('tmux', [...tmuxArgs(root), 'display-message', input.subject]);
        if (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) await bestEffort('notify-send', ['Gas Town', input.subject]);
      }
      return { mail };
    },

    /** No progress for stall_timeout: mail the Mayor which beads wait on what and which agents are silent. */
    async reportConvoyStall(input: { state: ConvoyState }): Promise<{ mail: string }> {
      const agents: AgentSighting[] = [];
      for (const b of input.state.beads) {
        if (b.phase !== 'running' || !b.polecat) continue;
        const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(b.polecat);
        if (!m) continue;
        const sighting: AgentSighting = { polecat: b.polecat };
        try {
          const st = await (await getClient()).workflow.getHandle(polecatWorkflowId(m[1]!, m[2]!)).query<PolecatState>(POLECAT_QUERY);
          sighting.status = st.status;
          sighting.session = st.current?.attempt;
        } catch {
          sighting.status = 'no polecat workflow';
        }
        const progress = join(townPaths(root).run, 'polecats', m[1]!, `${m[2]!}.progress`);
        try {
          sighting.silentForMs = Date.now() - statSync(progress).mtimeMs;
        } catch {
          // no session has reported progress yet
        }
        agents.push(sighting);
      }
      const { subject, body } = stallReport(input.state, agents, Date.now());
      event('mountain.stall', { actor: input.state.convoy, convoy: input.state.convoy, detail: subject });
      const { sendMailAsync } = await import('../mail/mail.js');
      return { mail: (await sendMailAsync(root, { from: input.state.convoy, to: 'mayor', subject, body })).id };
    },
  };

  /** A retried notify must not mail twice. */
  async function alreadySent(to: string, subject: string): Promise<string | undefined> {
    const hit = hq().list({ issue_type: 'message', all: true }).find((m) => m.title === subject && (m.assignee === to || m.assignee === 'mayor'));
    return hit?.id;
  }
}

function bestEffort(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve) => {
    try {
      execFile(cmd, args, { timeout: 3000 }, () => resolve());
    } catch {
      resolve();
    }
  });
}

