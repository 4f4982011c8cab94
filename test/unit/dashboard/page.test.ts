import { describe, expect, it } from 'vitest';
import { renderDag, STEP_COLOURS } from '../../../src/dashboard/dag.js';
import { esc } from '../../../src/dashboard/html.js';
import { lastLines } from '../../../src/dashboard/output.js';
import { renderPage, renderSections, SECTIONS, type DashboardView } from '../../../src/dashboard/page.js';
import { emptySnapshot, type Snapshot } from '../../../src/feed/model.js';
import type { MoleculeState } from '../../../src/molecule/state.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');

function view(over: Partial<Snapshot> = {}, extra: Partial<DashboardView> = {}): DashboardView {
  return {
    town: 'town<1>',
    snapshot: { ...emptySnapshot(NOW), rigs: ['app'], ready: [], mail: [], formulas: [], ...over },
    problems: [],
    events: [],
    output: () => [],
    link: (id) => `http://ui/namespaces/default/workflows/${encodeURIComponent(id)}`,
    ...extra,
  };
}

function molecule(): MoleculeState {
  return {
    molecule: 'hq-m1',
    formula: 'release',
    vars: {},
    status: 'running',
    startedAt: '2026-12-01T09:00:00Z',
    steps: [
      { id: 'build', title: 'Build', bead: 'hq-m1.1', kind: 'run', needs: [], status: 'succeeded' },
      { id: 'test', title: 'Test', bead: 'hq-m1.2', kind: 'run', needs: ['build'], status: 'failed', reason: 'exit 1\nmore' },
      { id: 'lint', title: 'Lint', bead: 'hq-m1.3', kind: 'run', needs: ['build'], status: 'running' },
      { id: 'ship', title: 'Ship <now>', bead: 'hq-m1.4', kind: 'gate', needs: ['test', 'lint'], status: 'pending' },
    ],
  };
}

