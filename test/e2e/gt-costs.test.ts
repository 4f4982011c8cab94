import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

/**
 * The hooks' side of a runtime (`gt prime --hook`, `gt mail check --inject`) and `gt costs` over
 * transcripts in Claude Code's format, written here by hand as Claude Code writes them.
 */
function makeTown(): string {
  const base = tempDir();
  expect(runCli('gt', ['install', 'town'], { cwd: base }).code).toBe(0);
  return join(base, 'town');
}
const gt = (town: string, args: string[], env: Record<string, string> = {}, input?: string) => runCli('gt', args, { cwd: town, env, input });

/** An assistant message as Claude Code writes it: one line per content block, the same id and usage on each. */
function assistant(id: string, model: string, usage: Record<string, number>, blocks = 2): string {
  const lines: string[] = [];
  for (let i = 0; i < blocks; i++) {
    lines.push(JSON.stringify({ type: 'assistant', requestId: `req_${id}`, sessionId: 's', message: { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: `block ${i}` }], usage } }));
  }
  return lines.join('\n');
}

const polecatEnv = (bead: string, rig = 'proj', polecat = 'toast') => ({ GT_ROLE: 'polecat', GT_RIG: rig, GT_POLECAT: polecat, GT_BEAD: bead, GT_ATTEMPT: '1', GT_AGENT: 'claude' });

