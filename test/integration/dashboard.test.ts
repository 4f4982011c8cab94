import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, PROJECT } from '../helpers/cli.js';
import { waitFor } from '../helpers/town.js';
import { createIn, makeRigTown, type RigTown } from './convoy-helpers.js';

/**
 * `gt dashboard` for real: a town with the scripted agent, the dashboard as its own process, and
 * the page in a real headless Chromium (Debian's `chromium`). A screenshot of each run is kept in
 * test-results/dashboard/.
 */
function findChromium(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error('no chromium on PATH: `npm run setup` installs it (apt), or set CHROMIUM_PATH to a Chromium or Chrome binary');
}
const SHOTS = join(PROJECT, 'test-results', 'dashboard');

let browser: Browser;
const towns: RigTown[] = [];
const procs: ChildProcess[] = [];
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox', '--disable-gpu'] });
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null) {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
  }
  for (const t of towns.splice(0)) t.cleanup();
});

interface Running {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Start `gt dashboard <args>`; resolves when it prints its address. */
async function startDashboard(t: RigTown, args: string[] = ['--port', '0'], env: Record<string, string> = {}): Promise<Running> {
  const proc = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'dashboard', ...args], { cwd: t.root, env: { ...process.env, ...t.env, ...env } });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (err += String(d)));
  const url = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`gt dashboard exited with ${proc.exitCode}: ${err}`);
    return /(http:\/\/\S+\/)/.exec(out)?.[1];
  }, 90_000, 'gt dashboard to print its address');
  return { proc, url, stderr: () => err };
}

/** Run `gt dashboard <args>` to its end (for the refusals). */
function runDashboard(t: RigTown, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'dashboard', ...args], { cwd: t.root, env: { ...process.env, ...t.env } });
    procs.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += String(d)));
    proc.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Wait until the page satisfies `ok`; on a timeout, keep a screenshot and say what it showed. */
async function see(page: Page, ok: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitFor(ok, timeoutMs, what);
  } catch (err) {
    await page.screenshot({ path: join(SHOTS, 'failed.png'), fullPage: true }).catch(() => undefined);
    throw new Error(`${(err as Error).message}\n--- page ---\n${await page.locator('main').innerText().catch(() => '')}`);
  }
}

const ledgers = (t: RigTown) => [join(t.root, '.beads', 'issues.jsonl'), join(t.root, t.rig, '.beads', 'issues.jsonl')].map((f) => (existsSync(f) ? readFileSync(f) : Buffer.alloc(0)));
const tokenOf = (html: string) => /name="token" value="([^"]+)"/.exec(html)?.[1];

