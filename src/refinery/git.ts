import { execFile } from 'node:child_process';

/**
 * Git for the merge queue: argument arrays only (branch names and paths are never shell text),
 * no prompts, no signing or hooks from the user's global config getting in the way of an
 * unattended merge, and C locale so messages can be recognised.
 */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const FIXED_CONFIG = ['-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', '-c', 'rebase.autoStash=false', '-c', 'advice.detachedHead=false'];

export function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GCM_INTERACTIVE: 'never', LC_ALL: 'C', GIT_EDITOR: 'true' };
}

/** Run git; never throws for a non-zero exit (the caller decides what a failure means). */
export function runGit(args: string[], cwd: string): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile('git', [...FIXED_CONFIG, ...args], { cwd, env: gitEnv(), maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const exitCode = (err as { code?: unknown } | null)?.code;
      // A string code (ENOENT, ...) means git itself could not be run.
      const spawnFailed = err && typeof exitCode !== 'number';
      resolve({
        code: err ? (typeof exitCode === 'number' ? exitCode : 127) : 0,
        stdout: String(stdout),
        stderr: spawnFailed ? `error: cannot run git: ${err.message}` : String(stderr),
      });
    });
  });
}

/** Run git and return its trimmed stdout; a non-zero exit throws with git's own message. */
export async function git(args: string[], cwd: string): Promise<string> {
  const r = await runGit(args, cwd);
  if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${gitMessage(r)}`);
  return r.stdout.trim();
}

/** Git's meaningful error lines, without hints and progress chatter. */
export function gitMessage(r: GitResult): string {
  const lines = (r.stderr || r.stdout).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('hint:'));
  const fatal = lines.filter((l) => /^(fatal|error):/.test(l));
  return (fatal.length ? fatal.join('; ') : lines.slice(-3).join('; ')) || `exit code ${r.code}`;
}

export async function gitOk(args: string[], cwd: string): Promise<boolean> {
  return (await runGit(args, cwd)).code === 0;
}
