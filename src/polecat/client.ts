import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gitSync, withRepoLockSync, withWorktreeLockSync } from '../activities/git.js';
import { tmuxArgs } from '../activities/tmux.js';
import { Ledger } from '../beads/ledger.js';
import { hqLedger } from '../convoy/store.js';
import type { Bead } from '../beads/model.js';
import { GtError, usageError } from '../errors.js';
import { withEngine } from '../temporal/engine.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { readRigs, rigPaths, townPaths, type RigEntry } from '../town/layout.js';
import { requireRig } from '../town/rigs.js';
import { ledgerDirForId } from '../town/routes.js';
import { chooseRuntime, commandExists } from '../town/runtimes.js';
import { checkRuntimeFiles } from './runtime-files.js';
import { agentNice } from './settings.js';
import { DEFAULT_WORK_FORMULA, workChecklist } from './checklist.js';
import { hookedTo, polecatRunFile } from './hook.js';
import { currentIdentity } from './identity.js';
import { validatePolecatName } from './names.js';
import {
  POLECAT_QUERY,
  UNSLING_SIGNAL,
  polecatAddress,
  polecatBranch,
  type PolecatState,
} from './state.js';

/** Client side of polecats: sling, done, handoff, unsling, and what `gt hook`/`prime`/`polecat list` show. Loaded lazily by the CLI. */

export interface SlingOptions {
  beads: string[];
  rig: string;
  /** A polecat asked for by name (`gt sling <bead> <rig>/<name>`): that one, created if the name is new. */
  polecat?: string;
  agent?: string;
  formula?: string;
  vars?: Record<string, string>;
  headless?: boolean;
  force?: boolean;
  /** Who slings (BD_ACTOR or the user). */
  by: string;
}

export interface Slung {
  bead: string;
  title: string;
  rig: string;
  polecat: string;
  address: string;
  branch: string;
  worktree: string;
  workflow: string;
}

interface Checked {
  id: string;
  title: string;
  ledgerDir: string;
}

function beadPrefixOf(id: string): string {
  const dash = id.indexOf('-');
  return dash > 0 ? id.slice(0, dash) : id;
}

/** Every check of `gt sling` that needs no lock: rig, agent, formula, beads. Throws before anything changes. */
function checkSling(root: string, opts: SlingOptions): { entry: RigEntry; beads: Checked[] } {
  if (opts.beads.length === 0) throw usageError('no bead given', 'usage: gt sling <bead…> <rig>');
  const entry = requireRig(root, opts.rig);
  if (opts.polecat !== undefined) {
    validatePolecatName(opts.polecat);
    if (opts.beads.length > 1) throw usageError(`one polecat (${opts.rig}/${opts.polecat}) cannot take ${opts.beads.length} beads at once`, `sling them to the rig (gt sling <bead…> ${opts.rig}) or one at a time`);
  }
  const runtime = chooseRuntime({ root, rig: opts.rig, role: 'polecat', agentFlag: opts.agent });
  if (!commandExists(runtime.command)) {
    throw new GtError(`agent "${runtime.name}" (chosen by ${runtime.source}) runs "${runtime.command}", which is not on PATH: its sessions could only fail`, {
      hint: 'install it, pick another agent with --agent <name>, or set one with `gt config agent set <name> "<command>"`',
    });
  }
  // A person's runtime settings that the runtime could not parse: refused here, not at every session start.
  checkRuntimeFiles(root, opts.rig, runtime);
  agentNice(root);
  const beads: Checked[] = [];
  for (const arg of opts.beads) {
    const ledgerDir = ledgerDirForId(arg, root);
    const bead = Ledger.open(ledgerDir).get(arg);
    if (beads.some((b) => b.id === bead.id)) throw usageError(`bead ${bead.id} is given twice`, 'give each bead once');
    if (bead.status === 'closed') {
      throw new GtError(`bead ${bead.id} is closed`, { hint: `reopen it first (\`bd reopen ${bead.id}\`) if there is more to do` });
    }
    if (bead.status === 'hooked') {
      throw new GtError(`bead ${bead.id} is already on the hook of ${bead.assignee ?? 'someone'}`, { hint: `take it off first: gt unsling ${bead.id}` });
    }
    const prefix = beadPrefixOf(bead.id);
    if (prefix !== entry.prefix && !opts.force) {
      const owner = Object.entries(readRigs(root).rigs).find(([, r]) => r.prefix === prefix)?.[0];
      throw new GtError(`bead ${bead.id} belongs to ${owner ? `rig ${owner}` : prefix === 'hq' ? 'the town (hq)' : `prefix "${prefix}"`}, not to rig ${opts.rig} (prefix ${entry.prefix})`, {
        hint: owner ? `sling it to its own rig: gt sling ${bead.id} ${owner}; or pass --force` : 'pass --force to work it in this rig anyway',
      });
    }
    beads.push({ id: bead.id, title: bead.title, ledgerDir });
  }
  // The checklist must resolve for these beads, or the agent would find a broken `gt prime`.
  workChecklist(root, opts.rig, beads[0]!.id, opts.formula ?? DEFAULT_WORK_FORMULA, opts.vars ?? {});
  return { entry, beads };
}

