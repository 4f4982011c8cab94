import { Client, Connection } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { PROJECT } from '../helpers/cli.js';
import { git, waitFor } from '../helpers/town.js';
import { makeRigTown, type Bead, type RigTown } from './polecat-helpers.js';
import { createIn, replayConvoy, townEvents } from './convoy-helpers.js';

/**
 * Agent runtimes as they start, wait and forget: the stand-ins in test/fixtures/ behave as Claude
 * Code (settings file, hooks, trust and permission dialogs, transcripts) and as a TUI whose first
 * prompt is typed in (prompt_mode none), under real tmux, a real worker and real git.
 */
const FAKE_CLAUDE = join(PROJECT, 'test', 'fixtures', 'fake-claude.mjs');
const FAKE_TUI = join(PROJECT, 'test', 'fixtures', 'fake-tui.mjs');
const FAKE_CODEX = join(PROJECT, 'test', 'fixtures', 'fake-codex.mjs');
const FAKE_GEMINI = join(PROJECT, 'test', 'fixtures', 'fake-gemini.mjs');

const towns: RigTown[] = [];
function town(opts?: Parameters<typeof makeRigTown>[0]): RigTown {
  const t = makeRigTown(opts);
  t.env.CLAUDE_CONFIG_DIR = join(t.root, 'claude-config');
  t.env.CODEX_HOME = join(t.root, 'codex-home');
  t.env.GEMINI_CLI_HOME = join(t.root, 'gemini-home');
  towns.push(t);
  return t;
}
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

