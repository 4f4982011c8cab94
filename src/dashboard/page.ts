/**
 * The dashboard's HTML, as pure functions of what the feed gathered: the page, and each live
 * section on its own (the server pushes a section again only when its HTML changed). Buttons
 * post to /actions/<name>; htmx adds the page's token to every request (hx-headers on <body>).
 */
import type { TownEvent } from '../events/log.js';
import { formatEvent } from '../events/format.js';
import { formatBudget, formatSpent } from '../convoy/budget.js';
import { convoyWorkflowId } from '../convoy/types.js';
import { ago, type Problem, type Snapshot } from '../feed/model.js';
import { polecatWorkflowId, refineryWorkflowId } from '../temporal/merge-protocol.js';
import { renderDag } from './dag.js';
import { esc, uiLink } from './html.js';
import { PALETTE_HELP, suggestions } from './palette.js';

export interface DashboardView {
  town: string;
  snapshot: Snapshot;
  problems: Problem[];
  events: TownEvent[];
  /** The last lines a polecat printed. */
  output: (rig: string, name: string) => string[];
  /** The Temporal Web UI page of a workflow, when a Web UI is known. */
  link: (workflowId: string) => string | undefined;
}

export const SECTIONS = ['summary', 'problems', 'convoys', 'polecats', 'merges', 'ready', 'formulas', 'mail', 'events', 'palette'] as const;
export type Section = (typeof SECTIONS)[number];

const WORKING = new Set(['working', 'starting', 'stopping']);
const EVENTS_SHOWN = 15;

/** A button that posts an action; `vals` go as form fields. */
function actionButton(action: string, label: string, vals: Record<string, string>, opts: { confirm?: string; prompt?: string } = {}): string {
  return (
    `<button class="act" hx-post="/actions/${action}" hx-target="#flash" hx-vals='${esc(JSON.stringify(vals))}'` +
    `${opts.confirm ? ` hx-confirm="${esc(opts.confirm)}"` : ''}${opts.prompt ? ` hx-prompt="${esc(opts.prompt)}"` : ''} data-action="${action}">${esc(label)}</button>`
  );
}

function progressBar(done: number, total: number): string {
  const pct = total ? Math.round((done / total) * 100) : 0;
  return `<span class="bar" title="${done}/${total}"><span style="width:${pct}%"></span></span> ${done}/${total}`;
}

function summary(v: DashboardView): string {
  const s = v.snapshot;
  const working = s.agents.filter((a) => WORKING.has(a.status)).length;
  const hooks = s.agents.reduce((n, a) => n + a.hooked.length, 0);
  const open = s.convoys.filter((c) => c.status !== 'landed' && c.status !== 'cancelled').length;
  const item = (id: string, label: string, value: string | number, tone = '') => `<span class="stat ${tone}" data-stat="${id}"><b>${esc(value)}</b> ${esc(label)}</span>`;
  return (
    item('agents', 'agents working', `${working}/${s.agents.length}`) +
    item('hooks', 'hooks', hooks) +
    item('ready', 'ready', s.ready?.length ?? 0) +
    item('convoys', 'convoys open', open) +
    item('problems', 'problems', v.problems.length, v.problems.length ? 'bad' : 'ok') +
    (s.engineError ? `<span class="stat bad">engine: ${esc(s.engineError)}</span>` : '') +
    `<span class="stat dim">updated ${new Date(s.at).toISOString().slice(11, 19)}</span>`
  );
}

