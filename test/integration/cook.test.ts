import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { runCli } from '../helpers/cli.js';
import { makeTown, pidOf, waitFor, type TestTown } from '../helpers/town.js';
import { Worker } from '@temporalio/worker';
import { PROJECT } from '../helpers/cli.js';
import { fetchHistory, maybeRecordHistory } from '../helpers/histories.js';

/** Replay a finished run's history against the current bundle at once (and keep it when recording). */
async function replayNow(workflowId: string, name: string): Promise<void> {
  maybeRecordHistory(workflowId, name);
  await Worker.runReplayHistory({ workflowBundle: { codePath: join(PROJECT, 'dist', 'workflow-bundle.js') } }, fetchHistory(workflowId));
}

/** `bd cook` end to end: the built CLI, a real worker process, the test run's Temporal server. */

const towns: TestTown[] = [];
function town(): TestTown {
  const t = makeTown();
  towns.push(t);
  return t;
}
afterEach(() => {
  for (const t of towns.splice(0)) t.stop();
});

interface Bead {
  id: string;
  status: string;
  close_reason?: string;
  labels?: string[];
  comments?: { text: string }[];
}

const DIAMOND = `
formula = "diamond"
description = "a -> (b, c) -> d"
[vars.name]
required = true
[[steps]]
id = "a"
title = "Start {{name}}"
run = "echo a >> log.txt"
[[steps]]
id = "b"
title = "Left"
needs = ["a"]
run = "echo b >> log.txt"
[[steps]]
id = "c"
title = "Right"
needs = ["a"]
run = "echo c >> log.txt"
[[steps]]
id = "d"
title = "Join"
needs = ["b", "c"]
run = "echo d >> log.txt"
`;

