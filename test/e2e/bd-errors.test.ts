import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { bdFolder } from './bd-helpers.js';

/**
 * Every bad input: a clear message on stderr, a non-zero exit, and the ledger files byte for
 * byte as they were.
 */
function setup() {
  const f = bdFolder();
  const a = f.json(['create', 'alpha', '--id', 'tt-abc12']);
  const b = f.json(['create', 'beta', '--id', 'tt-abd34', '--deps', a.id]);
  const c = f.json(['create', 'gamma', '--id', 'tt-xyz99', '--deps', b.id]);
  const refused = (args: string[], message: RegExp, code?: number) => {
    const before = f.files();
    const r = f.bd(args);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^error: /);
    if (code !== undefined) expect(r.code).toBe(code);
    else expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    const after = f.files();
    expect(after.issues.equals(before.issues)).toBe(true);
    expect(after.events.equals(before.events)).toBe(true);
    return r;
  };
  return { ...f, a, b, c, refused };
}

describe('bd refuses bad input and changes nothing', () => {
  it('unknown and ambiguous ids', () => {
    const { refused } = setup();
    refused(['show', 'tt-nope1'], /no bead "tt-nope1"/, 1);
    refused(['update', 'nope1', '-s', 'closed'], /no bead "nope1"/, 1);
    refused(['close', 'tt-abc12', 'tt-nope1'], /no bead "tt-nope1"/, 1);
    const r = refused(['show', 'ab'], /"ab" is ambiguous: it matches tt-abc12, tt-abd34/, 1);
    expect(r.stderr).toMatch(/hint: type more characters/);
    refused(['dep', 'add', 'ab', 'tt-xyz99'], /ambiguous/, 1);
  });

  it('empty or 501-character titles', () => {
    const { refused } = setup();
    refused(['create', ''], /a bead needs a title/, 2);
    refused(['create'], /a bead needs a title/, 2);
    refused(['create', 'x'.repeat(501)], /title is 501 characters; the limit is 500/, 2);
    refused(['update', 'tt-abc12', '--title', ''], /needs a title/, 2);
  });

  it('unknown status, type and priority', () => {
    const { refused } = setup();
    refused(['create', 'new', '-t', 'storyy'], /unknown issue type "storyy"/, 2);
    refused(['create', 'new', '-p', '7'], /unknown priority "7"/, 2);
    refused(['create', 'new', '-p', 'high'], /unknown priority "high"/, 2);
    refused(['update', 'tt-abc12', '-s', 'done'], /unknown status "done"[\s\S]*hint: use one of: open, in_progress/, 2);
    refused(['update', 'tt-abc12', 'tt-abd34', '--title', 'ok', '-p', '9'], /unknown priority/, 2);
    refused(['list', '--status', 'nope'], /unknown status/, 2);
    refused(['dep', 'add', 'tt-abc12', 'tt-xyz99', '-t', 'depends'], /unknown dependency type/, 2);
  });

  it('self-dependency and dependency cycles', () => {
    const { refused } = setup();
    refused(['dep', 'add', 'tt-abc12', 'tt-abc12'], /tt-abc12 cannot depend on itself/, 1);
    refused(['dep', 'add', 'tt-abc12', 'tt-xyz99'], /dependency cycle: tt-abc12 → tt-xyz99 → tt-abd34 → tt-abc12/, 1);
    refused(['dep', 'add', 'tt-abc12', 'tt-xyz99', '-t', 'parent-child'], /cycle/, 1);
    refused(['create', 'loop', '--id', 'tt-abc12.1', '--deps', 'tt-abc12.1'], /(cannot depend on itself|no bead)/);
  });

  it('closing a bead with open blockers unless --force', () => {
    const { refused, bd, json } = setup();
    refused(['close', 'tt-abd34'], /cannot close tt-abd34: it is blocked by open bead tt-abc12[\s\S]*--force/, 1);
    // Several ids: the refusal of one leaves the others untouched too.
    refused(['close', 'tt-abc12', 'tt-xyz99'], /cannot close tt-xyz99/, 1);
    const [closed] = json(['close', 'tt-abd34', '--force']);
    expect(closed.status).toBe('closed');
    expect(bd(['close', 'tt-abc12']).code).toBe(0);
  });

  it('claiming a bead someone else holds', () => {
    const { refused, json } = setup();
    json(['update', 'tt-abc12', '--claim'], { BD_ACTOR: 'bob' });
    refused(['update', 'tt-abc12', '--claim'], /cannot claim tt-abc12: it is in_progress, assigned to bob/, 1);
  });

  it('bd outside any ledger', () => {
    const cwd = tempDir('bd-none-');
    for (const args of [['list'], ['ready', '--json'], ['create', 'x'], ['show', 'tt-abc12']]) {
      const r = runCli('bd', args, { cwd });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no beads ledger here[\s\S]*hint: run `bd init`/);
    }
  });

  it('a corrupt line in issues.jsonl: the error names the line; nothing is rewritten', () => {
    const { bd, issuesPath, files } = setup();
    const lines = readFileSync(issuesPath, 'utf8').split('\n');
    lines[1] = lines[1].slice(0, 30);
    writeFileSync(issuesPath, lines.join('\n'));
    const before = files();
    for (const args of [['list'], ['create', 'new'], ['update', 'tt-abc12', '-s', 'in_progress'], ['ready', '--json']]) {
      const r = bd(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${issuesPath}:2: not valid JSON`);
      expect(r.stderr).toMatch(/hint: fix or remove line 2/);
    }
    const after = files();
    expect(after.issues.equals(before.issues)).toBe(true);
    expect(after.events.equals(before.events)).toBe(true);
  });

  it('bad import files: the error names the line; nothing is imported', () => {
    const { refused, cwd } = setup();
    const file = `${cwd}/bad.jsonl`;
    writeFileSync(file, '{"_type":"issue","id":"tt-new01","title":"fine","status":"open","priority":2,"issue_type":"task","created_at":"2025-01-01T00:00:00Z"}\n{"_type":"issue","id":"tt-new02","title":"","status":"open","priority":2,"created_at":"2025-01-01T00:00:00Z"}\n');
    refused(['import', file], /bad.jsonl:2: bead tt-new02: a bead needs a title/);
    writeFileSync(file, '{"_type":"issue","id":"zz-new01","title":"other prefix","status":"open","priority":2,"created_at":"2025-01-01T00:00:00Z"}\n');
    refused(['import', file], /bad.jsonl:1: bead zz-new01 does not have this ledger's prefix "tt-"/);
  });
});
