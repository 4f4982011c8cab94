import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { PROJECT } from '../helpers/cli.js';
import { waitFor } from '../helpers/town.js';
import { makeRigTown, type RigTown } from './polecat-helpers.js';

/**
 * `gt feed` for real: the TUI runs in a tmux session of its own (a private tmux server), a town
 * with the scripted agent works beads, and what the screen shows is read with capture-pane.
 */
const towns: RigTown[] = [];
const servers: string[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) spawnSync('tmux', ['-L', s, 'kill-server'], { stdio: 'ignore' });
  for (const t of towns.splice(0)) t.cleanup();
});

/** The polecat a bead was slung to, from the town's events. */
/**
 * Wait until the polecat's workflow is idle: until then it may still be stopping its last session,
 * which would also stop a session of the same name made by the test.
 */
async function untilIdle(t: RigTown, name: string): Promise<void> {
  await waitFor(() => {
    const r = spawnSync(findTemporalCli(), ['workflow', 'query', '--address', inject('temporalAddress'), '-w', `polecat/${t.rig}/${name}`, '--type', 'polecatState', '-o', 'json'], { encoding: 'utf8' });
    return r.status === 0 && (JSON.parse(r.stdout) as { queryResult: { status: string }[] }).queryResult[0]?.status === 'idle';
  }, 60_000, `polecat ${name} to be idle`);
}