/**
 * What `gt sling <args…>` names: `<bead…> <rig>`, `<bead> <rig>/<polecat>`, or only beads (the
 * rig is the one their prefix belongs to).
 */
export function slingTarget(root: string, args: string[]): { rig: string; polecat?: string; beads: string[] } {
  if (args.length === 0) throw usageError('gt sling needs a bead', 'usage: gt sling <bead…> [<rig> | <rig>/<polecat>], e.g. gt sling gt-abc12 myrig');
  const rigs = readRigs(root).rigs;
  const last = args.at(-1)!;
  const slash = last.indexOf('/');
  if (slash > 0) {
    const rig = last.slice(0, slash);
    const polecat = last.slice(slash + 1).replace(/^polecats\//, '');
    if (!rigs[rig]) throw usageError(`"${last}" names rig ${rig}, which this town does not have`, `gt rig list shows the rigs; the form is <rig>/<polecat-name>`);
    validatePolecatName(polecat);
    if (args.length < 2) throw usageError(`gt sling ${last} needs a bead to hand to ${rig}/${polecat}`);
    return { rig, polecat, beads: args.slice(0, -1) };
  }
  if (rigs[last]) {
    if (args.length < 2) throw usageError(`gt sling ${last} needs a bead`, `usage: gt sling <bead…> ${last}`);
    return { rig: last, beads: args.slice(0, -1) };
  }
  const owners = new Set(args.map((id) => Object.entries(rigs).find(([, r]) => r.prefix === beadPrefixOf(id))?.[0]));
  if (owners.size === 1 && !owners.has(undefined)) return { rig: [...owners][0]!, beads: args };
  if (args.length > 1 && !Object.values(rigs).some((r) => r.prefix === beadPrefixOf(last))) requireRig(root, last);
  if (owners.has(undefined)) {
    const stray = args.find((id) => !Object.values(rigs).some((r) => r.prefix === beadPrefixOf(id)))!;
    throw usageError(`"${stray}" is neither a rig of this town nor a bead of one`, 'name the rig last: gt sling <bead…> <rig> (gt rig list shows the rigs)');
  }
  throw usageError(`these beads belong to different rigs (${[...owners].join(', ')})`, 'sling each rig\'s beads to it separately, or name the rig last');
}

/**
 * `gt sling`: check everything here, then one durable request to the rig's dispatcher, which
 * picks the polecats, hooks the beads and hands them over inside the engine. The request id
 * makes a retry safe; a process killed at any point leaves either nothing or the whole dispatch.
 */
export async function sling(root: string, opts: SlingOptions): Promise<Slung[]> {
  checkSling(root, opts);
  return withEngine(root, async (client, config) => {
    const { beads } = checkSling(root, opts);
    const { requestSling } = await import('../dispatch/client.js');
    const receipt = await requestSling(client, config, opts.rig, {
      requestId: `sling-${randomUUID()}`,
      beads: beads.map((b) => ({ id: b.id, title: b.title })),
      polecat: opts.polecat,
      agent: opts.agent,
      headless: opts.headless,
      formula: opts.formula,
      vars: opts.vars,
      by: opts.by,
      allOrNothing: true,
    });
    const p = rigPaths(root, opts.rig);
    const slung: Slung[] = [];
    const problems: string[] = [];
    for (const r of receipt.results) {
      const b = beads.find((x) => x.id === r.bead)!;
      if (r.result === 'slung') {
        slung.push({ bead: r.bead, title: b.title, rig: opts.rig, polecat: r.polecat!, address: polecatAddress(opts.rig, r.polecat!), branch: polecatBranch(r.polecat!, r.bead), worktree: join(p.polecats, r.polecat!), workflow: polecatWorkflowId(opts.rig, r.polecat!) });
      } else if (r.result === 'already') {
        problems.push(`bead ${r.bead} is already worked by ${polecatAddress(opts.rig, r.polecat!)}`);
      } else {
        problems.push(r.reason ?? `bead ${r.bead}: ${r.result}`);
      }
    }
    if (problems.length) {
      const done = slung.length ? ` (${slung.map((s) => `${s.bead} went to ${s.address}`).join(', ')})` : '';
      throw new GtError(`${problems.join('; ')}${done}`, { hint: 'gt polecat list shows who works what; gt unsling <bead> takes a bead back' });
    }
    return slung;
  }, { start: true });
}

export interface Unslung {
  bead: string;
  from: string;
  status: string;
  /** Open convoys that track the bead: they hand it out again when there is room. */
  convoys?: string[];
}

/** `gt unsling [bead]`: take a bead off its hook (back to open, unassigned) and stop the polecat working it. */
export async function unsling(root: string, cwd: string, beadArg: string | undefined, by: string): Promise<Unslung> {
  let bead: Bead;
  let ledgerDir: string;
  if (beadArg) {
    ledgerDir = ledgerDirForId(beadArg, root);
    bead = Ledger.open(ledgerDir).get(beadArg);
  } else {
    const me = currentIdentity(root, cwd);
    const hooked = hookedTo(root, me.address, process.env.GT_BEAD);
    if (hooked.length === 0) throw new GtError(`nothing is on the hook of ${me.address}`, { hint: 'name the bead: gt unsling <bead>' });
    bead = hooked[0]!.bead;
    ledgerDir = hooked[0]!.ledgerDir;
  }
  if (bead.status !== 'hooked') {
    throw new GtError(`bead ${bead.id} is not on a hook (status ${bead.status})`, { hint: 'gt hook shows what is on your hook' });
  }
  const from = bead.assignee ?? '';
  const m = /^([^/]+)\/polecats\/([^/]+)$/.exec(from);
  if (m && readRigs(root).rigs[m[1]!]) {
    await withEngine(root, async (client) => {
      try {
        await client.workflow.getHandle(polecatWorkflowId(m[1]!, m[2]!)).signal(UNSLING_SIGNAL, { bead: bead.id, by });
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }, { start: true });
  }
  const after = Ledger.open(ledgerDir).transaction((tx) => {
    const b = tx.get(bead.id);
    if (b.status === 'hooked' && b.assignee === from) {
      tx.update(b.id, { status: 'open', assignee: null });
      tx.addComment(b.id, `unslung from ${from} by ${by}`);
    }
    return tx.get(b.id);
  }, { actor: by });
  if (m && readRigs(root).rigs[m[1]!]) {
    await withEngine(root, async (client) => {
      const { releaseInDispatcher } = await import('../dispatch/client.js');
      await releaseInDispatcher(client, m[1]!, { beads: [bead.id], why: `unslung by ${by}` });
    });
  }
  const { convoysTracking, tellConvoysByHand } = await import('../convoy/tell.js');
  await tellConvoysByHand(root, [bead.id], `unslung by ${by}`);
  const convoys = convoysTracking(root, [bead.id]).filter((c) => hqLedger(root).get(c).dependencies?.some((d) => d.type === 'tracks' && d.depends_on_id === bead.id));
  return { bead: bead.id, from, status: after.status, ...(convoys.length ? { convoys } : {}) };
}

/** The workflow's own view of a polecat (status, attempts), when the engine can tell. */
export async function polecatState(client: Client, rig: string, name: string): Promise<PolecatState | undefined> {
  try {
    return await client.workflow.getHandle(polecatWorkflowId(rig, name)).query<PolecatState>(POLECAT_QUERY);
  } catch {
    return undefined;
  }
}

/**
 * `gt polecat nuke <rig>/<name>`: end the polecat's workflow, stop its session, remove its
 * worktree (branches stay in the rig's repository). Refused while a bead is on its hook unless
 * `force`, which first puts the bead back to open.
 */
export async function nukePolecat(root: string, rig: string, name: string, opts: { force?: boolean; by: string }): Promise<{ rig: string; name: string; removed: boolean; unslung?: string }> {
  requireRig(root, rig);
  const address = polecatAddress(rig, name);
  const hooked = hookedTo(root, address);
  const dir = join(rigPaths(root, rig).polecats, name);
  if (!existsSync(dir) && hooked.length === 0) {
    throw new GtError(`rig ${rig} has no polecat named ${name}`, { hint: `gt polecat list ${rig} shows its polecats` });
  }
  if (hooked.length && !opts.force) {
    throw new GtError(`polecat ${address} is working ${hooked[0]!.bead.id}`, { hint: 'wait for it, take the bead off with gt unsling, or pass --force' });
  }
  let unslung: string | undefined;
  await withEngine(root, async (client) => {
    try {
      await client.workflow.getHandle(polecatWorkflowId(rig, name)).terminate(`nuked by ${opts.by}`);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    const { releaseInDispatcher } = await import('../dispatch/client.js');
    await releaseInDispatcher(client, rig, { polecat: name, why: `nuked by ${opts.by}` });
  }, { start: true });
  for (const h of hooked) {
    Ledger.open(h.ledgerDir).transaction((tx) => {
      tx.update(h.bead.id, { status: 'open', assignee: null });
      tx.addComment(h.bead.id, `taken back from ${address} when it was nuked by ${opts.by}`);
    }, { actor: opts.by });
    unslung = h.bead.id;
  }
  const session = `${readRigs(root).rigs[rig]!.prefix}-${name}`;
  try {
    execFileSync('tmux', [...tmuxArgs(root), 'kill-session', '-t', `=${session}`], { stdio: 'ignore' });
  } catch {
    // no session
  }
  const pidFile = join(townPaths(root).run, 'polecats', rig, `${name}.agent.pid`);
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 0) process.kill(-pid, 'SIGKILL');
  } catch {
    // no headless agent
  }
  const repo = rigPaths(root, rig).repo;
  if (existsSync(dir)) {
    withRepoLockSync(repo, () => {
      try {
        // Not while the merge queue detaches it or its polecat switches it (their lock).
        withWorktreeLockSync(repo, dir, () => gitSync(['worktree', 'remove', '--force', dir], repo));
      } catch {
        rmSync(dir, { recursive: true, force: true });
      }
      try {
        gitSync(['worktree', 'prune'], repo);
      } catch {
        // pruned later by the next worktree change
      }
    });
  }
  rmSync(polecatRunFile(root, rig, name), { force: true });
  return { rig, name, removed: true, unslung };
}

