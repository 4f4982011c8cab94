import { Client, Connection } from '@temporalio/client';
import { GtError } from '../errors.js';
import { SEARCH_ATTRIBUTE_NAMES } from './search-attributes.js';
import type { EngineConfig } from './config.js';

/** What it takes to reach an engine: where, which namespace, and whether it is the town's own. */
export type EngineReach = Pick<EngineConfig, 'address' | 'namespace' | 'external'>;

/** Connect a client to the town's engine. Heavy import: the CLI loads this module lazily. */
export async function connectClient(config: EngineReach, opts: { connectTimeout?: string } = {}): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.address, connectTimeout: (opts.connectTimeout ?? '10s') as '10s' });
  } catch (err) {
    throw new GtError(`cannot reach Temporal at ${config.address}: ${(err as Error).message}`, {
      hint: config.external
        ? 'check temporal.address in settings/config.json or TEMPORAL_ADDRESS'
        : 'run `gt up` to start the embedded server',
    });
  }
  return new Client({ connection, namespace: config.namespace });
}

/**
 * Register our search attributes where they are missing (an external cluster; the embedded
 * server gets them as start-up flags).
 */
export async function ensureSearchAttributes(config: EngineReach): Promise<void> {
  const client = await connectClient(config);
  try {
    const { temporal } = (await import('@temporalio/proto')).default;
    const existing = await client.connection.operatorService.listSearchAttributes({ namespace: config.namespace });
    const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in existing.customAttributes));
    if (missing.length === 0) return;
    const searchAttributes: Record<string, number> = {};
    for (const n of missing) searchAttributes[n] = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    try {
      await client.connection.operatorService.addSearchAttributes({ namespace: config.namespace, searchAttributes });
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
  } finally {
    await client.connection.close();
  }
}
