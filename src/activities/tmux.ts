import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * tmux sessions for agents, so a person can `tmux attach -t <session>` and watch or type.
 * `GT_TMUX_SOCKET` names a private tmux server (`tmux -L <name>`), e.g. one per test town;
 * unset, the user's default server is used. Commands and text are always passed as arguments.
 */

const run = promisify(execFile);

export function tmuxBase(): string[] {
  const socket = process.env.GT_TMUX_SOCKET;
  return socket ? ['-L', socket] : [];
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

export async function tmux(args: string[]): Promise<string> {
  const { stdout } = await run('tmux', [...tmuxBase(), ...args], { maxBuffer: 4 * 1024 * 1024 });
  return stdout;
}

export async function hasSession(session: string): Promise<boolean> {
  try {
    await tmux(['has-session', '-t', `=${session}`]);
    return true;
  } catch {
    return false;
  }
}

export interface NewSession {
  session: string;
  cwd: string;
  /** Variables set in the session on top of the tmux server's environment. */
  env: Record<string, string>;
  /** The command and its arguments, run directly (no shell parses them). */
  argv: string[];
}

/** Start a detached session running `argv`; returns the pid of the pane's process. */
export async function newSession(spec: NewSession): Promise<number> {
  const envArgs = Object.entries(spec.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  await tmux(['new-session', '-d', '-s', spec.session, '-x', '200', '-y', '50', '-c', spec.cwd, ...envArgs, '--', ...spec.argv]);
  return panePid(spec.session);
}

export async function panePid(session: string): Promise<number> {
  const out = await tmux(['display-message', '-p', '-t', `=${session}:`, '#{pane_pid}']);
  const pid = Number(out.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`tmux session ${session} has no pane process`);
  return pid;
}

/** Copy everything the pane prints to `logFile` (appending). */
export async function pipeToFile(session: string, logFile: string): Promise<void> {
  // pipe-pane takes a shell command: the path is quoted, never pasted raw.
  await tmux(['pipe-pane', '-o', '-t', `=${session}:`, `cat >> ${shellQuote(logFile)}`]);
}

/** Type `text` into the session and press Enter (a nudge, or a first prompt for prompt_mode "none"). */
export async function sendText(session: string, text: string): Promise<void> {
  await tmux(['send-keys', '-t', `=${session}:`, '-l', text]);
  await tmux(['send-keys', '-t', `=${session}:`, 'Enter']);
}

export async function killSession(session: string): Promise<void> {
  try {
    await tmux(['kill-session', '-t', `=${session}`]);
  } catch {
    // already gone
  }
}

export async function capturePane(session: string, lines = 40): Promise<string> {
  return tmux(['capture-pane', '-p', '-t', `=${session}:`, '-S', `-${lines}`]);
}

export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
