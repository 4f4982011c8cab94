import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, PROJECT } from '../helpers/cli.js';
import { waitFor } from '../helpers/town.js';
import { createIn, gtJson, makeRigTown, waitClosed, type RigTown } from './convoy-helpers.js';

/**
 * The Temporal Web UI reads like the town: a town with its own embedded server (and its Web UI),
 * a convoy landed and a formula run, looked at in a real headless Chromium (Debian's `chromium`,
 * installed by `npm run setup`). Screenshots of each page are kept in test-results/webui/.
 */
function findChromium(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error('no chromium on PATH: `npm run setup` installs it (apt), or set CHROMIUM_PATH to a Chromium or Chrome binary');
}
const CHROMIUM = findChromium();
const SHOTS = join(PROJECT, 'test-results', 'webui');


/** The page's text with that of its frames (the Web UI renders summaries and details as markdown in frames). */
async function textOf(page: Page): Promise<string> {
  const parts: string[] = [];
  for (const frame of page.frames()) parts.push(await frame.locator('body').innerText().catch(() => ''));
  return parts.join('\n');
}

let browser: Browser;
const towns: RigTown[] = [];
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

describe('the Web UI', { timeout: 300_000 }, () => {
  it('lists the town\'s workflows; a convoy, a polecat, a merge queue, a dispatcher and a formula run show their current details', async () => {
    const t = makeRigTown();
    towns.push(t);
    // Its own embedded server with the Web UI (the test run's shared server has none).
    delete t.env.TEMPORAL_ADDRESS;
    const [grpc, ui] = [await freePort(), await freePort()];
    t.settings((s) => {
      s.temporal = { ...s.temporal, grpc_port: grpc, ui_port: ui };
    });
    expect(t.gt(['up']).code).toBe(0);
    const first = createIn(t, t.rig, 'Lay the foundation');
    const second = createIn(t, t.rig, 'Build on it', { deps: [first] });
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Feature X', first, second]);
    await waitClosed(t, convoy, 180_000);
    t.writeFormula('tiny', 'formula = "tiny"\ndescription = "two steps"\nversion = 1\n\n[[steps]]\nid = "hello"\ntitle = "Say hello"\nrun = "echo hello"\n\n[[steps]]\nid = "bye"\ntitle = "Say goodbye"\nneeds = ["hello"]\nrun = "echo bye"\n');
    const cook = t.bd(['cook', 'tiny', '--json']);
    expect(cook.code, cook.stderr).toBe(0);
    const molecule = (JSON.parse(cook.stdout) as { molecule: string }).molecule;

    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const base = `http://127.0.0.1:${ui}/namespaces/default`;
    await page.goto(`${base}/workflows`);
    await page.getByText(convoy).first().waitFor({ timeout: 60_000 });
    const list = await page.locator('body').innerText();
    for (const id of [convoy, molecule, `polecat/${t.rig}/furiosa`, `refinery/${t.rig}`, `dispatch/${t.rig}`]) expect(list).toContain(id);
    await page.screenshot({ path: join(SHOTS, 'list.png'), fullPage: true });

    // Each page: its static summary, and its current details (kept up to date by the workflow). The
    // page's typography turns quotes curly and 2/2 into a fraction, hence the dots.
    const pages: Array<[string, string, RegExp[]]> = [
      ['convoy', convoy, [/convoy .Feature X. · 2 beads/, new RegExp(`landed · 2.2 closed[\\s\\S]*${first}`), /merged [0-9a-f]{10}/]],
      ['polecat', `polecat/${t.rig}/furiosa`, [new RegExp(`polecat furiosa @ ${t.rig}`), /idle · last: \S+ submitted/]],
      ['refinery', `refinery/${t.rig}`, [new RegExp(`merge queue of rig ${t.rig}`), /idle · 0 waiting · 2 merged, 0 sent back/]],
      ['dispatch', `dispatch/${t.rig}`, [new RegExp(`dispatcher of rig ${t.rig}`), /polecats working/]],
      ['molecule', molecule, [/formula tiny/, /succeeded · tiny · 2.2 steps done/]],
    ];
    for (const [kind, id, wanted] of pages) {
      await page.goto(`${base}/workflows/${encodeURIComponent(id)}`);
      await page.getByText('User Metadata', { exact: true }).first().click();
      let tries = 0;
      await waitFor(async () => {
        // The page fetches current details once; R asks again.
        if (++tries % 10 === 0) await page.keyboard.press('r');
        const text = await textOf(page);
        return wanted.every((re) => re.test(text));
      }, 60_000, `the ${kind} page to show its summary and details`).catch(async (err) => {
        await page.screenshot({ path: join(SHOTS, `${kind}-failed.png`), fullPage: true });
        writeFileSync(join(SHOTS, `${kind}-failed.txt`), await textOf(page));
        throw err;
      });
      await page.screenshot({ path: join(SHOTS, `${kind}.png`), fullPage: true });
    }
    await page.close();
  });
});
