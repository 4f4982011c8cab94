import * as wf from '@temporalio/workflow';
import { describeFailure } from './failure.js';
import { parseDuration } from '../formula/duration.js';
import type { ResolvedStep } from '../formula/types.js';
import {
  APPROVE_GATE_UPDATE,
  MOLECULE_QUERY,
  type GateApproval,
  type GateReceipt,
  type MoleculeInput,
  type MoleculeState,
  type StepBeadChange,
  type StepState,
  runStepDoneReason,
} from '../molecule/state.js';
import { GtStatus } from '../temporal/search-attributes.js';
import type { Activities } from '../activities/index.js';
import type { QuickStepResult, RunStepInput } from '../activities/molecule.js';

/**
 * A molecule: one run of a formula. Walks the DAG: every step whose needs have succeeded starts
 * at once (up to maxParallel); a failed step leaves its dependents not run while independent
 * branches go on. Gates are an update (human), a durable timer, or an activity that waits for a
 * bead to close. Step beads mirror progress through batched ledger activities, behind the walk;
 * a `run` step mirrors its own start and success in the activity that runs it.
 */
export const stateQuery = wf.defineQuery<MoleculeState>(MOLECULE_QUERY);
export const approveGateUpdate = wf.defineUpdate<GateReceipt, [GateApproval]>(APPROVE_GATE_UPDATE);

/** Extra attempts for a step whose worker died under it (beyond the step's own retries). */
const WORKER_LOSS_RETRIES = 5;
/** A failed quick first go is tried again after this (runStep's retry policy's first interval). */
const QUICK_RETRY_AFTER = '1s';

const TERMINAL = new Set(['succeeded', 'failed', 'not-run', 'cancelled']);