function convoys(v: DashboardView): string {
  const s = v.snapshot;
  if (!s.convoys.length) return `<p class="dim">No convoys. ${s.landed24h} landed in the last 24 h.</p>`;
  const rows = s.convoys.map((c) => {
    const steer: string[] = [];
    if (c.status === 'awaiting-approval') steer.push(actionButton('approve-convoy', 'approve', { convoy: c.id }));
    if (c.mode === 'mountain' && (c.status === 'running' || c.status === 'stalled')) steer.push(actionButton('pause', 'pause', { convoy: c.id }));
    if (c.mode === 'mountain' && c.status === 'paused') steer.push(actionButton('resume', 'resume', { convoy: c.id }));
    const eta = c.etaMs !== undefined && c.status === 'running' ? ` · ETA ${ago(c.etaMs)}` : '';
    const budget = c.budget ? ` <span class="budget${c.budget.exhaustedAt ? ' bad' : ''}">spent ${esc(formatSpent(c.budget))} of ${esc(formatBudget(c.budget))}</span>` : '';
    const beads = (c.beads ?? []).map((b) => `<li data-bead="${esc(b.id)}" data-phase="${esc(b.phase)}"><code>${esc(b.id)}</code> <span class="phase ${esc(b.phase)}">${esc(b.phase)}</span> ${esc(b.title)}${b.polecat ? ` <span class="dim">${esc(b.polecat)}</span>` : ''}</li>`);
    return (
      `<details class="convoy" id="convoy-${esc(c.id)}" data-convoy="${esc(c.id)}" data-status="${esc(c.status)}"><summary>` +
      `${uiLink(c.id, v.link(convoyWorkflowId(c.id)))} <span class="tag">${c.mode}</span> <span class="status ${esc(c.status)}">${esc(c.status)}</span> ` +
      `${progressBar(c.done, c.total)}${eta}${budget} <span class="title">${esc(c.title)}</span> ${steer.join(' ')}</summary>` +
      (beads.length ? `<ul class="beads">${beads.join('')}</ul>` : '<p class="dim">its workflow has not answered yet</p>') +
      '</details>'
    );
  });
  return rows.join('') + `<p class="dim">${s.landed24h} landed in the last 24 h</p>`;
}

function polecats(v: DashboardView): string {
  const s = v.snapshot;
  const rigs = [...new Set([...s.rigs, ...s.agents.map((a) => a.rig)])].sort();
  if (!rigs.length) return '<p class="dim">No rigs yet: gt rig add.</p>';
  return rigs
    .map((rig) => {
      const agents = s.agents.filter((a) => a.rig === rig);
      const cards = agents.map((a) => {
        const out = v.output(rig, a.name);
        const progress = a.lastProgressAt !== undefined ? `progress ${ago(s.at - a.lastProgressAt)} ago` : '';
        const awaiting = a.status === 'working' ? a.awaiting : undefined;
        const stalled = !awaiting && a.status === 'working' && a.lastProgressAt !== undefined && s.at - a.lastProgressAt > a.stallMs;
        return (
          `<div class="agent ${awaiting ? 'warn' : stalled ? 'bad' : WORKING.has(a.status) ? 'ok' : 'dim'}" data-agent="${esc(a.address)}" data-status="${esc(awaiting ? 'awaiting input' : a.status)}">` +
          `<div>${uiLink(a.name, v.link(polecatWorkflowId(rig, a.name)))} <span class="status">${esc(awaiting ? 'awaiting input' : a.status)}</span>` +
          `${a.bead ? ` <code>${esc(a.bead)}</code>` : ''}${a.attempt ? ` #${a.attempt}${a.maxAttempts ? `/${a.maxAttempts}` : ''}` : ''}` +
          `${a.sessionAlive ? ' <span class="tag">tmux</span>' : ''} <span class="dim">${esc(progress)}</span> ` +
          `${a.sessionAlive ? actionButton('nudge', 'nudge', { agent: a.address }, { prompt: `Message for ${a.address}` }) : ''}</div>` +
          (awaiting ? `<div class="awaiting">${esc(awaiting.kind)} prompt: ${esc(awaiting.text)}${awaiting.escalatedAt ? ' <span class="dim">(the Mayor was told)</span>' : ''}</div>` : '') +
          `<pre class="output">${out.length ? out.map(esc).join('\n') : '<span class="dim">no output yet</span>'}</pre></div>`
        );
      });
      return `<h3>${esc(rig)} <span class="dim">${agents.filter((a) => WORKING.has(a.status)).length}/${agents.length} working</span></h3><div class="agents">${cards.join('') || '<p class="dim">no polecats yet: sling work to this rig</p>'}</div>`;
    })
    .join('');
}

