import type { Client } from '@temporalio/client';
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { GtError } from '../errors.js';
import { updatePolecatWorkflow } from '../polecat/update.js';
import { townPaths } from '../town/layout.js';
import { isRelayRequest, MAX_SOCKET_PATH, relaySocketPath, type RelayAnswer } from './protocol.js';

/** The socket this process's relay listens on, once it does (what agent sessions are told). */
let listening: string | undefined;

export function relayAddress(): string | undefined {
  return listening;
}

/** A request is one JSON line; anything longer than this is not one. */
const MAX_REQUEST_BYTES = 256 * 1024;

/**
 * Start the worker's relay (see protocol.ts) in the town's run folder, readable by this user
 * only. Sockets of worker processes that are gone are removed. Resolves undefined, and agents
 * use their own engine connection, when the socket cannot be made (a path too long for a Unix
 * socket, a folder that cannot be written).
 */
export async function startRelay(root: string, getClient: () => Promise<Client>): Promise<{ path: string; close: () => Promise<void> } | undefined> {
  const path = relaySocketPath(townPaths(root).run, process.pid);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    removeStaleSockets(dirname(path));
    rmSync(path, { force: true });
  } catch {
    return undefined;
  }
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) return socket.destroy();
      const end = buffered.indexOf('\n');
      if (end < 0) return;
      socket.removeAllListeners('data');
      void answer(buffered.slice(0, end), getClient).then((a) => {
        if (!socket.destroyed) socket.end(`${JSON.stringify(a)}\n`);
      });
    });
  });
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(path, () => resolve(true));
  });
  if (!ok) return undefined;
  try {
    chmodSync(path, 0o600);
  } catch {
    // the folder is this user's already
  }
  server.on('error', () => undefined);
  listening = path;
  return { path, close: () => closeRelay(server, path, open) };
}

async function answer(line: string, getClient: () => Promise<Client>): Promise<RelayAnswer> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, refused: { message: 'the relay got a request that is not JSON' } };
  }
  if (!isRelayRequest(req)) return { ok: false, refused: { message: 'the relay takes only gt done and gt handoff for a polecat workflow' } };
  try {
    const client = await getClient();
    return { ok: true, value: await updatePolecatWorkflow(client, req.workflowId, req.update, req.args, req.updateId, req.what) };
  } catch (err) {
    if (err instanceof GtError) return { ok: false, refused: { message: err.message, hint: err.hint } };
    return { ok: false, unavailable: (err as Error).message ?? String(err) };
  }
}

/** Stop listening; a call still under way is cut off (its agent sends the update itself, same id). */
function closeRelay(server: Server, path: string, open: Set<Socket>): Promise<void> {
  if (listening === path) listening = undefined;
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of open) socket.destroy();
    rmSync(path, { force: true });
  });
}

/** Sockets left by worker processes that died (named by their pid). */
function removeStaleSockets(dir: string): void {
  for (const f of readdirSync(dir)) {
    const pid = Number(/^(\d+)\.sock$/.exec(f)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dir, f), { force: true });
    }
  }
}
