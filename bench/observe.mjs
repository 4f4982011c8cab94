// `npm run bench -- observe [--agents 100]`: what watching the town costs. A town with N
// scripted agents (mode slow: each prints a line a second for minutes) runs `gt dashboard` with one
// server-sent-events client connected, and `gt feed` in a tmux pane. For each phase (idle: no
// agents; starting: N beads slung at once until every session started; running: N agents
// printing), the CPU of each process (% of one core, from /proc), and the latency of events
// (one line appended to .gt/events.jsonl, as an activity writes it → the line reaches the page's
// event stream / is on the TUI's screen) p50/p95. Writes bench/results/observe.md.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { benchTown, cpuMs, gtBin, machineLine, project } from './_town.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU of each pid over `fn` (or a plain wait of `ms`), as % of one core. */
async function cpuOver(pids, msOrFn) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const t0 = Date.now();
  if (typeof msOrFn === 'number') await sleep(msOrFn);
  else await msOrFn();
  const wall = Date.now() - t0;
  const out = { wallMs: wall, load: loadavg()[0] };
  for (const [k, pid] of Object.entries(pids)) out[k] = ((cpuMs(pid) - before[k]) / wall) * 100;
  return out;
}

function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** One SSE client of the dashboard: every chunk it gets, with when. */
async function sseClient(url) {
  const page = await (await fetch(url)).text();
  const token = /name="token" value="([^"]+)"/.exec(page)?.[1];
  if (!token) throw new Error('the dashboard page carries no token');
  const controller = new AbortController();
  const res = await fetch(`${url}events?page=${encodeURIComponent(token)}`, { signal: controller.signal });
  const waiting = new Map();
  let bytes = 0;
  const decoder = new TextDecoder();
  (async () => {
    try {
      for await (const chunk of res.body) {
        const text = decoder.decode(chunk, { stream: true });
        bytes += chunk.length;
        for (const [marker, resolve] of waiting) {
          if (text.includes(marker)) {
            waiting.delete(marker);
            resolve(Date.now());
          }
        }
      }
    } catch {
      // aborted at the end
    }
  })();
  return {
    seen: (marker, timeoutMs) => new Promise((resolve) => {
      waiting.set(marker, resolve);
      setTimeout(() => waiting.delete(marker) && resolve(undefined), timeoutMs);
    }),
    bytes: () => bytes,
    close: () => controller.abort(),
  };
}

/** Append a marker event the way activities write events; how long until the page and the TUI show it. */
async function latencies(town, sse, tuiScreen, phase, count) {
  const page = [];
  const tui = [];
  let missed = 0;
  for (let i = 0; i < count; i++) {
    const marker = `bm${phase}${String(i).padStart(3, '0')}x`;
    const at = Date.now();
    const pageSeen = sse.seen(marker, 10_000);
    let tuiAt;
    const tuiDone = (async () => {
      while (Date.now() - at < 10_000) {
        if (tuiScreen().includes(marker)) return void (tuiAt = Date.now());
        await sleep(40);
      }
    })();
    appendFileSync(join(town.root, '.gt', 'events.jsonl'), `${JSON.stringify({ id: `bench-${marker}`, at: new Date(at).toISOString(), type: 'nudge', actor: 'bench', detail: marker })}\n`);
    const [p] = await Promise.all([pageSeen, tuiDone]);
    if (p === undefined) missed++;
    else page.push(p - at);
    if (tuiAt === undefined) missed++;
    else tui.push(tuiAt - at);
    await sleep(600);
  }
  return { page, tui, missed };
}

