import * as wf from '@temporalio/workflow';

/**
 * A town's claim on its engine's namespace: workflow `town/<name>`, started by `gt up`, with the
 * town's id in its memo. It does nothing and never ends; it is there so a second town of the same
 * name (whose task queues `gt-<name>…` would be the same) is refused by `gt up` and `gt worker`
 * rather than run the first town's work against its own folder.
 */
export async function townClaimWorkflow(_input: { townId: string }): Promise<void> {
  await wf.condition(() => false);
}
