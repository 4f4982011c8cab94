import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Bead } from '../beads/model.js';
import { GtError, usageError } from '../errors.js';
import type { EngineConfig } from '../temporal/config.js';
import { withEngine } from '../temporal/engine.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { GtConvoy, GtKind, GtStatus } from '../temporal/search-attributes.js';
import { emptyCounts, reconcile } from './plan.js';
import {
  addToConvoy,
  checkTrackable,
  convoyMeta,
  createConvoyBead,
  hqLedger,
  isMountain,
  isStaged,
  listConvoys,
  lookAtConvoy,
  mountainOfEpic,
  openConvoysTracking,
  planStage,
  requireConvoy,
  trackedIds,
  type ConvoySummary,
  type StagePlan,
} from './store.js';
import {
  APPROVE_UPDATE,
  CANCEL_UPDATE,
  CONVOY_QUERY,
  CONVOY_WORKFLOW,
  DEFAULT_SKIP_AFTER_FAILURES,
  MOUNTAIN_LABEL,
  PAUSE_UPDATE,
  REFRESH_SIGNAL,
  RESUME_UPDATE,
  STAGED_LABEL,
  convoyWorkflowId,
  type ConvoyActorRequest,
  type ConvoyInput,
  type ConvoyMeta,
  type ConvoyReceipt,
  type ConvoyState,
} from './types.js';
import { parseBudget, type BudgetLimit } from './budget.js';

/** Client side of convoys and mountains: what the `gt convoy` and `gt mountain` commands do. Loaded lazily by the CLI. */

export interface CreateOptions {
  name: string;
  beads: string[];
  notify?: boolean;
  human?: boolean;
  owner?: string;
  maxConcurrent?: string | number;
  budget?: string;
  by: string;
}

export interface Created {
  convoy: string;
  title: string;
  beads: string[];
  staged: boolean;
  mountain: boolean;
  workflow?: string;
  plan?: StagePlan;
}

