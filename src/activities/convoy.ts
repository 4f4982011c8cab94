import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import { stallReport, type AgentSighting } from '../convoy/plan.js';
import { lookAtConvoy, rigOfBead, type ConvoyLook } from '../convoy/store.js';
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
import { POLECAT_QUERY, type PolecatState, type WorkItem } from '../polecat/state.js';
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
  let client: Promise<Client> | undefined;
  const getClient = () => {
    client ??= import('../temporal/client.js').then((m) => m.connectClient(engineConfig(root)));
    return client;
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
     * Sling ready beads, each to its own rig, up to the free polecats of the rig. A bead that is
     * already hooked (an earlier try of this activity got that far before its worker died) is
     * handed to its polecat again if the polecat does not have it.
     */
    async dispatchConvoyBeads(input: { convoy: string; beads: string[] }): Promise<DispatchResult[]> {
      const { sling } = await import('../polecat/client.js');
      const { workingPolecats } = await import('../polecat/hook.js');
      const { maxPolecatsPerRig } = await import('../polecat/settings.js');
      const rigs = readRigs(root).rigs;
      const results: DispatchResult[] = [];
      const byRig = new Map<string, string[]>();
      for (const id of input.beads) {
        const rig = rigOfBead(rigs, id);
        const bead = ledgerFor(id)?.tryGet(id);
        if (!rig || !bead) {
          results.push({ bead: id, result: 'refused', reason: rig ? 'not in any ledger' : 'its prefix belongs to no rig' });
          continue;
        }
        if (bead.status === 'hooked' && bead.assignee) {
          await adopt(rig, bead, input.convoy);
          results.push({ bead: id, result: 'already', polecat: bead.assignee });
          continue;
        }
        if (bead.status !== 'open') {
          results.push({ bead: id, result: 'already', polecat: bead.assignee, reason: `status ${bead.status}` });
          continue;
        }
        byRig.set(rig, [...(byRig.get(rig) ?? []), id]);
      }
      for (const [rig, ids] of byRig) {
        const room = Math.max(0, maxPolecatsPerRig(root, rig) - workingPolecats(root, rig).size);
        const now = ids.slice(0, room);
        for (const id of ids.slice(room)) results.push({ bead: id, result: 'no-room', reason: `rig ${rig} has no free polecat` });
        if (!now.length) continue;
        try {
          for (const s of await sling(root, { beads: now, rig, by: input.convoy })) results.push({ bead: s.bead, result: 'slung', polecat: s.address });
        } catch {
          // One bead moved on meanwhile (or the rig filled up): the others still go, one at a time.
          for (const id of now) {
            try {
              const [s] = await sling(root, { beads: [id], rig, by: input.convoy });
              results.push({ bead: id, result: 'slung', polecat: s!.address });
            } catch (err) {
              const message = (err as Error).message;
              results.push({ bead: id, result: /cap of|no free/.test(message) ? 'no-room' : 'refused', reason: message });
            }
          }
        }
        Context.current().heartbeat();
      }
      return results;
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
      if (input.notify) {
        const events = townPaths(root).events;
        mkdirSync(dirname(events), { recursive: true });
        appendFileSync(events, JSON.stringify({ at: new Date().toISOString(), type: `convoy.${input.kind}`, convoy: input.convoy, to: input.to, subject: input.subject, mail }) + '\n');
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
      const { sendMailAsync } = await import('../mail/mail.js');
      return { mail: (await sendMailAsync(root, { from: input.state.convoy, to: 'mayor', subject, body })).id };
    },
  };

  /** A retried notify must not mail twice. */
  async function alreadySent(to: string, subject: string): Promise<string | undefined> {
    const hit = hq().list({ issue_type: 'message', all: true }).find((m) => m.title === subject && (m.assignee === to || m.assignee === 'mayor'));
    return hit?.id;
  }

  /** The dead-worker window of `gt sling` (hooked in the ledger, polecat not yet told): tell it now. */
  async function adopt(rig: string, bead: Bead, convoy: string): Promise<void> {
    const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(bead.assignee ?? '');
    if (!m || m[1] !== rig) return;
    if ((await polecatHas(bead.assignee!, bead.id)) !== false) return;
    // A polecat that finished the bead moved it on from `hooked`; still hooked and unknown means it was never told.
    const fresh = ledgerFor(bead.id)?.tryGet(bead.id);
    if (fresh?.status !== 'hooked' || fresh.assignee !== bead.assignee) return;
    const item: WorkItem = { bead: bead.id, kind: 'sling', by: convoy, at: new Date().toISOString() };
    const { startPolecat } = await import('../polecat/client.js');
    await startPolecat(await getClient(), engineConfig(root), rig, m[2]!, item);
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

