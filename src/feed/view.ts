import { spawnSync } from 'node:child_process';
import React from 'react';
import { Box, Text, render, useApp, useInput, useStdin, useStdout, type Key } from 'ink';
import { tmuxArgs } from '../activities/tmux.js';
import { formatEvent } from '../events/format.js';
import { hostEnv } from '../town/env.js';
import { agentRows, convoyRows, eventRow, filterRows, mergeRows, problemRows, typeInto, type PanelId, type Row } from './model.js';
import type { FeedStore } from './store.js';

/**
 * The `gt feed` TUI, drawn with Ink (React for terminals; no JSX, so plain createElement).
 * Panels: agents (rig → polecats), convoys, merge queue, events, and problems (`p` or
 * --problems). Keys: ↑/↓ j/k move, tab switches panel, / filters, Enter attaches to the agent's
 * tmux session, n nudges, h asks for a handoff, p problems, ? help, q quits.
 */
const h = React.createElement;

export interface FeedActions {
  nudge(address: string, text: string): Promise<string>;
  handoff(address: string): Promise<string>;
  /** The tmux session of an agent (by address), if it has one. */
  sessionOf(address: string): string | undefined;
}

type Mode = { kind: 'normal' } | { kind: 'filter'; text: string } | { kind: 'nudge'; agent: string; text: string } | { kind: 'help' };

const TITLES: Record<PanelId, string> = { problems: 'Problems', agents: 'Agents', convoys: 'Convoys & mountains', merges: 'Merge queue', events: 'Events' };

const HELP = [
  '↑/↓ or j/k   move in the panel',
  'tab          next panel (shift+tab: previous)',
  '/            filter every panel (type, Enter keeps it, Esc clears)',
  'Enter        attach to the selected agent\'s tmux session (detach: C-b d)',
  'n            nudge the selected agent (type the message, Enter sends)',
  'h            handoff: ask the selected polecat\'s workflow for a fresh session',
  'p            show or hide problems (stalled, waiting on a person, blocked, zombies)',
  '?            this help (any key closes it)',
  'q            quit',
];

function toneColor(tone: Row['tone']): string | undefined {
  return tone === 'ok' ? 'green' : tone === 'bad' ? 'red' : tone === 'warn' ? 'yellow' : tone === 'dim' ? 'gray' : undefined;
}

function Panel(props: { id: PanelId; rows: Row[]; total: number; focused: boolean; cursor: number; height: number; width: number | string; tail?: boolean }) {
  const inner = Math.max(1, props.height - 3);
  const { rows, cursor } = props;
  let start = Math.max(0, Math.min(cursor - Math.floor(inner / 2), rows.length - inner));
  if (props.tail && !props.focused) start = Math.max(0, rows.length - inner);
  const visible = rows.slice(start, start + inner);
  const count = rows.length === props.total ? `${props.total}` : `${rows.length} of ${props.total}`;
  return h(
    Box,
    { flexDirection: 'column', borderStyle: 'round', borderColor: props.focused ? 'cyan' : 'gray', height: props.height, width: props.width, overflow: 'hidden' },
    h(Text, { bold: true, color: props.focused ? 'cyan' : undefined, wrap: 'truncate' }, `${props.focused ? '▶ ' : ''}${TITLES[props.id]} (${count})`),
    ...visible.map((r, i) =>
      h(Text, { key: r.key, wrap: 'truncate', inverse: props.focused && start + i === cursor, color: toneColor(r.tone) }, r.text || ' '),
    ),
    visible.length === 0 ? h(Text, { color: 'gray' }, 'nothing here') : null,
  );
}

interface Ui {
  showProblems: boolean;
  focus: PanelId;
  cursors: Partial<Record<PanelId, number>>;
  filter: string;
  mode: Mode;
  message: string;
}