function parseCap(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--max-concurrent must be a whole number of at least 1, not "${value}"`);
  return n;
}

/** The owner who hears when the convoy lands: `--owner`, else the caller when mail can reach them, else the Mayor. */
async function chooseOwner(root: string, owner: string | undefined, by: string): Promise<string> {
  const { resolveAddress } = await import('../mail/mail.js');
  if (owner !== undefined) return resolveAddress(root, owner);
  try {
    return resolveAddress(root, by);
  } catch {
    return 'mayor';
  }
}

/** `--budget <tokens|$>`: a usage error naming the text when it is no budget. */
export function budgetArg(text: string): BudgetLimit {
  const budget = parseBudget(text);
  if (typeof budget === 'string') throw usageError(`--budget "${text}" is not a budget`, budget);
  return budget;
}

async function metaFor(root: string, opts: { notify?: boolean; human?: boolean; owner?: string; maxConcurrent?: string | number; budget?: string; by: string }): Promise<ConvoyMeta> {
  const budget = opts.budget !== undefined ? budgetArg(opts.budget) : undefined;
  const meta: ConvoyMeta = { owner: await chooseOwner(root, opts.owner, opts.by) };
  if (budget) meta.budget = budget;
  if (opts.notify) meta.notify = true;
  if (opts.human) meta.human = true;
  const cap = parseCap(opts.maxConcurrent);
  if (cap !== undefined) meta.max_concurrent = cap;
  return meta;
}

/** Start the convoy's workflow, or (when it runs) tell it to look at the ledger again. */
export async function startConvoy(client: Client, config: EngineConfig, convoy: Bead): Promise<string> {
  const workflowId = convoyWorkflowId(convoy.id);
  const input: ConvoyInput = { convoy: convoy.id };
  await client.workflow.signalWithStart(CONVOY_WORKFLOW, {
    workflowId,
    taskQueue: config.taskQueue,
    args: [input],
    signal: REFRESH_SIGNAL,
    signalArgs: [],
    typedSearchAttributes: [
      { key: GtKind, value: isMountain(convoy) ? 'mountain' : 'convoy' },
      { key: GtConvoy, value: convoy.id },
      { key: GtStatus, value: 'running' },
    ],
    staticSummary: `${isMountain(convoy) ? 'mountain' : 'convoy'} "${convoy.title}" · ${trackedIds(convoy).length} bead${trackedIds(convoy).length === 1 ? '' : 's'}`,
    staticDetails: `${convoy.id}, created by ${convoy.created_by ?? 'someone'}: lands when every bead it tracks is merged (gt convoy show ${convoy.id}).`,
  });
  return workflowId;
}

async function launchBead(root: string, convoyId: string): Promise<string> {
  return withEngine(root, async (client, config) => startConvoy(client, config, hqLedger(root).get(convoyId)), { start: true });
}

/** `gt convoy create`: check every bead, write the convoy, start its workflow. */
export async function createConvoy(root: string, opts: CreateOptions): Promise<Created> {
  if (!opts.name?.trim()) throw usageError('the convoy needs a name', 'usage: gt convoy create <name> [beads…]');
  if (opts.budget !== undefined) budgetArg(opts.budget);
  const beads = checkTrackable(root, opts.beads);
  const meta = await metaFor(root, opts);
  const bead = createConvoyBead(root, { title: opts.name, beads: beads.map((b) => b.id), meta, by: opts.by });
  const workflow = await launchBead(root, bead.id);
  return { convoy: bead.id, title: bead.title, beads: beads.map((b) => b.id), staged: false, mountain: false, workflow };
}

/** `gt convoy add`: more beads for a convoy; a landed convoy opens again and carries on. */
export async function addBeads(root: string, convoyId: string, beadArgs: string[], by: string): Promise<{ convoy: string; added: string[]; reopened: boolean }> {
  if (!beadArgs.length) throw usageError('no beads given', 'usage: gt convoy add <convoy> <bead…>');
  const convoy = requireConvoy(root, convoyId);
  const beads = checkTrackable(root, beadArgs, { convoy: convoy.id });
  const { added, reopened } = addToConvoy(root, convoy.id, beads.map((b) => b.id), by);
  if (!isStaged(convoy) && (added.length || reopened)) await launchBead(root, convoy.id);
  return { convoy: convoy.id, added, reopened };
}

/** `gt sling` without --no-convoy: the slung beads not already in an open convoy travel in a new one. */
export async function convoyForSling(root: string, slung: Array<{ bead: string; title: string }>, rig: string, by: string): Promise<Created | undefined> {
  const loose = slung.filter((s) => openConvoysTracking(root, s.bead).length === 0);
  if (!loose.length) return undefined;
  const title = loose.length === 1 ? loose[0]!.title : `${loose.length} beads slung to ${rig}`;
  const meta = await metaFor(root, { by });
  const bead = createConvoyBead(root, { title, beads: loose.map((s) => s.bead), meta, by });
  const workflow = await launchBead(root, bead.id);
  return { convoy: bead.id, title, beads: loose.map((s) => s.bead), staged: false, mountain: false, workflow };
}

export interface StageOptions {
  title?: string;
  launch?: boolean;
  mountain?: boolean;
  notify?: boolean;
  human?: boolean;
  owner?: string;
  maxConcurrent?: string | number;
  budget?: string;
  by: string;
}

/**
 * `gt convoy stage`: validate the dependency graph and compute the waves, then write a staged
 * convoy (label convoy:staged: tracked, not dispatched) or update the one given. `launch` starts it.
 */
export async function stageConvoy(root: string, args: string[], opts: StageOptions): Promise<Created> {
  if (opts.budget !== undefined) budgetArg(opts.budget);
  const plan = planStage(root, args);
  const waves = plan.waves;
  if (plan.kind === 'convoy') {
    const convoy = requireConvoy(root, plan.convoy!);
    if (convoy.status === 'closed') throw new GtError(`convoy ${convoy.id} has landed`, { hint: 'add beads to it (gt convoy add) to open it again' });
    hqLedger(root).transaction((tx) => {
      const c = tx.get(convoy.id);
      tx.update(c.id, { metadata: { ...(c.metadata ?? {}), waves } });
    }, { actor: opts.by });
    const workflow = opts.launch ? (await launchConvoy(root, convoy.id, opts.by)).workflow : undefined;
    return { convoy: convoy.id, title: convoy.title, beads: trackedIds(convoy), staged: !opts.launch && isStaged(convoy), mountain: isMountain(convoy), workflow, plan };
  }
  const open = plan.beads.filter((b) => b.status !== 'closed').map((b) => b.id);
  checkTrackable(root, open);
  if (plan.epic) {
    const existing = mountainOfEpic(root, plan.epic.id) ?? hqLedger(root).list({ issue_type: 'convoy' }).find((c) => convoyMeta(c).epic === plan.epic!.id);
    if (existing) throw new GtError(`epic ${plan.epic.id} already has the open convoy ${existing.id}`, { hint: `gt convoy show ${existing.id}` });
  }
  const meta = await metaFor(root, opts);
  if (plan.epic) meta.epic = plan.epic.id;
  meta.waves = waves;
  const title = opts.title?.trim() || plan.epic?.title || `${open.length} bead${open.length === 1 ? '' : 's'} in ${waves.length} wave${waves.length === 1 ? '' : 's'}`;
  const labels = [...(opts.launch ? [] : [STAGED_LABEL]), ...(opts.mountain ? [MOUNTAIN_LABEL] : [])];
  const bead = createConvoyBead(root, { title, beads: open, meta, labels, by: opts.by });
  const workflow = opts.launch ? await launchBead(root, bead.id) : undefined;
  return { convoy: bead.id, title, beads: open, staged: !opts.launch, mountain: Boolean(opts.mountain), workflow, plan };
}

/**
 * `gt convoy budget <convoy> <tokens|$>`: set or raise its budget. Its workflow looks at the
 * convoy again, so one held for its budget sends out beads again when the new one is not spent.
 */
export async function setConvoyBudget(root: string, convoyArg: string, text: string, by: string): Promise<{ convoy: string; budget: BudgetLimit; workflow?: string }> {
  const budget = budgetArg(text);
  const convoy = requireConvoy(root, convoyArg);
  if (convoy.status === 'closed') throw new GtError(`convoy ${convoy.id} is closed (${convoy.close_reason ?? 'landed'})`, { hint: 'a closed convoy sends out nothing; add beads to it (gt convoy add) to open it again' });
  hqLedger(root).transaction((tx) => {
    const c = tx.get(convoy.id);
    tx.update(c.id, { metadata: { ...(c.metadata ?? {}), budget } });
  }, { actor: by });
  const workflow = isStaged(convoy) ? undefined : await launchBead(root, convoy.id);
  return { convoy: convoy.id, budget, workflow };
}

/** `gt convoy launch`: a staged convoy starts dispatching (a running one is left as it is). */
export async function launchConvoy(root: string, convoyId: string, by: string): Promise<Created> {
  const convoy = requireConvoy(root, convoyId);
  if (convoy.status === 'closed') throw new GtError(`convoy ${convoy.id} is closed (${convoy.close_reason ?? 'landed'})`, { hint: 'add beads to it (gt convoy add) to open it again' });
  if (trackedIds(convoy).length === 0) throw new GtError(`convoy ${convoy.id} tracks no beads`, { hint: `add some first: gt convoy add ${convoy.id} <bead…>` });
  if (isStaged(convoy)) hqLedger(root).transaction((tx) => void tx.removeLabel(convoy.id, STAGED_LABEL), { actor: by });
  const workflow = await launchBead(root, convoy.id);
  return { convoy: convoy.id, title: convoy.title, beads: trackedIds(convoy), staged: false, mountain: isMountain(convoy), workflow };
}

/** `gt mountain <epic>`: stage the epic's work, label the convoy `mountain`, launch it. */
export async function startMountain(root: string, epicArg: string, opts: Omit<StageOptions, 'mountain' | 'launch'>): Promise<Created> {
  if (!epicArg) throw usageError('no epic given', 'usage: gt mountain <epic>');
  if (opts.budget !== undefined) budgetArg(opts.budget);
  const { Ledger } = await import('../beads/ledger.js');
  const { ledgerDirForId } = await import('../town/routes.js');
  const ledger = Ledger.open(ledgerDirForId(epicArg, root));
  const epic = ledger.get(epicArg);
  if (epic.issue_type === 'convoy') throw new GtError(`${epic.id} is a convoy, not an epic`, { hint: `label it and launch it: bd label add ${epic.id} mountain; gt convoy launch ${epic.id}` });
  if (ledger.children(epic.id).length === 0) {
    throw new GtError(`${epic.id} has no children: a mountain works an epic's children`, { hint: `add some (bd create "<title>" --parent ${epic.id}), or sling the bead itself: gt sling ${epic.id} <rig>` });
  }
  if (epic.status === 'closed') throw new GtError(`epic ${epic.id} is closed`, { hint: `reopen it first: bd reopen ${epic.id}` });
  const existing = mountainOfEpic(root, epic.id);
  if (existing) throw new GtError(`epic ${epic.id} already has the mountain ${existing.id}`, { hint: `gt mountain status ${existing.id}` });
  if (epic.issue_type !== 'epic') {
    // A bead with children is an epic in all but name: say so in the ledger so staging walks its children.
    ledger.transaction((tx) => void tx.update(epic.id, { issue_type: 'epic' }), { actor: opts.by });
  }
  return stageConvoy(root, [epic.id], { ...opts, mountain: true, launch: true });
}

