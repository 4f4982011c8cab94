import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/cli.js';
import { checkTownCommand, readsStdin, remoteTownName } from '../../../src/remote/commands.js';

describe('agent commands a host without the town folder may send', () => {
  it('lets the agent commands through, telling writes from reads', () => {
    expect(checkTownCommand('gt', ['hook', '--json'])).toEqual({ write: false });
    expect(checkTownCommand('gt', ['prime', '--hook'])).toEqual({ write: false });
    expect(checkTownCommand('gt', ['done', '-m', 'finished'])).toEqual({ write: true });
    expect(checkTownCommand('gt', ['handoff'])).toEqual({ write: true });
    expect(checkTownCommand('gt', ['mail', 'send', 'mayor', '-s', 'hi'])).toEqual({ write: true });
    expect(checkTownCommand('gt', ['mail', 'check', '--inject'])).toEqual({ write: false });
    expect(checkTownCommand('gt', ['mail', 'inbox'])).toEqual({ write: false });
    expect(checkTownCommand('bd', ['show', 'pc-1', '--json'])).toEqual({ write: false });
    expect(checkTownCommand('bd', ['create', 'A title'])).toEqual({ write: true });
    expect(checkTownCommand('bd', ['comments', 'pc-1'])).toEqual({ write: false });
    expect(checkTownCommand('bd', ['comments', 'add', 'pc-1', 'text'])).toEqual({ write: true });
  });

  it('refuses everything else, naming the command', () => {
    for (const [bin, args] of [['gt', ['sling', 'pc-1', 'rig']], ['gt', ['down']], ['gt', ['mail', 'reply', 'x']], ['gt', ['mail']], ['bd', ['delete', 'pc-1']], ['bd', ['import', 'f.jsonl']], ['bd', []], ['sh', ['-c', 'id']]] as const) {
      const r = checkTownCommand(bin, [...args]);
      expect(r, `${bin} ${args.join(' ')}`).toHaveProperty('refused');
      expect((r as { refused: string }).refused).toContain(`\`${[bin, ...args.slice(0, 2)].join(' ')}\` is not a command an agent can run`);
    }
  });

  it('goes remote only with GT_TOWN_REMOTE and no town folder at GT_ROOT; sends stdin only for gt prime --hook', () => {
    expect(remoteTownName({})).toBeUndefined();
    expect(remoteTownName({ GT_TOWN_REMOTE: 'tw' })).toBe('tw');
    expect(remoteTownName({ GT_TOWN_REMOTE: 'tw', GT_ROOT: '/nonexistent/town' })).toBe('tw');
    // A town folder here: the local CLI. A rig host home (no ledgers): remote, but gt done and gt handoff run in the worktree.
    const town = tempDir();
    mkdirSync(join(town, 'mayor'));
    writeFileSync(join(town, 'mayor', 'town.json'), '{}');
    expect(remoteTownName({ GT_TOWN_REMOTE: 'tw', GT_ROOT: town }, ['hook'])).toBeUndefined();
    writeFileSync(join(town, 'mayor', 'rig-host.json'), '{}');
    expect(remoteTownName({ GT_TOWN_REMOTE: 'tw', GT_ROOT: town }, ['hook', '--json'])).toBe('tw');
    expect(remoteTownName({ GT_TOWN_REMOTE: 'tw', GT_ROOT: town }, ['done', '-m', 'x'])).toBeUndefined();
    expect(remoteTownName({ GT_TOWN_REMOTE: 'tw', GT_ROOT: town }, ['handoff'])).toBeUndefined();
    expect(readsStdin('gt', ['prime', '--hook'])).toBe(true);
    expect(readsStdin('gt', ['prime'])).toBe(false);
    expect(readsStdin('bd', ['create', '--hook'])).toBe(false);
  });
});
