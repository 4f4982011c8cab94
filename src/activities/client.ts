import type { Client } from '@temporalio/client';
import { engineConfig } from '../temporal/config.js';

/** One client of the town's engine per worker, made on first use (activities that signal, query or start workflows). */
export function lazyClient(root: string): () => Promise<Client> {
  let client: Promise<Client> | undefined;
  return () => {
    client ??= import('../temporal/client.js').then((m) => m.connectClient(engineConfig(root))).catch((err) => {
      client = undefined;
      throw err;
    });
    return client;
  };
}