function merges(v: DashboardView): string {
  const m = v.snapshot.merges;
  if (!m.length) return '<p class="dim">The merge queues are empty.</p>';
  return (
    '<table><tr><th>rig</th><th>status</th><th>bead</th><th>branch</th><th>polecat</th><th>why</th></tr>' +
    m
      .map((r) => `<tr class="${esc(r.status)}"><td>${uiLink(r.rig, v.link(refineryWorkflowId(r.rig)))}</td><td>${esc(r.status)}</td><td><code>${esc(r.bead)}</code></td><td>${esc(r.branch)}</td><td>${esc(r.polecat)}</td><td>${esc(r.reason?.split('\n')[0]?.slice(0, 120) ?? '')}</td></tr>`)
      .join('') +
    '</table>'
  );
}

function ready(v: DashboardView): string {
  const r = v.snapshot.ready ?? [];
  if (!r.length) return '<p class="dim">No ready work.</p>';
  return (
    '<table><tr><th>bead</th><th>P</th><th>title</th><th>rig</th><th></th></tr>' +
    r.map((b) => `<tr data-bead="${esc(b.bead)}"><td><code>${esc(b.bead)}</code></td><td>${esc(b.priority ?? '')}</td><td>${esc(b.title)}</td><td>${esc(b.rig)}</td><td>${actionButton('sling', 'sling', { bead: b.bead, target: b.rig })}</td></tr>`).join('') +
    '</table>'
  );
}

function formulas(v: DashboardView): string {
  const f = v.snapshot.formulas ?? [];
  const gates = v.snapshot.gates;
  if (!f.length) return '<p class="dim">No formula runs.</p>';
  return f
    .map(({ molecule, state }) => {
      const done = state.steps.filter((s) => s.status === 'succeeded').length;
      const waiting = gates.filter((g) => g.molecule === molecule).map((g) => `${actionButton('approve-gate', `approve "${g.step}"`, { molecule, step: g.step })} <span class="dim">${esc(g.waitingFor)}</span>`);
      return (
        `<div class="formula" data-molecule="${esc(molecule)}" data-status="${esc(state.status)}"><div>${uiLink(molecule, v.link(molecule))} <span class="tag">${esc(state.formula)}</span> ` +
        `<span class="status ${esc(state.status)}">${esc(state.status)}</span> ${progressBar(done, state.steps.length)} ${waiting.join(' ')}</div>${renderDag(state)}</div>`
      );
    })
    .join('');
}

function mail(v: DashboardView): string {
  const m = v.snapshot.mail ?? [];
  if (!m.length) return '<p class="dim">No mail.</p>';
  const polecat = (address: string) => {
    const p = /^([^/]+)\/polecats\/([^/]+)$/.exec(address);
    return p ? uiLink(address, v.link(polecatWorkflowId(p[1]!, p[2]!))) : esc(address);
  };
  return (
    '<table><tr><th>sent</th><th>from</th><th>to</th><th>subject</th></tr>' +
    m.map((r) => `<tr class="${r.read ? 'dim' : 'unread'}"><td>${esc(r.sentAt.replace('T', ' ').slice(0, 19))}</td><td>${polecat(r.from)}</td><td>${polecat(r.to)}</td><td>${esc(r.subject)}</td></tr>`).join('') +
    '</table>'
  );
}

function problems(v: DashboardView): string {
  if (!v.problems.length) return '<p class="ok">No problems.</p>';
  const link = (p: Problem) => {
    const m = p.agent && /^([^/]+)\/polecats\/([^/]+)$/.exec(p.agent);
    if (m) return v.link(polecatWorkflowId(m[1]!, m[2]!));
    if (/^[a-z0-9]+-cv-/.test(p.subject)) return v.link(convoyWorkflowId(p.subject));
    return undefined;
  };
  return '<ul>' + v.problems.map((p) => `<li class="problem ${p.kind}" data-kind="${p.kind}"><b>${p.kind}</b> ${uiLink(p.subject, link(p))}: ${esc(p.why)}</li>`).join('') + '</ul>';
}

