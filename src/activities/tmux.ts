import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { hostEnv } from '../town/env.js';
import { readTownJson } from '../town/layout.js';
import { execFile } from './launcher.js';

/**
 * tmux sessions for agents, so a person can attach and watch or type. Each town has its own tmux
 * server (`tmux -L <socket>`, the socket named after the town), so towns on one machine never
 * see or stop each other's sessions and nothing a town sets reaches the person's own tmux.
 * `GT_TMUX_SOCKET` overrides the socket name (tests give each test town one). Commands and text
 * are always passed as arguments.
 */

/** The name of the town's tmux server socket: `gt-<town name>-<hash of its folder>`. */
export function tmuxSocket(root: string): string {
  const override = process.env.GT_TMUX_SOCKET;
  if (override) return override;
  let real = root;
  try {
    real = realpathSync(root);
  } catch {
    // not there (yet): its path as given
  }
  let name = basename(real);
  try {
    name = readTownJson(root).name || name;
  } catch {
    // no town.json: the folder's name
  }
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 6);
  return `gt-${name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40)}-${hash}`;
}

/** The tmux arguments that select the town's server, for callers that run tmux themselves. */
export function tmuxArgs(root: string): string[] {
  return ['-L', tmuxSocket(root)];
}

/** What a person types to watch a session. */
export function attachCommand(root: string, session: string): string {
  return `tmux -L ${tmuxSocket(root)} attach -t ${session}`;
}

let available: boolean | undefined;

/** Whether tmux can be run here (looked up once per process). */
export function tmuxAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync('tmux', ['-V'], { stdio: 'ignore' });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/**
 * Run tmux against the town's server. Its environment is the machine's without any town's
 * variables: a server this call starts copies it as its global environment.
 */
export async function tmux(root: string, args: string[]): Promise<string> {
  const { stdout } = await execFile('tmux', [...tmuxArgs(root), ...args], { maxBuffer: 4 * 1024 * 1024, env: hostEnv() });
  return stdout;
}

export async function hasSession(root: string, session: string): Promise<boolean> {
  try {
    await tmux(root, ['has-session', '-t', `=${session}`]);
    return true;
  } catch {
    return false;
  }
}

export interface NewSession {
  session: string;
  cwd: string;
  /** The whole environment of the command (nothing of the tmux server's is kept but TERM and TMUX). */
  env: Record<string, string>;
  /** The command and its arguments, run directly (no shell parses them). */
  argv: string[];
  /** Everything the pane prints goes here (appended), from its first byte. */
  logFile?: string;
}

/** Runs the command with exactly the given environment (the pane's TERM and TMUX kept). */
const PANE_START = 'exec /usr/bin/env -i TERM="$TERM" TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" "$@"';

/**
 * tmux splits a command line at any argument that ends in ";" (and drops that ";"); one that
 * ends in "\;" keeps a plain ";". So a word of ours passed on to a command (an environment value
 * like PROMPT_COMMAND="history -a;", a prompt, typed text) is sent with its last ";" escaped.
 */
export function tmuxWord(word: string): string {
  return word.endsWith(';') ? `${word.slice(0, -1)}\\;` : word;
}

/**
 * Start a detached session running `argv`; returns the pid of the pane's process. The session,
 * its pipe to the log and the pid are one tmux run: tmux carries out a command sequence before
 * it reads any pane's output, so the log has the pane's first byte (run one after the other,
 * a command that prints at once lost its first lines), and no shell waits for a sign to start.
 */
export async function newSession(root: string, spec: NewSession): Promise<number> {
  const envWords = Object.entries(spec.env).filter(([k]) => k && !k.includes('=')).map(([k, v]) => `${k}=${v}`);
  const argv = ['/bin/sh', '-c', PANE_START, 'gt-pane', ...envWords, ...spec.argv].map(tmuxWord);
  const pipe = spec.logFile ? [';', 'pipe-pane', '-o', '-t', `=${spec.session}:`, `cat >> ${shellQuote(spec.logFile)}`] : [];
  return pidOf(spec.session, await tmux(root, ['new-session', '-d', '-P', '-F', '#{pane_pid}', '-s', spec.session, '-x', '200', '-y', '50', '-c', spec.cwd, '--', ...argv, ...pipe]));
}

export async function panePid(root: string, session: string): Promise<number> {
  return pidOf(session, await tmux(root, ['display-message', '-p', '-t', `=${session}:`, '#{pane_pid}']));
}

/** The pane pid tmux printed for `#{pane_pid}`. */
function pidOf(session: string, out: string): number {
  const pid = Number(out.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`tmux session ${session} has no pane process (tmux said: ${out.trim() || 'nothing'})`);
  return pid;
}

