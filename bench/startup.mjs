// `npm run bench -- startup`: how long an agent session takes to start, per integration style,
// with the stand-ins of test/fixtures/: the scripted agent (prompt on its command line, no ready
// prompt known), the Claude Code stand-in (settings file and hooks; its first start in a worktree
// shows the trust dialog, which gt answers) and the typed-prompt TUI (prompt_mode none: it draws
// its ready prompt after FAKE_TUI_START_MS, then the prompt is pasted and Enter verified), the
// Codex stand-in (AGENTS.md; its first prompt typed in once its screen settles on its input line)
// and the Gemini CLI stand-in (hooks in the worktree's .gemini/settings.json; --prompt-interactive).
// For each session: spawn (the session.start event) → ready (session.ready) → first progress
// (the agent's first gt/bd call, seen as its progress file changing). N sessions per stand-in
// start at once. Writes bench/results/startup.md.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchTown, machineLine, project, statuses } from './_town.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

/** First change of each polecat's progress file after `since` (polled every 20 ms). */
function progressWatcher(runDir, since) {
  const first = new Map();
  const last = new Map();
  const timer = setInterval(() => {
    if (!existsSync(runDir)) return;
    for (const f of readdirSync(runDir)) {
      if (!f.endsWith('.progress')) continue;
      let m;
      try {
        m = statSync(join(runDir, f)).mtimeMs;
      } catch {
        continue;
      }
      const name = f.slice(0, -'.progress'.length);
      if (m > since && last.get(name) !== m && !first.has(name)) first.set(name, Date.now());
      last.set(name, m);
    }
  }, 20);
  return { first, stop: () => clearInterval(timer) };
}

function events(root) {
  const file = join(root, '.gt', 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export async function run(argv = []) {
  const at = argv.indexOf('--sessions');
  const N = at >= 0 ? Number(argv[at + 1]) : 6;
  const town = await benchTown('startup', (s) => {
    s.thresholds = { ...s.thresholds, heartbeat_timeout: '10s', stall_timeout: '2m', start_timeout: '60s' };
  });
  town.env.CLAUDE_CONFIG_DIR = join(town.base, 'claude-config');
  town.env.CODEX_HOME = join(town.base, 'codex-home');
  const fixtures = join(project, 'test', 'fixtures');
  town.gt(['config', 'agent', 'set', 'fake-claude', `${join(fixtures, 'fake-claude.mjs')} --dangerously-skip-permissions`, '--provider', 'claude']);
  town.gt(['config', 'agent', 'set', 'fake-tui', join(fixtures, 'fake-tui.mjs'), '--prompt-mode', 'none', '--ready-prompt', '^› ']);
  town.gt(['config', 'agent', 'set', 'fake-codex', `${join(fixtures, 'fake-codex.mjs')} --dangerously-bypass-approvals-and-sandbox`, '--provider', 'codex']);
  town.gt(['config', 'agent', 'set', 'fake-gemini', `${join(fixtures, 'fake-gemini.mjs')} --approval-mode yolo`, '--provider', 'gemini']);
  const standIns = [
    ['scripted', 'scripted agent (prompt as argument, screen settling = ready)'],
    ['fake-claude', 'Claude Code stand-in (--settings hooks; trust dialog on a first start)'],
    ['fake-tui', 'typed-prompt TUI (prompt_mode none, draws its prompt after 1.5 s)'],
    ['fake-codex', 'Codex stand-in (AGENTS.md; typed once its screen settles, loads 1.2 s)'],
    ['fake-gemini', 'Gemini CLI stand-in (.gemini/settings.json hooks; --prompt-interactive)'],
  ];
  const rows = [];
  try {
    town.gt(['up']);
    for (const [agent, what] of standIns) {
      const since = Date.now();
      const watch = progressWatcher(join(town.root, '.gt', 'run', 'polecats', 'bench'), since);
      const beads = Array.from({ length: N }, (_, i) => town.create(`${agent} start ${i + 1}`));
      town.gt(['sling', ...beads, 'bench', '--agent', agent, '--no-convoy']);
      const deadline = Date.now() + 300_000;
      while (!beads.every((b) => ['closed', 'blocked'].includes(statuses(town.ledger).get(b)))) {
        if (Date.now() > deadline) throw new Error(`${agent}: beads not done after 5 min`);
        await sleep(200);
      }
      watch.stop();
      const evs = events(town.root).filter((e) => beads.includes(e.bead));
      const spawnReady = [];
      const readyProgress = [];
      const spawnProgress = [];
      for (const b of beads) {
        const start = evs.find((e) => e.type === 'session.start' && e.bead === b && e.attempt === 1);
        const ready = evs.find((e) => e.type === 'session.ready' && e.bead === b && e.attempt === 1);
        if (!start || !ready) continue;
        const name = start.actor.split('/').at(-1);
        const t0 = Date.parse(start.at);
        const t1 = Date.parse(ready.at);
        const t2 = watch.first.get(name);
        spawnReady.push(t1 - t0);
        if (t2 !== undefined) {
          readyProgress.push(Math.max(0, t2 - t1));
          spawnProgress.push(t2 - t0);
        }
      }
      rows.push([what, spawnReady.length, pct(spawnReady, 50), pct(spawnReady, 95), pct(readyProgress, 50), pct(readyProgress, 95), pct(spawnProgress, 50), pct(spawnProgress, 95)]);
      console.log(`${agent}: ${spawnReady.length} sessions; spawn→ready p50 ${pct(spawnReady, 50)} ms, p95 ${pct(spawnReady, 95)} ms; spawn→first progress p50 ${pct(spawnProgress, 50)} ms, p95 ${pct(spawnProgress, 95)} ms`);
    }
  } finally {
    town.down();
  }
  const head = '| stand-in | sessions | spawn→ready p50 (ms) | p95 | ready→first progress p50 (ms) | p95 | spawn→first progress p50 (ms) | p95 |';
  const table = [head, '|---|---|---|---|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  console.log(table);
  const md = `# bench: startup

${N} sessions per stand-in slung at once to one rig; per session: spawn (session.start event) → ready prompt (session.ready) → first progress (the agent's first gt/bd call).

${table}

- spawn→ready includes the runtime's own start-up (the TUI stand-in waits 1.5 s on purpose) and, for the Claude stand-in, its trust dialog on a worktree's first start, answered by gt.
- machine: ${await machineLine()}
- date: ${new Date().toISOString()}
- command: npm run bench -- startup${N !== 6 ? ` --sessions ${N}` : ''}
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'startup.md'), md);
}
