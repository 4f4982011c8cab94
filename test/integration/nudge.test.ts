import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { makeRemote, makeTown, waitFor, type TestTown } from '../helpers/town.js';

/**
 * gt mayor / nudge / peek / broadcast against real tmux. Each town gets a private tmux server
 * (GT_TMUX_SOCKET) so tests never touch a person's sessions or each other's.
 */

interface Town extends TestTown {
  socket: string;
  agent: string;
  tmux(...args: string[]): { code: number; stdout: string };
}

const towns: Town[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) {
    t.tmux('kill-server');
    t.stop();
  }
});

/** An agent that says who it is, then echoes every line typed into it. */
const ECHO_AGENT = `#!/bin/sh
echo "agent up: role=$GT_ROLE actor=$BD_ACTOR cwd=$(pwd)"
while IFS= read -r line; do echo "heard: $line"; done
`;

function town(): Town {
  const t = makeTown() as Town;
  t.socket = `gt-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  t.env.GT_TMUX_SOCKET = t.socket;
  t.tmux = (...args) => {
    const r = spawnSync('tmux', ['-L', t.socket, ...args], { encoding: 'utf8' });
    return { code: r.status ?? -1, stdout: r.stdout ?? '' };
  };
  towns.push(t);
  const bin = tempDir('gt-agent-');
  const agent = join(bin, 'echo-agent');
  writeFileSync(agent, ECHO_AGENT);
  chmodSync(agent, 0o755);
  t.agent = agent;
  expect(t.gt(['config', 'agent', 'set', 'echoer', agent]).code).toBe(0);
  return t;
}

function withRig(t: Town): void {
  const remote = makeRemote();
  expect(t.gt(['rig', 'add', 'myrig', remote, '--prefix', 'my']).code).toBe(0);
}

const screen = (t: Town, session: string) => t.tmux('capture-pane', '-p', '-J', '-t', `=${session}:`).stdout;

describe('gt mayor, nudge, peek, broadcast', () => {
  it('the Mayor runs in tmux session gt-mayor in the town root; nudge types into it, peek shows it', async () => {
    const t = town();
    const start = t.gt(['mayor', 'start', '--agent', 'echoer']);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(t.tmux('has-session', '-t', '=gt-mayor').code).toBe(0);
    await waitFor(() => screen(t, 'gt-mayor').includes('agent up'), 10_000, 'the Mayor to start');
    const first = screen(t, 'gt-mayor');
    expect(first).toContain('role=mayor actor=mayor');
    expect(first).toContain(`cwd=${t.root}`);

    const again = t.gt(['mayor', 'start', '--agent', 'echoer']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running/);

    const nudge = t.gt(['nudge', 'mayor', 'check your mail, please']);
    expect(nudge).toMatchObject({ code: 0, stderr: '' });
    await waitFor(() => screen(t, 'gt-mayor').includes('heard: check your mail, please'), 10_000, 'the nudge to arrive');
    // Quotes, dollars and semicolons arrive as typed: nothing is run by a shell.
    expect(t.gt(['nudge', 'mayor', `it's $HOME; "done"`]).code).toBe(0);
    await waitFor(() => screen(t, 'gt-mayor').includes(`heard: it's $HOME; "done"`), 10_000, 'the literal nudge');

    const peek = t.gt(['peek', 'mayor', '-n', '3']);
    expect(peek.code).toBe(0);
    expect(peek.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(peek.stdout).toContain(`heard: it's $HOME; "done"`);
    const peekJson = JSON.parse(t.gt(['peek', 'mayor', '--json']).stdout);
    expect(peekJson).toMatchObject({ agent: 'mayor', session: 'gt-mayor', source: 'tmux' });
    expect(peekJson.text).toContain('agent up');

    const stop = t.gt(['mayor', 'stop']);
    expect(stop.code).toBe(0);
    expect(t.tmux('has-session', '-t', '=gt-mayor').code).not.toBe(0);
    // After it stopped, peek falls back to what its pane wrote to the log.
    const after = t.gt(['peek', 'mayor']);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('heard: check your mail, please');
    expect(after.stderr).toMatch(/no tmux session/);
  });

  it('nudge to an agent whose session is gone: clear error, exit 1', () => {
    const t = town();
    const r = t.gt(['nudge', 'mayor', 'hello']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mayor is not running: there is no tmux session gt-mayor/);
    expect(r.stdout).toBe('');
    const stop = t.gt(['mayor', 'stop']);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toMatch(/the Mayor is not running/);
    const peek = t.gt(['peek', 'mayor']);
    expect(peek.code).toBe(1);
    expect(peek.stderr).toMatch(/not running and has no log/);
  });

  it('polecats: nudge and broadcast reach live sessions; peek reads a headless polecat\'s log', async () => {
    const t = town();
    withRig(t);
    for (const name of ['toast', 'nux', 'slit']) mkdirSync(join(t.root, 'myrig', 'polecats', name), { recursive: true });
    // Sessions as the polecat side names them: <rig prefix>-<name>.
    for (const name of ['toast', 'nux']) {
      expect(t.tmux('new-session', '-d', '-s', `my-${name}`, '-e', `GT_ROLE=polecat`, '-e', `BD_ACTOR=myrig/polecats/${name}`, '--', '/bin/sh', '-c', 'exec "$@"', 'x', t.agent).code).toBe(0);
    }
    await waitFor(() => screen(t, 'my-toast').includes('agent up') && screen(t, 'my-nux').includes('agent up'), 10_000, 'polecat sessions');
    expect(t.gt(['mayor', 'start', '--agent', 'echoer']).code).toBe(0);

    expect(t.gt(['nudge', 'myrig/polecats/toast', 'rebase', 'onto', 'main']).code).toBe(0);
    await waitFor(() => screen(t, 'my-toast').includes('heard: rebase onto main'), 10_000, 'the nudge to toast');
    expect(screen(t, 'my-nux')).not.toContain('rebase onto main');

    const b = t.gt(['broadcast', 'stand by', '--json']);
    expect(b.code).toBe(0);
    const result = JSON.parse(b.stdout);
    expect(result.nudged.sort()).toEqual(['mayor', 'myrig/polecats/nux', 'myrig/polecats/toast']);
    expect(result.failed).toEqual([]);
    for (const s of ['gt-mayor', 'my-toast', 'my-nux']) {
      await waitFor(() => screen(t, s).includes('heard: stand by'), 10_000, `broadcast to ${s}`);
    }

    // slit runs headless: its output is in its log.
    const log = join(t.root, '.gt', 'logs', 'polecats', 'myrig', 'slit.log');
    mkdirSync(join(log, '..'), { recursive: true });
    writeFileSync(log, Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');
    const peek = t.gt(['peek', 'myrig/slit', '-n', '2']);
    expect(peek.code).toBe(0);
    expect(peek.stdout).toBe('line 49\nline 50\n');
    const nudge = t.gt(['nudge', 'myrig/polecats/slit', 'hi']);
    expect(nudge.code).toBe(1);
    expect(nudge.stderr).toMatch(/no tmux session my-slit[\s\S]*gt mail send myrig\/polecats\/slit/);
  });

  it('broadcast with nobody running says so', () => {
    const t = town();
    const r = t.gt(['broadcast', 'anyone?']);
    expect(r).toMatchObject({ code: 0, stdout: 'No running agents to nudge.\n' });
  });

  it('refuses bad input with a clear message, a non-zero exit and nothing started', () => {
    const t = town();
    withRig(t);
    const cases: Array<[string[], number, RegExp]> = [
      [['nudge', 'mayor', '  '], 2, /message is empty/],
      [['nudge', 'mayor', 'stop\u0003now'], 2, /control characters/],
      [['nudge', 'nobody', 'hi'], 2, /"nobody" is not a mail address/],
      [['nudge', 'myrig/polecats/ghost', 'hi'], 1, /no polecat named "ghost"/],
      [['nudge', 'norig/polecats/x', 'hi'], 1, /no rig named "norig"/],
      [['nudge', 'mayor'], 2, /missing required argument 'message'/],
      [['peek', 'mayor', '-n', 'abc'], 2, /--lines "abc" is not a number/],
      [['peek', 'mayor', '-n', '0'], 2, /--lines "0"/],
      [['peek', 'myrig/crew/bob'], 1, /no crew member named "bob"/],
      [['broadcast', ''], 2, /message is empty/],
      [['mayor', 'start', '--agent', 'nosuchagent'], 1, /unknown agent "nosuchagent"/],
      [['mayor', 'start', '--agent', 'gone'], 1, /runs "\/nonexistent\/agent-bin", which is not on PATH/],
      [['mayor', 'attach', '--agent', 'echoer'], 1, /needs a terminal/],
    ];
    expect(t.gt(['config', 'agent', 'set', 'gone', '/nonexistent/agent-bin']).code).toBe(0);
    for (const [args, code, message] of cases) {
      const r = t.gt(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    // Nothing was started by any refusal.
    expect(t.tmux('list-sessions').code).not.toBe(0);
  });
});
