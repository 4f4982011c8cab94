import * as wf from '@temporalio/workflow';

/**
 * Ask `patches` in a run's first activation, before any local activity, behind the patch `gate`
 * (runs started before the gate take no new marker and ask each patch where they always did).
 *
 * A query that comes in while a workflow task waits for its local activity can make the engine
 * record the activity's marker in that task and what the code did next in the following one. On
 * replay the activity resolves in the first task, so a patch first asked right after it is taken
 * as absent: the replay goes down the old branch and fails as nondeterministic (reproduced with
 * the SDK alone, a few first workflow tasks in a hundred under queries), and the run stops.
 * Once asked here, a patch is known for the rest of the run wherever it is asked again.
 */
export function askPatchesFirst(gate: string, patches: readonly string[]): void {
  if (wf.patched(gate)) for (const id of patches) wf.patched(id);
}
