import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flushLedgerCommits, initLedger, Ledger } from '../../../src/beads/ledger.js';
import { commitMessage } from '../../../src/beads/git.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });

describe('ledger changes in git', () => {
  it('flushLedgerCommits commits queued changes with the actor as author and the changes in the message', () => {
    const root = mkdtempSync(join(tmpdir(), 'beads-git-'));
    git(root, 'init', '-q');
    const dir = join(root, '.beads');
    initLedger(dir, 'tt');
    const ledger = Ledger.open(dir);
    const b = ledger.create({ title: 'Tracked in git' });
    ledger.transaction((tx) => tx.update(b.id, { status: 'in_progress' }), { actor: 'alice' });
    const first = flushLedgerCommits(dir);
    expect(first).toMatchObject({ committed: true, changes: 2 });
    const log = git(root, 'log', '-p', '--format=%an|%s%n%b');
    expect(log).toContain(`create ${b.id} "Tracked in git"`);
    expect(log).toContain(`update ${b.id} status: open → in_progress`);
    expect(log).toContain('+{"_type":"issue"');
    // Nothing pending: no empty commit.
    expect(flushLedgerCommits(dir)).toMatchObject({ committed: false });
    ledger.transaction((tx) => tx.close(b.id, { reason: 'done' }), { actor: 'bob' });
    expect(flushLedgerCommits(dir).committed).toBe(true);
    expect(git(root, 'log', '-1', '--format=%an <%ae>|%s')).toBe(`bob <bob@localhost>|bd: close ${b.id}: done\n`);
    expect(git(root, 'status', '--porcelain')).toBe('');
  });

  it('does nothing outside a git work tree', () => {
    const root = mkdtempSync(join(tmpdir(), 'beads-nogit-'));
    initLedger(join(root, '.beads'), 'tt');
    Ledger.open(join(root, '.beads')).create({ title: 'x' });
    expect(flushLedgerCommits(join(root, '.beads'))).toEqual({ committed: false, changes: 0 });
  });

  it('summarises a batch from several actors', () => {
    const msg = commitMessage([
      { actor: 'a', changes: ['create tt-1 "x"'], at: '' },
      { actor: 'b', changes: ['close tt-1'], at: '' },
    ]);
    expect(msg).toBe('bd: 2 changes by a, b\n\n- a: create tt-1 "x"\n- b: close tt-1\n');
  });
});