function must(t: RigTown, args: string[]): string {
  const r = t.gt(args);
  if (r.code !== 0) throw new Error(`gt ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function useAgent(t: RigTown, name: string, commandLine: string, flags: string[] = []): void {
  must(t, ['config', 'agent', 'set', name, commandLine, ...flags]);
  must(t, ['config', 'default-agent', name]);
}

async function settle(t: RigTown, ids: string[], timeoutMs = 120_000): Promise<Record<string, Bead>> {
  return waitFor(() => {
    const beads = Object.fromEntries(ids.map((id) => [id, t.bead(id)]));
    return Object.values(beads).every((b) => b.status === 'closed' || b.status === 'blocked') ? beads : undefined;
  }, timeoutMs, `beads ${ids.join(', ')} to be closed or blocked`);
}

const polecatOf = (t: RigTown, id: string) => t.bead(id).assignee!.split('/').at(-1)!;
const polecatLog = (t: RigTown, name: string) => readFileSync(join(t.root, '.gt', 'logs', 'polecats', t.rig, `${name}.log`), 'utf8');
const agentLog = (t: RigTown) => (existsSync(t.agentLog) ? readFileSync(t.agentLog, 'utf8') : '');

/** A workflow's memo, as the engine keeps it. */
async function memoOf(workflowId: string): Promise<Record<string, unknown>> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  try {
    return (await new Client({ connection }).workflow.getHandle(workflowId).describe()).memo ?? {};
  } finally {
    await connection.close();
  }
}

function polecatState(name: string, t: RigTown): { status: string; current?: { awaiting?: { kind: string; text: string; escalatedAt?: string } }; recent?: { bead: string; usage?: Record<string, number> }[] } {
  const r = spawnSync(findTemporalCli(), ['workflow', 'query', '--address', inject('temporalAddress'), '-w', `polecat/${t.rig}/${name}`, '--type', 'polecatState', '-o', 'json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const parsed = JSON.parse(r.stdout) as { queryResult: unknown[] };
  return parsed.queryResult[0] as ReturnType<typeof polecatState>;
}

describe('agent runtimes', { timeout: 240_000 }, () => {
  it('Claude-style: started with --settings whose hooks prime it, its trust dialog answered, re-primed by the hooks after a compaction; nothing of it in git', async () => {
    const t = town();
    useAgent(t, 'fake-claude', `${FAKE_CLAUDE} --dangerously-skip-permissions`, ['--provider', 'claude']);
    const plain = t.create('Plain work');
    const compacts = t.create('Work through a compaction', 'compact');
    expect(t.gt(['sling', plain, compacts, t.rig]).code).toBe(0);
    const beads = await settle(t, [plain, compacts]);
    expect(beads[plain]!.status).toBe('closed');
    expect(beads[compacts]!.status).toBe('closed');

    const log = agentLog(t);
    expect(log).toContain(`primed ${plain} at startup`);
    expect(log).toContain(`primed ${compacts} at startup`);
    expect(log).toContain(`reprimed ${compacts} after compaction`);
    expect(log).not.toContain('lost its context');

    for (const id of [plain, compacts]) {
      const name = polecatOf(t, id);
      const settings = JSON.parse(readFileSync(join(t.root, '.gt', 'run', 'polecats', t.rig, `${name}.claude-settings.json`), 'utf8'));
      expect(settings.hooks.SessionStart[0].hooks[0].command).toBe('gt prime --hook && gt mail check --inject');
      expect(settings.hooks.PreCompact[0].hooks[0].command).toBe('gt prime --hook');
      expect(settings.hooks.UserPromptSubmit[0].hooks[0].command).toBe('gt mail check --inject');
      // Its first start in the worktree asked to trust the folder; gt answered with the known key.
      expect(polecatLog(t, name)).toMatch(/awaiting input \(trust prompt\): .*Do you trust the files in this folder\?/);
      expect(polecatLog(t, name)).toContain('answered the trust prompt with Enter');
      const worktree = join(t.root, t.rig, 'polecats', name);
      expect(git(worktree, 'status', '--porcelain').trim()).toBe('');
      expect(existsSync(join(worktree, 'AGENTS.md'))).toBe(false);
    }
    // Only the beads' own files reached the remote.
    expect(t.remoteFiles().sort()).toEqual(expect.arrayContaining([`${plain}.txt`, `${compacts}.txt`]));
    expect(t.remoteFiles()).not.toContain('AGENTS.md');

    // The hooks told gt which session and transcript worked each bead.
    const sessions = readFileSync(join(t.root, '.gt', 'costs', 'sessions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const compactRecords = sessions.filter((s) => s.bead === compacts);
    expect(compactRecords.map((s) => s.source)).toEqual(['startup', 'auto', 'compact']);
    expect(new Set(compactRecords.map((s) => s.session_id)).size).toBe(1);
    expect(existsSync(compactRecords[0].transcript_path)).toBe(true);
    expect(compactRecords[0].runtime).toBe('fake-claude');
    // gt costs reads those transcripts: three assistant messages per session, each written once per content block.
    type Row = { key: string; input: number; output: number; cacheWrite: number; cacheRead: number; messages: number; usd: number };
    const costs = JSON.parse(must(t, ['costs', '--by', 'bead', '--json'])) as { rows: Row[] };
    for (const id of [plain, compacts]) {
      expect(costs.rows.find((r) => r.key === id)).toMatchObject({ input: 9, output: 600, cacheWrite: 3000, cacheRead: 60000, messages: 3 });
    }
    expect(costs.rows.find((r) => r.key === plain)!.usd).toBeCloseTo((9 * 3 + 600 * 15 + 3000 * 3.75 + 60000 * 0.3) / 1e6, 9);
    // The polecat's state carries them too, on the bead's result (what the dashboard reads).
    const name = polecatOf(t, compacts);
    const state = await waitFor(() => {
      const st = polecatState(name, t);
      return st.recent?.some((r) => r.bead === compacts) ? st : undefined;
    }, 30_000, 'the polecat to record its result');
    expect(state.recent!.find((r) => r.bead === compacts)!.usage).toMatchObject({ tokens: 63609, input: 9, output: 600, cacheWrite: 3000, cacheRead: 60000, sessions: 1 });
    expect((await memoOf(`polecat/${t.rig}/${name}`)).lastBeadUsage).toMatchObject({ bead: compacts, tokens: 63609, sessions: 1 });
    await replayConvoy(`polecat/${t.rig}/${name}`, 'polecat-claude-usage');
  });

  it('UserPromptSubmit runs gt mail check --inject: mail sent to a polecat is in its context with the next prompt typed in', async () => {
    const t = town();
    useAgent(t, 'fake-claude', `${FAKE_CLAUDE} --dangerously-skip-permissions`, ['--provider', 'claude']);
    const id = t.create('Waits for word', 'mail');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    await waitFor(() => agentLog(t).includes(`${id} waiting for a prompt`), 60_000, 'the agent to wait for a prompt');
    const name = polecatOf(t, id);
    expect(agentLog(t)).not.toContain(`${id} mail injected`);
    must(t, ['mail', 'send', `${t.rig}/polecats/${name}`, '-s', 'Use the blue button', '-m', 'The red one is for release.', '--identity', 'mayor']);
    must(t, ['nudge', `${t.rig}/polecats/${name}`, 'You have mail']);
    const beads = await settle(t, [id]);
    expect(beads[id]!.status).toBe('closed');
    expect(agentLog(t)).toMatch(new RegExp(`${id} mail injected: From mayor, .*: Use the blue button`));
  });

  it('a permission prompt is awaiting input: reported with its text, the Mayor told once, never nudged or stopped; answered by a person, the work finishes', async () => {
    const t = town({ thresholds: { stall_timeout: '3s', nudge_grace: '2s' } });
    // Without --dangerously-skip-permissions Claude Code asks before it runs a command.
    useAgent(t, 'fake-claude-asks', FAKE_CLAUDE, ['--provider', 'claude']);
    const id = t.create('Needs a yes');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    const name = await waitFor(() => t.bead(id).assignee?.split('/').at(-1), 30_000, 'the bead to be hooked');

    type Listing = { name: string; state: string; awaiting?: { kind: string; text: string; escalatedAt?: string } };
    const listed = await waitFor(() => {
      const l = (JSON.parse(must(t, ['agents', t.rig, '--json'])) as Listing[]).find((p) => p.name === name);
      return l?.state === 'awaiting input' && l.awaiting?.kind === 'permission' && l.awaiting.escalatedAt ? l : undefined;
    }, 60_000, 'the polecat to be awaiting input at its permission prompt');
    expect(listed.awaiting!.text).toContain('Do you want to proceed?');
    expect(listed.awaiting!.text).toContain('1. Yes');
    expect(must(t, ['agents', t.rig])).toMatch(/awaiting input[\s\S]*waits at a permission prompt since .*Do you want to proceed\?.*the Mayor was told/);

    // Well past stall_timeout + nudge_grace: still the same session, never nudged.
    await new Promise((r) => setTimeout(r, 8000));
    expect(agentLog(t).split('\n').filter((l) => l.startsWith(`${id} claude session`))).toEqual([`${id} claude session 1`]);
    expect(polecatLog(t, name)).not.toContain('nudging');
    const state = polecatState(name, t);
    expect(state.status).toBe('working');
    expect(state.current?.awaiting?.kind).toBe('permission');
    expect(state.current?.awaiting?.text).toContain('Do you want to proceed?');

    const problems = must(t, ['feed', '--problems', '--json']).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; subject: string; why: string });
    const mine = problems.filter((p) => p.subject === `${t.rig}/polecats/${name}`);
    expect(mine.map((p) => p.kind)).toEqual(['waiting']);
    expect(mine[0]!.why).toMatch(/awaiting input \(permission prompt\).*Do you want to proceed\?/);

    const waitingMail = () => (JSON.parse(must(t, ['mail', 'inbox', '--identity', 'mayor', '--json'])) as { subject: string; body: string }[]).filter((m) => m.subject.startsWith('WAITING:'));
    expect(waitingMail()).toHaveLength(1);
    expect(waitingMail()[0]!.body).toContain('Do you want to proceed?');

    // A person answers in the session.
    spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'send-keys', '-t', `=${t.prefix}-${name}:`, '1'], { stdio: 'ignore' });
    const beads = await settle(t, [id]);
    expect(beads[id]!.status).toBe('closed');
    expect(agentLog(t)).toContain(`${id} permission granted`);
    // No longer waiting: the watch looks as soon as the answered session moves (or its session
    // ends, which ends the work); the bead can be merged a moment before either is seen.
    await waitFor(() => polecatState(name, t).current?.awaiting === undefined, 15_000, 'the polecat no longer awaiting input');
    expect(waitingMail()).toHaveLength(1);
  });

  it('prompt_mode none: the first prompt is typed only once the ready prompt shows, and an Enter that is not taken is pressed again', async () => {
    const t = town();
    t.env.FAKE_TUI_DROP_ENTER = '1';
    t.env.FAKE_TUI_START_MS = '2500';
    useAgent(t, 'fake-tui', FAKE_TUI, ['--prompt-mode', 'none', '--ready-prompt', '^› ']);
    const id = t.create('Typed in');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    const beads = await settle(t, [id]);
    expect(beads[id]!.status).toBe('closed');
    const log = agentLog(t);
    expect(log).toContain(`${id} prompt-received`);
    expect(log).not.toContain('early-input');
    const name = polecatOf(t, id);
    const plog = polecatLog(t, name);
    const ready = plog.indexOf('[gt] ready after');
    expect(ready).toBeGreaterThan(-1);
    expect(plog.indexOf('[gt] Enter not taken; pressed again')).toBeGreaterThan(ready);
    // Its role instructions are in AGENTS.md in the worktree, which git ignores.
    const worktree = join(t.root, t.rig, 'polecats', name);
    expect(readFileSync(join(worktree, 'AGENTS.md'), 'utf8')).toContain('Run `gt prime`');
    expect(git(worktree, 'check-ignore', 'AGENTS.md').trim()).toBe('AGENTS.md');
    expect(git(worktree, 'status', '--porcelain').trim()).toBe('');
    expect(t.remoteFiles()).not.toContain('AGENTS.md');
  });

  it('prompt_mode none with no ready prompt known (as codex): typed once the screen settles on an input line, after a loading screen', async () => {
    const t = town();
    t.env.FAKE_TUI_START_MS = '3000';
    useAgent(t, 'plain-tui', FAKE_TUI, ['--prompt-mode', 'none']);
    const id = t.create('Typed in, no pattern');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    const beads = await settle(t, [id]);
    expect(beads[id]!.status).toBe('closed');
    expect(agentLog(t)).toContain(`${id} prompt-received`);
    expect(agentLog(t)).not.toContain('early-input');
    expect(polecatLog(t, polecatOf(t, id))).toContain('[gt] first prompt typed in; Enter taken');
  });

  it('a runtime that never shows its ready prompt is a failed start with its screen as the reason, and blocked after max_attempts', async () => {
    const t = town({ thresholds: { start_timeout: '3s', max_attempts: 2 } });
    useAgent(t, 'fake-claude', `${FAKE_CLAUDE} --dangerously-skip-permissions`, ['--provider', 'claude']);
    const id = t.create('Never starts', 'never-ready');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    const beads = await settle(t, [id]);
    expect(beads[id]!.status).toBe('blocked');
    const text = beads[id]!.comments!.map((c) => c.text).join('\n');
    expect(text).toMatch(/session 1 failed to start \(never showed its ready prompt within 3s.*Loading Claude Code/);
    expect(beads[id]!.comments!.at(-1)!.text).toMatch(/^blocked: 2 sessions failed; last: session 2 failed to start/);
  });

  it('a budget holds a convoy\'s dispatch once its beads spent it (running agents finish), says so, and a raised budget resumes it', async () => {
    const t = town();
    useAgent(t, 'fake-claude', `${FAKE_CLAUDE} --dangerously-skip-permissions`, ['--provider', 'claude']);
    const ids = [1, 2, 3].map((i) => t.create(`Budgeted ${i}`));
    const created = JSON.parse(must(t, ['convoy', 'create', 'Budgeted', ...ids, '--max-concurrent', '1', '--budget', '100k', '--owner', 'mayor', '--json'])) as { convoy: string };
    type State = { status: string; budget?: { tokens?: number; spentTokens?: number; exhaustedAt?: string }; beads: { id: string; phase: string }[] };
    const status = () => JSON.parse(must(t, ['convoy', 'status', created.convoy, '--json'])) as State;
    // Each stand-in session spends 63,609 tokens: after two beads the 100k budget is spent.
    const held = await waitFor(() => {
      const s = status();
      return s.status === 'over-budget' && s.beads.filter((b) => b.phase === 'closed').length === 2 ? s : undefined;
    }, 180_000, 'the convoy to be held for its budget after two beads');
    expect(held.budget).toMatchObject({ tokens: 100_000 });
    expect(held.budget!.spentTokens).toBeGreaterThanOrEqual(100_000);
    expect((await memoOf(created.convoy)).spent).toMatchObject({ tokens: held.budget!.spentTokens });
    const waiting = held.beads.find((b) => b.phase !== 'closed')!;
    expect(waiting.phase).toBe('ready');
    const budgetMail = () => (JSON.parse(must(t, ['mail', 'inbox', '--identity', 'mayor', '--json'])) as { subject: string; body: string }[]).filter((m) => m.subject.startsWith('BUDGET:'));
    expect(budgetMail()).toHaveLength(1);
    expect(budgetMail()[0]!.body).toContain(`gt convoy budget ${created.convoy}`);
    expect(must(t, ['convoy', 'show', created.convoy])).toMatch(/budget 100,000 tokens, spent 127,218 tokens \(no new beads since/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(t.bead(waiting.id).status).toBe('open');

    const bad = t.gt(['convoy', 'budget', created.convoy, 'plenty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--budget "plenty" is not a budget/);
    expect(must(t, ['convoy', 'budget', created.convoy, '1M'])).toMatch(/Budget of .* is now 1,000,000 tokens/);
    await settle(t, [waiting.id]);
    expect(t.bead(waiting.id).status).toBe('closed');
    const landed = await waitFor(() => (status().status === 'landed' ? status() : undefined), 60_000, 'the convoy to land');
    expect(landed.budget!.exhaustedAt).toBeUndefined();
    expect(budgetMail()).toHaveLength(1);
    await replayConvoy(created.convoy, 'convoy-budget');
  });

  it('a mountain with --budget: once spent, no new bead is dispatched while the running one finishes; gt mountain status and the event log say so; a raised budget resumes it to landing', async () => {
    const t = town();
    useAgent(t, 'fake-claude', `${FAKE_CLAUDE} --dangerously-skip-permissions`, ['--provider', 'claude']);
    const epic = createIn(t, t.rig, 'Budgeted epic', { type: 'epic' });
    const kids = [1, 2, 3, 4].map((i) => createIn(t, t.rig, `Budgeted part ${i}`, { parent: epic }));
    const started = JSON.parse(must(t, ['mountain', epic, '--max-concurrent', '2', '--budget', '50k', '--owner', 'mayor', '--json'])) as { convoy: string; mountain: boolean };
    expect(started.mountain).toBe(true);
    const id = started.convoy;
    type State = { status: string; budget?: { tokens?: number; spentTokens?: number; exhaustedAt?: string }; beads: { id: string; phase: string }[] };
    const status = () => JSON.parse(must(t, ['mountain', 'status', id, '--json'])) as State;
    // Two are worked at once; each session spends 63,609 tokens, so the first to finish spends the 50k and the other still finishes.
    const held = await waitFor(() => {
      const s = status();
      // Its spend is looked at again once the second has finished (just after it shows as closed).
      return s.status === 'over-budget' && s.beads.filter((b) => b.phase === 'closed').length === 2 && (s.budget?.spentTokens ?? 0) >= 2 * 63_609 ? s : undefined;
    }, 180_000, 'the mountain to be held for its budget with its two running beads finished');
    expect(held.budget!.tokens).toBe(50_000);
    const spent = held.budget!.spentTokens!;
    const waiting = held.beads.filter((b) => b.phase !== 'closed').map((b) => b.id);
    expect(waiting).toHaveLength(2);
    expect(held.beads.filter((b) => b.phase !== 'closed').every((b) => b.phase === 'ready')).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    for (const k of waiting) expect(t.bead(k).status).toBe('open');
    expect(must(t, ['mountain', 'status', id])).toContain(`budget 50,000 tokens, spent ${spent.toLocaleString('en-US')} tokens (no new beads since`);
    // Told once, with what was spent when it ran out (the first bead's, or both).
    const budgetEvents = townEvents(t).filter((e) => e.type === 'convoy.budget' && e.convoy === id);
    expect(budgetEvents).toHaveLength(1);
    const told = /^BUDGET: mountain .* spent ([\d,]+) tokens of 50,000 tokens/.exec(String(budgetEvents[0]!.detail));
    expect(told).not.toBeNull();
    expect(Number(told![1]!.replace(/,/g, ''))).toBeGreaterThanOrEqual(50_000);

    expect(must(t, ['convoy', 'budget', id, '$5'])).toMatch(/Budget of .* is now \$5\.00/);
    const landed = await waitFor(() => (status().status === 'landed' ? status() : undefined), 180_000, 'the mountain to land after its budget was raised');
    expect(landed.budget!.exhaustedAt).toBeUndefined();
    for (const k of kids) expect(t.bead(k).status).toBe('closed');
    expect(townEvents(t).filter((e) => e.type === 'convoy.budget' && e.convoy === id)).toHaveLength(1);
  });

  it('Codex-style: AGENTS.md read, the first prompt typed in; its rollout files give gt costs per session, bead, convoy, rig and agent, count against a budget, and a corrupt one is named while the rest counts', async () => {
    const t = town();
    useAgent(t, 'fake-codex', `${FAKE_CODEX} --dangerously-bypass-approvals-and-sandbox`, ['--provider', 'codex']);
    const ids = [1, 2, 3].map((i) => t.create(`Codex work ${i}`));
    const created = JSON.parse(must(t, ['convoy', 'create', 'Codex work', ...ids, '--max-concurrent', '1', '--budget', '30k', '--json'])) as { convoy: string };
    type State = { status: string; budget?: { spentTokens?: number }; beads: { id: string; phase: string }[] };
    const status = () => JSON.parse(must(t, ['convoy', 'status', created.convoy, '--json'])) as State;
    // Each stand-in session spends 21,150 tokens: after two beads the 30k budget is spent.
    const held = await waitFor(() => {
      const s = status();
      return s.status === 'over-budget' && s.beads.filter((b) => b.phase === 'closed').length === 2 ? s : undefined;
    }, 180_000, 'the convoy to be held for its budget after two Codex beads');
    const done = held.beads.filter((b) => b.phase === 'closed').map((b) => b.id);
    const waiting = held.beads.find((b) => b.phase !== 'closed')!.id;
    await new Promise((r) => setTimeout(r, 2000));
    expect(t.bead(waiting).status).toBe('open');

    const log = agentLog(t);
    for (const id of done) {
      expect(log).toContain(`${id} read AGENTS.md`);
      expect(log).toContain(`${id} prompt-received`);
    }
    expect(log).not.toContain('early-input');

    type Row = { key: string; tokens: number; input: number; output: number; cacheWrite: number; cacheRead: number; messages: number; usd?: number; sessions: number };
    type Report = { rows: Row[]; total: Row; problems: string[] };
    const costs = (by: string): Report => JSON.parse(must(t, ['costs', '--by', by, '--json'])) as Report;
    // Per session: uncached input 20,500 - 12,800, cached 12,800, output 650 (reasoning included), three responses; at gpt-5-codex prices.
    // (A session restarted on a loaded machine counts as one more, with its own figures.)
    const byBead = costs('bead');
    let sessions = 0;
    for (const id of done) {
      const row = byBead.rows.find((r) => r.key === id)!;
      const n = row.sessions;
      sessions += n;
      expect(n).toBeGreaterThanOrEqual(1);
      expect(row).toMatchObject({ tokens: 21_150 * n, input: 7700 * n, cacheRead: 12_800 * n, cacheWrite: 0, output: 650 * n, messages: 3 * n });
      expect(row.usd).toBeCloseTo((n * (7700 * 1.25 + 12_800 * 0.125 + 650 * 10)) / 1e6, 9);
    }
    expect(byBead.problems).toEqual([]);
    expect(held.budget!.spentTokens).toBe(21_150 * sessions);
    expect(costs('convoy').rows.find((r) => r.key === created.convoy)).toMatchObject({ tokens: 21_150 * sessions, sessions });
    expect(costs('rig').rows).toEqual([expect.objectContaining({ key: t.rig, tokens: 21_150 * sessions, sessions })]);
    const agents = costs('agent').rows;
    expect(agents.map((r) => r.key).sort()).toEqual([...new Set(done.map((id) => t.bead(id).assignee!))].sort());
    expect(costs('session').rows.every((r) => r.key.includes(`${t.rig}/polecats/`) && r.tokens === 21_150)).toBe(true);
    // The polecat's result carries them too.
    const name = polecatOf(t, done[0]!);
    const state = await waitFor(() => {
      const st = polecatState(name, t);
      return st.recent?.some((r) => r.bead === done[0]) ? st : undefined;
    }, 30_000, 'the polecat to record its result');
    const first = state.recent!.find((r) => r.bead === done[0])!.usage!;
    expect(first).toMatchObject({ tokens: 21_150 * first.sessions!, cacheRead: 12_800 * first.sessions! });

    // A corrupt line in one rollout, and a file that is no rollout at all: both named, the rest counts.
    const sessionsDir = join(t.env.CODEX_HOME!, 'sessions');
    const rollouts = (readdirSync(sessionsDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.jsonl')).map((f) => join(sessionsDir, f));
    expect(rollouts).toHaveLength(sessions);
    const lines = readFileSync(rollouts[0]!, 'utf8').split('\n');
    writeFileSync(rollouts[0]!, [...lines.slice(0, 3), '{"timestamp": "broken', ...lines.slice(3)].join('\n'));
    const stray = join(dirname(rollouts[1]!), 'rollout-2000-01-01T00-00-00-stray.jsonl');
    writeFileSync(stray, 'not json\n');
    const r = t.gt(['costs', '--by', 'rig']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${rollouts[0]}:4: not a JSON line, skipped`);
    expect(r.stderr).toContain(`${stray}: its first line is not JSON`);
    expect(r.stdout).toMatch(new RegExp(`${t.rig}\\s+${((21_150 * sessions) / 1000).toFixed(1).replace('.', '\\.')}k`));
  });

  it('Gemini-style: hooks in the worktree\'s .gemini/settings.json prime it, bring the context back with the first tool result after a compression, and inject mail before a turn; GEMINI.md read; nothing of it in git', async () => {
    const t = town();
    useAgent(t, 'fake-gemini', `${FAKE_GEMINI} --approval-mode yolo`, ['--provider', 'gemini']);
    const plain = t.create('Plain Gemini work');
    const compacts = t.create('Gemini work through a compression', 'compact');
    const waits = t.create('Gemini waits for word', 'mail');
    expect(t.gt(['sling', plain, compacts, waits, t.rig]).code).toBe(0);
    await waitFor(() => agentLog(t).includes(`${waits} waiting for a prompt`), 90_000, 'the Gemini agent to wait for a prompt');
    const waiter = polecatOf(t, waits);
    expect(agentLog(t)).not.toContain(`${waits} mail injected`);
    must(t, ['mail', 'send', `${t.rig}/polecats/${waiter}`, '-s', 'Mind the gap', '-m', 'Between the train and the platform.', '--identity', 'mayor']);
    must(t, ['nudge', `${t.rig}/polecats/${waiter}`, 'You have mail']);
    const beads = await settle(t, [plain, compacts, waits]);
    for (const id of [plain, compacts, waits]) expect(beads[id]!.status).toBe('closed');

    const log = agentLog(t);
    for (const id of [plain, compacts, waits]) {
      expect(log).toContain(`primed ${id} at startup`);
      expect(log).toContain(`${id} read GEMINI.md`);
    }
    expect(log).toContain(`reprimed ${compacts} after compression`);
    expect(log).not.toContain('lost its context');
    expect(log).not.toContain('not JSON');
    expect(log).toMatch(new RegExp(`${waits} mail injected: From mayor, .*: Mind the gap`));

    for (const id of [plain, compacts]) {
      const worktree = join(t.root, t.rig, 'polecats', polecatOf(t, id));
      const settings = JSON.parse(readFileSync(join(worktree, '.gemini', 'settings.json'), 'utf8'));
      expect(settings.hooksConfig).toEqual({ enabled: true });
      expect(settings.hooks.SessionStart[0].hooks[0].command).toBe('gt prime --hook gemini');
      expect(settings.hooks.PreCompress[0].hooks[0].command).toBe('gt prime --hook gemini');
      expect(settings.hooks.BeforeAgent[0].hooks[0].command).toBe('gt mail check --inject gemini');
      expect(git(worktree, 'check-ignore', '.gemini/settings.json', 'GEMINI.md').trim().split('\n')).toEqual(['.gemini/settings.json', 'GEMINI.md']);
      expect(git(worktree, 'status', '--porcelain').trim()).toBe('');
    }
    expect(t.remoteFiles().some((f) => f.includes('.gemini') || f === 'GEMINI.md')).toBe(false);
    // Its hooks noted each session and its chat record for gt costs, read as Gemini's.
    const sessions = readFileSync(join(t.root, '.gt', 'costs', 'sessions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(sessions.filter((s) => s.bead === compacts).map((s) => s.event)).toEqual(['SessionStart', 'PreCompress', 'AfterTool']);
    expect(sessions.every((s) => s.hook_runtime === 'gemini' && s.transcript_path.startsWith(t.env.GEMINI_CLI_HOME!))).toBe(true);
    // Per session: prompt 17,000 (7,000 cached), output 200 and thinking 400, two responses, at gemini-2.5-pro prices.
    // (A session restarted on a loaded machine counts as one more, with its own figures.)
    const costs = JSON.parse(must(t, ['costs', '--by', 'bead', '--json'])) as { rows: { key: string; sessions: number; usd?: number }[]; problems: string[] };
    expect(costs.problems).toEqual([]);
    for (const id of [plain, compacts, waits]) {
      const row = costs.rows.find((r) => r.key === id)!;
      const n = row.sessions;
      expect(n).toBeGreaterThanOrEqual(1);
      expect(row).toMatchObject({ tokens: 17_600 * n, input: 10_000 * n, cacheRead: 7000 * n, output: 600 * n, messages: 2 * n });
      expect(row.usd).toBeCloseTo((n * (10_000 * 1.25 + 7000 * 0.31 + 600 * 10)) / 1e6, 9);
    }
  });

  it('bad input: Gemini settings the runtime cannot parse are refused by gt sling before anything starts; a hook format that is not one is refused', () => {
    const t = town();
    useAgent(t, 'fake-gemini', `${FAKE_GEMINI} --approval-mode yolo`, ['--provider', 'gemini']);
    const id = t.create('Never slung to Gemini');
    mkdirSync(join(t.root, t.rig, 'settings'), { recursive: true });
    writeFileSync(join(t.root, t.rig, 'settings', 'gemini-settings.json'), '{ "hooks": { "BeforeTool": [ { "hooks": "no" } ] } }');
    const ledger = readFileSync(join(t.root, t.rig, '.beads', 'issues.jsonl'), 'utf8');
    const r = t.gt(['sling', id, t.rig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${t.rig}/settings/gemini-settings.json: hooks.BeforeTool is not a list`);
    expect(r.stderr).toMatch(/Gemini CLI settings JSON/);
    writeFileSync(join(t.root, 'settings', 'gemini-settings.json'), '{ "hooksConfig": ');
    const again = t.gt(['sling', id, t.rig]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/settings\/gemini-settings\.json cannot be parsed/);
    expect(readFileSync(join(t.root, t.rig, '.beads', 'issues.jsonl'), 'utf8')).toBe(ledger);
    const polecats = join(t.root, t.rig, 'polecats');
    expect(existsSync(polecats) ? readdirSync(polecats).filter((n) => !n.startsWith('.')) : []).toEqual([]);

    for (const args of [['prime', '--hook', 'gemeni'], ['mail', 'check', '--inject', 'json']]) {
      const bad = t.gt(args);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/is not a runtime whose hooks take JSON/);
    }
  });

  it('bad input: Claude settings the runtime cannot parse are refused by gt sling before anything starts', () => {
    const t = town();
    useAgent(t, 'fake-claude', `${FAKE_CLAUDE} --dangerously-skip-permissions`, ['--provider', 'claude']);
    const id = t.create('Never slung');
    writeFileSync(join(t.root, 'settings', 'claude-settings.json'), '{ "hooks": { "SessionStart": [ }');
    const ledger = readFileSync(join(t.root, t.rig, '.beads', 'issues.jsonl'), 'utf8');
    const r = t.gt(['sling', id, t.rig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/settings\/claude-settings\.json cannot be parsed/);
    expect(r.stderr).toMatch(/fix settings\/claude-settings\.json/);
    expect(readFileSync(join(t.root, t.rig, '.beads', 'issues.jsonl'), 'utf8')).toBe(ledger);
    const polecats = join(t.root, t.rig, 'polecats');
    expect(existsSync(polecats) ? readdirSync(polecats).filter((n) => !n.startsWith('.')) : []).toEqual([]);
    // A settings file that parses but whose hooks are not Claude Code's shape is refused too.
    writeFileSync(join(t.root, 'settings', 'claude-settings.json'), '{ "hooks": { "SessionStart": "gt prime" } }');
    const again = t.gt(['sling', id, t.rig]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/hooks\.SessionStart is not a list/);
    expect(readFileSync(join(t.root, t.rig, '.beads', 'issues.jsonl'), 'utf8')).toBe(ledger);
    // gt doctor names it too, for the polecats of the rig.
    const doctor = JSON.parse(t.gt(['doctor', '--json']).stdout) as { checks: { name: string; status: string; message: string }[] };
    expect(doctor.checks.find((c) => c.name === `agent for polecats of ${t.rig}`)).toMatchObject({ status: 'error', message: expect.stringMatching(/hooks\.SessionStart is not a list/) });
  });
});
