import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendEvent, readEvents } from '../../src/events/log.js';
import { PROJECT } from '../helpers/cli.js';
import { waitFor } from '../helpers/town.js';
import { makeRigTown, type RigTown } from './polecat-helpers.js';

/**
 * The town's event stream: written by the engine's activities as the work happens, each step
 * once; read by gt log (filters, follow) and gt trail.
 */
const towns: RigTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

interface Ev {
  id: string;
  type: string;
  actor: string;
  bead?: string;
  rig?: string;
}

function log(t: RigTown, args: string[] = []): Ev[] {
  const r = t.gt(['log', '--json', '-n', '0', ...args]);
  if (r.code !== 0) throw new Error(`gt log failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
}

describe('events', { timeout: 240_000 }, () => {
  it('a bead\'s life is in gt log once per step; filters, follow and gt trail read it', async () => {
    const t = makeRigTown();
    towns.push(t);
    const ok = t.create('Works first time');
    const crash = t.create('Crashes once', 'crash');
    expect(t.gt(['sling', ok, crash, t.rig, '--no-convoy']).code).toBe(0);
    await waitFor(() => [ok, crash].every((id) => t.bead(id).status === 'closed'), 120_000, 'both beads merged');
    // A session's exit can be written after its bead is merged: read the stream once every session
    // that started has ended, so the reads below all see the same events.
    await waitFor(() => {
      const evs = log(t);
      return evs.filter((e) => e.type === 'session.start').length === evs.filter((e) => e.type === 'session.exit').length;
    }, 60_000, 'every session to have exited');

    const all = log(t);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const types = (bead: string) => all.filter((e) => e.bead === bead).map((e) => e.type);
    // Each step once, in the order it happened (the session's own exit may come before or after the merge).
    const life = types(ok);
    expect([...life].sort()).toEqual(['done', 'merge.merged', 'merge.queued', 'session.exit', 'session.ready', 'session.start', 'sling']);
    expect(life.filter((x) => x !== 'session.exit' && x !== 'session.ready')).toEqual(['sling', 'session.start', 'done', 'merge.queued', 'merge.merged']);
    // Ready (its first sign of life) after its start; it may be seen before or after a quick agent's gt done.
    expect(life.indexOf('session.ready')).toBeGreaterThan(life.indexOf('session.start'));
    expect(types(crash)).toEqual(expect.arrayContaining(['sling', 'session.start', 'session.exit', 'session.restart', 'done', 'merge.queued', 'merge.merged']));
    expect(types(crash).filter((x) => x === 'session.start')).toHaveLength(2);
    const merged = all.find((e) => e.bead === ok && e.type === 'merge.merged')!;
    expect(merged).toMatchObject({ actor: `${t.rig}/refinery`, rig: t.rig });
    expect(all.find((e) => e.bead === ok && e.type === 'done')!.actor).toMatch(new RegExp(`^${t.rig}/polecats/`));

    expect(log(t, ['--bead', ok]).map((e) => e.type)).toEqual(types(ok));
    expect(log(t, ['--type', 'merge']).every((e) => e.type.startsWith('merge.'))).toBe(true);
    expect(log(t, ['--type', 'merge', '--bead', crash]).map((e) => e.type)).toEqual(['merge.queued', 'merge.merged']);
    expect(log(t, ['--rig', t.rig]).length).toBe(all.filter((e) => e.rig === t.rig).length);
    expect(log(t, ['--since', '1d']).length).toBe(all.length);

    const trail = JSON.parse(t.gt(['trail', '--json']).stdout) as Record<string, Ev[]>;
    expect(trail[`${t.rig}/refinery`]!.at(-1)!.type).toBe('merge.merged');
    expect(t.gt(['trail']).stdout).toContain(`${t.rig}/refinery\n`);

    // Followed live: a new sling shows up on a running gt log -f.
    const follower = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'log', '-f', '--type', 'sling', '-n', '1'], { cwd: t.root, env: { ...process.env, ...t.env } });
    let out = '';
    follower.stdout.on('data', (d) => (out += String(d)));
    try {
      await waitFor(() => out.includes(crash) || out.includes(ok), 10_000, 'the last sling printed first');
      const late = t.create('Slung while followed');
      expect(t.gt(['sling', late, t.rig, '--no-convoy']).code).toBe(0);
      await waitFor(() => out.includes(late), 30_000, 'the new sling to be followed');
    } finally {
      follower.kill('SIGINT');
    }
  });

  it('formula steps are in the stream: each step\'s start and end, a failure with its reason', () => {
    const t = makeRigTown();
    towns.push(t);
    t.writeFormula('pair', 'formula = "pair"\nversion = 1\n\n[[steps]]\nid = "first"\ntitle = "First"\nrun = "true"\n\n[[steps]]\nid = "second"\ntitle = "Second"\nneeds = ["first"]\nrun = "echo no >&2; exit 4"\n');
    const cook = t.bd(['cook', 'pair', '--json']);
    expect(cook.code).toBe(1);
    const { molecule, steps } = JSON.parse(cook.stdout) as { molecule: string; steps: { id: string; bead: string }[] };
    const [first, second] = [steps.find((s) => s.id === 'first')!.bead, steps.find((s) => s.id === 'second')!.bead];
    const mine = log(t, ['--type', 'step']).filter((e) => e.actor === `molecule/${molecule}`);
    expect(mine.map((e) => `${e.type} ${e.bead}`)).toEqual([`step.start ${first}`, `step.end ${first}`, `step.start ${second}`, `step.failed ${second}`]);
    expect((mine.at(-1) as Ev & { detail?: string }).detail).toMatch(/exit(ed with code)? 4/);
    expect(log(t, ['--type', 'formula']).filter((e) => e.bead === molecule).map((e) => e.type)).toEqual(['formula.failed']);
  });

  it('a retried write is recorded once', () => {
    const t = makeRigTown();
    towns.push(t);
    for (let i = 0; i < 3; i++) appendEvent(t.root, { id: 'wf/run/7/done', type: 'done', actor: 'x/polecats/a', bead: 'pc-aaaaa' });
    appendEvent(t.root, { id: 'wf/run/8/done', type: 'done', actor: 'x/polecats/a', bead: 'pc-aaaaa' });
    expect(readEvents(t.root).map((e) => e.id)).toEqual(['wf/run/7/done', 'wf/run/8/done']);
  });

  it('refuses bad input: --since garbage, an unknown type, an unknown rig, a bad limit', () => {
    const t = makeRigTown();
    towns.push(t);
    for (const [args, code, pattern] of [
      [['log', '--since', 'yesterday-ish'], 2, /--since "yesterday-ish" is neither a duration nor a date/],
      [['log', '--type', 'explosion'], 2, /unknown event type "explosion"/],
      [['log', '--rig', 'nosuchrig'], 1, /no rig named "nosuchrig"/],
      [['log', '-n', 'many'], 2, /--limit must be a whole number/],
      [['trail', '--since', 'soon'], 2, /--since "soon"/],
    ] as [string[], number, RegExp][]) {
      const r = t.gt(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  });
});
