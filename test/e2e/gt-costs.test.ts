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
