import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('ledger history in a git town', () => {
  it('creates and updates reach git log -p with the actor, without any explicit commit', async () => {
    const base = tempDir('bd-git-');
    expect(runCli('gt', ['install', 'town', '--git'], { cwd: base }).code).toBe(0);
    const town = join(base, 'town');
    const bd = (actor: string, ...args: string[]) => {
      const r = runCli('bd', [...args, '--json'], { cwd: town, env: { BD_ACTOR: actor, BD_COMMIT_DELAY_MS: '300' } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout);
    };
    const bead = bd('mayor', 'create', 'Ship the release', '-p', '1');
    // Commits are batched: a change may land in the body of a commit with several changes.
    const history = () => git(town, 'log', '--format=%s%n%b');
    await waitFor(() => history().includes(bead.id), 20_000);
    bd('furiosa', 'update', bead.id, '--claim');
    bd('furiosa', 'close', bead.id, '-r', 'shipped');
    await waitFor(() => history().includes(`close ${bead.id}`), 20_000);

    const log = git(town, 'log', '-p', '--format=AUTHOR %an%nSUBJECT %s%n%b');
    expect(log).toMatch(new RegExp(`AUTHOR mayor\\nSUBJECT bd: create ${bead.id} "Ship the release"`));
    expect(log).toMatch(/AUTHOR furiosa/);
    expect(log).toContain(`claim ${bead.id} for furiosa`);
    expect(log).toContain(`close ${bead.id}: shipped`);
    // The diff itself shows the change.
    expect(log).toMatch(new RegExp(`\\+\\{"_type":"issue","id":"${bead.id}".*"status":"closed"`));
    // Runtime files stay out of history and out of `git status`.
    await waitFor(() => git(town, 'status', '--porcelain') === '', 20_000);
    expect(git(town, 'ls-files', '.beads').trim().split('\n').sort()).toEqual(['.beads/.gitignore', '.beads/config.json', '.beads/events.jsonl', '.beads/issues.jsonl']);
  }, 60_000);
});
