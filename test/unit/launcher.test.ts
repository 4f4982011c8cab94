import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { execFile, launch, useLauncher, type ExecError } from '../../src/activities/launcher.js';
import { processAlive } from '../../src/lock.js';

const entry = fileURLToPath(new URL('../../dist/launcher.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gt-launcher-'));
const env = { PATH: process.env.PATH, HOME: process.env.HOME };

/** The pid of the process a command was started from (the launcher, once it is used). */
async function parentOfCommands(): Promise<number> {
  return Number((await execFile('/bin/sh', ['-c', 'echo $PPID'], { env })).stdout.trim());
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the launcher (commands started from a small process, not forked from the worker)', () => {
  beforeAll(() => {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  });

  it('without it, commands start from this process itself', async () => {
    expect(await parentOfCommands()).toBe(process.pid);
  });

  it('starts a detached command with its output in a file and stdin from one, and reports its exit code', async () => {
    useLauncher(entry);
    const launcher = await parentOfCommands();
    expect(launcher).not.toBe(process.pid);
    const out = join(dir, 'out.log');
    const input = join(dir, 'in.txt');
    writeFileSync(input, 'from stdin\n');
    const child = await launch({ command: '/bin/sh', args: ['-c', 'cat; echo "$GREETING"; echo oops >&2; exit 3'], cwd: dir, env: { ...env, GREETING: 'hi there' }, detached: true, out, stdin: input });
    expect(child.pid).toBeGreaterThan(0);
    expect(await child.exited).toBe(3);
    expect(readFileSync(out, 'utf8')).toBe('from stdin\nhi there\noops\n');
    // Detached: a group of its own (so a signal to -pid stops it whole).
    const group = await launch({ command: '/bin/sh', args: ['-c', 'ps -o pgid= -p $$ > pgid'], cwd: dir, env, detached: true });
    expect(await group.exited).toBe(0);
    expect(Number(readFileSync(join(dir, 'pgid'), 'utf8').trim())).toBe(group.pid);
  });

  it("runs execFile's way: output, a non-zero exit with its code and stderr, a command that cannot run, too much output", async () => {
    useLauncher(entry);
    expect(await execFile('/bin/sh', ['-c', 'echo out; echo err >&2'], { env })).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    const failed = (await execFile('/bin/sh', ['-c', 'echo half; echo broken >&2; exit 4'], { env }).catch((e: unknown) => e)) as ExecError;
    expect(failed).toBeInstanceOf(Error);
    expect(failed).toMatchObject({ code: 4, stdout: 'half\n', stderr: 'broken\n' });
    const missing = (await execFile('no-such-command-here', [], { env }).catch((e: unknown) => e)) as ExecError;
    expect(missing.code).toBe('ENOENT');
    const big = (await execFile('/bin/sh', ['-c', 'head -c 5000 /dev/zero'], { env, maxBuffer: 1000 }).catch((e: unknown) => e)) as ExecError;
    expect(big.code).toBe('ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
    await expect(launch({ command: 'no-such-command-here', args: [], cwd: dir, env })).rejects.toThrow(/ENOENT/);
  });

  it('a command outlives a launcher that dies: its end is still noticed, a captured one fails, and the next start brings a new launcher', async () => {
    useLauncher(entry);
    const first = await parentOfCommands();
    const marker = join(dir, 'survived');
    const long = await launch({ command: '/bin/sh', args: ['-c', `sleep 1; echo yes > ${marker}`], cwd: dir, env, detached: true });
    const captured = execFile('/bin/sh', ['-c', 'sleep 1'], { env }).catch((e: unknown) => e);
    process.kill(first, 'SIGKILL');
    expect(await captured).toMatchObject({ message: expect.stringMatching(/launcher/) });
    expect(await long.exited).toBeNull();
    expect(readFileSync(marker, 'utf8')).toBe('yes\n');
    expect(processAlive(long.pid)).toBe(false);
    const second = await parentOfCommands();
    expect(second).not.toBe(first);
    expect(second).not.toBe(process.pid);
    await until('the old launcher to be gone', () => !processAlive(first));
  });

  it('ignores the signals that stop the worker (the worker finishes in-flight commands first)', async () => {
    useLauncher(entry);
    const launcher = await parentOfCommands();
    process.kill(launcher, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(processAlive(launcher)).toBe(true);
    expect(await parentOfCommands()).toBe(launcher);
  });

  it("gives a command exactly the environment asked for (sent as its difference from the worker's own)", async () => {
    useLauncher(entry);
    const dump = (asked: NodeJS.ProcessEnv) => execFile(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], { env: asked }).then((r) => JSON.parse(r.stdout) as Record<string, string>);
    const gone = Object.keys(process.env).find((k) => k !== 'PATH' && k !== 'HOME')!;
    const asked: NodeJS.ProcessEnv = { ...process.env, HOME: join(dir, 'another-home'), GT_LAUNCHER_TEST: 'set here' };
    delete asked[gone];
    const seen = await dump(asked);
    expect(seen).toEqual(Object.fromEntries(Object.entries(asked).filter(([, v]) => v !== undefined)));
    expect(seen[gone]).toBeUndefined();
    // The next command, with the worker's own environment, gets it whole again (nothing carried over).
    expect(await dump(process.env)).toEqual(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)));
  });

  it('ends when the process using it is killed with -9', async () => {
    const script = join(dir, 'user.mjs');
    const module = fileURLToPath(new URL('../../dist/activities/launcher.js', import.meta.url));
    writeFileSync(
      script,
      `import { execFile, useLauncher } from ${JSON.stringify(module)};
useLauncher(${JSON.stringify(entry)});
const { stdout } = await execFile('/bin/sh', ['-c', 'echo $PPID']);
process.stdout.write(stdout);
setInterval(() => undefined, 1000);
`,
    );
    const user = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const launcher = await new Promise<number>((resolve, reject) => {
      user.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      user.once('exit', (code) => reject(new Error(`the process using the launcher exited (${code}) before its command's answer`)));
    });
    expect(launcher).not.toBe(user.pid);
    expect(processAlive(launcher)).toBe(true);
    user.kill('SIGKILL');
    await until('the launcher to end with its user', () => !processAlive(launcher));
  });
});
