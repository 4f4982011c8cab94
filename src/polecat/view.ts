import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmuxArgs } from '../activities/tmux.js';
import { Ledger } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import { GtError } from '../errors.js';
import { readRigs, rigPaths, townPaths } from '../town/layout.js';
import { requireRig } from '../town/rigs.js';
import { ledgerDirForId } from '../town/routes.js';
import { DEFAULT_WORK_FORMULA, workChecklist } from './checklist.js';
import { hookedTo, polecatRunFile, workingPolecats, type PolecatRunInfo } from './hook.js';
import { currentIdentity, identityFromCwd, type Identity } from './identity.js';
import { polecatAddress, polecatBranch, type AwaitingInput } from './state.js';
import { inbox } from '../mail/mail.js';

/** What `gt hook`, `gt prime` and `gt polecat list` show: ledger and files only, no engine (agents call these often). */

/** The polecat a command is run for: inside its worktree (the folder decides), else an error. */
export function requirePolecatHere(root: string, cwd: string, command: string): Identity & { rig: string; name: string; home: string } {
  const here = identityFromCwd(root, cwd);
  if (here.role !== 'polecat' || !here.rig || !here.name || !here.home || !existsSync(here.home)) {
    throw new GtError(`\`${command}\` works only inside a polecat's worktree (here: ${cwd})`, {
      hint: 'run it from <rig>/polecats/<name>, where gt sling put the work; to take work off a hook from elsewhere use `gt unsling <bead>`',
    });
  }
  return here as Identity & { rig: string; name: string; home: string };
}

/** `gt hook <bead>` for a person or the Mayor: put a bead on your own hook. */
export function attachHook(root: string, cwd: string, beadArg: string, by: string): Bead {
  const me = currentIdentity(root, cwd);
  if (me.role === 'polecat') throw new GtError('a polecat gets its work from `gt sling`, not `gt hook <bead>`', { hint: 'gt hook (no argument) shows your hook' });
  const ledgerDir = ledgerDirForId(beadArg, root);
  return Ledger.open(ledgerDir).transaction((tx) => {
    const b = tx.get(beadArg);
    if (b.status === 'closed') throw new GtError(`bead ${b.id} is closed`, { hint: `bd reopen ${b.id} first` });
    if (b.status === 'hooked' && b.assignee !== me.address) throw new GtError(`bead ${b.id} is on the hook of ${b.assignee}`, { hint: `gt unsling ${b.id} first` });
    tx.update(b.id, { status: 'hooked', assignee: me.address });
    return tx.get(b.id);
  }, { actor: by });
}

export interface HookView {
  agent: string;
  role: string;
  rig?: string;
  polecat?: string;
  bead: Bead | null;
  /** More beads hooked to the same agent (should not happen for a polecat). */
  others: string[];
  worktree?: string;
  branch?: string;
  attempt?: number;
  formula?: string;
  vars?: Record<string, string>;
  handoff?: string;
}

export function readRunInfo(root: string, rig: string, name: string): PolecatRunInfo | undefined {
  try {
    return JSON.parse(readFileSync(polecatRunFile(root, rig, name), 'utf8')) as PolecatRunInfo;
  } catch {
    return undefined;
  }
}

/** `gt hook`: the current agent's hooked bead, with the polecat's session notes. */
export function hookView(root: string, cwd: string): HookView {
  const me = currentIdentity(root, cwd);
  const hooked = hookedTo(root, me.address, process.env.GT_BEAD);
  const view: HookView = { agent: me.address, role: me.role, rig: me.rig, bead: hooked[0]?.bead ?? null, others: hooked.slice(1).map((h) => h.bead.id) };
  if (me.role === 'polecat' && me.rig && me.name) {
    view.polecat = me.name;
    view.worktree = me.home;
    const info = readRunInfo(root, me.rig, me.name);
    if (info && view.bead && info.bead === view.bead.id) {
      view.branch = info.branch;
      view.attempt = info.attempt;
      view.formula = info.formula;
      view.vars = info.vars;
      if (info.handoff) view.handoff = info.handoff;
    } else if (view.bead) {
      view.branch = polecatBranch(me.name, view.bead.id);
    }
  }
  return view;
}

