import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { GtError } from '../errors.js';
import { workflowUiLink, type EngineConfig } from '../temporal/config.js';
import { GtBead, GtFormula, GtKind, GtStatus } from '../temporal/search-attributes.js';
export { withEngine } from '../temporal/engine.js';
import { describeTransitions, renderMolecule } from './render.js';
import { APPROVE_GATE_UPDATE, MOLECULE_QUERY, type GateApproval, type GateReceipt, type MoleculeInput, type MoleculeState } from './state.js';

/** Client side of molecule runs: start, watch, query, cancel, approve. Loaded lazily by the CLI. */

export async function startMolecule(client: Client, config: EngineConfig, input: MoleculeInput): Promise<void> {
  const vars = Object.entries(input.formula.vars).map(([k, v]) => `${k}=${v}`).join(' ');
  try {
    await startRun(client, config, input, vars);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new GtError(`molecule ${input.molecule} already has a run in the engine`, { hint: `follow it with: bd mol watch ${input.molecule}` });
    }
    throw err;
  }
}

async function startRun(client: Client, config: EngineConfig, input: MoleculeInput, vars: string): Promise<void> {
  await client.workflow.start('moleculeWorkflow', {
    workflowId: input.molecule,
    taskQueue: config.taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: GtKind, value: 'formula' },
      { key: GtFormula, value: input.formula.name },
      { key: GtStatus, value: 'running' },
      { key: GtBead, value: input.molecule },
    ],
    memo: { formula: input.formula.name, vars: input.formula.vars, cwd: input.cwd },
    staticSummary: `formula ${input.formula.name}${vars ? ` (${vars})` : ''}`,
  });
}

/**
 * The run's state. A query needs a worker; right after a worker restart the first query may
 * fail while the new worker picks the run up, so failures are retried for a while.
 */
export async function queryMolecule(client: Client, id: string, patienceMs = 60_000): Promise<MoleculeState> {
  const deadline = Date.now() + patienceMs;
  for (let wait = 200; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await client.workflow.getHandle(id).query<MoleculeState>(MOLECULE_QUERY);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new GtError(`no run of molecule ${id} in the engine`, { hint: 'was it poured with `bd mol pour` (not run)? `bd mol list` shows molecules' });
      }
      if (Date.now() + wait > deadline) {
        throw new GtError(`cannot read the state of ${id}: ${(err as Error).message}`, { hint: 'is the worker running? `gt status` shows it; `gt up` starts it' });
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

export interface WatchOptions {
  /** Redraw a live table (terminal) instead of printing one line per change. */
  tty: boolean;
  quiet?: boolean;
}

/**
 * Follow a run until it ends. Ctrl-C only detaches: the run goes on in the engine.
 * Returns the final state.
 */
export async function watchMolecule(client: Client, config: EngineConfig, id: string, opts: WatchOptions): Promise<MoleculeState> {
  const link = workflowUiLink(config, id);
  let detached = false;
  const onSigint = () => {
    detached = true;
  };
  process.on('SIGINT', onSigint);
  let last: MoleculeState | undefined;
  let drawnLines = 0;
  // A run that ends without reaching its own bookkeeping (terminated, or an internal error)
  // would look "running" forever to a query: the workflow's result tells. The result (or the
  // failure's details) is also the final state, so the end is seen at once, without a last
  // query (which, the run being closed, would replay its whole history on the worker).
  let closedWith: string | undefined;
  let finalState: MoleculeState | undefined;
  const handle = client.workflow.getHandle(id);
  const ended = handle.result().then(
    (result: MoleculeState) => {
      closedWith = 'completed';
      finalState = isMoleculeState(result) ? result : undefined;
    },
    (err: Error) => {
      const cause = (err as { cause?: Error & { details?: unknown[] } }).cause;
      closedWith = cause?.message ?? err.message;
      finalState = isMoleculeState(cause?.details?.[0]) ? (cause.details[0] as MoleculeState) : undefined;
    },
  );
  try {
    if (!opts.tty && !opts.quiet) process.stdout.write(`${id}: running formula${link ? `; Web UI: ${link}` : ''}\n`);
    for (;;) {
      const closed = closedWith;
      const state = closed !== undefined && finalState ? finalState : await queryMolecule(client, id);
      if (closed !== undefined && state.status === 'running') {
        state.status = 'failed';
        for (const s of state.steps) if (s.status === 'running' || s.status === 'waiting' || s.status === 'pending') s.status = 'not-run';
        state.steps.push({ id: '(run)', title: 'the run itself', bead: id, kind: 'run', needs: [], status: 'failed', reason: closed });
      }
      if (opts.tty) {
        const text = renderMolecule(state, link);
        if (drawnLines) process.stdout.write(`\x1b[${drawnLines}F\x1b[J`);
        process.stdout.write(text);
        drawnLines = text.split('\n').length - 1;
      } else if (!opts.quiet) {
        for (const line of describeTransitions(last, state)) process.stdout.write(`  ${line}\n`);
      }
      last = state;
      if (state.status !== 'running') return state;
      if (detached) {
        process.stdout.write(`\nDetached; the run goes on. Reattach with: bd mol watch ${id}\n`);
        return state;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, opts.tty ? 250 : 500)))]);
      clearTimeout(timer);
      if (detached) {
        process.stdout.write(`\nDetached; the run goes on. Reattach with: bd mol watch ${id}\n`);
        return last;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function isMoleculeState(x: unknown): x is MoleculeState {
  return typeof x === 'object' && x !== null && Array.isArray((x as MoleculeState).steps) && typeof (x as MoleculeState).status === 'string';
}

export async function cancelMolecule(client: Client, id: string): Promise<MoleculeState> {
  const handle = client.workflow.getHandle(id);
  try {
    await handle.cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new GtError(`no running molecule ${id}`, { hint: '`bd mol list` shows molecules and their state' });
    throw err;
  }
  try {
    await handle.result();
  } catch {
    // a cancelled run ends with a cancellation failure
  }
  return queryMolecule(client, id);
}

export async function approveGate(client: Client, molecule: string, approval: GateApproval): Promise<GateReceipt> {
  try {
    return await client.workflow.getHandle(molecule).executeUpdate<GateReceipt, [GateApproval]>(APPROVE_GATE_UPDATE, { args: [approval] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new GtError(`molecule ${molecule} is not running`, { hint: '`bd mol show` shows its state' });
    const cause = (err as { cause?: Error }).cause;
    throw new GtError(`cannot approve: ${cause?.message ?? (err as Error).message}`);
  }
}

/** Engine status of every formula run, by workflow id. */
export async function listRuns(client: Client): Promise<Map<string, { status: string; runStatus?: string; startTime: Date }>> {
  const out = new Map<string, { status: string; runStatus?: string; startTime: Date }>();
  for await (const wf of client.workflow.list({ query: `GtKind = "formula"` })) {
    if (out.has(wf.workflowId)) continue;
    const runStatus = wf.typedSearchAttributes.get(GtStatus);
    out.set(wf.workflowId, { status: wf.status.name, runStatus, startTime: wf.startTime });
  }
  return out;
}
