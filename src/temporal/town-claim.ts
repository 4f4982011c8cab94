import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { GtError } from '../errors.js';
import { readTownJson } from '../town/layout.js';
import type { EngineConfig } from './config.js';
import { GtKind } from './search-attributes.js';

/**
 * A town on a shared engine: one name, one town. The id of a town is made from what `gt install`
 * wrote once (name, owner, creation time), so every host that reaches the town's folder, or a
 * copy of its town.json, computes the same one.
 */
export function townId(root: string): string {
  const t = readTownJson(root);
  return createHash('sha256').update(`${t.name}\n${t.owner}\n${t.created_at}`).digest('hex').slice(0, 16);
}

export function townClaimWorkflowId(townName: string): string {
  return `town/${townName}`;
}

/** The id of the town that holds the claim on `townName` in this namespace, or undefined. */
async function claimHolder(client: Client, townName: string): Promise<string | undefined> {
  try {
    const d = await client.workflow.getHandle(townClaimWorkflowId(townName)).describe();
    if (d.status.name !== 'RUNNING') return undefined;
    return (d.memo?.townId as string | undefined) ?? '';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

function otherTown(root: string, config: EngineConfig): GtError {
  const name = readTownJson(root).name;
  return new GtError(`another town named "${name}" already uses the engine at ${config.address} (namespace ${config.namespace}); its task queues and workflows would be this town's`, {
    hint: `give this town its own namespace (temporal.namespace in settings/config.json; gt up creates it) or its own name; if that other town is gone for good: temporal workflow terminate --address ${config.address} --namespace ${config.namespace} --workflow-id ${townClaimWorkflowId(name)}`,
  });
}

/** `gt up`: claim the town's name in the namespace, or refuse when another town holds it. */
export async function claimTown(client: Client, root: string, config: EngineConfig): Promise<void> {
  const id = townId(root);
  const name = readTownJson(root).name;
  for (let attempt = 0; attempt < 2; attempt++) {
    const holder = await claimHolder(client, name);
    if (holder === id) return;
    if (holder !== undefined) throw otherTown(root, config);
    try {
      await client.workflow.start('townClaimWorkflow', {
        workflowId: townClaimWorkflowId(name),
        taskQueue: config.taskQueue,
        args: [{ townId: id }],
        memo: { townId: id },
        typedSearchAttributes: [{ key: GtKind, value: 'town' }],
        staticSummary: `town ${name}`,
        staticDetails: 'This town holds its name on this namespace: a second town of the same name is refused.',
      });
      return;
    } catch (err) {
      // Another `gt up` started it meanwhile: look again at whose it is.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  throw otherTown(root, config);
}

/** `gt worker`: serve a town only when the engine knows it as this town. */
export async function checkTownClaim(client: Client, root: string, config: EngineConfig): Promise<void> {
  const holder = await claimHolder(client, readTownJson(root).name);
  if (holder === undefined) {
    throw new GtError(`town "${readTownJson(root).name}" has not been started on the engine at ${config.address} (namespace ${config.namespace})`, {
      hint: 'run `gt up` on the town\'s host first (with the same temporal.address and namespace), then start the rig hosts',
    });
  }
  if (holder !== townId(root)) throw otherTown(root, config);
}
