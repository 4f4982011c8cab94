import { createConnection, createServer, type Server } from 'node:net';
import { ServiceError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { withEngine } from '../../src/temporal/engine.js';
import { makeTown } from '../helpers/town.js';
import { freePort } from '../helpers/cli.js';

/**
 * A command that must survive an outage (`gt done`) waits for an engine that cannot be reached
 * and then succeeds, up to its limit; past the limit it fails with the reason. The "outage" is a
 * relay to the test run's server that is not listening yet.
 */

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});


/** Forward `port` to the real server from now on. */
function relay(port: number): void {
  const [host, target] = inject('temporalAddress').split(':') as [string, string];
  const srv = createServer((client) => {
    const upstream = createConnection({ host, port: Number(target) });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  srv.listen(port, '127.0.0.1');
  servers.push(srv);
}

function townAt(port: number): string {
  const t = makeTown({ external: false });
  t.settings((s) => {
    s.temporal = { ...s.temporal, address: `127.0.0.1:${port}` };
  });
  return t.root;
}

describe('waiting for the engine', () => {
  it('an engine that comes back within the limit: the call waits, then succeeds', async () => {
    const port = await freePort();
    const root = townAt(port);
    const started = Date.now();
    setTimeout(() => relay(port), 3000);
    const info = await withEngine(root, (client) => client.workflowService.getSystemInfo({}), { waitMs: 60_000 });
    expect(info.serverVersion).toBeTruthy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  });

  it('an engine that stays away: the call fails with the reason once the limit has passed, and at once without a limit', async () => {
    const port = await freePort();
    const root = townAt(port);
    await expect(withEngine(root, (client) => client.workflowService.getSystemInfo({}))).rejects.toThrow(/cannot reach Temporal at 127\.0\.0\.1:\d+/);
    const started = Date.now();
    await expect(withEngine(root, (client) => client.workflowService.getSystemInfo({}), { waitMs: 4000 })).rejects.toThrow(/cannot reach Temporal at 127\.0\.0\.1:\d+/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
  });

  it('an engine too busy to take an update now (its call timed out, the server is starved) is tried again; a refused update is final at once', async () => {
    const port = await freePort();
    relay(port);
    const root = townAt(port);
    const busy = [
      new WorkflowUpdateRPCTimeoutOrCancelledError('Timeout or cancellation waiting for update', { cause: Object.assign(new Error('4 DEADLINE_EXCEEDED: deadline exceeded'), { code: 4 }) }),
      new ServiceError('Workflow Update failed', { cause: Object.assign(new Error('8 RESOURCE_EXHAUSTED: namespace rate limit exceeded'), { code: 8 }) }),
    ];
    let tries = 0;
    const answer = await withEngine(root, async () => {
      tries++;
      const next = busy.shift();
      if (next) throw next;
      return 'taken';
    }, { waitMs: 60_000 });
    expect([answer, tries]).toEqual(['taken', 3]);

    tries = 0;
    const refused = new WorkflowUpdateFailedError('Workflow Update failed', new Error('bead pc-aaaaa is not on your hook'));
    await expect(withEngine(root, async () => {
      tries++;
      throw refused;
    }, { waitMs: 60_000 })).rejects.toBe(refused);
    expect(tries).toBe(1);
  });
});