function sessionsStarted(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

export async function run(argv = []) {
  const nArg = argv.includes('--agents') ? argv[argv.indexOf('--agents') + 1] : undefined;
  const n = Number(nArg ?? 100);
  const samples = 20;
  const town = await benchTown('observe', (settings) => {
    settings.scheduler = { ...settings.scheduler, max_polecats_per_rig: Math.max(n, 25) };
    settings.thresholds = { ...settings.thresholds, heartbeat_timeout: '60s', stall_timeout: '10m', nudge_grace: '2m' };
  });
  // Slow agents: each prints a line a second for 6 minutes, so all N run through the measurement.
  town.env.SCRIPTED_AGENT_SLOW_MS = String(6 * 60_000);
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(town.create(`Observed task ${i}`, 'slow'));
  town.gt(['up']);

  const procs = [];
  const feedSocket = `${town.env.GT_TMUX_SOCKET}-feed`;
  const rows = [];
  try {
    // gt dashboard, one client connected.
    const dash = spawn(process.execPath, [gtBin, 'dashboard', '--port', '0'], { cwd: town.root, env: town.env, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(dash);
    let out = '';
    let err = '';
    dash.stdout.on('data', (d) => (out += d));
    dash.stderr.on('data', (d) => (err += d));
    for (let t = Date.now(); !/http:\/\/\S+\//.test(out); await sleep(100)) {
      if (dash.exitCode !== null || Date.now() - t > 120_000) throw new Error(`gt dashboard did not start: ${err}`);
    }
    const url = /(http:\/\/\S+\/)/.exec(out)[1];
    const sse = await sseClient(url);

    // gt feed in a 200x50 tmux pane of its own tmux server.
    const tmux = (...a) => spawnSync('tmux', ['-L', feedSocket, ...a], { encoding: 'utf8', env: town.env });
    const r = tmux('new-session', '-d', '-s', 'feed', '-x', '200', '-y', '50', `cd '${town.root}' && exec '${process.execPath}' '${gtBin}' feed`);
    if (r.status !== 0) throw new Error(`tmux: ${r.stderr}`);
    const feedPid = Number(tmux('display-message', '-p', '-t', 'feed', '#{pane_pid}').stdout.trim());
    const screen = () => tmux('capture-pane', '-p', '-t', 'feed').stdout;
    for (let t = Date.now(); !screen().includes('Agents'); await sleep(200)) if (Date.now() - t > 60_000) throw new Error(`gt feed did not draw:\n${screen()}`);
    const pids = { dashboard: dash.pid, feed: feedPid };
    await sleep(5000);

    const measure = async (phase, agents, cpu) => {
      const lat = await latencies(town, sse, screen, phase, samples);
      rows.push({ phase, agents, ...cpu, ...lat });
      const last = rows.at(-1);
      process.stdout.write(`  ${phase}: dashboard ${last.dashboard.toFixed(1)}%, feed ${last.feed.toFixed(1)}% of a core; page p95 ${pct(last.page, 95)} ms, TUI p95 ${pct(last.tui, 95)} ms (load ${last.load.toFixed(1)})\n`);
    };

    await measure('idle', 0, await cpuOver(pids, 30_000));

    // N beads slung at once: the burst of events while every session starts.
    const started0 = sessionsStarted(town.sessionsLog);
    const starting = await cpuOver(pids, async () => {
      town.gt(['sling', ...ids, 'bench', '--no-convoy']);
      for (let t = Date.now(); sessionsStarted(town.sessionsLog) - started0 < n && Date.now() - t < 240_000; ) await sleep(500);
    });
    const running = sessionsStarted(town.sessionsLog) - started0;
    rows.push({ phase: 'starting', agents: running, ...starting, page: [], tui: [], missed: 0, startMs: starting.wallMs });
    process.stdout.write(`  starting: ${running}/${n} sessions in ${(starting.wallMs / 1000).toFixed(0)} s; dashboard ${starting.dashboard.toFixed(1)}%, feed ${starting.feed.toFixed(1)}%\n`);

    await measure('running', running, await cpuOver(pids, 60_000));
    sse.close();
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    spawnSync('tmux', ['-L', feedSocket, 'kill-server'], { stdio: 'ignore' });
    town.down();
  }

  const f = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const header = ['phase', 'agents running', 'gt dashboard CPU (% of one core)', 'gt feed CPU (% of one core)', 'event → page p50 / p95 (ms)', 'event → TUI p50 / p95 (ms)', 'missed', 'window (s)', 'load avg (1 min)'];
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${[r.phase, r.agents, f(r.dashboard), f(r.feed), r.page.length ? `${pct(r.page, 50)} / ${pct(r.page, 95)}` : '-', r.tui.length ? `${pct(r.tui, 50)} / ${pct(r.tui, 95)}` : '-', r.page.length || r.tui.length ? r.missed : '-', f(r.wallMs / 1000, 0), f(r.load)].join(' | ')} |`),
  ].join('\n');
  console.log(table);
  const md = `# bench: observe

What watching the town costs. One town (its own embedded Temporal dev server), rig \`bench\`,
${n} beads for scripted agents in mode slow (test/fixtures/scripted-agent.mjs: each prints a line a
second for 6 minutes, in its own tmux session, so all of them run through the measurement).
\`gt dashboard --port 0\` runs with one client connected to its event stream (a Node fetch reading
the server-sent events, as the page's htmx does), and \`gt feed\` runs in a 200x50 tmux pane.

- CPU: user+system time of each process (/proc) over the phase's window, as % of one core.
  idle: the town up, no agents (${30} s). starting: \`gt sling\` of the ${n} beads at once until every
  agent session started (the burst of sling and session events). running: the agents at work,
  each printing a line a second (60 s).
- event shown: ${samples} events per phase, one line each appended to \`.gt/events.jsonl\` the way activities
  write them, 0.7 s apart; page: until the line arrives in the client's event stream (the HTML of
  the events section); TUI: until it is on the pane's screen (tmux capture-pane every 40 ms, so
  up to 40 ms of the figure is the polling). "missed": events not shown within 10 s.
- Targets: idle dashboard under 2% of one core, under 10% with ${n} agents; event shown p95 under 1 s.

- machine: ${await machineLine()} (shared: other work ran on it at the same time; the load average is in the table)
- date: ${new Date().toISOString()}
- command: \`npm run bench -- observe${argv.filter((a) => a !== 'observe').length ? ' ' + argv.filter((a) => a !== 'observe').join(' ') : ''}\`

${table}

What limits it: an event reaches the feed's store through a poll of the event file's size every
200 ms (\`followEvents\`, \`fs.watchFile\`), and the dashboard pushes a burst of changes once, 100 ms
after the first: that is the ~200 ms floor of the page's latency, the rest is the loaded machine.
With agents running the dashboard does two things on its own (not profiled apart): agents' log
writes (inotify) re-render the polecats section at most once a second, reading the tails of the
logs that changed, and the feed's slow refresh (every 5 s: one query per polecat workflow)
re-renders every section; a section is sent only when its HTML changed.
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'observe.md'), md);
}