/** `gt prime`: the role, the hook and its checklist, as markdown for an agent to read. */
export function primeText(root: string, cwd: string): string {
  const me = currentIdentity(root, cwd);
  const view = hookView(root, cwd);
  const out: string[] = [`# Gas Town: you are ${me.address} (${me.role})`, ''];
  if (me.role === 'polecat') {
    out.push(
      `You are a polecat: a worker agent of rig ${me.rig}, working in your own worktree (${me.home}) on your own branch.`,
      'Work only on the bead on your hook. Commit often. Progress is watched: a silent session is nudged, then restarted.',
      '',
    );
  } else if (me.role === 'mayor') {
    out.push('You are the Mayor: you break work into beads and sling them to polecats (`gt sling <bead> <rig>`).', '');
  }
  const unread = inbox(root, me.address, { unreadOnly: true });
  const mailLines = unread.length
    ? [`## Mail (${unread.length} unread)`, '', ...unread.slice(0, 10).map((m) => `- ${m.id} from ${m.from}: ${m.subject} (\`gt mail read ${m.id}\`)`), '']
    : ['Mail: none unread (`gt mail inbox`).', ''];
  if (!view.bead) {
    out.push('## Your hook', '', 'Nothing is on your hook.', '', ...mailLines);
    return out.join('\n');
  }
  const b = view.bead;
  out.push('## Your hook', '', `**${b.id}**: ${b.title} (status ${b.status}, priority P${b.priority})`);
  if (view.branch) out.push(`Branch: ${view.branch}${view.attempt ? ` (session ${view.attempt})` : ''}`);
  if (b.description) out.push('', b.description);
  if (b.design) out.push('', '### Design', '', b.design);
  if (b.acceptance_criteria) out.push('', '### Acceptance', '', b.acceptance_criteria);
  if (b.notes) out.push('', '### Notes', '', b.notes);
  if (view.handoff) out.push('', '## Handoff from the previous session', '', view.handoff);
  const recent = (b.comments ?? []).slice(-5);
  if (recent.length) out.push('', '### Latest comments', '', ...recent.map((c) => `- ${c.author}: ${c.text}`));
  if (me.role === 'polecat' && me.rig) {
    const formula = view.formula ?? DEFAULT_WORK_FORMULA;
    const list = workChecklist(root, me.rig, b.id, formula, view.vars ?? {});
    out.push('', `## Checklist (${list.formula})`, '');
    list.steps.forEach((s, i) => {
      out.push(`${i + 1}. [ ] **${s.title}**`);
      if (s.description) out.push(...s.description.trim().split('\n').map((l) => `   ${l}`));
      if (s.acceptance) out.push(`   Done when: ${s.acceptance}`);
    });
    out.push('', '## When you are done', '', '`gt done` (needs at least one commit ahead of the default branch); `gt done --status ESCALATED` or `--status DEFERRED` if you cannot finish.');
  }
  out.push('', ...mailLines);
  return out.join('\n');
}

export interface PolecatListing {
  rig: string;
  name: string;
  address: string;
  /** `awaiting input`: working, but its session waits at a trust, permission or input prompt (see `awaiting`). */
  state: 'working' | 'idle' | 'awaiting input';
  awaiting?: AwaitingInput;
  bead?: string;
  worktree?: string;
  branch?: string;
  session?: string;
  sessionAlive?: boolean;
}

/** The prompt a polecat's session waits at, as its agent activity last saw it. */
function readAwaiting(root: string, rig: string, name: string): AwaitingInput | undefined {
  try {
    return JSON.parse(readFileSync(join(townPaths(root).run, 'polecats', rig, `${name}.agent.awaiting`), 'utf8')) as AwaitingInput;
  } catch {
    return undefined;
  }
}

function tmuxSessions(root: string): Set<string> {
  try {
    const out = execFileSync('tmux', [...tmuxArgs(root), 'list-sessions', '-F', '#{session_name}'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return new Set(out.split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}

/**
 * Every polecat of the town (or one rig): its folder and whether a bead is on its hook (the
 * ledger is the truth), with its tmux session. No engine needed.
 */
export function listPolecats(root: string, rig?: string): PolecatListing[] {
  const rigs = readRigs(root).rigs;
  if (rig) requireRig(root, rig);
  const sessions = tmuxSessions(root);
  const out: PolecatListing[] = [];
  for (const r of rig ? [rig] : Object.keys(rigs).sort()) {
    const busy = workingPolecats(root, r);
    const dir = rigPaths(root, r).polecats;
    let folders: string[] = [];
    try {
      folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch {
      folders = [];
    }
    const names = [...new Set([...folders, ...busy.keys()])].sort();
    for (const name of names) {
      const beads = busy.get(name);
      const session = `${rigs[r]!.prefix}-${name}`;
      const info = readRunInfo(root, r, name);
      const listing: PolecatListing = { rig: r, name, address: polecatAddress(r, name), state: beads ? 'working' : 'idle', session, sessionAlive: sessions.has(session) };
      if (beads) listing.bead = beads[0];
      if (folders.includes(name)) listing.worktree = join(dir, name);
      if (beads && info?.bead === beads[0]) listing.branch = info.branch;
      const awaiting = beads ? readAwaiting(root, r, name) : undefined;
      if (awaiting) {
        listing.state = 'awaiting input';
        listing.awaiting = awaiting;
      }
      out.push(listing);
    }
  }
  return out;
}