describe('gt dashboard', { timeout: 400_000 }, () => {
  it('renders the town and follows it live: ready work, a human convoy made, worked, approved and landed from the page, a sling from the page, agent output, a nudge from its card', async () => {
    const t = makeRigTown();
    towns.push(t);
    t.env.SCRIPTED_AGENT_SLOW_MS = '25000';
    expect(t.gt(['up']).code).toBe(0);
    const dash = await startDashboard(t);
    expect(dash.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
    await page.goto(dash.url);
    await page.locator('#summary [data-stat="agents"]').waitFor();
    expect(await page.locator('#polecats').innerText()).toContain(t.rig);
    expect(await page.locator('#convoys').innerText()).toContain('No convoys');
    // A mark in the page's window: it survives only as long as the page is never reloaded.
    await page.evaluate(() => ((globalThis as unknown as { mark: number }).mark = 42));
    const notReloaded = () => page.evaluate(() => (globalThis as unknown as { mark?: number }).mark === 42);

    // A new bead shows up in ready work by itself (a ledger write, no event, no reload).
    const first = t.create('Reviewed work item');
    await see(page, async () => (await page.locator(`#ready [data-bead="${first}"]`).count()) === 1, 15_000, 'the new bead in ready work');
    expect(await page.locator('#summary [data-stat="ready"] b').innerText()).toBe('1');

    // Create a --human convoy of it from the page's form.
    await page.fill('#form-convoy input[name="name"]', 'Needs a look');
    await page.fill('#form-convoy input[name="beads"]', first);
    await page.check('#form-convoy input[name="human"]');
    await page.click('#form-convoy button');
    await see(page, async () => /Created convoy hq-cv-\S+ "Needs a look" tracking/.test(await page.locator('#flash').innerText()), 30_000, 'the convoy created');
    const convoy = /(hq-cv-[a-z0-9]+)/.exec(await page.locator('#flash').innerText())![1]!;
    await see(page, async () => (await page.locator(`#convoys [data-convoy="${convoy}"]`).count()) === 1, 15_000, 'the convoy on the page');

    // It is worked and merged: the bead closes, the convoy waits for a person (a problem), all live.
    await see(page, async () => (await page.locator(`#convoys [data-convoy="${convoy}"]`).getAttribute('data-status')) === 'awaiting-approval', 180_000, 'the convoy awaiting approval');
    expect(t.bead(first).status).toBe('closed');
    await page.locator(`#convoy-${convoy} summary`).click({ position: { x: 5, y: 5 } });
    await see(page, async () => (await page.locator(`#convoy-${convoy} li[data-bead="${first}"]`).getAttribute('data-phase')) === 'closed', 15_000, 'the bead closed in the drill-down');
    expect(await page.locator('#problems').innerText()).toMatch(new RegExp(`waiting ${convoy}: .*awaits approval`));
    // The merge queue says merged once its branches are deleted, just after the convoy was told.
    await see(page, async () => new RegExp(`merged\\s+${first}`).test(await page.locator('#merges').innerText()), 15_000, 'the merge queue showing it merged');
    expect(await page.locator(`#ready [data-bead="${first}"]`).count()).toBe(0);
    expect(await notReloaded()).toBe(true);

    // Approve it from the page: it lands.
    await page.locator(`#convoys [data-convoy="${convoy}"] button[data-action="approve-convoy"]`).click();
    await see(page, async () => (await page.locator('#flash').innerText()).includes(`Approved ${convoy}`), 30_000, 'the approval said');
    await see(page, async () => (await page.locator(`#convoys [data-convoy="${convoy}"]`).getAttribute('data-status')) === 'landed', 60_000, 'the convoy landed');
    expect(t.bdJson<{ status: string }[]>(['show', convoy])[0]!.status).toBe('closed');

    // Sling a slow bead from its row in ready work: its polecat's card shows what the agent prints.
    const second = t.create('Slow one', 'slow');
    await see(page, async () => (await page.locator(`#ready [data-bead="${second}"] button[data-action="sling"]`).count()) === 1, 15_000, 'the second bead ready');
    await page.locator(`#ready [data-bead="${second}"] button[data-action="sling"]`).click();
    await see(page, async () => new RegExp(`Slung ${second} to ${t.rig}/polecats/\\S+`).test(await page.locator('#flash').innerText()), 30_000, 'the sling said');
    expect(t.bead(second).assignee).toMatch(new RegExp(`^${t.rig}/polecats/`));
    const agent = t.bead(second).assignee!;
    const card = page.locator(`#polecats [data-agent="${agent}"]`);
    await see(page, async () => /scripted-agent: working/.test(await card.locator('pre.output').innerText().catch(() => '')), 60_000, 'the agent\'s output in its card');
    expect(await card.innerText()).toContain(second);
    await page.screenshot({ path: join(SHOTS, 'town.png'), fullPage: true });

    // Nudge it from its card: the text typed in the prompt reaches the agent's tmux pane.
    page.once('dialog', (d) => void d.accept('hello from the dashboard'));
    await card.locator('button[data-action="nudge"]').click();
    await see(page, async () => (await page.locator('#flash').innerText()).includes(`Nudged ${agent} (tmux session ${t.prefix}-`), 15_000, 'the nudge said');
    const pane = () => spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'capture-pane', '-p', '-t', `=${t.prefix}-${agent.split('/').at(-1)}:`], { encoding: 'utf8' }).stdout;
    await waitFor(() => pane().includes('hello from the dashboard'), 10_000, 'the nudge in the agent\'s pane');
    await see(page, async () => (await page.locator(`#convoys details[data-status="landed"]`).count()) === 2, 120_000, 'the sling\'s convoy landed');
    expect(t.bead(second).status).toBe('closed');
    expect(await page.locator('#events').innerText()).toMatch(/merge\.merged/);
    expect(await notReloaded()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'landed.png'), fullPage: true });
    await page.close();
  });

  it('draws a formula run\'s steps coloured by state and approves its gate from the page; pauses a mountain from the command palette and resumes it from its row', async () => {
    const t = makeRigTown();
    towns.push(t);
    expect(t.gt(['up']).code).toBe(0);
    const dash = await startDashboard(t);
    const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
    await page.goto(dash.url);
    await page.locator('#summary [data-stat="agents"]').waitFor();

    t.writeFormula('gated', 'formula = "gated"\n[[steps]]\nid = "build"\ntitle = "Build"\nrun = "echo built"\n[[steps]]\nid = "approve"\ntitle = "Approve the release"\nneeds = ["build"]\ngate = { type = "human" }\n[[steps]]\nid = "ship"\ntitle = "Ship"\nneeds = ["approve"]\nrun = "echo shipped"\n');
    const cook = t.bd(['cook', 'gated', '--detach']);
    expect(cook.code, cook.stderr).toBe(0);
    const molecule = cook.stdout.trim();
    const run = page.locator(`#formulas [data-molecule="${molecule}"]`);
    const step = (id: string) => run.locator(`svg g[data-step="${id}"]`);
    await see(page, async () => (await step('approve').getAttribute('data-status').catch(() => null)) === 'waiting', 60_000, 'the gate waiting in the drawn run');
    expect(await step('build').getAttribute('data-status')).toBe('succeeded');
    expect(await step('ship').getAttribute('data-status')).toBe('pending');
    expect(await step('build').locator('rect').getAttribute('fill')).not.toBe(await step('approve').locator('rect').getAttribute('fill'));
    expect(await run.locator('svg line').count()).toBe(2);
    expect(await page.locator('#problems').innerText()).toMatch(/waiting .*gate "approve"/);
    await page.screenshot({ path: join(SHOTS, 'formula.png'), fullPage: true });
    await run.locator('button[data-action="approve-gate"]').click();
    await see(page, async () => /Approved gate approve of \S+ \(\S+\) as tester/.test(await page.locator('#flash').innerText()), 30_000, 'the approval said');
    await see(page, async () => (await run.getAttribute('data-status')) === 'succeeded' && (await step('ship').getAttribute('data-status')) === 'succeeded', 60_000, 'the run finished after the approval');

    // A mountain of two slow beads, one at a time: paused and resumed from its row.
    const epic = createIn(t, t.rig, 'Slow epic', { type: 'epic' });
    for (const i of [1, 2]) createIn(t, t.rig, `Slow part ${i}`, { parent: epic, mode: 'slow' });
    const mountain = JSON.parse(t.gt(['mountain', epic, '--max-concurrent', '1', '--json']).stdout) as { convoy: string };
    const row = page.locator(`#convoys [data-convoy="${mountain.convoy}"]`);
    await see(page, async () => (await row.getAttribute('data-status').catch(() => null)) === 'running', 60_000, 'the mountain running');
    expect(await row.locator('button[data-action="pause"]').count()).toBe(1);
    // Paused from the command palette (Ctrl-K), which suggests it.
    await see(page, async () => (await page.locator(`#palette-options option[value="pause ${mountain.convoy}"]`).count()) === 1, 15_000, 'the palette to suggest the pause');
    await page.keyboard.press('Control+k');
    await page.locator('#palette input[name="command"]').waitFor({ state: 'visible' });
    await page.keyboard.type(`pause ${mountain.convoy}`);
    await page.keyboard.press('Enter');
    await see(page, async () => (await page.locator('#flash').innerText()).includes(`Paused ${mountain.convoy}`), 30_000, 'the pause said');
    expect(await page.locator('#palette').isVisible()).toBe(false);
    await see(page, async () => (await row.getAttribute('data-status')) === 'paused', 30_000, 'the mountain paused on the page');
    expect(JSON.parse(t.gt(['mountain', 'status', mountain.convoy, '--json']).stdout)).toMatchObject({ status: 'paused' });
    await row.locator('button[data-action="resume"]').click();
    await see(page, async () => (await page.locator('#flash').innerText()).includes(`Resumed ${mountain.convoy}`), 30_000, 'the resume said');
    await see(page, async () => (await row.getAttribute('data-status')) === 'running', 30_000, 'the mountain running again');
    await page.screenshot({ path: join(SHOTS, 'mountain.png'), fullPage: true });
    await page.close();
  });

  it('refuses a port in use, a bad port, and a POST without the page\'s token or with a stale one (nothing changes)', async () => {
    const t = makeRigTown();
    towns.push(t);

    const bad = await runDashboard(t, ['--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port "eighty" is not a port number/);
    const big = await runDashboard(t, ['--port', '70000']);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/--port "70000" is not a port number/);

    const port = await freePort();
    const holder = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    try {
      const busy = await runDashboard(t, ['--port', String(port)]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(busy.stderr).toMatch(/--port <n>/);
    } finally {
      holder.close();
    }

    // A token from a dashboard that has since stopped is stale for the next one. That one was
    // asked to --open a browser where none can open (no display, a BROWSER that fails): it says
    // so and serves all the same.
    const bead = t.create('Keep me');
    const old = await startDashboard(t, ['--port', '0', '--open'], { DISPLAY: '', WAYLAND_DISPLAY: '', XDG_CURRENT_DESKTOP: '', BROWSER: 'false' });
    const oldToken = tokenOf(await (await fetch(old.url)).text());
    expect(oldToken).toBeDefined();
    await waitFor(() => old.stderr().includes('could not open a browser'), 15_000, 'gt dashboard --open to say it could not');
    expect(old.stderr()).toContain(`open ${old.url} yourself`);
    old.proc.kill('SIGTERM');
    await new Promise((r) => old.proc.once('exit', r));
    expect(old.proc.exitCode).toBe(0);

    const dash = await startDashboard(t);
    const page = await (await fetch(dash.url)).text();
    const token = tokenOf(page)!;
    expect(token).not.toBe(oldToken);
    const before = ledgers(t);
    const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${dash.url}actions/create-convoy`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
    const fields = { name: 'Sneaky', beads: bead };

    const none = await post(fields);
    expect(none.status).toBe(403);
    expect(await none.text()).toMatch(/no page token.*nothing was changed/);
    const stale = await post(fields, { 'X-GT-Token': oldToken! });
    expect(stale.status).toBe(403);
    expect(await stale.text()).toMatch(/token is stale.*Reload the page/);
    const forged = await post({ ...fields, token: 'not-a-token' });
    expect(forged.status).toBe(403);
    // With the token, bad input is refused too, saying what was wrong.
    const unknown = await post({ name: 'Nope', beads: 'pc-nosuch', token });
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(await unknown.text()).toMatch(/pc-nosuch/);
    const palette = await fetch(`${dash.url}actions/run`, { method: 'POST', headers: { 'X-GT-Token': token }, body: new URLSearchParams({ command: 'launch rockets' }) });
    expect(palette.status).toBe(400);
    expect(await palette.text()).toMatch(/the palette has no command &quot;launch&quot;.*hint: sling &lt;bead…&gt;/s);
    const get = await fetch(`${dash.url}actions/create-convoy`);
    expect(get.status).toBe(405);
    expect(ledgers(t)).toEqual(before);

    // A page asked for by another name (DNS rebinding to the loopback) is refused.
    const rebound = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const u = new URL(dash.url);
      request({ host: u.hostname, port: u.port, path: '/', headers: { Host: `evil.example:${u.port}` } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject).end();
    });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatch(/answers only requests for localhost or 127\.0\.0\.1, not for "evil\.example/);
    expect(ledgers(t)).toEqual(before);

    // And the token it issued works.
    const ok = await post({ ...fields, token });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await ok.text()).toMatch(/Created convoy hq-cv-/);
  });
});
