import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRigTown, type RigTown } from '../integration/polecat-helpers.js';

/** The guide's town-wide work commands: gt ready, show, close, release, orphans, namepool. */
const towns: RigTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

function town(): RigTown {
  const t = makeRigTown();
  towns.push(t);
  return t;
}

const files = (t: RigTown) => [join(t.root, '.beads', 'issues.jsonl'), join(t.root, t.rig, '.beads', 'issues.jsonl'), join(t.root, t.rig, 'settings', 'config.json')].map((f) => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
});

describe('gt ready, show, close, release, orphans, namepool', { timeout: 180_000 }, () => {
  it('gt ready lists ready work of every ledger by priority; gt show and gt close are bd\'s from anywhere', () => {
    const t = town();
    const rigBead = JSON.parse(t.bd(['create', 'Rig work', '-p', '2', '--json'], { cwd: join(t.root, t.rig) }).stdout).id as string;
    const urgent = JSON.parse(t.bd(['create', 'Town work', '-p', '0', '--json']).stdout).id as string;
    const waits = JSON.parse(t.bd(['create', 'Waits', '--deps', rigBead, '--json'], { cwd: join(t.root, t.rig) }).stdout).id as string;
    const ready = JSON.parse(t.gt(['ready', '--json']).stdout) as { id: string; where: string }[];
    expect(ready.map((b) => b.id)).toEqual([urgent, rigBead]);
    expect(ready.map((b) => b.where)).toEqual(['town', t.rig]);
    expect((JSON.parse(t.gt(['ready', '--rig', t.rig, '--json']).stdout) as { id: string }[]).map((b) => b.id)).toEqual([rigBead]);
    expect(t.gt(['ready']).stdout).toContain(`${urgent.padEnd(14)} P0  town`);

    const shown = t.gt(['show', waits]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(t.bd(['show', waits]).stdout);
    expect(t.gt(['close', rigBead, '-r', 'done']).code).toBe(0);
    expect(t.bead(rigBead).status).toBe('closed');
    expect((JSON.parse(t.gt(['ready', '--json']).stdout) as { id: string }[]).map((b) => b.id)).toEqual([urgent, waits]);
    const missing = t.gt(['show', 'pc-zzzzz']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no bead "pc-zzzzz"/);
  });

  it('gt release puts a stuck in_progress bead back to open; gt orphans finds hooked work with no workflow', () => {
    const t = town();
    const stuck = t.create('Claimed and forgotten');
    expect(t.bd(['update', stuck, '--claim'], { cwd: join(t.root, t.rig) }).code).toBe(0);
    const r = t.gt(['release', stuck, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ bead: stuck, from: 'tester' }]);
    expect(t.bead(stuck)).toMatchObject({ status: 'open' });
    expect(t.bead(stuck).assignee).toBeUndefined();

    expect(t.gt(['orphans']).stdout).toContain('No lost work');
    const lost = t.create('Hooked to a ghost');
    expect(t.bd(['update', lost, '--status', 'hooked', '-a', `${t.rig}/polecats/ghost`], { cwd: join(t.root, t.rig) }).code).toBe(0);
    const found = JSON.parse(t.gt(['orphans', '--json']).stdout) as { status: string; message: string }[];
    expect(found).toEqual([expect.objectContaining({ status: 'error', message: expect.stringContaining(`${lost} is hooked to ${t.rig}/polecats/ghost`) })]);
    expect(t.gt(['orphans']).stdout).toMatch(/LOST .*gt doctor --fix/s);
  });

  it('gt namepool shows and sets a rig\'s names', () => {
    const t = town();
    const shown = JSON.parse(t.gt(['namepool', t.rig, '--json']).stdout) as { style: string; next: string; inUse: string[] }[];
    expect(shown[0]).toMatchObject({ style: 'wasteland', next: 'furiosa', inUse: [] });
    expect(JSON.parse(t.gt(['namepool', 'set', t.rig, '--style', 'minerals', '--json']).stdout)).toMatchObject({ style: 'minerals', next: 'agate' });
    expect(JSON.parse(t.gt(['namepool', 'set', t.rig, '--names', 'ada, grace', '--json']).stdout)).toMatchObject({ custom: true, names: ['ada', 'grace'], next: 'ada' });
    expect(t.gt(['namepool']).stdout).toContain(`${t.rig}: its own names (2)`);
  });

  it('refuses bad input and changes nothing', () => {
    const t = town();
    const open = t.create('Open work');
    const before = files(t);
    for (const [args, code, pattern] of [
      [['ready', '--rig', 'nosuchrig'], 1, /no rig named "nosuchrig"/],
      [['ready', '-n', 'lots'], 2, /--limit must be a whole number/],
      [['release', open], 1, new RegExp(`bead ${open} is open, not in_progress`)],
      [['release', 'pc-zzzzz'], 1, /no bead "pc-zzzzz"/],
      [['close', 'pc-zzzzz'], 1, /no bead "pc-zzzzz"/],
      [['namepool', 'nosuchrig'], 1, /no rig named "nosuchrig"/],
      [['namepool', 'set', t.rig], 2, /either --style <theme> or --names/],
      [['namepool', 'set', t.rig, '--style', 'minerals', '--names', 'a'], 2, /either --style <theme> or --names/],
      [['namepool', 'set', t.rig, '--style', 'muppets'], 2, /unknown namepool theme "muppets"/],
      [['namepool', 'set', t.rig, '--names', 'ok,Not OK'], 2, /polecat name "Not OK" is not valid/],
      [['namepool', 'set', t.rig, '--names', 'ada,ada'], 2, /"ada" is given twice/],
    ] as [string[], number, RegExp][]) {
      const r = t.gt(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
      expect(files(t), args.join(' ')).toEqual(before);
    }
  });
});
