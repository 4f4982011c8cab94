import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT, tempDir } from '../helpers/cli.js';

/**
 * bin/load.js runs the bundled CLI with a V8 code cache beside the bundle. Checked on a copy of
 * the built CLI (bin/ and dist/bundle/ of its own, the project's node_modules): the first run
 * writes the cache, a later run takes it as it is, a cache V8 refuses (another build, another
 * Node, a torn file) is replaced, and every run answers the same.
 */
const root = tempDir('gt-cli-cache-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function layout(): { gt: string; bd: string; cache: string } {
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'dist', 'bundle'), { recursive: true });
  for (const f of ['load.js', 'gt.js', 'bd.js', 'package.json']) copyFileSync(join(PROJECT, 'bin', f), join(root, 'bin', f));
  for (const f of ['gt.cjs', 'bd.cjs']) copyFileSync(join(PROJECT, 'dist', 'bundle', f), join(root, 'dist', 'bundle', f));
  writeFileSync(join(root, 'package.json'), readFileSync(join(PROJECT, 'package.json')));
  if (!existsSync(join(root, 'node_modules'))) symlinkSync(join(PROJECT, 'node_modules'), join(root, 'node_modules'));
  return { gt: join(root, 'bin', 'gt.js'), bd: join(root, 'bin', 'bd.js'), cache: join(root, 'dist', 'bundle', 'gt.cjs.cache') };
}

const run = (bin: string, args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' });

describe('the bundled CLI and its code cache', () => {
  it('writes the cache on the first run, keeps it while V8 takes it, replaces one it refuses', () => {
    const { gt, bd, cache } = layout();
    const version = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')).version as string;
    expect(existsSync(cache)).toBe(false);

    const first = run(gt, ['--version']);
    expect(first.stderr).toBe('');
    expect(first.stdout.trim()).toBe(version);
    expect(existsSync(cache)).toBe(true);
    const written = readFileSync(cache);
    const mtime = statSync(cache).mtimeMs;

    // Taken as it is: not written again.
    const second = run(gt, ['--version']);
    expect(second.stdout.trim()).toBe(version);
    expect(statSync(cache).mtimeMs).toBe(mtime);
    expect(readFileSync(cache).equals(written)).toBe(true);

    // A command that fails the usual way still fails the usual way (exit code, message).
    const bad = run(gt, ['no-such-command']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown command 'no-such-command'/);

    // A cache V8 refuses is replaced, and the run is as good.
    writeFileSync(cache, 'not a code cache');
    const third = run(gt, ['--version']);
    expect(third.stdout.trim()).toBe(version);
    expect(readFileSync(cache, 'utf8')).not.toBe('not a code cache');
    expect(run(gt, ['--version']).stdout.trim()).toBe(version);

    // bd keeps its own.
    expect(run(bd, ['--version']).stdout.trim()).toBe(version);
    expect(existsSync(join(root, 'dist', 'bundle', 'bd.cjs.cache'))).toBe(true);
  });
});
