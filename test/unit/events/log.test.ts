import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendEvent, readEvents } from '../../../src/events/log.js';
import { townPaths } from '../../../src/town/layout.js';

describe('the event stream: one line per id', () => {
  it("a retry finds the line another process wrote; a first attempt (fresh) looks only at its own process's writes", () => {
    const root = mkdtempSync(join(tmpdir(), 'gt-events-'));
    const file = townPaths(root).events;
    mkdirSync(dirname(file), { recursive: true });
    // Written by an earlier attempt in a worker that has since died.
    appendFileSync(file, JSON.stringify({ id: 'wf/run/3/done', at: new Date().toISOString(), type: 'done', actor: 'x/polecats/a' }) + '\n');
    expect(appendEvent(root, { id: 'wf/run/3/done', type: 'done', actor: 'x/polecats/a' })).toBe(false);
    // A first attempt's id cannot be in the stream: it is written without reading the file back.
    expect(appendEvent(root, { id: 'wf/run/4/done', type: 'done', actor: 'x/polecats/a' }, { fresh: true })).toBe(true);
    // The same activity writing it again (a prompt seen twice in one session) is still one line.
    expect(appendEvent(root, { id: 'wf/run/4/done', type: 'done', actor: 'x/polecats/a' }, { fresh: true })).toBe(false);
    expect(appendEvent(root, { id: 'wf/run/4/done', type: 'done', actor: 'x/polecats/a' })).toBe(false);
    expect(readEvents(root).map((e) => e.id)).toEqual(['wf/run/3/done', 'wf/run/4/done']);
  });
});