function events(v: DashboardView): string {
  const e = v.events.slice(-EVENTS_SHOWN).reverse();
  if (!e.length) return '<p class="dim">No events yet.</p>';
  const line = (x: TownEvent) => {
    const href = x.workflow ? v.link(x.workflow) : undefined;
    return href ? `<a href="${esc(href)}" target="_blank" rel="noopener">${esc(formatEvent(x))}</a>` : esc(formatEvent(x));
  };
  return '<pre class="events">' + e.map((x) => `<span data-event="${esc(x.id)}">${line(x)}</span>`).join('\n') + '</pre>';
}

function palette(v: DashboardView): string {
  return suggestions(v.snapshot).map((line) => `<option value="${esc(line)}"></option>`).join('');
}

const RENDER: Record<Section, (v: DashboardView) => string> = { summary, problems, convoys, polecats, merges, ready, formulas, mail, events, palette };

export function renderSection(section: Section, v: DashboardView): string {
  return RENDER[section](v);
}

export function renderSections(v: DashboardView): Record<Section, string> {
  return Object.fromEntries(SECTIONS.map((s) => [s, RENDER[s](v)])) as Record<Section, string>;
}

const TITLES: Record<Exclude<Section, 'summary' | 'palette'>, string> = {
  problems: 'Problems',
  convoys: 'Convoys and mountains',
  polecats: 'Polecats',
  merges: 'Merge queue',
  ready: 'Ready work',
  formulas: 'Formula runs',
  mail: 'Mail',
  events: 'Events',
};

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#fafafa;color:#18181b}
header{position:sticky;top:0;background:#18181b;color:#fafafa;padding:8px 16px;display:flex;gap:18px;align-items:center;flex-wrap:wrap;z-index:1}
header h1{font-size:16px;margin:0 12px 0 0}#summary{display:flex;gap:16px;flex-wrap:wrap}header .stat b{font-size:16px}header .bad b{color:#fca5a5}header .ok b{color:#86efac}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px;padding:12px}
section.panel{background:#fff;border:1px solid #e4e4e7;border-radius:6px;padding:8px 12px;overflow:auto}
section.panel h2{font-size:14px;margin:0 0 6px}h3{font-size:13px;margin:8px 0 4px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #f4f4f5;font-size:13px}
.dim{color:#71717a}.ok{color:#15803d}.bad{color:#b91c1c}.tag{background:#f4f4f5;border-radius:3px;padding:0 4px;font-size:12px}
.bar{display:inline-block;width:90px;height:8px;background:#e4e4e7;border-radius:4px;vertical-align:middle}.bar span{display:block;height:8px;background:#22c55e;border-radius:4px}
.agents{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:6px}
.agent{border:1px solid #e4e4e7;border-radius:4px;padding:4px 6px}.agent.ok{border-left:4px solid #22c55e}.agent.bad{border-left:4px solid #ef4444}.agent.warn{border-left:4px solid #f59e0b}.awaiting{color:#92400e;font-size:12px}.budget{font-size:12px;color:#52525b}.budget.bad{color:#b91c1c}
pre.output{margin:4px 0 0;background:#18181b;color:#e4e4e7;font-size:11px;padding:4px;min-height:4.6em;overflow:hidden;white-space:pre;text-overflow:ellipsis}
pre.events{font-size:12px;margin:0;white-space:pre-wrap}pre.events a{color:inherit;text-decoration:none}pre.events a:hover{text-decoration:underline}
.formula{margin-bottom:10px}svg.dag{display:block;margin-top:4px;max-width:100%;height:auto}
.problem.waiting b{color:#a16207}.problem b{color:#b91c1c}
dialog{border:1px solid #a1a1aa;border-radius:6px;padding:12px;width:640px}dialog input{width:100%}dialog::backdrop{background:rgba(0,0,0,.3)}
#flash p{margin:4px 0;padding:4px 8px;border-radius:4px}#flash .ok{background:#dcfce7}#flash .bad{background:#fee2e2}
form{display:flex;gap:6px;flex-wrap:wrap;align-items:center;margin:4px 0}input{font:inherit;padding:2px 4px}
button{font:inherit;padding:1px 8px;cursor:pointer}
`;

/** Keeps the drill-downs a person opened open when htmx swaps their section. */
const KEEP_OPEN = `
const opened = new Set();
document.addEventListener('toggle', (e) => { const d = e.target; if (d.tagName === 'DETAILS' && d.id) d.open ? opened.add(d.id) : opened.delete(d.id); }, true);
document.body.addEventListener('htmx:sseMessage', () => { for (const id of opened) { const d = document.getElementById(id); if (d) d.open = true; } });
`;

/** Ctrl-K (or the button) opens the command palette; it closes once its command was sent. (Its suggestions sit outside its form: inside, they would inherit the form's hx-target.) */
const PALETTE = `
const palette = document.getElementById('palette');
const openPalette = () => { if (!palette.open) { palette.showModal(); palette.querySelector('input[name=command]').select(); } };
document.addEventListener('keydown', (e) => { if ((e.ctrlKey || e.metaKey) && e.key === 'k') { e.preventDefault(); openPalette(); } });
document.getElementById('open-palette').addEventListener('click', openPalette);
document.body.addEventListener('htmx:afterRequest', (e) => { if (e.target.id === 'form-palette') { palette.close(); e.target.reset(); } });
`;

/** The whole page: every section as it is now, connected to /events for what changes. */
export function renderPage(v: DashboardView, token: string): string {
  const s = renderSections(v);
  const panel = (id: Exclude<Section, 'summary' | 'palette'>, extra = '') => `<section class="panel" id="panel-${id}"><h2>${TITLES[id]}</h2>${extra}<div id="${id}" sse-swap="${id}">${s[id]}</div></section>`;
  const hidden = `<input type="hidden" name="token" value="${esc(token)}">`;
  const forms =
    `<form hx-post="/actions/sling" hx-target="#flash" id="form-sling">${hidden}<b>sling</b><input name="bead" placeholder="bead" required size="10"><input name="target" placeholder="rig or rig/polecat" size="16"><button>sling</button></form>` +
    `<form hx-post="/actions/nudge" hx-target="#flash" id="form-nudge">${hidden}<b>nudge</b><input name="agent" placeholder="mayor or rig/polecats/name" required size="20"><input name="message" placeholder="message" required size="24"><button>nudge</button></form>` +
    `<form hx-post="/actions/create-convoy" hx-target="#flash" id="form-convoy">${hidden}<b>convoy</b><input name="name" placeholder="name" required size="14"><input name="beads" placeholder="beads (space separated)" required size="22"><label><input type="checkbox" name="human" value="1"> --human</label><button>create</button></form>`;
  // htmx: the page's token on every request; every response is swapped into #flash, errors included.
  const htmxConfig = JSON.stringify({ responseHandling: [{ code: '204', swap: false }, { code: '...', swap: true }] });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gt dashboard · ${esc(v.town)}</title>
<meta name="htmx-config" content='${esc(htmxConfig)}'>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>${STYLE}</style>
<script src="/assets/htmx.min.js"></script><script src="/assets/sse.js"></script>
</head>
<body hx-ext="sse" hx-headers='${esc(JSON.stringify({ 'X-GT-Token': token }))}'>
<div sse-connect="/events?page=${encodeURIComponent(token)}">
<header><h1>gt dashboard · ${esc(v.town)}</h1><span id="summary" sse-swap="summary">${s.summary}</span></header>
<main>
<section class="panel" id="panel-actions"><h2>Actions <button type="button" class="act" id="open-palette" title="Ctrl-K">command palette</button></h2>${forms}<div id="flash" aria-live="polite"></div></section>
${panel('problems')}
${panel('convoys')}
${panel('polecats')}
${panel('merges')}
${panel('ready')}
${panel('formulas')}
${panel('mail')}
${panel('events')}
</main>
<dialog id="palette"><form hx-post="/actions/run" hx-target="#flash" id="form-palette">${hidden}<input name="command" list="palette-options" placeholder="a command (Ctrl-K)" size="60" autocomplete="off" required><p class="dim">${esc(PALETTE_HELP)}</p></form><datalist id="palette-options" sse-swap="palette">${s.palette}</datalist></dialog>
</div>
<script>${KEEP_OPEN}${PALETTE}</script>
</body></html>
`;
}
