import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../helpers/cli.js';
import { bdFolder } from './bd-helpers.js';

const BD = join(PROJECT, 'bin', 'bd.js');

/** Run a shell loop of bd commands as one process; resolves with its exit code and stderr. */
function run(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env: { ...process.env, BD: BD, NODE: process.execPath, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('bd under concurrent writers', () => {
  it('20 processes creating 25 beads each at once: exactly 500 beads, unique ids, a valid file', async () => {
    const { cwd, json } = bdFolder();
    const loop = 'for i in $(seq 1 25); do "$NODE" "$BD" create "writer $W bead $i" -l "w$W" >/dev/null || exit 1; done';
    const results = await Promise.all(Array.from({ length: 20 }, (_, w) => run(loop, cwd, { W: String(w), BD_ACTOR: `writer-${w}` })));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const lines = readFileSync(join(cwd, '.beads', 'issues.jsonl'), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const records = lines.map((l) => JSON.parse(l));
    expect(records).toHaveLength(500);
    expect(new Set(records.map((r) => r.id)).size).toBe(500);
    expect(new Set(records.map((r) => r.title)).size).toBe(500);
    for (let w = 0; w < 20; w++) expect(records.filter((r) => r.labels?.[0] === `w${w}`)).toHaveLength(25);
    // The file stays sorted by id, and every create left its event.
    expect(records.map((r) => r.id)).toEqual([...records.map((r) => r.id)].sort());
    const events = readFileSync(join(cwd, '.beads', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event_type === 'created')).toHaveLength(500);
    expect(json(['stats']).total).toBe(500);
  }, 300_000);

  it('racing claimers of one bead: exactly one wins', async () => {
    const { cwd, json } = bdFolder();
    for (let round = 0; round < 3; round++) {
      const bead = json(['create', `contested ${round}`]);
      const claim = '"$NODE" "$BD" update "$ID" --claim --json';
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => run(claim, cwd, { ID: bead.id, BD_ACTOR: `agent-${i}` })));
      const winners = results.filter((r) => r.code === 0);
      expect(winners).toHaveLength(1);
      for (const loser of results.filter((r) => r.code !== 0)) expect(loser.stderr).toMatch(/cannot claim .* assigned to agent-\d/);
      const winner = JSON.parse(winners[0].stdout)[0].assignee;
      const [shown] = json(['show', bead.id]);
      expect(shown).toMatchObject({ status: 'in_progress', assignee: winner });
    }
  }, 120_000);
});
