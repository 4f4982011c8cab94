import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capturePane, tmux } from '../../src/activities/tmux.js';

/**
 * Screens asked for at once are captured by one tmux run (see capturePane): each caller must
 * still get its own session's screen, and a session that is gone must fail only its own callers.
 */
const root = mkdtempSync(join(tmpdir(), 'gt-screens-'));
afterAll(async () => {
  await tmux(root, ['kill-server']).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function startSession(name: string, text: string): Promise<void> {
  await tmux(root, ['new-session', '-d', '-s', name, '-x', '80', '-y', '10', '--', '/bin/sh', '-c', `printf '%s\\n' '${text}'; sleep 60`]);
}

describe('capturePane', () => {
  it('answers each of many callers at once with its own session’s screen; a session that is gone fails only its own', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `screen-${i}`);
    for (const [i, name] of names.entries()) await startSession(name, `this is screen number ${i}`);
    // Wait until every pane shows its line.
    for (let tries = 0; ; tries++) {
      const shown = await Promise.all(names.map((n) => capturePane(root, n)));
      if (shown.every((s, i) => s.includes(`this is screen number ${i}`))) break;
      if (tries > 100) throw new Error(`panes never showed their text: ${JSON.stringify(shown)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let round = 0; round < 5; round++) {
      // Asked all at once, a missing session in the middle, some sessions asked twice.
      const asked = [...names.slice(0, 6), 'no-such-session', ...names.slice(6), names[3]!, names[9]!];
      const results = await Promise.allSettled(asked.map((n) => capturePane(root, n)));
      results.forEach((r, k) => {
        const name = asked[k]!;
        if (name === 'no-such-session') {
          expect(r.status).toBe('rejected');
          return;
        }
        expect(r.status).toBe('fulfilled');
        const screen = (r as PromiseFulfilledResult<string>).value;
        const i = Number(name.split('-')[1]);
        expect(screen).toContain(`this is screen number ${i}`);
        for (let j = 0; j < names.length; j++) if (j !== i) expect(screen).not.toContain(`this is screen number ${j}\n`);
        expect(screen).not.toMatch(/--gt-screen-/);
      });
    }
  });
});