describe('gt prime --hook and gt mail check --inject', () => {
  it('gt prime --hook reads the hook JSON on stdin, records the session for gt costs, and prints the context', () => {
    const town = makeTown();
    const hookInput = JSON.stringify({ session_id: 'abc-123', transcript_path: '/nowhere/abc-123.jsonl', hook_event_name: 'SessionStart', source: 'compact', cwd: town });
    const r = gt(town, ['prime', '--hook'], { GT_ROLE: 'mayor' }, hookInput);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^<!-- Gas Town context \(gt prime after a compaction\) -->\n# Gas Town: you are mayor/);
    const lines = readFileSync(join(town, '.gt', 'costs', 'sessions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ agent: 'mayor', session_id: 'abc-123', transcript_path: '/nowhere/abc-123.jsonl', event: 'SessionStart', source: 'compact' })]);
    // Run by a person (no hook JSON): the context only, nothing recorded.
    const plain = gt(town, ['prime', '--hook'], { GT_ROLE: 'mayor' }, 'not json');
    expect(plain.code).toBe(0);
    expect(readFileSync(join(town, '.gt', 'costs', 'sessions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('gt mail check --inject prints unread mail as a system reminder with each message, and nothing when there is none', () => {
    const town = makeTown();
    expect(gt(town, ['mail', 'check', '--inject', '--identity', 'mayor']).stdout).toBe('');
    expect(gt(town, ['mail', 'send', 'mayor', '-s', 'Build is red', '-m', 'The release step failed.\nLook at it.', '--identity', 'alice']).code).toBe(0);
    expect(gt(town, ['mail', 'send', 'mayor', '-s', 'Second', '--identity', 'bob']).code).toBe(0);
    const r = gt(town, ['mail', 'check', '--inject', '--identity', 'mayor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^<system-reminder>\nGas Town mail: 2 unread messages for mayor\.\n/);
    expect(r.stdout.indexOf('Build is red')).toBeLessThan(r.stdout.indexOf('Second'));
    expect(r.stdout).toContain('The release step failed.\nLook at it.');
    expect(r.stdout).toMatch(/<\/system-reminder>\n$/);
    const both = gt(town, ['mail', 'check', '--inject', '--json', '--identity', 'mayor']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--inject and --json are two output forms/);
  });
});

describe('hooks that take JSON (Gemini CLI)', () => {
  it('gt prime --hook gemini answers as Gemini reads it: context at SessionStart, a note at PreCompress, the context again at the next AfterTool only', () => {
    const town = makeTown();
    const reprime = join(town, 'reprime-flag');
    const env = { GT_ROLE: 'mayor', GT_REPRIME_FILE: reprime };
    const chat = join(town, 'gemini-chat.json');
    const input = (event: string, extra: Record<string, unknown> = {}) => JSON.stringify({ session_id: 'g-1', transcript_path: chat, cwd: town, hook_event_name: event, timestamp: new Date().toISOString(), ...extra });
    const start = gt(town, ['prime', '--hook', 'gemini'], env, input('SessionStart', { source: 'startup' }));
    expect(start.code).toBe(0);
    const reply = JSON.parse(start.stdout);
    expect(reply.hookSpecificOutput.hookEventName).toBe('SessionStart');
    expect(reply.hookSpecificOutput.additionalContext).toMatch(/^<!-- Gas Town context \(gt prime at session start\) -->\n# Gas Town: you are mayor/);
    expect(JSON.parse(gt(town, ['prime', '--hook', 'gemini'], env, input('AfterTool', { tool_name: 'run_shell_command' })).stdout)).toEqual({});
    const compress = JSON.parse(gt(town, ['prime', '--hook', 'gemini'], env, input('PreCompress', { trigger: 'auto' })).stdout);
    expect(compress.hookSpecificOutput).toBeUndefined();
    expect(compress.systemMessage).toMatch(/next tool result/);
    expect(existsSync(reprime)).toBe(true);
    const after = JSON.parse(gt(town, ['prime', '--hook', 'gemini'], env, input('AfterTool', { tool_name: 'run_shell_command' })).stdout);
    expect(after.hookSpecificOutput.additionalContext).toMatch(/gt prime after a compression[\s\S]*you are mayor/);
    expect(existsSync(reprime)).toBe(false);
    // Each hook call named the session; its transcript is Gemini's chat record, read as such.
    const lines = readFileSync(join(town, '.gt', 'costs', 'sessions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // (An AfterTool with no compaction before it answers at once, noting nothing.)
    expect(lines.map((l) => l.event)).toEqual(['SessionStart', 'PreCompress', 'AfterTool']);
    expect(lines.every((l) => l.hook_runtime === 'gemini')).toBe(true);
    const message = (model: string, t: Record<string, number>) => ({ id: model, timestamp: '', type: 'gemini', content: 'x', model, tokens: { tool: 0, thoughts: 0, ...t, total: 0 } });
    writeFileSync(chat, JSON.stringify({ sessionId: 'g-1', projectHash: 'h', startTime: '', lastUpdated: '', messages: [
      { id: 'u', timestamp: '', type: 'user', content: 'go' },
      message('gemini-2.5-flash', { input: 1000, output: 100, cached: 400, thoughts: 50 }),
      // A prompt over 200k tokens is priced higher on 2.5 Pro.
      message('gemini-2.5-pro', { input: 250_000, output: 1000, cached: 0 }),
      message('gemini-9-ultra', { input: 10, output: 1, cached: 0 }),
    ] }));
    const costs = gt(town, ['costs', '--json']);
    expect(costs.stderr).toBe('');
    const row = JSON.parse(costs.stdout).rows[0];
    expect(row).toMatchObject({ key: 'g-1', input: 600 + 250_000 + 10, cacheRead: 400, output: 150 + 1000 + 1, messages: 3, unpriced: ['gemini-9-ultra'] });
    expect(row.usd).toBeUndefined();
    writeFileSync(chat, JSON.stringify({ sessionId: 'g-1', messages: [message('gemini-2.5-flash', { input: 1000, output: 100, cached: 400, thoughts: 50 }), message('gemini-2.5-pro', { input: 250_000, output: 1000, cached: 0 })] }));
    expect(JSON.parse(gt(town, ['costs', '--json']).stdout).rows[0].usd).toBeCloseTo((600 * 0.3 + 400 * 0.075 + 150 * 2.5 + 250_000 * 2.5 + 1000 * 15) / 1e6, 9);
    writeFileSync(chat, '{"sessionId": "g-1", "messages": [');
    const corrupt = gt(town, ['costs', '--json']);
    expect(corrupt.code).toBe(0);
    expect(corrupt.stderr).toContain(`${chat}: not a Gemini CLI chat record`);
  });

  it('gt mail check --inject gemini puts unread mail in BeforeAgent\'s additionalContext, and answers {} when there is none', () => {
    const town = makeTown();
    expect(JSON.parse(gt(town, ['mail', 'check', '--inject', 'gemini', '--identity', 'mayor']).stdout)).toEqual({});
    expect(gt(town, ['mail', 'send', 'mayor', '-s', 'Build is red', '-m', 'Look at it.', '--identity', 'alice']).code).toBe(0);
    const reply = JSON.parse(gt(town, ['mail', 'check', '--inject', 'gemini', '--identity', 'mayor']).stdout);
    expect(reply.hookSpecificOutput.hookEventName).toBe('BeforeAgent');
    expect(reply.hookSpecificOutput.additionalContext).toMatch(/^<system-reminder>\nGas Town mail: 1 unread message for mayor\.[\s\S]*Build is red/);
  });
});

describe('gt costs over Codex rollouts', () => {
  const pad = (v: number) => String(v).padStart(2, '0');
  /** A rollout as Codex writes it, foldered and named by local time. */
  function rollout(home: string, cwd: string, startedMs: number, lines: unknown[]): string {
    const d = new Date(startedMs);
    const dir = join(home, 'sessions', String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate()));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `rollout-${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}-${startedMs}.jsonl`);
    const meta = { timestamp: d.toISOString(), type: 'session_meta', payload: { id: `id-${startedMs}`, timestamp: d.toISOString(), cwd, originator: 'codex_cli_rs', cli_version: '0.58.0' } };
    writeFileSync(file, [meta, ...lines].map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    return file;
  }
  const turn = (model: string) => ({ timestamp: '', type: 'turn_context', payload: { cwd: '/w', approval_policy: 'never', model } });
  const count = (input: number, cached: number, output: number) => ({ timestamp: '', type: 'event_msg', payload: { type: 'token_count', info: { total_token_usage: { input_tokens: input, cached_input_tokens: cached, output_tokens: output, reasoning_output_tokens: 0, total_tokens: input + output }, last_token_usage: {}, model_context_window: 272000 }, rate_limits: null } });

  it('matches each session to the rollouts started in its worktree before the next session there, prices each turn at its model, and names what it cannot read', () => {
    const town = makeTown();
    const home = join(town, 'codex-home');
    const wt = join(town, 'proj', 'polecats', 'toast');
    const other = join(town, 'proj', 'polecats', 'nux');
    const t0 = Date.now() - 3_600_000;
    const record = (bead: string, at: number, cwd: string) => ({ at: new Date(at).toISOString(), agent: `proj/polecats/${cwd === wt ? 'toast' : 'nux'}`, rig: 'proj', bead, attempt: 1, runtime: 'codex', session_id: `s-${bead}`, cwd, usage_source: 'codex-rollout', codex_home: home });
    mkdirSync(join(town, '.gt', 'costs'), { recursive: true });
    writeFileSync(join(town, '.gt', 'costs', 'sessions.jsonl'), [record('pr-aaa', t0, wt), record('pr-bbb', t0 + 600_000, wt), record('pr-ccc', t0, other)].map((r) => JSON.stringify(r)).join('\n') + '\n');
    // pr-aaa: gpt-5-codex, then a turn on a model with no known price; a repeated total counts once.
    rollout(home, wt, t0 + 1000, [{ timestamp: '', type: 'event_msg', payload: { type: 'token_count', info: null } }, turn('gpt-5-codex'), count(1000, 0, 100), count(1000, 0, 100), turn('some-new-model'), count(3000, 1500, 300)]);
    // pr-bbb: the next session in the same worktree; a corrupt line in its middle.
    const b = rollout(home, wt, t0 + 601_000, [turn('gpt-5-codex'), '{"type": "event_msg", broken', count(2000, 1000, 50)]);
    // pr-ccc's worktree: another rollout, and one in no worktree of ours.
    rollout(home, other, t0 + 2000, [turn('gpt-5-mini'), count(4000, 0, 400)]);
    rollout(home, join(town, 'elsewhere'), t0 + 3000, [turn('gpt-5-codex'), count(99_999, 0, 1)]);
    const junk = join(home, 'sessions', String(new Date(t0).getFullYear()), pad(new Date(t0).getMonth() + 1), pad(new Date(t0).getDate()), 'rollout-junk.jsonl');
    writeFileSync(junk, 'garbage\n');

    const r = gt(town, ['costs', '--by', 'bead', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { rows: { key: string; tokens: number; input: number; cacheRead: number; output: number; messages: number; usd?: number; unpriced?: string[] }[]; problems: string[] };
    const row = (k: string) => report.rows.find((x) => x.key === k)!;
    expect(row('pr-aaa')).toMatchObject({ tokens: 3300, input: 1500, cacheRead: 1500, output: 300, messages: 2, unpriced: ['some-new-model'] });
    expect(row('pr-aaa').usd).toBeUndefined();
    expect(row('pr-bbb')).toMatchObject({ tokens: 2050, input: 1000, cacheRead: 1000, output: 50, messages: 1 });
    expect(row('pr-bbb').usd).toBeCloseTo((1000 * 1.25 + 1000 * 0.125 + 50 * 10) / 1e6, 9);
    expect(row('pr-ccc')).toMatchObject({ tokens: 4400 });
    expect(row('pr-ccc').usd).toBeCloseTo((4000 * 0.25 + 400 * 2) / 1e6, 9);
    expect(report.problems).toEqual(expect.arrayContaining([`${b}:3: not a JSON line, skipped`, expect.stringContaining(`${junk}: its first line is not JSON`)]));
    expect(r.stderr).toContain(`warning: ${b}:3: not a JSON line, skipped`);
  });
});

describe('gt costs', () => {
  function townWithSessions() {
    const town = makeTown();
    const dir = join(town, 'transcripts');
    mkdirSync(dir, { recursive: true });
    const t1 = join(dir, 's1.jsonl');
    const t2 = join(dir, 's2.jsonl');
    const t3 = join(dir, 's3.jsonl');
    writeFileSync(t1, [
      JSON.stringify({ type: 'user', message: { role: 'user', content: 'go' } }),
      assistant('msg_1', 'claude-sonnet-4-5-20250929', { input_tokens: 1000, output_tokens: 500, cache_creation_input_tokens: 2000, cache_read_input_tokens: 10000 }),
      assistant('msg_2', 'claude-sonnet-4-5-20250929', { input_tokens: 10, output_tokens: 100, cache_creation_input_tokens: 0, cache_read_input_tokens: 20000 }, 1),
    ].join('\n') + '\n');
    writeFileSync(t2, assistant('msg_3', 'claude-opus-4-1-20250805', { input_tokens: 100, output_tokens: 1000, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }) + '\n');
    // A corrupt transcript: a broken line in the middle; the good line after it still counts.
    writeFileSync(t3, ['{"type":"assistant", broken', assistant('msg_4', 'claude-haiku-4-5', { input_tokens: 1000, output_tokens: 1000 }, 1)].join('\n') + '\n');
    for (const [session, bead, transcript] of [['s1', 'pr-aaa', t1], ['s2', 'pr-bbb', t2], ['s3', 'pr-aaa', t3]] as const) {
      expect(gt(town, ['prime', '--hook'], polecatEnv(bead), JSON.stringify({ session_id: session, transcript_path: transcript, hook_event_name: 'SessionStart', source: 'startup' })).code).toBe(0);
    }
    return { town, t3 };
  }

  it('sums tokens and dollars per bead from the transcripts, counting a message written in several lines once', () => {
    const { town } = townWithSessions();
    const r = gt(town, ['costs', '--by', 'bead', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const aaa = report.rows.find((x: { key: string }) => x.key === 'pr-aaa');
    expect(aaa).toMatchObject({ input: 2010, output: 1600, cacheWrite: 2000, cacheRead: 30000, messages: 3, sessions: 2, tokens: 35610 });
    // sonnet 4.5: $3 in, $15 out, cache writes 1.25x, reads 0.1x; haiku 4.5: $1 / $5.
    const sonnet = (1010 * 3 + 600 * 15 + 2000 * 3.75 + 30000 * 0.3) / 1e6;
    const haiku = (1000 * 1 + 1000 * 5) / 1e6;
    expect(aaa.usd).toBeCloseTo(sonnet + haiku, 9);
    const bbb = report.rows.find((x: { key: string }) => x.key === 'pr-bbb');
    expect(bbb.usd).toBeCloseTo((100 * 15 + 1000 * 75) / 1e6, 9);
    expect(report.total.sessions).toBe(3);
    expect(report.total.tokens).toBe(35610 + 1100);
  });

  it('a corrupt transcript is named, and the costs go on', () => {
    const { town, t3 } = townWithSessions();
    const r = gt(town, ['costs', '--by', 'rig']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${t3}:1: not a JSON line, skipped`);
    expect(r.stdout).toMatch(/^RIG\s+TOKENS/);
    expect(r.stdout).toMatch(/^proj\s+36\.7k/m);
    expect(r.stdout).toMatch(/^total\s+36\.7k.*\s3$/m);
  });

  it('a missing transcript is named too', () => {
    const town = makeTown();
    gt(town, ['prime', '--hook'], polecatEnv('pr-ccc'), JSON.stringify({ session_id: 'gone', transcript_path: join(town, 'gone.jsonl') }));
    const r = gt(town, ['costs', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${join(town, 'gone.jsonl')}: cannot be read (ENOENT)`);
    expect(JSON.parse(r.stdout).total.tokens).toBe(0);
  });

  it('bad input: an unknown --by is a usage error', () => {
    const town = makeTown();
    const r = gt(town, ['costs', '--by', 'planet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--by "planet" is not a grouping[\s\S]*session, bead, convoy, rig, agent/);
    expect(existsSync(join(town, '.gt', 'costs'))).toBe(false);
  });
});

describe('--budget', () => {
  it.each([
    ['convoy create', ['convoy', 'create', 'X', '--budget', 'lots']],
    ['convoy create, zero dollars', ['convoy', 'create', 'X', '--budget', '$0']],
    ['convoy stage', ['convoy', 'stage', 'hq-nothing', '--budget', '5 dollars']],
    ['mountain', ['mountain', 'hq-nothing', '--budget', '-3']],
    ['convoy budget', ['convoy', 'budget', 'hq-cv-nothing', '12q']],
  ])('garbage on %s is a usage error that changes nothing', (_what, args) => {
    const town = makeTown();
    const ledger = join(town, '.beads', 'issues.jsonl');
    const before = existsSync(ledger) ? readFileSync(ledger, 'utf8') : '';
    const r = gt(town, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--budget ".*" is not a budget[\s\S]*(500k|more than \$0)/);
    expect(existsSync(ledger) ? readFileSync(ledger, 'utf8') : '').toBe(before);
  });
});
