import { connect } from 'node:net';
import { noteAgentProgress } from '../polecat/progress.js';
import { RELAY_ENV, type RelayAnswer, type RelayRequest } from './protocol.js';

/**
 * Hand an update to the worker's relay named by GT_RELAY (see protocol.ts). Resolves undefined
 * when there is no relay or it gave no answer (not listening, closed mid-call, no answer within
 * `waitMs`): the caller then sends the update itself, with the same id. The agent's session
 * sees progress while it waits, as it does for a call of its own.
 */
export async function relayUpdate(req: RelayRequest, waitMs: number, env: NodeJS.ProcessEnv = process.env): Promise<RelayAnswer | undefined> {
  const path = env[RELAY_ENV];
  if (!path) return undefined;
  const alive = env.GT_PROGRESS_FILE ? setInterval(noteAgentProgress, 1000) : undefined;
  try {
    return await new Promise<RelayAnswer | undefined>((resolve) => {
      let answer = '';
      const socket = connect(path);
      const timer = setTimeout(() => socket.destroy(), waitMs);
      const settle = (a: RelayAnswer | undefined) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(a);
      };
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
      socket.on('data', (chunk: string) => {
        answer += chunk;
        const end = answer.indexOf('\n');
        if (end < 0) return;
        try {
          settle(JSON.parse(answer.slice(0, end)) as RelayAnswer);
        } catch {
          settle(undefined);
        }
      });
      socket.on('error', () => settle(undefined));
      socket.on('close', () => settle(undefined));
    });
  } finally {
    if (alive) clearInterval(alive);
  }
}
