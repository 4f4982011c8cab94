import type { Client } from '@temporalio/client';
import { connectClient } from './client.js';
import { engineConfig, type EngineConfig } from './config.js';
import { ensureUp } from './services.js';

/**
 * Run `fn` with a client of the town's engine; with `start`, first make sure the engine and the
 * worker run (what any command that needs them does implicitly).
 */
export async function withEngine<T>(root: string, fn: (client: Client, config: EngineConfig) => Promise<T>, opts: { start?: boolean } = {}): Promise<T> {
  const config = opts.start ? await ensureUp(root) : engineConfig(root);
  const client = await connectClient(config);
  try {
    return await fn(client, config);
  } finally {
    await client.connection.close();
  }
}