describe('bd cook', () => {
  it('runs a DAG to success, step beads mirror it, exit 0', async () => {
    const t = town();
    t.writeFormula('diamond', DIAMOND);
    const r = t.bd(['cook', 'diamond', '--var', 'name=x']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/succeeded/);
    const lines = readFileSync(join(t.root, 'log.txt'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('a');
    expect(lines[3]).toBe('d');
    expect(lines.slice(1, 3).sort()).toEqual(['b', 'c']);
    const molecule = r.stdout.match(/^(\S+): succeeded$/m)![1]!;
    const shown = t.bdJson<{ status: string; steps: { id: string; bead: string; status: string }[] }>(['mol', 'show', molecule]);
    expect(shown.status).toBe('succeeded');
    for (const s of shown.steps) {
      expect(s.status).toBe('succeeded');
      expect(t.bdJson<Bead[]>(['show', s.bead])[0]!.status).toBe('closed');
    }
    expect(t.bdJson<Bead[]>(['show', molecule])[0]!.status).toBe('closed');
    // "All succeeded runs of diamond" is one query (search attributes), and the memo keeps the vars.
    const listed = await waitFor(() => {
      const out = execFileSync(findTemporalCli(), ['workflow', 'list', '--address', inject('temporalAddress'), '-o', 'json', '--query', `GtKind="formula" AND GtFormula="diamond" AND GtStatus="succeeded" AND WorkflowId="${molecule}"`], { encoding: 'utf8' });
      return out.includes(molecule) ? out : undefined;
    }, 30_000, 'the run in a visibility query');
    expect(listed).toContain('moleculeWorkflow');
    await replayNow(molecule, 'molecule-dag');
  });

  it('a failed step fails its dependents, independent branches go on, exit 1', async () => {
    const t = town();
    t.writeFormula('diamond', DIAMOND.replace('run = "echo b >> log.txt"', 'run = "echo broken >&2; exit 3"'));
    const r = t.bd(['cook', 'diamond', '--var', 'name=x', '--json']);
    expect(r.code).toBe(1);
    const state = JSON.parse(r.stdout) as { molecule: string; status: string; steps: { id: string; bead: string; status: string; reason?: string }[] };
    expect(state.status).toBe('failed');
    const byId = Object.fromEntries(state.steps.map((s) => [s.id, s]));
    expect(byId.a!.status).toBe('succeeded');
    expect(byId.b!.status).toBe('failed');
    expect(byId.b!.reason).toMatch(/exited with code 3[\s\S]*broken/);
    expect(byId.c!.status).toBe('succeeded');
    expect(byId.d!.status).toBe('not-run');
    expect(readFileSync(join(t.root, 'log.txt'), 'utf8')).not.toMatch(/^d$/m);
    const failedBead = t.bdJson<Bead[]>(['show', byId.b!.bead])[0]!;
    expect(failedBead.status).toBe('blocked');
    expect(failedBead.labels).toContain('mol:failed');
    expect(t.bdJson<Bead[]>(['show', byId.d!.bead])[0]!.status).toBe('open');
    expect(t.bdJson<Bead[]>(['show', state.molecule])[0]!.status).toBe('blocked');
    await replayNow(state.molecule, 'molecule-failed');
  });

  it('passes vars to commands as data, never as shell text', () => {
    const t = town();
    t.writeFormula('echo', `
formula = "echo"
[vars]
msg = "hello"
[[steps]]
id = "say"
title = "Say it"
run = "printf '%s' {{msg}} > said.txt"
`);
    const evil = `$(touch pwned); \`touch pwned2\` "quoted" 'single' && rm -rf / ; *`;
    const r = t.bd(['cook', 'echo', '--var', `msg=${evil}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(t.root, 'said.txt'), 'utf8')).toBe(evil);
    expect(existsSync(join(t.root, 'pwned'))).toBe(false);
    expect(existsSync(join(t.root, 'pwned2'))).toBe(false);
  });

  it('a human gate waits for `bd gate approve`, which returns a receipt', async () => {
    const t = town();
    t.writeFormula('gated', `
formula = "gated"
[[steps]]
id = "build"
title = "Build"
run = "echo built > built.txt"
[[steps]]
id = "approve"
title = "Approve the release"
needs = ["build"]
gate = { type = "human" }
[[steps]]
id = "ship"
title = "Ship"
needs = ["approve"]
run = "echo shipped > shipped.txt"
`);
    const started = t.bd(['cook', 'gated', '--detach']);
    expect(started.code).toBe(0);
    const molecule = started.stdout.trim();
    const gate = await waitFor(() => {
      const s = t.bdJson<{ steps: { id: string; bead: string; status: string }[] }>(['mol', 'show', molecule]);
      const g = s.steps.find((x) => x.id === 'approve')!;
      return g.status === 'waiting' ? g : undefined;
    }, 60_000, 'the gate to wait');
    expect(existsSync(join(t.root, 'shipped.txt'))).toBe(false);
    const listed = t.bdJson<{ bead: string }[]>(['gate', 'list']);
    expect(listed.map((g) => g.bead)).toContain(gate.bead);
    const receipt = t.bd(['gate', 'approve', gate.bead, '--json']);
    expect(receipt.stderr).toBe('');
    expect(JSON.parse(receipt.stdout)).toMatchObject({ molecule, step: 'approve', bead: gate.bead, approver: 'tester' });
    const again = t.bd(['gate', 'approve', gate.bead]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already (approved|closed)/);
    const watched = t.bd(['mol', 'watch', molecule]);
    expect(watched.code).toBe(0);
    expect(readFileSync(join(t.root, 'shipped.txt'), 'utf8')).toBe('shipped\n');
    await replayNow(molecule, 'molecule-gated');
  });

  it('a hanging step is stopped by its timeout and the run fails cleanly', async () => {
    const t = town();
    t.writeFormula('hang', `
formula = "hang"
[[steps]]
id = "stuck"
title = "Hangs"
run = "echo started > started.txt; sleep 600"
timeout = "2s"
[[steps]]
id = "after"
title = "Never"
needs = ["stuck"]
run = "echo no > after.txt"
`);
    const r = t.bd(['cook', 'hang', '--json']);
    expect(r.code).toBe(1);
    const state = JSON.parse(r.stdout) as { molecule: string; status: string; steps: { id: string; status: string; reason?: string }[] };
    expect(state.status).toBe('failed');
    expect(state.steps[0]).toMatchObject({ id: 'stuck', status: 'failed' });
    expect(state.steps[0]!.reason).toMatch(/timed out/);
    expect(state.steps[1]!.status).toBe('not-run');
    expect(existsSync(join(t.root, 'after.txt'))).toBe(false);
    await replayNow(state.molecule, 'molecule-timeout');
  });

  it('cancel stops running steps and the rest never start', async () => {
    const t = town();
    t.writeFormula('slow', `
formula = "slow"
[[steps]]
id = "long"
title = "Long"
run = "sleep 600"
[[steps]]
id = "next"
title = "Next"
needs = ["long"]
run = "touch next.txt"
`);
    const molecule = t.bd(['cook', 'slow', '--detach']).stdout.trim();
    await waitFor(() => t.bdJson<{ steps: { status: string }[] }>(['mol', 'show', molecule]).steps[0]!.status === 'running');
    const r = t.bd(['mol', 'cancel', molecule, '--json']);
    expect(r.code).toBe(0);
    const state = JSON.parse(r.stdout) as { status: string; steps: { status: string; bead: string }[] };
    expect(state.status).toBe('cancelled');
    expect(state.steps.map((s) => s.status)).toEqual(['cancelled', 'cancelled']);
    expect(existsSync(join(t.root, 'next.txt'))).toBe(false);
    expect(t.bdJson<Bead[]>(['show', state.steps[1]!.bead])[0]!.close_reason).toBe('cancelled');
    // The running command was stopped, not left to run out its 600 s.
    const sleeping = () => spawnSync('pgrep', ['-f', '-x', 'sleep 600']).stdout.toString().trim().split('\n').filter(Boolean).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`GT_MOLECULE=${molecule}`);
      } catch {
        return false;
      }
    });
    await waitFor(() => sleeping().length === 0 || undefined, 15_000, 'the cancelled step\'s command to stop');
    await replayNow(molecule, 'molecule-cancelled');
  });

  it('kill -9 of the worker mid-run: a new worker finishes and no completed step runs twice', async () => {
    const t = town();
    t.writeFormula('chain', `
formula = "chain"
[[steps]]
id = "one"
title = "One"
run = "echo one >> ran.txt"
[[steps]]
id = "two"
title = "Two (slow)"
needs = ["one"]
run = "echo two-start >> ran.txt; sleep 8; echo two >> ran.txt"
[[steps]]
id = "three"
title = "Three"
needs = ["two"]
run = "echo three >> ran.txt"
`);
    const molecule = t.bd(['cook', 'chain', '--detach']).stdout.trim();
    await waitFor(() => existsSync(join(t.root, 'ran.txt')) && readFileSync(join(t.root, 'ran.txt'), 'utf8').includes('two-start'));
    process.kill(pidOf(t.root, 'worker'), 'SIGKILL');
    const up = t.gt(['up']);
    expect(up.code).toBe(0);
    const watched = t.bd(['mol', 'watch', molecule]);
    expect(watched.code).toBe(0);
    const ran = readFileSync(join(t.root, 'ran.txt'), 'utf8').trim().split('\n');
    expect(ran.filter((l) => l === 'one')).toHaveLength(1);
    expect(ran.filter((l) => l === 'two')).toHaveLength(1);
    expect(ran.filter((l) => l === 'three')).toHaveLength(1);
  });

  it('a quick step runs in a local activity; a longer one is handed to a regular activity, which adopts it; a failed quick one with retries left is run again, once', async () => {
    const t = town();
    t.writeFormula('quick', `
formula = "quick"
[[steps]]
id = "a"
title = "Quick"
run = "echo a >> ran.txt"
[[steps]]
id = "b"
title = "Fails once"
needs = ["a"]
retries = 1
run = "echo b >> ran.txt; test $(grep -c b ran.txt) -ge 2"
[[steps]]
id = "c"
title = "Longer than the quick go"
needs = ["b"]
run = "echo c-start >> ran.txt; sleep 2; echo c >> ran.txt"
`);
    const r = t.bd(['cook', 'quick', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const state = JSON.parse(r.stdout) as { molecule: string; steps: { id: string; bead: string; status: string; attempts?: number }[] };
    expect(state.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Each command ran as often as it should: a once, b twice (one retry), c once though it was handed over.
    expect(readFileSync(join(t.root, 'ran.txt'), 'utf8').trim().split('\n')).toEqual(['a', 'b', 'b', 'c-start', 'c']);
    expect(state.steps.find((s) => s.id === 'b')!.attempts).toBe(2);
    expect(t.bdJson<Bead[]>(['show', state.steps.find((s) => s.id === 'b')!.bead])[0]!.close_reason).toBe('done (exit 0, attempt 2)');
    // In the history: a quick go (a local activity marker) for every step; regular runStep activities only for b's retry and c's hand-over.
    const events = (fetchHistory(state.molecule) as { events: { eventType: string; markerRecordedEventAttributes?: { markerName: string }; activityTaskScheduledEventAttributes?: { activityType: { name: string }; input: { payloads: { data: string }[] } } }[] }).events;
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(3);
    const regular = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'runStep');
    expect(regular.map((e) => (JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes!.input.payloads[0]!.data, 'base64').toString()) as { step: string }).step)).toEqual(['b', 'c']);
    await replayNow(state.molecule, 'molecule-quick-steps');

    // A quick step that fails with no retries left fails at once, run once.
    t.writeFormula('quickfail', 'formula = "quickfail"\n[[steps]]\nid = "x"\ntitle = "Fails"\nrun = "echo x >> failed.txt; exit 3"\n');
    const failed = t.bd(['cook', 'quickfail', '--json']);
    expect(failed.code).toBe(1);
    const failedState = JSON.parse(failed.stdout) as { steps: { status: string; reason?: string }[] };
    expect(failedState.steps[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('exited with code 3') });
    expect(readFileSync(join(t.root, 'failed.txt'), 'utf8')).toBe('x\n');
  });

  it('agent steps start the agent runtime with the step as prompt and end when it closes the step bead', () => {
    const t = town();
    expect(t.gt(['config', 'agent', 'set', 'stepper', join(PROJECT, 'test', 'fixtures', 'step-agent.sh'), '--prompt-mode', 'arg']).code).toBe(0);
    t.writeFormula('agentic', `
formula = "agentic"
[vars]
topic = "auth"
[[steps]]
id = "design"
title = "Design {{topic}}"
description = "Write the design of {{topic}}"
acceptance = "a design file exists"
agent = "stepper"
[[steps]]
id = "check"
title = "Check"
needs = ["design"]
run = "test -f step-design.txt"
[[steps]]
id = "review"
title = "Review"
needs = ["check"]
agent = "stepper"
retries = 1
`);
    const r = t.bd(['cook', 'agentic', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const state = JSON.parse(r.stdout) as { steps: { id: string; bead: string; status: string }[] };
    expect(state.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const prompt = readFileSync(join(t.root, 'step-design.prompt'), 'utf8');
    expect(prompt).toMatch(/Design auth/);
    expect(prompt).toMatch(/Write the design of auth/);
    expect(prompt).toMatch(/a design file exists/);
    expect(prompt).toContain(`bd close ${state.steps[0]!.bead}`);
    expect(t.bdJson<Bead[]>(['show', state.steps[0]!.bead])[0]!.close_reason).toBe('done by step-agent');

    // An agent that leaves without closing its bead fails the step (after its retries).
    expect(t.gt(['config', 'agent', 'set', 'quitter', `${join(PROJECT, 'test', 'fixtures', 'step-agent.sh')} --quit`, '--prompt-mode', 'arg']).code).toBe(0);
    t.writeFormula('gives-up', `
formula = "gives-up"
[[steps]]
id = "try"
title = "Try"
agent = "quitter"
retries = 1
`);
    const quit = t.bd(['cook', 'gives-up', '--json']);
    expect(quit.code).toBe(1);
    const failed = JSON.parse(quit.stdout) as { steps: { id: string; status: string; reason?: string }[] };
    expect(failed.steps[0]!.status).toBe('failed');
    expect(failed.steps[0]!.reason).toMatch(/without closing[\s\S]*after 2 tries/);
  });

  it('runs the built-in release formula on the sample repository', () => {
    const t = town();
    const repo = join(t.root, 'sample');
    cpSync(join(PROJECT, 'examples', 'release-repo'), repo, { recursive: true });
    for (const args of [['init', '-q'], ['config', 'user.name', 'Tester'], ['config', 'user.email', 'tester@example.invalid'], ['add', '-A'], ['commit', '-qm', 'sample']]) {
      execFileSync('git', args, { cwd: repo });
    }
    const r = t.bd(['cook', 'release', '--var', 'version=1.2.0', '--cwd', repo]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/succeeded/);
    expect(readFileSync(join(repo, 'VERSION'), 'utf8').trim()).toBe('1.2.0');
    expect(execFileSync('git', ['describe', '--tags'], { cwd: repo, encoding: 'utf8' }).trim()).toBe('v1.2.0');
    expect(readFileSync(join(repo, 'published', 'RELEASES'), 'utf8').trim().split('\n').at(-1)).toBe('1.2.0');
    const bad = t.bd(['cook', 'release', '--var', 'version=1.2', '--cwd', repo]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/version[\s\S]*pattern/);
  });

  it('--dry-run resolves and prints the DAG (text, json, mermaid) and runs nothing', () => {
    const t = town();
    t.writeFormula('diamond', DIAMOND);
    const before = readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8');
    const text = t.bd(['cook', 'diamond', '--var', 'name=x', '--dry-run']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Start x/);
    const dag = JSON.parse(t.bd(['cook', 'diamond', '--var', 'name=x', '--dry-run', '--json']).stdout);
    expect(JSON.stringify(dag)).toContain('"d"');
    const mermaid = t.bd(['cook', 'diamond', '--var', 'name=x', '--dry-run', '--format', 'mermaid']);
    expect(mermaid.stdout).toMatch(/^graph TD/);
    expect(mermaid.stdout.match(/-->/g)).toHaveLength(4);
    expect(readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8')).toBe(before);
    expect(existsSync(join(t.root, 'log.txt'))).toBe(false);
    expect(existsSync(join(t.root, '.gt', 'run', 'worker.pid'))).toBe(false);
  });

  it('on a terminal: a live step table with the Web UI link; Ctrl-C detaches and the run goes on', async () => {
    const t = town();
    t.writeFormula('slowish', `
formula = "slowish"
[[steps]]
id = "wait"
title = "Wait a little"
run = "sleep 4; echo waited > waited.txt"
[[steps]]
id = "after"
title = "After"
needs = ["wait"]
run = "echo after > after.txt"
`);
    const socket = `gt-cook-${Math.random().toString(36).slice(2, 8)}`;
    const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    // With an external cluster the Web UI address comes from TEMPORAL_UI_ADDRESS.
    const envArgs = Object.entries({ ...t.env, TEMPORAL_UI_ADDRESS: 'http://localhost:8233' }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    try {
      tmux('new-session', '-d', '-s', 'cook', '-x', '160', '-y', '40', '-c', t.root, ...envArgs, process.execPath, join(PROJECT, 'bin', 'bd.js'), 'cook', 'slowish');
      const screen = () => tmux('capture-pane', '-p', '-t', 'cook');
      const shown = await waitFor(() => {
        const text = screen();
        return /▶ wait/.test(text) ? text : undefined;
      }, 60_000, 'the live table');
      expect(shown).toMatch(/Web UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/hq-/);
      expect(shown).toMatch(/· after/);
      const molecule = shown.match(/^(hq-\S+)\s+slowish\s+RUNNING/m)![1]!;
      tmux('send-keys', '-t', 'cook', 'C-c');
      await waitFor(() => /Detached; the run goes on/.test(screen()), 30_000, 'the detach message');
      expect(existsSync(join(t.root, 'after.txt'))).toBe(false);
      const watched = t.bd(['mol', 'watch', molecule]);
      expect(watched.code).toBe(0);
      expect(readFileSync(join(t.root, 'after.txt'), 'utf8')).toBe('after\n');
    } finally {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    }
  });

  it('a failed step says why: its last output lines in cook, mol show and mol watch; mol logs prints it whole', () => {
    const t = town();
    const lines = Array.from({ length: 30 }, (_, i) => `line-${i + 1}`).join(' ');
    t.writeFormula('noisy', `
formula = "noisy"
[[steps]]
id = "ok"
title = "Fine"
run = "echo fine"
[[steps]]
id = "boom"
title = "Fails loudly"
needs = ["ok"]
run = "for l in ${lines}; do echo $l >&2; done; no-such-command-here"
`);
    const r = t.bd(['cook', 'noisy']);
    expect(r.code).toBe(1);
    // The reason's first line, then the last output lines under it (not cut at the first newline).
    expect(r.stdout).toMatch(/ {2}boom: failed \(`for l in line-1 [^\n]*…[^\n]* exited with code 127:\)\n( {4}│ [^\n]*\n){10}\S/);
    expect(r.stdout).toContain('    │ line-30\n');
    expect(r.stdout).toMatch(/ {4}│ .*no-such-command-here.*not found/);
    expect(r.stdout).not.toContain('line-21\n');
    const molecule = r.stdout.match(/^(\S+): failed$/m)![1]!;

    expect(r.stdout).toContain(`${molecule}: failed\nWhole output of a step: bd mol logs ${molecule} boom\n`);
    const shown = t.bd(['mol', 'show', molecule]);
    expect(shown.stdout).toMatch(/✗ boom .* failed .*….* exited with code 127:\n( {4}│ [^\n]*\n){10}\n/);
    expect(shown.stdout).toContain('    │ line-30\n');
    expect(shown.stdout).toContain(`Whole output of a step: bd mol logs ${molecule} boom`);
    const watched = t.bd(['mol', 'watch', molecule]);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/ {2}boom: failed \(.*exited with code 127:\)\n( {4}│ [^\n]*\n){10}/);
    expect(watched.stdout).toContain('    │ line-30\n');

    const logs = t.bd(['mol', 'logs', molecule, 'boom']);
    expect(logs.stderr).toBe('');
    expect(logs.code).toBe(0);
    expect(logs.stdout.split('\n').slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, i) => `line-${i + 1}`));
    expect(logs.stdout).toMatch(/no-such-command-here.*not found/);
    const all = t.bd(['mol', 'logs', molecule]);
    expect(all.stdout).toMatch(/^==> ok \(\S+\) <==\nfine\n\n==> boom \(\S+\) <==\nline-1\n/);

    const before = readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8');
    const bad = t.bd(['mol', 'logs', molecule, 'bom']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/has no step "bom"[\s\S]*did you mean "boom"\?/);
    expect(readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8')).toBe(before);
  });

  it('a poured molecule shows as poured, and `bd mol run` drives it to done; steps closed by hand count', async () => {
    const t = town();
    t.writeFormula('diamond', DIAMOND);
    const poured = t.bdJson<{ molecule: string; stepBeads: Record<string, string> }>(['mol', 'pour', 'diamond', '--var', 'name=x', '--json']);
    const shown = t.bd(['mol', 'show', poured.molecule]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')[0]).toMatch(new RegExp(`^${poured.molecule}  diamond  POURED`));
    expect(shown.stdout).not.toContain('RUNNING');
    expect(t.bdJson<{ id: string; run: string }[]>(['mol', 'list']).find((m) => m.id === poured.molecule)!.run).toBe('poured');

    // An agent works the first step by hand, as in the original: it is not run again.
    expect(t.bd(['close', poured.stepBeads.a!, '-r', 'done by hand']).code).toBe(0);
    const r = t.bd(['mol', 'run', poured.molecule]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${poured.molecule}: succeeded`);
    const lines = readFileSync(join(t.root, 'log.txt'), 'utf8').trim().split('\n');
    expect(lines.sort()).toEqual(['b', 'c', 'd']);
    expect(t.bdJson<Bead[]>(['show', poured.molecule])[0]!.status).toBe('closed');
    const state = t.bdJson<{ status: string; steps: { id: string; status: string }[] }>(['mol', 'show', poured.molecule]);
    expect(state.status).toBe('succeeded');
    expect(state.steps.every((s) => s.status === 'succeeded')).toBe(true);
    await replayNow(poured.molecule, 'molecule-run-poured');

    const before = readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8');
    const again = t.bd(['mol', 'run', poured.molecule]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already done/);
    const notMol = t.bd(['mol', 'run', poured.stepBeads.a!]);
    expect(notMol.code).not.toBe(0);
    expect(notMol.stderr).toMatch(/not a molecule/);
    expect(readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8')).toBe(before);

    // A molecule that is running already is not started twice.
    t.writeFormula('slow', 'formula = "slow"\n[[steps]]\nid = "wait"\ntitle = "Wait"\nrun = "sleep 60"\n');
    const slow = t.bdJson<{ molecule: string }>(['mol', 'pour', 'slow', '--json']).molecule;
    expect(t.bd(['mol', 'run', slow, '--detach']).code).toBe(0);
    const twice = t.bd(['mol', 'run', slow]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`molecule ${slow} already has a run in the engine`);
    expect(t.bd(['mol', 'cancel', slow]).code).toBe(0);
  });

  it('runs the original\'s shapes: a group is done when its children are; a conditional gate waits for approval', async () => {
    const t = town();
    t.writeFormula('boot', `
formula = "boot"
[[steps]]
id = "prep"
title = "Prep"
run = "echo prep >> log.txt"
[[steps]]
id = "fan"
title = "Fan out"
needs = ["prep"]
type = "parallel"
[[steps.children]]
id = "left"
title = "Left"
run = "echo left >> log.txt"
[[steps.children]]
id = "right"
title = "Right"
run = "echo right >> log.txt"
[[steps]]
id = "check"
title = "Check"
needs = ["fan"]
run = "echo check >> log.txt"
gate = { type = "conditional", condition = "both sides up" }
[[steps]]
id = "final"
title = "Final"
needs = ["check"]
run = "echo final >> log.txt"
gate = { type = "conditional", condition = "all good" }
`);
    const started = t.bd(['cook', 'boot', '--detach']);
    expect(started.stderr).toBe('');
    const molecule = started.stdout.trim();
    const gate = await waitFor(() => {
      const s = t.bdJson<{ steps: { id: string; bead: string; status: string; waitingFor?: string }[] }>(['mol', 'show', molecule]);
      const fan = s.steps.find((x) => x.id === 'fan')!;
      const g = s.steps.find((x) => x.id === 'gate-check')!;
      return fan.status === 'succeeded' && g.status === 'waiting' ? g : undefined;
    }, 60_000, 'the group to finish and the gate to wait');
    expect(gate.waitingFor).toBe(`condition "both sides up", then approval: bd gate approve ${gate.bead} (or bd close ${gate.bead})`);
    const lines = readFileSync(join(t.root, 'log.txt'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('prep');
    expect(lines.slice(1).sort()).toEqual(['left', 'right']);
    expect(t.bd(['gate', 'approve', gate.bead]).code).toBe(0);
    // The original's way: close the gate's bead (and a step's) by hand; the run takes them as done.
    const beads = t.bdJson<{ steps: { id: string; bead: string }[] }>(['mol', 'show', molecule]).steps;
    const beadOf = (id: string) => beads.find((x) => x.id === id)!.bead;
    expect(t.bd(['close', beadOf('final'), '-r', 'done by hand', '--force']).code).toBe(0);
    expect(t.bd(['close', beadOf('gate-final'), '-r', 'all good']).code).toBe(0);
    const watched = t.bd(['mol', 'watch', molecule, '--json']);
    expect(watched.code).toBe(0);
    const final = JSON.parse(watched.stdout) as { steps: { id: string; kind: string; status: string }[] };
    expect(final.steps.find((s) => s.id === 'fan')).toMatchObject({ kind: 'group', status: 'succeeded' });
    expect(final.steps.find((s) => s.id === 'check')).toMatchObject({ kind: 'run', status: 'succeeded' });
    expect(final.steps.find((s) => s.id === 'gate-final')).toMatchObject({ kind: 'gate', status: 'succeeded' });
    expect(final.steps.find((s) => s.id === 'final')).toMatchObject({ kind: 'run', status: 'succeeded' });
    expect(readFileSync(join(t.root, 'log.txt'), 'utf8').trim().split('\n').pop()).toBe('check');
    const closedByHand = t.bdJson<Bead[]>(['show', beadOf('final')])[0]!;
    expect(closedByHand.close_reason).toBe('done by hand');
    await replayNow(molecule, 'molecule-group-conditional');
  });

  it('refuses bad input before anything runs or is poured', () => {
    const t = town();
    t.writeFormula('diamond', DIAMOND);
    const before = readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8');
    const cases: [string[], RegExp][] = [
      [['cook', 'diamond'], /name/],
      [['cook', 'diamond', '--var', 'name=x', '--var', 'nope=1'], /nope/],
      [['cook', 'diamond', '--var', 'noequals'], /name=value/],
      [['cook', 'no-such-formula'], /no-such-formula[\s\S]*formulas/],
      [['cook', 'diamond', '--var', 'name=x', '--max-parallel', '0'], /max-parallel/],
    ];
    for (const [args, pattern] of cases) {
      const r = t.bd(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
    }
    expect(readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8')).toBe(before);
    expect(readdirSync(join(t.root, '.gt', 'run')).filter((f) => f.endsWith('.pid'))).toEqual([]);
  });
});

/** A town with its own embedded dev server (file database) on free ports. */
async function embeddedTown(): Promise<TestTown> {
  const t = makeTown({ external: false });
  towns.push(t);
  const { createServer } = await import('node:net');
  const free = () =>
    new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  const [grpc, ui] = [await free(), await free()];
  t.settings((s) => {
    s.temporal = { grpc_port: grpc, ui_port: ui };
  });
  return t;
}

describe('bd cook with the embedded server', () => {
  it('a run started before `gt down` is still there after `gt up` and finishes', async () => {
    const t = await embeddedTown();
    t.writeFormula('waits', `
formula = "waits"
[[steps]]
id = "first"
title = "First"
run = "echo first >> ran.txt"
[[steps]]
id = "approve"
title = "Approve"
needs = ["first"]
gate = { type = "human" }
[[steps]]
id = "last"
title = "Last"
needs = ["approve"]
run = "echo last >> ran.txt"
`);
    const molecule = t.bd(['cook', 'waits', '--detach']).stdout.trim();
    const gate = await waitFor(() => {
      const s = t.bdJson<{ steps: { id: string; bead: string; status: string }[] }>(['mol', 'show', molecule]);
      return s.steps.find((x) => x.id === 'approve' && x.status === 'waiting');
    });
    const down = t.gt(['down']);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/worker/);
    expect(t.gt(['status', '--json']).stdout).toMatch(/"running": false/);
    expect(t.gt(['up']).code).toBe(0);
    const approved = t.bd(['gate', 'approve', gate.bead]);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    const watched = t.bd(['mol', 'watch', molecule]);
    expect(watched.code).toBe(0);
    expect(readFileSync(join(t.root, 'ran.txt'), 'utf8')).toBe('first\nlast\n');
  });

  it('survives a restart of the dev server mid-run (file database)', async () => {
    const t = await embeddedTown();
    t.writeFormula('chain', `
formula = "chain"
[[steps]]
id = "one"
title = "One"
run = "echo one >> ran.txt; sleep 3"
[[steps]]
id = "two"
title = "Two"
needs = ["one"]
run = "echo two >> ran.txt"
`);
    const started = t.bd(['cook', 'chain', '--detach']);
    expect(started.stderr).toBe('');
    const molecule = started.stdout.trim();
    expect(molecule).toMatch(/^hq-/);
    await waitFor(() => existsSync(join(t.root, 'ran.txt')));
    process.kill(pidOf(t.root, 'temporal'), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect(t.gt(['up']).code).toBe(0);
    const watched = t.bd(['mol', 'watch', molecule]);
    expect(watched.stderr).toBe('');
    expect(watched.code).toBe(0);
    const ran = readFileSync(join(t.root, 'ran.txt'), 'utf8').trim().split('\n');
    expect(ran.filter((l) => l === 'two')).toHaveLength(1);
    expect(existsSync(join(t.root, '.gt', 'temporal', 'dev.db'))).toBe(true);
    void runCli;
  });
});