describe('dashboard page', () => {
  it('escapes what it shows', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const html = renderPage(view({ convoys: [{ id: 'hq-cv-1', title: '<script>alert(1)</script>', mode: 'convoy', status: 'running', done: 0, total: 1, human: false, failed: [] }] }), 'tok');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('gt dashboard · town&lt;1&gt;');
  });

  it('carries the page token on every request and in every form, and serves htmx from the server', () => {
    const html = renderPage(view(), 'tok-123');
    expect(html).toContain(`hx-headers='{&quot;X-GT-Token&quot;:&quot;tok-123&quot;}'`);
    expect(html.match(/name="token" value="tok-123"/g)).toHaveLength(4);
    expect(html).toContain('sse-connect="/events?page=tok-123"');
    expect(html).toContain('<script src="/assets/htmx.min.js">');
    expect(html).not.toMatch(/https?:\/\/(?!ui\/)[^"']*\.js/);
    for (const s of SECTIONS) expect(html).toContain(`sse-swap="${s}"`);
  });

  it('summary counts agents working, hooks, ready work, open convoys and problems', () => {
    const s = renderSections(
      view(
        {
          agents: [
            { rig: 'app', name: 'furiosa', address: 'app/polecats/furiosa', session: 'ap-furiosa', status: 'working', bead: 'ap-1', sessionAlive: true, hooked: ['ap-1'], queued: [], stallMs: 60_000 },
            { rig: 'app', name: 'nux', address: 'app/polecats/nux', session: 'ap-nux', status: 'idle', sessionAlive: false, hooked: [], queued: [], stallMs: 60_000 },
          ],
          ready: [{ bead: 'ap-2', title: 'Two', rig: 'app' }],
          convoys: [
            { id: 'hq-cv-1', title: 'A', mode: 'convoy', status: 'running', done: 0, total: 1, human: false, failed: [] },
            { id: 'hq-cv-2', title: 'B', mode: 'convoy', status: 'landed', done: 1, total: 1, human: false, failed: [] },
          ],
        },
        { problems: [{ kind: 'waiting', subject: 'hq-cv-1', why: 'awaits approval' }] },
      ),
    ).summary;
    expect(s).toContain('<b>1/2</b> agents working');
    expect(s).toContain('<b>1</b> hooks');
    expect(s).toContain('<b>1</b> ready');
    expect(s).toContain('<b>1</b> convoys open');
    expect(s).toMatch(/class="stat bad" data-stat="problems"><b>1<\/b>/);
  });

  it('offers the actions that fit: approve a --human convoy waiting, pause a running mountain, resume a paused one, sling ready work, nudge a live session', () => {
    const s = renderSections(
      view({
        convoys: [
          { id: 'hq-cv-1', title: 'A', mode: 'convoy', status: 'awaiting-approval', done: 1, total: 1, human: true, failed: [] },
          { id: 'hq-cv-2', title: 'B', mode: 'mountain', status: 'running', done: 0, total: 4, human: false, failed: [], beads: [{ id: 'ap-9', title: 'Nine', phase: 'running', polecat: 'nux' }] },
          { id: 'hq-cv-3', title: 'C', mode: 'mountain', status: 'paused', done: 0, total: 4, human: false, failed: [] },
          { id: 'hq-cv-4', title: 'D', mode: 'convoy', status: 'running', done: 0, total: 1, human: false, failed: [] },
        ],
        ready: [{ bead: 'ap-2', title: 'Two', rig: 'app' }],
        agents: [{ rig: 'app', name: 'furiosa', address: 'app/polecats/furiosa', session: 'ap-furiosa', status: 'working', sessionAlive: true, hooked: [], queued: [], stallMs: 60_000 }],
      }, { output: () => ['line one', 'line <two>'] }),
    );
    const buttons = (html: string) => [...html.matchAll(/data-action="([^"]+)"/g)].map((m) => m[1]);
    expect(buttons(s.convoys)).toEqual(['approve-convoy', 'pause', 'resume']);
    expect(s.convoys).toContain('data-phase="running"');
    expect(s.convoys).toContain('href="http://ui/namespaces/default/workflows/hq-cv-1"');
    expect(buttons(s.ready)).toEqual(['sling']);
    expect(s.ready).toContain(`hx-vals='{&quot;bead&quot;:&quot;ap-2&quot;,&quot;target&quot;:&quot;app&quot;}'`);
    expect(buttons(s.polecats)).toEqual(['nudge']);
    expect(s.polecats).toContain('line one\nline &lt;two&gt;');
    expect(s.polecats).toContain('workflows/polecat%2Fapp%2Ffuriosa');
  });

  it('shows a session at a prompt as awaiting input with the prompt, not as stalled, and a convoy budget spent', () => {
    const s = renderSections(
      view({
        agents: [{ rig: 'app', name: 'furiosa', address: 'app/polecats/furiosa', session: 'ap-furiosa', status: 'working', bead: 'ap-1', sessionAlive: true, hooked: ['ap-1'], queued: [], stallMs: 1000, lastProgressAt: NOW - 600_000, awaiting: { kind: 'permission', text: 'Do you want to proceed?', since: '2026-12-01T09:55:00Z', escalatedAt: '2026-12-01T09:56:00Z' } }],
        convoys: [{ id: 'hq-cv-1', title: 'A', mode: 'convoy', status: 'over-budget', done: 1, total: 3, human: false, failed: [], budget: { tokens: 1000, spentTokens: 1200, exhaustedAt: '2026-12-01T09:59:00Z' } }],
      }),
    );
    expect(s.polecats).toContain('data-status="awaiting input"');
    expect(s.polecats).toContain('class="agent warn"');
    expect(s.polecats).toContain('permission prompt: Do you want to proceed?');
    expect(s.polecats).toContain('(the Mayor was told)');
    expect(s.convoys).toContain('spent 1,200 tokens of 1,000 tokens');
    expect(s.convoys).toContain('class="budget bad"');
  });

  it('draws a formula run: a column per depth, an arrow per need, each step coloured by its state', () => {
    const svg = renderDag(molecule());
    expect(svg.match(/<line /g)).toHaveLength(4);
    const box = (id: string) => new RegExp(`data-step="${id}" data-status="([a-z-]+)"><title>[^<]*</title><rect x="(\\d+)" y="(\\d+)"[^>]*fill="([^"]+)"`).exec(svg)!;
    const [build, test, lint, ship] = ['build', 'test', 'lint', 'ship'].map(box);
    expect(Number(build![2])).toBeLessThan(Number(test![2]));
    expect(test![2]).toBe(lint![2]);
    expect(test![3]).not.toBe(lint![3]);
    expect(Number(ship![2])).toBeGreaterThan(Number(test![2]));
    expect(test![4]).toBe(STEP_COLOURS.failed);
    expect(lint![4]).toBe(STEP_COLOURS.running);
    expect(build![4]).toBe(STEP_COLOURS.succeeded);
    expect(svg).toContain('test: Test (failed) exit 1</title>');
    expect(svg).toContain('ship: Ship &lt;now&gt; (pending)');
  });

  it('a formula run with a waiting gate gets its approve button', () => {
    const m = molecule();
    m.steps[3]!.status = 'waiting';
    const s = renderSections(view({ formulas: [{ molecule: 'hq-m1', state: m }], gates: [{ molecule: 'hq-m1', step: 'ship', bead: 'hq-m1.4', waitingFor: 'approval: bd gate approve hq-m1.4' }] })).formulas;
    expect(s).toContain('data-action="approve-gate"');
    expect(s).toContain(`{&quot;molecule&quot;:&quot;hq-m1&quot;,&quot;step&quot;:&quot;ship&quot;}`);
  });

  it('shows the newest events first, each linked to the workflow that wrote it', () => {
    const events = [1, 2, 3].map((i) => ({ id: `e${i}`, at: `2026-12-01T10:00:0${i}.000Z`, type: 'step.end', actor: 'molecule/hq-m1', bead: `hq-m1.${i}`, workflow: i === 3 ? undefined : 'hq-m1' }));
    const s = renderSections(view({}, { events })).events;
    expect([...s.matchAll(/data-event="(e\d)"/g)].map((m) => m[1])).toEqual(['e3', 'e2', 'e1']);
    expect(s.match(/href="http:\/\/ui\/namespaces\/default\/workflows\/hq-m1"/g)).toHaveLength(2);
  });
});

describe('agent output', () => {
  it('keeps the last non-blank lines as a terminal shows them: escapes gone, carriage returns redrawn', () => {
    expect(lastLines('\x1b[32mgreen\x1b[0m\n\nprogress 10%\rprogress 90%\r\n\x1b]0;title\x07done\n', 4)).toEqual(['green', 'progress 90%', 'done']);
    expect(lastLines('a\nb\nc\nd\ne\n', 2)).toEqual(['d', 'e']);
    expect(lastLines('', 3)).toEqual([]);
  });
});