// ---------------------------------------------------------------------------------------------
// Looking and steering

/** The convoy a mountain command means: a convoy id, or an epic with an open (or the latest) mountain. */
export function resolveConvoyArg(root: string, arg: string): Bead {
  try {
    return requireConvoy(root, arg);
  } catch (err) {
    const byEpic = mountainOfEpic(root, arg) ?? hqLedger(root).list({ issue_type: 'convoy', labels: [MOUNTAIN_LABEL], all: true }).filter((c) => convoyMeta(c).epic === arg).at(-1);
    if (byEpic) return byEpic;
    throw err;
  }
}

/** What the convoy's workflow knows (instant: a query), or, with no workflow to ask, what the ledgers say. */
export async function convoyStatus(root: string, convoyArg: string): Promise<ConvoyState & { source: 'workflow' | 'ledger' }> {
  const convoy = resolveConvoyArg(root, convoyArg);
  if (!isStaged(convoy)) {
    const state = await withEngine(root, async (client) => {
      let s: ConvoyState;
      try {
        s = await client.workflow.getHandle(convoyWorkflowId(convoy.id)).query<ConvoyState>(CONVOY_QUERY);
      } catch {
        return undefined;
      }
      // What the engine says is stuck: the convoy's own activities, and the polecats of its running beads.
      const { stallsOf, townHeartbeatMs } = await import('../temporal/stalls.js');
      const heartbeatMs = townHeartbeatMs(root);
      s.stalls = (await stallsOf(client, convoyWorkflowId(convoy.id), heartbeatMs)).map((x) => x.why);
      await Promise.all(
        s.beads.map(async (b) => {
          const m = b.phase === 'running' ? /^([^/]+)\/polecats\/([^/]+)$/.exec(b.polecat ?? '') : null;
          if (!m) return;
          const found = await stallsOf(client, polecatWorkflowId(m[1]!, m[2]!), heartbeatMs);
          if (found.length) b.stalled = found.map((x) => x.why).join('; ');
        }),
      );
      return s;
    }, { start: true }).catch(() => undefined);
    if (state) return { ...state, source: 'workflow' };
  }
  return { ...ledgerView(root, convoy), source: 'ledger' };
}

