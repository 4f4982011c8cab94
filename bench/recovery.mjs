// `npm run bench -- recovery`: how fast the engine brings work back. Time from an agent's crash,
// or from the start of its silence (hang), to its restarted session; and after `kill -9` of the
// worker while agents run, the time until every bead is merged, and lost or repeated work
// (must be 0). Writes bench/results/recovery.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchTown, git, machineLine, project, statuses } from './_town.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Follows the scripted agents' session log: when each "<bead> <mode> session <n>" line appeared. */
function sessionWatcher(log) {
  const seen = new Map();
  let offset = 0;
  const timer = setInterval(() => {
    if (!existsSync(log)) return;
    const text = readFileSync(log, 'utf8');
    const now = Date.now();
    for (const line of text.slice(offset).split('\n')) {
      const m = /^(\S+) \S+ session (\d+)$/.exec(line.trim());
      if (m) seen.set(`${m[1]}#${m[2]}`, now);
    }
    offset = text.lastIndexOf('\n') + 1;
  }, 25);
  return { at: (bead, session) => seen.get(`${bead}#${session}`), stop: () => clearInterval(timer) };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function waitUntil(fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}

export async function run() {
  const STALL_S = 4;
  const GRACE_S = 2;
  const town = await benchTown('recovery', (s) => {
    s.thresholds = { ...s.thresholds, heartbeat_timeout: '5s', stall_timeout: `${STALL_S}s`, nudge_grace: `${GRACE_S}s`, max_attempts: 3 };
  });
  const rows = [];
  try {
    town.gt(['up']);
    const watch = sessionWatcher(town.sessionsLog);

    // Crash: the first session exits 3 at once; the next session starts in the same worktree.
    const crashes = [1, 2, 3, 4, 5].map((i) => town.create(`Crash ${i}`, 'crash'));
    town.gt(['sling', ...crashes, 'bench', '--no-convoy']);
    await waitUntil(() => crashes.every((b) => watch.at(b, 2)), 120_000);
    const crashMs = crashes.map((b) => watch.at(b, 2) - watch.at(b, 1));
    rows.push(['agent crash → restarted session', crashes.length, pct(crashMs, 50), pct(crashMs, 95), 'exit noticed at once; includes the agent start']);

    // Hang: the first session prints a line, then goes silent; nudge after stall_timeout, stop after the grace.
    const hangs = [1, 2, 3].map((i) => town.create(`Hang ${i}`, 'hang'));
    town.gt(['sling', ...hangs, 'bench', '--no-convoy']);
    await waitUntil(() => hangs.every((b) => watch.at(b, 2)), 120_000);
    const hangMs = hangs.map((b) => watch.at(b, 2) - watch.at(b, 1));
    const floor = (STALL_S + GRACE_S) * 1000;
    rows.push([`agent hang → restarted session (stall ${STALL_S}s + grace ${GRACE_S}s)`, hangs.length, pct(hangMs, 50), pct(hangMs, 95), `${((pct(hangMs, 50) - floor) / 1000).toFixed(1)} s beyond the thresholds at p50`]);

    // kill -9 of the worker while 8 slow agents run: all must still merge exactly once.
    const slow = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => town.create(`Slow ${i}`, 'slow'));
    town.gt(['sling', ...slow, 'bench', '--no-convoy']);
    await waitUntil(() => slow.every((b) => watch.at(b, 1)), 120_000);
    const killedAt = Date.now();
    process.kill(town.workerPid(), 'SIGKILL');
    await sleep(500);
    town.gt(['up']);
    await waitUntil(() => {
      const st = statuses(town.ledger);
      return slow.every((b) => st.get(b) === 'closed' || st.get(b) === 'blocked');
    }, 300_000);
    const recoveredMs = Date.now() - killedAt;
    const subjects = git(town.remote, 'log', '--format=%s', 'main').split('\n');
    const st = statuses(town.ledger);
    const merged = slow.filter((b) => st.get(b) === 'closed' && subjects.filter((s) => s.startsWith(`${b}:`)).length === 1).length;
    const restarted = slow.filter((b) => watch.at(b, 2)).length;
    rows.push(['kill -9 of the worker with 8 agents running → all merged', slow.length, recoveredMs, recoveredMs, `${merged}/8 merged once, ${slow.length - merged} lost, ${restarted} agents restarted (running agents are adopted)`]);
    watch.stop();
  } finally {
    town.down();
  }
  const table = [
    '| what | beads | p50 (s) | p95 / max (s) | notes |',
    '|---|---:|---:|---:|---|',
    ...rows.map(([what, n, p50, p95, note]) => `| ${what} | ${n} | ${(p50 / 1000).toFixed(1)} | ${(p95 / 1000).toFixed(1)} | ${note} |`),
  ].join('\n');
  console.log(table);
  const md = `# bench: recovery

How fast the engine brings work back, with the scripted agent (test/fixtures/scripted-agent.mjs)
in one rig of a fresh town with its own embedded Temporal dev server. Times are from the scripted
agent's session log: from one session's start to the next one's start.

- machine: ${await machineLine()}
- date: ${new Date().toISOString()}
- command: \`npm run bench -- recovery\`

${table}
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'recovery.md'), md);
}
