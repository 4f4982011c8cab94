import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { ensureSearchAttributes } from './client.js';

/**
 * The last step of `scripts/cluster.sh up`: wait for a fresh cluster's frontend, create the
 * namespace (the server creates none by itself) and register our search attributes, so a town
 * pointed at the cluster finds it ready. Safe to run again on a cluster that is set up.
 * (`node dist/temporal/prepare-cluster.js <host:port> [namespace]`). `gt up` on a cluster makes
 * the town's namespace the same way.
 */
const RETENTION_DAYS = 7;

export async function prepareCluster(address: string, namespace: string, timeoutMs = 120_000): Promise<string[]> {
  const done: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let connection: Connection | undefined;
  for (;;) {
    try {
      connection ??= await Connection.connect({ address, connectTimeout: '5s' });
      await connection.workflowService.getSystemInfo({});
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the Temporal server at ${address} did not answer within ${timeoutMs / 1000} s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    done.push(...(await ensureNamespace(connection, namespace, deadline)));
    for (;;) {
      try {
        await ensureSearchAttributes({ address, namespace, external: true });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    done.push('search attributes registered');
    return done;
  } finally {
    await connection.close();
  }
}

/** Create `namespace` when it is missing, and wait until every service sees it. */
export async function ensureNamespace(connection: Pick<Connection, 'workflowService'>, namespace: string, deadline = Date.now() + 60_000): Promise<string[]> {
  const done: string[] = [];
  if (!(await namespaceExists(connection, namespace))) {
      try {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs(`${RETENTION_DAYS} days`),
        });
        done.push(`created namespace ${namespace} (retention ${RETENTION_DAYS} days)`);
      } catch (err) {
        if (!/already exists|AlreadyExists/i.test((err as Error).message)) throw err;
      }
    }
  // A new namespace reaches the services through their caches, refreshed every few seconds:
  // wait until a call that goes through them (a workflow list) knows it.
  for (;;) {
    try {
      await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
      return done;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (Date.now() > deadline) throw new Error(`namespace ${namespace} is not visible yet`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 5 || /not found/i.test((err as Error).message);
}

async function namespaceExists(connection: Pick<Connection, 'workflowService'>, namespace: string): Promise<boolean> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

