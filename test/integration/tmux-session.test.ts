import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newSession, panePid, sendText, tmux } from '../../src/activities/tmux.js';

/**
 * A session is started with its log pipe and its pid in one tmux run (newSession): the log must
 * hold what the command prints at once, and words ending in ";" (which tmux takes for a command
 * separator) must reach the command as they were.
 */
const root = mkdtempSync(join(tmpdir(), 'gt-session-'));
afterAll(async () => {
  await tmux(root, ['kill-server']).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function until<T>(what: string, look: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = look();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

describe('newSession', () => {
  it('logs a command’s first bytes, returns its pid, and passes words ending in ";" intact', async () => {
    const sessions = Array.from({ length: 8 }, (_, i) => `first-${i}`);
    const pids = await Promise.all(
      sessions.map((session) =>
        newSession(root, {
          session,
          cwd: root,
          env: { PATH: process.env.PATH!, PROMPT_COMMAND: 'history -a;', WORD: session },
          // Prints at once, then its arguments and environment, one per line.
          argv: ['/bin/sh', '-c', 'echo "start of $WORD"; printf "arg[%s]\\n" "$@"; echo "env[$PROMPT_COMMAND]"; exec sleep 60', 'sh', 'one;', 'two\\;', 'a ; b'],
          logFile: join(root, `${session}.log`),
        }),
      ),
    );
    for (const [i, session] of sessions.entries()) {
      const log = join(root, `${session}.log`);
      const text = await until(`${session}'s log`, () => (read(log).includes('env[') ? read(log) : undefined));
      // The very first line the command printed is in the log.
      expect(text.split('\n')[0]!.trim()).toBe(`start of ${session}`);
      expect(text).toContain('arg[one;]');
      expect(text).toContain('arg[two\\;]');
      expect(text).toContain('arg[a ; b]');
      expect(text).toContain('env[history -a;]');
      expect(await panePid(root, session)).toBe(pids[i]);
    }
  });

  it('types text ending in ";" as it is', async () => {
    const log = join(root, 'typed.log');
    await newSession(root, { session: 'typed', cwd: root, env: { PATH: process.env.PATH! }, argv: ['/bin/sh', '-c', 'read line; echo "got[$line]"; exec sleep 60'], logFile: log });
    await sendText(root, 'typed', 'echo one;');
    const text = await until('the typed line', () => (read(log).includes('got[') ? read(log) : undefined));
    expect(text).toContain('got[echo one;]');
  });

  it('fails with what tmux said when the session exists already, and leaves that session alone', async () => {
    const pid = await newSession(root, { session: 'taken', cwd: root, env: { PATH: process.env.PATH! }, argv: ['/bin/sh', '-c', 'exec sleep 60'] });
    await expect(newSession(root, { session: 'taken', cwd: root, env: { PATH: process.env.PATH! }, argv: ['/bin/sh', '-c', 'exec sleep 60'] })).rejects.toThrow(/duplicate session/);
    expect(await panePid(root, 'taken')).toBe(pid);
  });
});
