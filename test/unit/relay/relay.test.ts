import type { Client } from '@temporalio/client';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relayUpdate } from '../../../src/relay/client.js';
import { relayAddress, startRelay } from '../../../src/relay/server.js';

/** The relay's socket and its ends, without an engine: a client that never connects stands for a hung engine. */
const hung = () => new Promise<Client>(() => undefined);
const request = { workflowId: 'polecat/r/a', update: 'done' as const, args: [{}], updateId: 'u1', what: 'gt done for x was refused' };

describe('relay', () => {
  it('a call under way when the relay closes gets no answer, so the agent sends the update itself; a relay that is gone or never was is no answer', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gt-relay-'));
    const relay = (await startRelay(root, hung))!;
    expect(relay.path).toBe(join(root, '.gt', 'run', 'relay', `${process.pid}.sock`));
    expect(relayAddress()).toBe(relay.path);
    expect(statSync(relay.path).mode & 0o777).toBe(0o600);
    const pending = relayUpdate(request, 60_000, { GT_RELAY: relay.path });
    await new Promise((r) => setTimeout(r, 200));
    await relay.close();
    await expect(pending).resolves.toBeUndefined();
    expect(relayAddress()).toBeUndefined();
    await expect(relayUpdate(request, 1000, { GT_RELAY: relay.path })).resolves.toBeUndefined();
    await expect(relayUpdate(request, 1000, {})).resolves.toBeUndefined();
  });

  it('no answer within the wait is no answer; a socket path too long for Linux means no relay', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gt-relay-'));
    const relay = (await startRelay(root, hung))!;
    const t0 = Date.now();
    await expect(relayUpdate(request, 300, { GT_RELAY: relay.path })).resolves.toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(5000);
    await relay.close();
    await expect(startRelay(join(root, 'x'.repeat(120)), hung)).resolves.toBeUndefined();
  });
});