function polecatOf(t: RigTown, bead: string): string | undefined {
  const line = t.gt(['log', '--json', '--bead', bead, '--type', 'sling']).stdout.trim().split('\n')[0];
  return line ? (JSON.parse(line) as { polecat?: string }).polecat?.split('/').at(-1) : undefined;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Start `gt feed <args>` in a 200x50 tmux pane; returns how to read the screen and type. */
function startFeed(t: RigTown, args: string[] = []) {
  const socket = `${t.env.GT_TMUX_SOCKET}-feed`;
  servers.push(socket);
  const exitFile = join(t.root, '..', 'feed.exit');
  const script = join(t.root, '..', 'run-feed.sh');
  const env = Object.entries(t.env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  writeFileSync(script, `#!/bin/sh\ncd ${quote(t.root)}\nenv ${env} ${quote(process.execPath)} ${quote(join(PROJECT, 'bin', 'gt.js'))} feed ${args.map(quote).join(' ')}\necho $? > ${quote(exitFile)}\nsleep 30\n`);
  const tmux = (...a: string[]) => spawnSync('tmux', ['-L', socket, ...a], { encoding: 'utf8' });
  const r = tmux('new-session', '-d', '-s', 'feed', '-x', '200', '-y', '50', `sh ${quote(script)}`);
  if (r.status !== 0) throw new Error(`tmux new-session: ${r.stderr}`);
  return {
    screen: () => tmux('capture-pane', '-p', '-t', 'feed').stdout,
    /** The line drawn in reverse video (the cursor of the focused panel), without its escapes. */
    cursorLine: () => {
      const line = tmux('capture-pane', '-p', '-e', '-t', 'feed').stdout.split('\n').find((l) => /\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m/.test(l));
      // eslint-disable-next-line no-control-regex
      return line?.replace(/\x1b\[[0-9;]*m/g, '');
    },
    keys: (...k: string[]) => void tmux('send-keys', '-t', 'feed', ...k),
    type: (text: string) => void tmux('send-keys', '-t', 'feed', '-l', text),
    /** Wait until the screen satisfies `ok`; on a timeout, say what the screen showed. */
    see: async (ok: (screen: string) => boolean, timeoutMs: number, what: string) => {
      try {
        await waitFor(() => ok(tmux('capture-pane', '-p', '-t', 'feed').stdout), timeoutMs, what);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- screen ---\n${tmux('capture-pane', '-p', '-t', 'feed').stdout}`);
      }
    },
    exitCode: () => (existsSync(exitFile) ? Number(readFileSync(exitFile, 'utf8').trim()) : undefined),
  };
}

describe('gt feed', { timeout: 300_000 }, () => {
  it('the TUI shows polecats, the convoy, the merge queue and new events; every key works; q quits', async () => {
    const t = makeRigTown();
    towns.push(t);
    t.env.SCRIPTED_AGENT_SLOW_MS = '120000';
    expect(t.gt(['up']).code).toBe(0);
    const feed = startFeed(t);
    await feed.see((s) => s.includes('▶ Agents'), 30_000, 'the feed to draw');
    expect(feed.screen()).toContain(`${t.rig} (0/0 working)`);

    const quick = t.create('Quick one');
    const slow = t.create('Slow one', 'slow');
    const sling = t.gt(['sling', quick, slow, t.rig]);
    expect(sling.code, sling.stderr).toBe(0);
    const convoy = /hq-cv-[a-z0-9]+/.exec(sling.stdout + sling.stderr)?.[0];
    expect(convoy, sling.stdout).toBeDefined();

    // The slow bead's polecat works; the quick one is merged; the convoy counts it.
    const slowPolecat = () => t.bead(slow).assignee?.split('/').at(-1);
    await waitFor(() => t.bead(quick).status === 'closed' && slowPolecat(), 120_000, 'the quick bead merged');
    const name = slowPolecat()!;
    await feed.see((s) => {
      return new RegExp(`${name} +working +${slow} +#1/3 +tmux`).test(s) && s.includes(`${convoy}`) && s.includes('1/2') && /merged +\S+ +polecat\//.test(s) && s.includes('merge.merged');
    }, 30_000, 'agents, convoy, merge queue and events on screen');
    const screen = feed.screen();
    expect(screen).toMatch(/sling +tester/);
    expect(screen).toMatch(/session\.start/);

    // tab moves the focus from panel to panel
    feed.keys('Tab');
    await feed.see((s) => s.includes('▶ Convoys'), 5_000, 'focus on convoys');
    feed.keys('Tab');
    await feed.see((s) => s.includes('▶ Merge queue'), 5_000, 'focus on the merge queue');
    feed.keys('Tab');
    await feed.see((s) => s.includes('▶ Events'), 5_000, 'focus on events');
    feed.keys('Tab');
    await feed.see((s) => s.includes('▶ Agents'), 5_000, 'focus back on agents');

    // / filters every panel; Esc clears
    feed.type(`/${slow}`);
    await feed.see((s) => s.includes(`/${slow}█`), 5_000, 'the filter prompt');
    feed.keys('Enter');
    await feed.see((s) => {
      return s.includes(`filter "${slow}"`) && !s.match(new RegExp(`${quick} +polecat/`)) && s.includes(slow);
    }, 5_000, 'the filter applied');
    feed.type('/');
    await feed.see((s) => s.includes(`/${slow}█`), 5_000, 'the filter prompt again');
    feed.keys('Escape');
    await feed.see((s) => !s.includes('filter "') && s.includes('? help  q quit'), 5_000, 'the filter cleared');

    // ? shows the help, any key closes it
    feed.type('?');
    await feed.see((s) => s.includes('gt feed keys'), 5_000, 'the help');
    feed.type('x');
    await feed.see((s) => s.includes('▶ Agents'), 5_000, 'the help closed');

    // j/k and the arrows move the cursor in the focused panel: from the rig's line to its polecats and back.
    await waitFor(() => feed.cursorLine()?.includes(`${t.rig} (`), 5_000, 'the cursor on the rig line');
    feed.type('j');
    await waitFor(() => / working | idle /.test(feed.cursorLine() ?? ''), 5_000, 'the cursor on a polecat');
    const firstPolecat = feed.cursorLine()!.trim().split(/\s+/)[1];
    feed.keys('Down');
    await waitFor(() => / working | idle /.test(feed.cursorLine() ?? '') && feed.cursorLine()!.trim().split(/\s+/)[1] !== firstPolecat, 5_000, 'the cursor on the next polecat');
    feed.type('k');
    feed.keys('Up');
    await waitFor(() => feed.cursorLine()?.includes(`${t.rig} (`), 5_000, 'the cursor back on the rig line');

    // Select the slow polecat: filter on its name (its row is then the first).
    feed.type(`/${name}`);
    feed.keys('Enter');
    await feed.see((s) => s.includes(`filter "${name}"`), 5_000, 'the filter on the polecat');
    await waitFor(() => feed.cursorLine()?.includes(name), 5_000, 'the cursor on the slow polecat');
    // n nudges the selected agent: the text reaches its tmux session
    feed.type('n');
    await feed.see((s) => s.includes(`nudge ${t.rig}/polecats/${name}: █`), 5_000, 'the nudge prompt');
    feed.type('hello from the feed');
    feed.keys('Enter');
    await feed.see((s) => s.includes(`nudged ${t.rig}/polecats/${name}`), 10_000, 'the nudge sent');
    const agentPane = () => spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'capture-pane', '-p', '-t', `=${t.prefix}-${name}:`], { encoding: 'utf8' }).stdout;
    await waitFor(() => agentPane().includes('hello from the feed'), 10_000, 'the nudge in the agent\'s pane');

    // Enter attaches to the agent's session; detaching comes back to the feed
    feed.keys('Enter');
    await feed.see((s) => !s.includes('▶ Agents') && s.includes('hello from the feed'), 10_000, 'attached to the agent');
    feed.keys('C-b', 'd');
    await feed.see((s) => s.includes(`back from ${t.prefix}-${name}`) && s.includes('▶ Agents'), 10_000, 'back in the feed');

    // h asks the polecat's workflow for a handoff: a second session starts
    feed.type('h');
    await feed.see((s) => s.includes(`handoff of ${t.rig}/polecats/${name} accepted`), 20_000, 'the handoff accepted');
    await feed.see((s) => new RegExp(`${name} +working +${slow} +#2/3`).test(s), 30_000, 'session 2 on screen');

    // p shows problems: a tmux session of an idle polecat is a zombie
    const idle = polecatOf(t, quick) ?? '';
    expect(idle).not.toBe(name);
    await untilIdle(t, idle);
    expect(spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'new-session', '-d', '-s', `${t.prefix}-${idle}`, 'sleep 600']).status).toBe(0);
    feed.type('/');
    feed.keys('Escape');
    await feed.see((s) => !s.includes('filter "'), 5_000, 'no filter');
    feed.type('p');
    await feed.see((s) => s.includes('▶ Problems') && new RegExp(`zombie +${t.prefix}-${idle} +tmux session ${t.prefix}-${idle} runs but`).test(s), 15_000, 'the zombie in the problems panel');
    feed.type('p');
    await feed.see((s) => !s.includes('Problems (') && s.includes('▶ Agents'), 5_000, 'problems hidden again');

    feed.type('q');
    await waitFor(() => feed.exitCode() !== undefined, 10_000, 'gt feed to exit');
    expect(feed.exitCode()).toBe(0);
  });

  it('--plain and --json print the events and follow them; --problems --json prints problems', async () => {
    const t = makeRigTown();
    towns.push(t);
    const first = t.create('First');
    expect(t.gt(['sling', first, t.rig, '--no-convoy']).code).toBe(0);
    await waitFor(() => t.bead(first).status === 'closed', 120_000, 'the first bead merged');

    const follow = (args: string[]) => {
      const p = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'feed', ...args], { cwd: t.root, env: { ...process.env, ...t.env } });
      let out = '';
      p.stdout.on('data', (d) => (out += String(d)));
      return { p, out: () => out };
    };
    const p = follow(['--plain', '--since', '1d']);
    const j = follow(['--json', '--rig', t.rig]);
    let late = '';
    try {
      await waitFor(() => p.out().includes('merge.merged') && j.out().includes('merge.merged'), 15_000, 'the past events');
      expect(p.out()).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  sling +tester  ${first}`, 'm'));
      const events = j.out().trim().split('\n').map((l) => JSON.parse(l) as { type: string; bead?: string; rig?: string });
      expect(events.every((e) => e.rig === t.rig)).toBe(true);
      expect(events.map((e) => e.type)).toContain('merge.merged');

      late = t.create('Late');
      expect(t.gt(['sling', late, t.rig, '--no-convoy']).code).toBe(0);
      await waitFor(() => p.out().includes(late) && j.out().includes(late), 30_000, 'the new sling followed');
      expect(j.out().trim().split('\n').every((l) => JSON.parse(l))).toBeTruthy();
    } finally {
      p.p.kill('SIGINT');
      j.p.kill('SIGINT');
    }

    // Break the town for real: a session of an idle polecat, a bead hooked to a polecat with no workflow.
    await waitFor(() => t.bead(late).status === 'closed', 120_000, 'the late bead merged');
    const idle = polecatOf(t, first) ?? '';
    await untilIdle(t, idle);
    expect(spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'new-session', '-d', '-s', `${t.prefix}-${idle}`, 'sleep 600']).status).toBe(0);
    const orphan = t.create('Orphaned');
    expect(t.bd(['update', orphan, '--status', 'hooked', '--assignee', `${t.rig}/polecats/ghost`]).code).toBe(0);
    const problems = t.gt(['feed', '--problems', '--json']);
    expect(problems.code, problems.stderr).toBe(0);
    const found = problems.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; subject: string; why: string });
    expect(found).toEqual(expect.arrayContaining([
      { kind: 'zombie', subject: `${t.prefix}-${idle}`, agent: `${t.rig}/polecats/${idle}`, why: `tmux session ${t.prefix}-${idle} runs but ${t.rig}/polecats/${idle} is idle (no bead being worked)` },
      { kind: 'zombie', subject: orphan, agent: `${t.rig}/polecats/ghost`, why: `${orphan} is hooked to ${t.rig}/polecats/ghost but no polecat workflow is behind it (gt unsling ${orphan})` },
    ]));
    const plainProblems = t.gt(['feed', '--problems', '--plain', '--rig', t.rig]);
    expect(plainProblems.stdout).toMatch(new RegExp(`^zombie +${orphan} +${orphan} is hooked`, 'm'));
  });

  it('--problems: stalled, waiting on a person (a human gate, a --human convoy) and blocked after attempts, each with why', async () => {
    // A long nudge grace: a silent agent stays stalled (nudged, not yet restarted) long enough to be seen.
    const t = makeRigTown({ thresholds: { nudge_grace: '120s' } });
    towns.push(t);
    t.writeFormula('gated', `
formula = "gated"
[[steps]]
id = "approve"
title = "Approve the release"
gate = { type = "human" }
[[steps]]
id = "ship"
title = "Ship"
needs = ["approve"]
run = "echo shipped > shipped.txt"
`);
    const cooked = t.bd(['cook', 'gated', '--detach']);
    expect(cooked.code, cooked.stderr).toBe(0);
    const molecule = cooked.stdout.trim();
    const reviewed = t.create('Needs a look');
    const created = t.gt(['convoy', 'create', 'Reviewed work', reviewed, '--human', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const convoy = (JSON.parse(created.stdout) as { convoy: string }).convoy;
    const doomed = t.create('Always crashes', 'crash-always');
    const silent = t.create('Goes silent', 'hang-always');
    expect(t.gt(['sling', doomed, silent, t.rig, '--no-convoy']).code).toBe(0);

    type P = { kind: string; subject: string; why: string };
    const problems = () => t.gt(['feed', '--problems', '--json']).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as P);
    const found = await waitFor(() => {
      const ps = problems();
      const gate = ps.find((p) => p.kind === 'waiting' && p.why.includes(molecule));
      const human = ps.find((p) => p.kind === 'waiting' && p.subject === convoy);
      const blocked = ps.find((p) => p.kind === 'blocked' && p.subject === doomed);
      const stalled = ps.find((p) => p.kind === 'stalled' && p.why.includes(silent) && p.why.startsWith('nudged'));
      return gate && human && blocked && stalled ? { gate, human, blocked, stalled } : undefined;
    }, 180_000, 'a waiting gate, a convoy awaiting approval, a blocked bead and a stalled agent');
    expect(found.stalled.why).toMatch(new RegExp(`^nudged \\d+s ago after no progress for 4s \\(stall_timeout\\) on ${silent}, still silent; its session is restarted after nudge_grace \\(session 1 of 3\\)$`));
    expect(found.gate.why).toMatch(new RegExp(`^gate "approve" of ${molecule} waits for approval: bd gate approve ${found.gate.subject}`));
    expect(found.human.why).toBe(`convoy "Reviewed work" (--human) awaits approval: gt convoy approve ${convoy}`);
    expect(found.blocked.why).toMatch(/^"Always crashes" is blocked: .+/);

    // gt feed --problems opens the TUI on them.
    const feed = startFeed(t, ['--problems']);
    await feed.see((s) => s.includes('▶ Problems') && new RegExp(`blocked +${doomed} +"Always crashes" is blocked`).test(s) && new RegExp(`waiting +${convoy} `).test(s), 30_000, 'the TUI on the problems');
    feed.type('q');
    await waitFor(() => feed.exitCode() !== undefined, 10_000, 'gt feed to exit');
  });

  it('refuses bad input and changes nothing', () => {
    const t = makeRigTown();
    towns.push(t);
    const events = join(t.root, '.gt', 'events.jsonl');
    const ledger = join(t.root, t.rig, '.beads', 'issues.jsonl');
    const before = [existsSync(events) ? readFileSync(events, 'utf8') : null, existsSync(ledger) ? readFileSync(ledger, 'utf8') : null];
    for (const [args, code, pattern] of [
      [['feed', '--since', 'garbage'], 2, /--since "garbage" is neither a duration nor a date/],
      [['feed', '--plain', '--since', 'garbage'], 2, /--since "garbage"/],
      [['feed', '--rig', 'unknown'], 1, /no rig named "unknown"/],
      [['feed', '--plain', '--json'], 2, /--plain and --json exclude each other/],
      [['feed'], 2, /gt feed draws in a terminal.*\n.*--plain/],
    ] as [string[], number, RegExp][]) {
      const r = t.gt(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    expect([existsSync(events) ? readFileSync(events, 'utf8') : null, existsSync(ledger) ? readFileSync(ledger, 'utf8') : null]).toEqual(before);
  });
});
