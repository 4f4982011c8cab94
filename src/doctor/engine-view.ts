import type { DispatchState } from '../dispatch/types.js';
import { DISPATCH_QUERY, dispatchWorkflowId } from '../dispatch/types.js';
import { POLECAT_QUERY, type PolecatState } from '../polecat/state.js';
import { REFINERY_QUEUE_QUERY, type RefineryState } from '../refinery/types.js';
import { rigTaskQueue } from '../temporal/config.js';
import { polecatWorkflowId, refineryWorkflowId } from '../temporal/merge-protocol.js';
import type { DoctorContext } from './types.js';

/**
 * What the engine says about a rig's workflows, for the ledger and session checks. A query needs
 * a worker: it is asked only when one polls the workflow's queue, else the answer is "unknown".
 */
export type View<T> = { running: false } | { running: true; state?: T };

async function running(ctx: DoctorContext, id: string): Promise<boolean> {
  try {
    return (await ctx.client!.workflow.getHandle(id).describe()).status.name === 'RUNNING';
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') return false;
    throw err;
  }
}

async function view<T>(ctx: DoctorContext, id: string, queue: string, query: string): Promise<View<T>> {
  if (!(await running(ctx, id))) return { running: false };
  if (!ctx.liveQueues?.has(queue)) return { running: true };
  try {
    return { running: true, state: await ctx.client!.workflow.getHandle(id).query<T>(query) };
  } catch {
    return { running: true };
  }
}

export function polecatView(ctx: DoctorContext, rig: string, name: string): Promise<View<PolecatState>> {
  return view(ctx, polecatWorkflowId(rig, name), rigTaskQueue(ctx.config!, rig), POLECAT_QUERY);
}

export function dispatchView(ctx: DoctorContext, rig: string): Promise<View<DispatchState>> {
  return view(ctx, dispatchWorkflowId(rig), ctx.config!.taskQueue, DISPATCH_QUERY);
}

export function refineryView(ctx: DoctorContext, rig: string): Promise<View<RefineryState>> {
  return view(ctx, refineryWorkflowId(rig), rigTaskQueue(ctx.config!, rig), REFINERY_QUEUE_QUERY);
}

/** Whether the polecat's workflow has `bead` now or queued. */
export function polecatHas(state: PolecatState, bead: string): boolean {
  return state.current?.bead === bead || state.queue.some((q) => q.bead === bead);
}