/** The convoy's state from the ledgers alone (a staged convoy, or no engine to ask). */
export function ledgerView(root: string, convoy: Bead): ConvoyState {
  const { snap } = lookAtConvoy(root, convoy.id);
  const at = convoy.updated_at;
  const state: ConvoyState = {
    convoy: convoy.id,
    title: convoy.title,
    mode: isMountain(convoy) ? 'mountain' : 'convoy',
    status: convoy.status === 'closed' ? (convoy.close_reason?.startsWith('landed') ? 'landed' : 'cancelled') : 'running',
    owner: convoyMeta(convoy).owner ?? 'mayor',
    notify: false,
    human: false,
    startedAt: convoy.created_at,
    lastProgressAt: at,
    stallReports: 0,
    beads: [],
    waves: [],
    counts: emptyCounts(),
    generation: 0,
  };
  reconcile(state, { ...snap, fingerprint: '', at }, { stallMs: 0, heartbeatMs: 0, pollMs: 0, skipAfter: DEFAULT_SKIP_AFTER_FAILURES }, at);
  return state;
}

export function convoyList(root: string, opts: { all?: boolean }): ConvoySummary[] {
  return listConvoys(root, opts);
}

async function steer(root: string, convoyArg: string, update: string, req: ConvoyActorRequest, what: string): Promise<ConvoyReceipt> {
  const convoy = resolveConvoyArg(root, convoyArg);
  if (isStaged(convoy)) throw new GtError(`convoy ${convoy.id} is staged, not running`, { hint: `launch it first: gt convoy launch ${convoy.id}` });
  return withEngine(root, async (client) => {
    try {
      return await client.workflow.getHandle(convoyWorkflowId(convoy.id)).executeUpdate<ConvoyReceipt, [ConvoyActorRequest]>(update, { args: [req] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as Error).name === 'WorkflowNotFoundError') {
        throw new GtError(`${what} ${convoy.id}: its workflow is not running${convoy.status === 'closed' ? ` (the convoy is closed: ${convoy.close_reason ?? 'landed'})` : ''}`, {
          hint: convoy.status === 'closed' ? 'nothing to do' : 'gt convoy check starts the workflows of open convoys again',
        });
      }
      if (err instanceof WorkflowUpdateFailedError) {
        throw new GtError(`${what} ${convoy.id} refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
      }
      throw err;
    }
  }, { start: true });
}

export const pauseConvoy = (root: string, id: string, by: string) => steer(root, id, PAUSE_UPDATE, { by }, 'cannot pause');
export const resumeConvoy = (root: string, id: string, by: string) => steer(root, id, RESUME_UPDATE, { by }, 'cannot resume');
export const approveConvoy = (root: string, id: string, by: string) => steer(root, id, APPROVE_UPDATE, { by }, 'cannot approve');
export const cancelConvoy = (root: string, id: string, by: string, reason?: string) => steer(root, id, CANCEL_UPDATE, { by, reason }, 'cannot cancel');

/**
 * `gt convoy close`: by hand. With beads still open it needs `force` (they stay as they are;
 * polecats working them finish). A running workflow is cancelled; otherwise the bead is closed.
 */
export async function closeConvoy(root: string, convoyArg: string, opts: { force?: boolean; reason?: string; by: string }): Promise<{ convoy: string; open: string[] }> {
  const convoy = requireConvoy(root, convoyArg);
  if (convoy.status === 'closed') throw new GtError(`convoy ${convoy.id} is already closed (${convoy.close_reason ?? 'landed'})`);
  const view = ledgerView(root, convoy);
  const open = view.beads.filter((b) => b.phase !== 'closed').map((b) => b.id);
  if (open.length && !opts.force) {
    throw new GtError(`convoy ${convoy.id} still has ${open.length} unfinished bead${open.length === 1 ? '' : 's'}: ${open.join(', ')}`, {
      hint: 'wait for them (gt convoy status), or pass --force to close it anyway (the beads stay as they are)',
    });
  }
  const reason = opts.reason ?? (open.length ? `closed by hand with ${open.length} unfinished` : 'closed by hand: all beads closed');
  const stopped = await withEngine(root, async (client) => {
    try {
      await client.workflow.getHandle(convoyWorkflowId(convoy.id)).executeUpdate(CANCEL_UPDATE, { args: [{ by: opts.by, reason }] });
      return true;
    } catch {
      return false;
    }
  }, { start: true }).catch(() => false);
  hqLedger(root).transaction((tx) => {
    const c = tx.get(convoy.id);
    if (c.status !== 'closed') tx.close(c.id, { reason: stopped ? `cancelled by ${opts.by}: ${reason}` : reason, force: true });
  }, { actor: opts.by });
  return { convoy: convoy.id, open };
}

export interface CheckResult {
  convoy: string;
  title: string;
  action: 'running' | 'started' | 'staged';
  status?: string;
}

/**
 * `gt convoy check`: every open convoy must have its workflow running (one lost with an engine's
 * data, or never started, is started again and lands at once if its beads are all closed); a
 * running one looks at all its beads again (changes made while the engine was unreachable).
 */
export async function checkConvoys(root: string): Promise<CheckResult[]> {
  const convoys = hqLedger(root).list({ issue_type: 'convoy' });
  if (!convoys.length) return [];
  return withEngine(root, async (client, config) => {
    const out: CheckResult[] = [];
    for (const c of convoys) {
      if (isStaged(c)) {
        out.push({ convoy: c.id, title: c.title, action: 'staged' });
        continue;
      }
      let runningNow = false;
      let status: string | undefined;
      try {
        const d = await client.workflow.getHandle(convoyWorkflowId(c.id)).describe();
        runningNow = d.status.name === 'RUNNING';
        status = d.typedSearchAttributes.get(GtStatus);
      } catch {
        runningNow = false;
      }
      if (runningNow) {
        // A change the convoy was not told of (made while the engine was unreachable): a full look now.
        await client.workflow.getHandle(convoyWorkflowId(c.id)).signal(REFRESH_SIGNAL, { what: 'gt convoy check' });
        out.push({ convoy: c.id, title: c.title, action: 'running', status });
        continue;
      }
      await startConvoy(client, config, c);
      out.push({ convoy: c.id, title: c.title, action: 'started', status: 'running' });
    }
    return out;
  }, { start: true });
}