/** Type `text` into the session and press Enter (a nudge, or a first prompt for prompt_mode "none"). */
export async function sendText(root: string, session: string, text: string): Promise<void> {
  await tmux(root, ['send-keys', '-t', `=${session}:`, '-l', tmuxWord(text)]);
  await tmux(root, ['send-keys', '-t', `=${session}:`, 'Enter']);
}

export async function killSession(root: string, session: string): Promise<void> {
  try {
    await tmux(root, ['kill-session', '-t', `=${session}`]);
  } catch {
    // already gone
  }
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Press keys by their tmux names (`Enter`, `Down`, `Escape`, `y`). */
export async function sendKeys(root: string, session: string, keys: string[]): Promise<void> {
  if (keys.length) await tmux(root, ['send-keys', '-t', `=${session}:`, ...keys]);
}

/**
 * Put `file`'s text into the session's input as a paste (bracketed when the program asked for
 * it, as TUIs do), so a multi-line prompt arrives whole instead of each newline submitting a line.
 */
export async function pasteFile(root: string, session: string, file: string): Promise<void> {
  const buffer = `gt-${session}`;
  await tmux(root, ['load-buffer', '-b', buffer, file]);
  await tmux(root, ['paste-buffer', '-p', '-d', '-r', '-b', buffer, '-t', `=${session}:`]);
}

/** What the session's screen shows now (wrapped lines joined). */
export async function capturePane(root: string, session: string): Promise<string> {
  return captureOne(root, session);
}

/**
 * Screens are looked at every second or two by every session's activity: with a hundred agents
 * that was a hundred tmux processes a second, each a fork and exec from the launcher, a client
 * start and a round trip to the tmux server. Screens asked for while a capture runs (or within
 * BATCH_GAP_MS of the last one starting) are captured together, by one tmux run of
 * `capture-pane` commands each followed by a marker line; a batch that fails (a session gone)
 * falls back to one capture a session, so each caller gets its own answer or its own error.
 */
const BATCH_GAP_MS = 50;
interface ScreenWaiter {
  resolve: (screen: string) => void;
  reject: (err: unknown) => void;
}
interface ScreenQueue {
  waiting: Map<string, ScreenWaiter[]>;
  running: boolean;
  lastStart: number;
  timer?: NodeJS.Timeout;
}
const screenQueues = new Map<string, ScreenQueue>();

function captureOne(root: string, session: string): Promise<string> {
  let q = screenQueues.get(root);
  if (!q) screenQueues.set(root, (q = { waiting: new Map(), running: false, lastStart: 0 }));
  const queue = q;
  return new Promise<string>((resolve, reject) => {
    const list = queue.waiting.get(session) ?? [];
    list.push({ resolve, reject });
    queue.waiting.set(session, list);
    schedule(root, queue);
  });
}

function schedule(root: string, q: ScreenQueue): void {
  if (q.running || q.timer || q.waiting.size === 0) return;
  const wait = Math.max(0, q.lastStart + BATCH_GAP_MS - Date.now());
  q.timer = setTimeout(() => {
    q.timer = undefined;
    void runBatch(root, q);
  }, wait);
}

async function runBatch(root: string, q: ScreenQueue): Promise<void> {
  const batch = q.waiting;
  q.waiting = new Map();
  q.running = true;
  q.lastStart = Date.now();
  const answer = (session: string, screen: string | undefined, err?: unknown) => {
    for (const w of batch.get(session) ?? []) {
      if (screen === undefined) w.reject(err);
      else w.resolve(screen);
    }
  };
  try {
    const sessions = [...batch.keys()];
    if (sessions.length === 1) {
      await tmux(root, ['capture-pane', '-p', '-J', '-t', `=${sessions[0]}:`]).then(
        (screen) => answer(sessions[0]!, screen),
        (err) => answer(sessions[0]!, undefined, err),
      );
      return;
    }
    const marker = `--gt-screen-${Math.random().toString(36).slice(2)}--`;
    const args = sessions.flatMap((s, i) => [...(i ? [';'] : []), 'capture-pane', '-p', '-J', '-t', `=${s}:`, ';', 'display-message', '-p', marker]);
    let out = '';
    let failed = false;
    try {
      out = (await execFile('tmux', [...tmuxArgs(root), ...args], { maxBuffer: 64 * 1024 * 1024, env: hostEnv() })).stdout;
    } catch (err) {
      // tmux stops at the first command that fails: what came before it is whole.
      out = (err as { stdout?: string }).stdout ?? '';
      failed = true;
    }
    const screens = out.split(`${marker}\n`);
    const done = failed ? screens.length - 1 : sessions.length;
    sessions.slice(0, done).forEach((s, i) => answer(s, screens[i] ?? ''));
    for (const s of sessions.slice(done)) {
      await tmux(root, ['capture-pane', '-p', '-J', '-t', `=${s}:`]).then(
        (screen) => answer(s, screen),
        (err) => answer(s, undefined, err),
      );
    }
  } finally {
    q.running = false;
    schedule(root, q);
  }
}