export async function moleculeWorkflow(input: MoleculeInput): Promise<MoleculeState> {
  const { formula } = input;
  // Runs started after groups, conditional gates and `bd mol run` of a worked molecule were
  // added; older histories replay without them.
  const v2 = wf.patched('molecule-groups-conditional-gates-done-steps');
  // Runs started after `run` steps mirrored themselves in the ledger (in the activity that runs
  // the command, so no bookkeeping activity sits between one step and the next).
  const v3 = wf.patched('molecule-run-steps-mirror-themselves');
  // Runs started after the walk woke on a flag set by the step that ended (one promise a wait)
  // instead of a race of every running step (a promise each, each with its stack captured by
  // the SDK), and flushed the ledger only when there was something to write.
  const v4 = wf.patched('molecule-walk-wakes-on-a-flag');
  // Runs started after a `run` step's command got a quick first go in a local activity, handed
  // to a regular one only when it runs longer (or failed and has retries left).
  const v5 = v3 && wf.patched('molecule-run-steps-local-first');
  // Regular (not local) activities: their results are in the history, so a query or a new
  // worker replaying the run never depends on a local activity that was still in flight.
  const ledger = wf.proxyActivities<Activities>({
    startToCloseTimeout: '60s',
    retry: { initialInterval: '200ms', maximumInterval: '5s' },
  });
  const specs = new Map<string, ResolvedStep>(formula.steps.map((s) => [s.id, s]));
  const state: MoleculeState = {
    molecule: input.molecule,
    formula: formula.name,
    vars: formula.vars,
    status: 'running',
    startedAt: new Date().toISOString(),
    steps: formula.steps.map((s) => ({
      id: s.id,
      title: s.title,
      bead: input.stepBeads[s.id],
      kind: s.gate ? 'gate' : s.run !== undefined ? 'run' : v2 && s.children ? 'group' : 'agent',
      needs: s.needs,
      status: 'pending',
    })),
  };
  if (v2) {
    for (const s of state.steps) {
      if (input.done?.includes(s.id)) {
        s.status = 'succeeded';
        s.reason = 'closed before the run started';
      }
    }
  }
  const approvable = (type: string | undefined) => type === 'human' || (v2 && type === 'conditional');
  const steps = new Map<string, StepState>(state.steps.map((s) => [s.id, s]));
  const approvals = new Map<string, GateReceipt>();
  const changes: StepBeadChange[] = [];
  /** The closes `run` steps wrote themselves, written again at the end in case one was lost with its worker. */
  const closedBySteps: StepBeadChange[] = [];

  wf.setHandler(stateQuery, () => state);
  wf.setHandler(
    approveGateUpdate,
    (approval) => {
      const step = steps.get(approval.step)!;
      const receipt: GateReceipt = {
        molecule: input.molecule,
        step: step.id,
        bead: step.bead,
        approver: approval.approver,
        approvedAt: new Date().toISOString(),
      };
      approvals.set(step.id, receipt);
      return receipt;
    },
    {
      validator: (approval) => {
        const step = steps.get(approval.step);
        if (!step) throw new Error(`molecule ${input.molecule} has no step "${approval.step}"`);
        if (!approvable(specs.get(step.id)?.gate?.type)) throw new Error(`step "${step.id}" is not a human or conditional gate`);
        if (approvals.has(step.id)) throw new Error(`gate "${step.id}" is already approved`);
        if (step.status !== 'waiting' && step.status !== 'pending') {
          throw new Error(`gate "${step.id}" is ${step.status}; only a pending or waiting gate can be approved`);
        }
      },
    },
  );

  const record = (change: StepBeadChange) => {
    changes.push(change);
  };
  // Ledger writes run behind the DAG walk (one at a time, in order) so the next step never waits
  // for the previous one's bookkeeping. A batch leaves `changes` only once written, so a write
  // cut short by cancellation is redone by the final, non-cancellable flush.
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      while (changes.length) {
        const n = changes.length;
        await ledger.applyStepChanges(input.ledgerDir, changes.slice(0, n));
        changes.splice(0, n);
      }
    });
    return flushing;
  };

  async function runGate(spec: ResolvedStep, step: StepState): Promise<string> {
    const gate = spec.gate!;
    if (gate.type === 'timer') {
      step.status = 'waiting';
      step.waitingFor = `timer ${gate.timeout ?? '0s'}`;
      await wf.sleep(gate.timeout ?? 0);
      return `timer of ${gate.timeout ?? '0s'} elapsed`;
    }
    if (approvable(gate.type) && v2) {
      // Approved with `bd gate approve`, or opened the original's way: its bead closed by hand.
      step.status = 'waiting';
      step.waitingFor = `${gate.type === 'conditional' ? `condition "${gate.condition}", then ` : ''}approval: bd gate approve ${step.bead} (or bd close ${step.bead})`;
      const watcher = new wf.CancellationScope();
      const watch = wf.proxyActivities<Activities>({
        startToCloseTimeout: '3650d',
        heartbeatTimeout: input.heartbeatTimeout,
        retry: { initialInterval: '1s', maximumInterval: '30s' },
      });
      let closedByHand = false;
      const watching = watcher
        .run(() => watch.waitForBeadClosed.executeWithOptions({ summary: `${spec.id}: approval or bd close ${step.bead}` }, [step.bead]))
        .then(
          () => {
            closedByHand = true;
          },
          (err: unknown) => {
            if (!wf.isCancellation(err)) throw err;
          },
        );
      const opened = () => approvals.has(step.id) || closedByHand;
      const inTime = gate.timeout ? await wf.condition(opened, gate.timeout) : (await wf.condition(opened), true);
      watcher.cancel();
      await watching;
      if (!inTime) throw new Error(`no approval within ${gate.timeout}`);
      return approvals.has(step.id) ? `approved by ${approvals.get(step.id)!.approver}` : 'its bead was closed by hand';
    }
    if (approvable(gate.type)) {
      step.status = 'waiting';
      step.waitingFor = `approval: bd gate approve ${step.bead}`;
      const approved = gate.timeout
        ? await wf.condition(() => approvals.has(step.id), gate.timeout)
        : (await wf.condition(() => approvals.has(step.id)), true);
      if (!approved) throw new Error(`no approval within ${gate.timeout}`);
      return `approved by ${approvals.get(step.id)!.approver}`;
    }
    step.status = 'waiting';
    step.waitingFor = `bead ${gate.id} to close`;
    const waiter = wf.proxyActivities<Activities>({
      startToCloseTimeout: gate.timeout ?? '3650d',
      heartbeatTimeout: input.heartbeatTimeout,
      retry: { maximumAttempts: 1 },
    });
    await waiter.waitForBeadClosed.executeWithOptions({ summary: `${spec.id}: wait for ${gate.id}` }, [gate.id!]);
    return `bead ${gate.id} closed`;
  }

  async function runWork(spec: ResolvedStep, step: StepState): Promise<string> {
    // The step's own limit and retries are enforced by the activity (which tells a failed
    // command from a dead worker); the engine's limits here only catch what slips past that.
    const timeoutMs = spec.timeout ? parseDuration(spec.timeout) : undefined;
    const retries = spec.retries ?? 0;
    const act = wf.proxyActivities<Activities>({
      startToCloseTimeout: timeoutMs !== undefined ? timeoutMs + 60_000 : spec.run !== undefined ? '24h' : '7d',
      heartbeatTimeout: input.heartbeatTimeout,
      retry: { maximumAttempts: retries + 1 + WORKER_LOSS_RETRIES, initialInterval: QUICK_RETRY_AFTER, backoffCoefficient: 2, maximumInterval: '30s' },
    });
    const common = {
      molecule: input.molecule,
      step: spec.id,
      bead: step.bead,
      ledgerDir: input.ledgerDir,
      cwd: input.cwd,
      vars: formula.vars,
      retries,
      timeoutMs,
    };
    const summary = `${spec.id}: ${spec.title}`;
    if (spec.run !== undefined) {
      const run = { ...common, command: spec.run, ...(v3 ? { mirror: true } : {}) };
      const result = (v5 && (await runQuickly(run))) || (await act.runStep.executeWithOptions({ summary }, [run]));
      step.attempts = result.attempt;
      if (v3 && !result.closedByHand) closedBySteps.push({ bead: step.bead, status: 'closed', reason: runStepDoneReason(result.attempt), again: true });
      return result.closedByHand ? 'its bead was closed by hand; the command did not run' : `done (exit 0, attempt ${result.attempt})`;
    }
    const result = await act.runAgentStep.executeWithOptions({ summary }, [
      {
        ...common,
        title: spec.title,
        description: spec.description,
        acceptance: spec.acceptance,
        agent: spec.agent ?? input.defaultAgent,
      },
    ]);
    step.attempts = result.attempt;
    return `closed by the agent (attempt ${result.attempt})`;
  }

  /**
   * A `run` step's quick first go (a local activity): its result when the command ended well in
   * time, undefined when it was handed over still running (runStep adopts it). A failure with
   * retries left is run again by runStep, after the retry policy's first interval, as a retry of
   * runStep's own would be; one with none left fails the step. The local activity failing for
   * another reason (its worker lost, a timeout) leaves the step to runStep, which adopts or starts it.
   */
  async function runQuickly(run: RunStepInput): Promise<{ attempt: number; closedByHand?: boolean } | undefined> {
    const quick = wf.proxyLocalActivities<Activities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 1 } });
    let r: QuickStepResult;
    try {
      r = await quick.runStepQuick(run);
    } catch (err) {
      if (wf.isCancellation(err)) throw err;
      return undefined;
    }
    if ('handedOver' in r) return undefined;
    if ('failed' in r) {
      if (r.failed.final) throw wf.ApplicationFailure.nonRetryable(r.failed.message, r.failed.type);
      await wf.sleep(QUICK_RETRY_AFTER);
      run.triedBefore = 1;
      return undefined;
    }
    return r;
  }

  async function runStepBranch(spec: ResolvedStep, step: StepState): Promise<void> {
    step.status = 'running';
    step.startedAt = new Date().toISOString();
    // A `run` step's activity writes its own start and success; failures are written from here.
    const mirrored = v3 && !spec.gate && step.kind === 'run';
    if (!mirrored) record({ bead: step.bead, status: 'in_progress' });
    try {
      const reason = spec.gate
        ? await runGate(spec, step)
        : step.kind === 'group'
          ? `its ${spec.children!.length} step${spec.children!.length === 1 ? '' : 's'} are done`
          : await runWork(spec, step);
      step.status = 'succeeded';
      step.waitingFor = undefined;
      if (!mirrored) record({ bead: step.bead, status: 'closed', reason });
    } catch (err) {
      if (wf.isCancellation(err)) {
        // The run is being cancelled; the main loop records it. A branch never rejects.
        step.status = 'cancelled';
        return;
      }
      step.status = 'failed';
      step.waitingFor = undefined;
      step.reason = describeFailure(err, spec.timeout ?? 'its time limit');
      record({ bead: step.bead, status: 'blocked', comment: `step failed: ${step.reason}`, labels: ['mol:failed'] });
    } finally {
      step.endedAt = new Date().toISOString();
    }
  }

  const running = new Set<Promise<void>>();
  const scope = wf.CancellationScope.current();
  let stepEnded = false;
  try {
    for (;;) {
      for (const step of state.steps) {
        if (step.status !== 'pending') continue;
        const blocker = step.needs.map((n) => steps.get(n)!).find((n) => n.status === 'failed' || n.status === 'not-run');
        if (blocker) {
          step.status = 'not-run';
          step.reason = `needs ${blocker.id}, which ${blocker.status === 'failed' ? 'failed' : 'did not run'}`;
          record({ bead: step.bead, status: 'open', comment: `not run: ${step.reason}` });
        }
      }
      for (const step of state.steps) {
        if (running.size >= input.maxParallel) break;
        if (step.status !== 'pending') continue;
        if (!step.needs.every((n) => steps.get(n)!.status === 'succeeded')) continue;
        const branch: Promise<void> = v4
          ? runStepBranch(specs.get(step.id)!, step).then(() => {
              running.delete(branch);
              stepEnded = true;
            })
          : runStepBranch(specs.get(step.id)!, step).finally(() => running.delete(branch));
        running.add(branch);
      }
      const done = state.steps.every((s) => TERMINAL.has(s.status));
      // Right after the start pass no branch can have ended yet: nothing running means stuck.
      if (!done && running.size === 0) throw wf.ApplicationFailure.nonRetryable('no step can start and none is running', 'MoleculeStuck');
      if (done) {
        await flush();
        break;
      }
      if (!v4 || changes.length) void flush().catch(() => undefined);
      wf.setCurrentDetails(stepTable());
      // Wake when any step ends (branches never reject) or the run is cancelled (the condition
      // then throws, as the race did).
      if (v4) {
        await wf.condition(() => stepEnded);
        stepEnded = false;
      } else {
        await Promise.race([...running, scope.cancelRequested]);
      }
    }
  } catch (err) {
    if (!wf.isCancellation(err)) throw err;
    await wf.CancellationScope.nonCancellable(async () => {
      await Promise.allSettled([...running, flushing]);
      flushing = Promise.resolve();
      // A run step's quick go (a local activity) cancelled under its command leaves it running: stop it.
      const cut = state.steps.filter((s) => s.kind === 'run' && s.status === 'cancelled' && s.startedAt).map((s) => s.id);
      if (v5 && cut.length) await ledger.stopStepCommands(input.molecule, cut);
      for (const step of state.steps) {
        if (!TERMINAL.has(step.status) || step.status === 'cancelled') {
          step.status = 'cancelled';
          record({ bead: step.bead, status: 'closed', reason: 'cancelled' });
        }
      }
      await finish('cancelled');
    });
    throw err;
  }
  const failed = state.steps.some((s) => s.status === 'failed' || s.status === 'not-run');
  await finish(failed ? 'failed' : 'succeeded');
  if (failed) {
    // Fail the workflow itself so the Web UI and `temporal workflow list` show the run as failed.
    const names = state.steps.filter((s) => s.status === 'failed').map((s) => s.id);
    throw wf.ApplicationFailure.nonRetryable(`molecule ${input.molecule} failed: ${names.join(', ')} failed`, 'MoleculeFailed', state);
  }
  return state;

  /** The step table the Web UI shows as the run's current details. */
  function stepTable(): string {
    const rows = state.steps.map((s) => `| ${s.id} | ${s.status} | ${s.kind} | ${s.needs.join(', ') || '-'} | ${(s.reason ?? s.waitingFor ?? '').split('\n')[0]!.slice(0, 80).replace(/\|/g, '/')} |`);
    return [`**${state.status}** · ${state.formula} · ${state.steps.filter((s) => s.status === 'succeeded').length}/${state.steps.length} steps done`, '', '| step | state | kind | needs | why |', '|---|---|---|---|---|', ...rows].join('\n');
  }

  async function finish(status: MoleculeState['status']): Promise<void> {
    state.status = status;
    wf.setCurrentDetails(stepTable());
    state.endedAt = new Date().toISOString();
    const failed = state.steps.filter((s) => s.status === 'failed').map((s) => s.id);
    changes.push(...closedBySteps.splice(0));
    if (status === 'failed') {
      record({ bead: input.molecule, status: 'blocked', comment: `run failed: ${failed.join(', ')} failed`, labels: ['mol:failed'] });
    } else {
      record({ bead: input.molecule, status: 'closed', reason: status });
    }
    await flush();
    wf.upsertSearchAttributes([{ key: GtStatus, value: status }]);
  }
}
