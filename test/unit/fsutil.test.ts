import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { writeDurably, writeDurablySync, writeFileAtomic } from '../../src/fsutil.js';

describe('durable writes', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces and appends files in the order asked for, on the writer thread as on this one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gt-fsutil-'));
    const file = join(dir, 'sub', 'issues.jsonl');
    const log = join(dir, 'events.jsonl');
    writeFileSync(log, 'first\n');
    await writeDurably([
      { path: file, data: Buffer.from('one\n') },
      { path: log, data: Buffer.from('second\n'), append: true },
    ]);
    expect(readFileSync(file, 'utf8')).toBe('one\n');
    // Many in flight at once land in the order they were asked for.
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeDurably([
      { path: file, data: Buffer.from(`v${i}\n`) },
      { path: log, data: Buffer.from(`${i}\n`), append: true },
    ])));
    expect(readFileSync(file, 'utf8')).toBe('v19\n');
    expect(readFileSync(log, 'utf8')).toBe(['first', 'second', ...Array.from({ length: 20 }, (_, i) => String(i))].join('\n') + '\n');
    writeDurablySync([{ path: file, data: Buffer.from('sync\n') }]);
    writeFileAtomic(join(dir, 'cache'), 'derived', { fsync: false });
    expect(readFileSync(file, 'utf8')).toBe('sync\n');
    expect(readFileSync(join(dir, 'cache'), 'utf8')).toBe('derived');
    // No temporary file is left beside them.
    expect(readdirSync(join(dir, 'sub'))).toEqual(['issues.jsonl']);
    expect(readdirSync(dir).sort()).toEqual(['cache', 'events.jsonl', 'sub']);
  });

  it("rejects with the file system's error and code, and goes on writing after it", async () => {
    dir = mkdtempSync(join(tmpdir(), 'gt-fsutil-'));
    writeFileSync(join(dir, 'plain'), 'x');
    const err = await writeDurably([{ path: join(dir, 'plain', 'inside'), data: Buffer.from('a') }]).catch((e: NodeJS.ErrnoException) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).toMatch(/^(EEXIST|ENOTDIR)$/);
    expect((err as Error).message).toContain(join(dir, 'plain'));
    await writeDurably([{ path: join(dir, 'after'), data: Buffer.from('ok') }]);
    expect(readFileSync(join(dir, 'after'), 'utf8')).toBe('ok');
  });

  it('an idle writer thread does not keep the process alive; one with a write in hand does', () => {
    dir = mkdtempSync(join(tmpdir(), 'gt-fsutil-'));
    const script = join(dir, 'run.mjs');
    const target = join(dir, 'out');
    // The last write is asked for and not awaited: the process still ends only once it is down.
    writeFileSync(script, `
      const { writeDurably } = await import(${JSON.stringify(new URL('../../dist/fsutil.js', import.meta.url).href)});
      await writeDurably([{ path: ${JSON.stringify(target)}, data: Buffer.from('first') }]);
      writeDurably([{ path: ${JSON.stringify(target)}, data: Buffer.alloc(4 << 20, 98) }]);
    `);
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(target).length).toBe(4 << 20);
  });
});