function FeedApp(props: { store: FeedStore; actions: FeedActions; problems: boolean; root: string }) {
  const { store, actions } = props;
  React.useSyncExternalStore(store.subscribe, store.getVersion);
  const { exit } = useApp();
  const { setRawMode } = useStdin();
  const { stdout } = useStdout();
  // Held in a ref, not React state: keys typed faster than a render must each see the one before.
  const ui = React.useRef<Ui>({ showProblems: props.problems, focus: props.problems ? 'problems' : 'agents', cursors: {}, filter: '', mode: { kind: 'normal' }, message: '' });
  const [, bump] = React.useState(0);
  const update = (patch: Partial<Ui>) => {
    ui.current = { ...ui.current, ...patch };
    bump((x) => x + 1);
  };

  /** The panels' rows as the UI state and the store are now. */
  const derive = () => {
    const u = ui.current;
    const s = store.snapshot;
    const live = u.mode.kind === 'filter' ? u.mode.text : u.filter;
    const all: Record<PanelId, Row[]> = {
      problems: problemRows(store.problems),
      agents: agentRows(s),
      convoys: convoyRows(s),
      merges: mergeRows(s),
      events: store.events.map((e) => eventRow(e, formatEvent)),
    };
    const shown = Object.fromEntries(Object.entries(all).map(([k, rows]) => [k, filterRows(rows, live)])) as Record<PanelId, Row[]>;
    const order: PanelId[] = u.showProblems ? ['problems', 'agents', 'convoys', 'merges', 'events'] : ['agents', 'convoys', 'merges', 'events'];
    const panel = order.includes(u.focus) ? u.focus : order[0]!;
    const cursorOf = (id: PanelId) => {
      const n = shown[id].length;
      const c = u.cursors[id] ?? (id === 'events' ? n - 1 : 0);
      return Math.max(0, Math.min(c, n - 1));
    };
    return { u, s, all, shown, order, panel, cursorOf, selected: shown[panel][cursorOf(panel)] };
  };

  const say = (message: string) => update({ message });
  const run = (p: Promise<string>) => p.then(say, (err: Error & { cause?: Error }) => say(`error: ${err.cause?.message ?? err.message}`));

  const attach = (agent: string) => {
    const session = actions.sessionOf(agent);
    if (!session) return say(`${agent} has no tmux session (it may run headless: gt peek ${agent})`);
    // Suspend: the TUI stops reading keys while tmux owns the terminal, and draws again after detach.
    setRawMode(false);
    const env = { ...hostEnv() };
    delete env.TMUX;
    const r = spawnSync('tmux', [...tmuxArgs(props.root), 'attach-session', '-t', `=${session}`], { stdio: 'inherit', env });
    setRawMode(true);
    stdout.write('\x1b[2J\x1b[H');
    say(r.status === 0 ? `back from ${session}` : `could not attach to ${session} (tmux exit ${r.status ?? r.signal})`);
  };

  const onKey = (input: string, key: Key) => {
    const { u, shown, order, panel, cursorOf, selected } = derive();
    const mode = u.mode;
    if (mode.kind === 'help') return update({ mode: { kind: 'normal' } });
    if (mode.kind === 'filter' || mode.kind === 'nudge') {
      if (key.escape) return update(mode.kind === 'filter' ? { filter: '', mode: { kind: 'normal' } } : { mode: { kind: 'normal' } });
      // Typed fast or pasted, text and its Enter can arrive as one chunk.
      const typed = key.return ? { text: mode.text, done: true } : key.backspace || key.delete ? { text: mode.text.slice(0, -1), done: false } : key.ctrl || key.meta || key.tab ? { text: mode.text, done: false } : typeInto(mode.text, input);
      if (!typed.done) return update({ mode: { ...mode, text: typed.text } });
      if (mode.kind === 'filter') return update({ filter: typed.text, mode: { kind: 'normal' } });
      update({ mode: { kind: 'normal' } });
      if (typed.text.trim()) {
        say(`nudging ${mode.agent}...`);
        run(actions.nudge(mode.agent, typed.text));
      }
      return;
    }
    const move = (d: number) => update({ cursors: { ...u.cursors, [panel]: Math.max(0, Math.min(cursorOf(panel) + d, shown[panel].length - 1)) } });
    if (input === 'q') return exit();
    if (key.tab) {
      const i = order.indexOf(panel);
      return update({ focus: order[(i + (key.shift ? order.length - 1 : 1)) % order.length]! });
    }
    if (key.upArrow || input === 'k') return move(-1);
    if (key.downArrow || input === 'j') return move(1);
    if (key.pageUp) return move(-10);
    if (key.pageDown) return move(10);
    // Typed fast or pasted, "/text" arrives as one input: the rest is the filter's text.
    if (input.startsWith('/')) {
      const typed = typeInto(u.filter, input.slice(1));
      return update(typed.done ? { filter: typed.text } : { mode: { kind: 'filter', text: typed.text } });
    }
    if (input === '?') return update({ mode: { kind: 'help' } });
    if (input === 'p') return update({ showProblems: !u.showProblems, focus: u.showProblems ? 'agents' : 'problems' });
    const agent = selected?.agent;
    if (key.return || input === 'n' || input === 'h') {
      if (!agent) return say('select an agent first (a polecat row, or an event or problem of one)');
      if (key.return) return attach(agent);
      if (input === 'n') return update({ mode: { kind: 'nudge', agent, text: '' } });
      say(`asking ${agent} for a handoff...`);
      return run(actions.handoff(agent));
    }
  };

  useInput((input, key) => {
    // Keys typed faster than they are read arrive as one chunk ("jjn"): each is a key of its own.
    if (ui.current.mode.kind === 'normal' && input.length > 1 && !input.startsWith('/') && !key.ctrl && !key.meta) {
      for (const ch of input) onKey(ch, { ...key, return: ch === '\r' });
      return;
    }
    onKey(input, key);
  });

  const { u, s, all, shown, panel, cursorOf } = derive();
  const mode = u.mode;
  const rows = stdout.rows || 40;
  const cols = stdout.columns || 120;
  const body = Math.max(12, rows - 2);
  const top = Math.max(8, Math.floor(body * 0.6));
  const bottom = Math.max(4, body - top);
  const panelOf = (id: PanelId, height: number, width: number | string, tail?: boolean) =>
    h(Panel, { key: id, id, rows: shown[id], total: all[id].length, focused: panel === id, cursor: cursorOf(id), height, width, tail });

  const rightIds: PanelId[] = u.showProblems ? ['problems', 'convoys', 'merges'] : ['convoys', 'merges'];
  const rightHeights = rightIds.length === 3 ? [Math.ceil(top / 3), Math.floor(top / 3), top - Math.ceil(top / 3) - Math.floor(top / 3)] : [Math.ceil(top / 2), Math.floor(top / 2)];
  const working = s.agents.filter((a) => a.status === 'working').length;
  const header = `gt feed  ${s.agents.length} polecats (${working} working)  ${s.convoys.filter((c) => c.status !== 'landed').length} convoys open, ${s.landed24h} landed 24h  ${s.merges.filter((m) => m.status === 'pending' || m.status === 'merging').length} in merge queue  ${store.problems.length} problems`;
  const footer =
    mode.kind === 'filter' ? `/${mode.text}█  (Enter keeps, Esc clears)`
      : mode.kind === 'nudge' ? `nudge ${mode.agent}: ${mode.text}█  (Enter sends, Esc cancels)`
        : `${u.filter ? `filter "${u.filter}"  ` : ''}${u.message || '? help  q quit  tab panel  / filter  Enter attach  n nudge  h handoff  p problems'}`;

  if (mode.kind === 'help') {
    return h(Box, { flexDirection: 'column', borderStyle: 'round', borderColor: 'cyan', padding: 1 }, h(Text, { bold: true }, 'gt feed keys'), ...HELP.map((l) => h(Text, { key: l }, l)), h(Text, { color: 'gray' }, 'press any key'));
  }
  return h(
    Box,
    { flexDirection: 'column', width: cols },
    h(Text, { wrap: 'truncate', color: store.problems.length ? 'yellow' : 'green' }, s.engineError ? `${header}  engine: ${s.engineError}` : header),
    h(
      Box,
      { flexDirection: 'row', height: top },
      panelOf('agents', top, '50%'),
      h(Box, { flexDirection: 'column', width: '50%' }, ...rightIds.map((id, i) => panelOf(id, rightHeights[i]!, '100%'))),
    ),
    panelOf('events', bottom, '100%', true),
    h(Text, { wrap: 'truncate', color: mode.kind === 'normal' ? 'gray' : 'cyan' }, footer),
  );
}

/** Draw the feed until `q`. */
export async function runFeedTui(store: FeedStore, actions: FeedActions, opts: { problems: boolean; root: string }): Promise<void> {
  const ink = render(h(FeedApp, { store, actions, problems: opts.problems, root: opts.root }), { exitOnCtrlC: true, maxFps: 10 });
  await ink.waitUntilExit();
}
