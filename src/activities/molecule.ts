import { ApplicationFailure, Context } from '@temporalio/activity';
import { join } from 'node:path';
import { varEnv } from '../formula/vars.js';
import { engineConfig } from '../temporal/config.js';
import { townEnv } from '../town/env.js';
import { runStepDoneReason, type StepBeadChange } from '../molecule/state.js';
import { chooseRuntime, runtimeArgv } from '../town/runtimes.js';
import { townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { applyChanges, beadFor, beadStatus } from './ledger.js';
import { eventWriter } from './events.js';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { readNumber, remove, runChild, stopChild } from './process.js';
import { agentPath } from './shims.js';
import { stepLogFile } from '../molecule/logs.js';
import { tmuxSocket } from './tmux.js';

/**
 * A step's own failures (bad exit, agent gave up, timeout) are counted in a file so they are
 * held to the step's `retries`, while the engine retries freely when a worker died mid-step.
 */
function stepFailure(stateFile: string, retries: number, message: string, type: string): ApplicationFailure {
  const file = `${stateFile}.failures`;
  let failures = 0;
  try {
    failures = Number(readFileSync(file, 'utf8')) || 0;
  } catch {
    // first failure
  }
  failures += 1;
  writeFileSync(file, String(failures));
  if (failures > retries) {
    clearFailures(stateFile);
    const tries = failures === 1 ? '' : ` (after ${failures} tries)`;
    return ApplicationFailure.nonRetryable(`${message}${tries}`, type);
  }
  return ApplicationFailure.retryable(message, type);
}

function clearFailures(stateFile: string): void {
  try {
    unlinkSync(`${stateFile}.failures`);
  } catch {
    // none
  }
}

function limitText(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export interface StepInput {
  molecule: string;
  step: string;
  bead: string;
  ledgerDir: string;
  cwd: string;
  vars: Record<string, string>;
  /** How many times a failed command or agent may be tried again (the step's `retries`). */
  retries: number;
  /** The step's own time limit in ms, enforced here so a dead worker is not mistaken for a slow step. */
  timeoutMs?: number;
}

export interface RunStepInput extends StepInput {
  command: string;
  /**
   * The step mirrors itself: its bead goes in_progress while the command runs and is closed
   * when it succeeds, in this activity, so no bookkeeping activity sits between one step and
   * the next (a failure is still written by the run). Runs started before this came leave it out.
   */
  mirror?: boolean;
  /** Runs of the command made before this activity: one when its quick first go failed. */
  triedBefore?: number;
}

/** How long a run step's command runs before its bead is marked in_progress. */
const MIRROR_START_AFTER_MS = 1000;
/**
 * How long a ledger write no step waits for (a start, a close behind the activity) waits for
 * others to join it: every write blocks the worker's thread for its fsyncs (5-15 ms on a busy
 * disk), which holds up the workflow tasks of every run. Waiting longer only makes a reader of
 * the ledger see a step closed later while the run goes on: the run's end writes every close
 * again, in the one write it waits for.
 */
const MIRROR_GATHER_MS = 500;
const DONE_REASON = /^done \(exit 0, attempt (\d+)\)$/;
/**
 * How long a `run` step's local activity waits for its command before handing it to a regular
 * activity. The run's workflow task stays open meanwhile (its other commands, a signal, wait),
 * so this is short.
 */
export const QUICK_LOOK_MS = 1000;

export interface AgentStepInput extends StepInput {
  title: string;
  description?: string;
  acceptance?: string;
  agent?: string;
}

/** A `run` step's quick first go: done, handed over still running, or failed (`final`: no retries left). */
export type QuickStepResult =
  | { attempt: number; closedByHand?: boolean }
  | { handedOver: true }
  | { failed: { message: string; type: string; final: boolean } };

/** Activities of molecule runs, bound to the town they act on. */
export function moleculeActivities(root: string) {
  const event = eventWriter(root);
  const stepFiles = (molecule: string, step: string) => ({
    logFile: stepLogFile(root, molecule, step),
    stateFile: join(townPaths(root).run, 'steps', `${molecule}.${step}`),
  });
  const stepEnv = (input: StepInput): NodeJS.ProcessEnv => ({
    ...townEnv(root, engineConfig(root), tmuxSocket(root)),
    ...varEnv(input.vars),
    GT_ROOT: root,
    GT_MOLECULE: input.molecule,
    GT_STEP: input.step,
    GT_BEAD: input.bead,
    BEADS_DIR: input.ledgerDir,
    BD_ACTOR: `molecule/${input.molecule}`,
  });

  /** Formula steps in the town's event stream: started, done (a gate's approval among them), failed, not run. */
  const stepEvents = (changes: StepBeadChange[]): void => {
    const molecule = Context.current().info.workflowExecution?.workflowId ?? 'a molecule';
    for (const c of changes) {
      if (c.again) continue;
      const kind = c.bead === molecule ? 'formula' : 'step';
      const type = `${kind}.${{ in_progress: 'start', closed: 'end', blocked: 'failed', open: 'not-run' }[c.status]}`;
      event(type, { actor: `molecule/${molecule}`, bead: c.bead, molecule, key: `${c.bead}/${c.status}`, detail: c.reason ?? c.comment });
    }
  };
  /** Step bead changes in one ledger write (idempotent, so retries are safe), and in the town's event stream. */
  const mirrorChanges = async (ledgerDir: string, changes: StepBeadChange[], opts: { gatherMs?: number } = {}): Promise<void> => {
    await applyChanges(ledgerDir, changes, 'gt-molecule', opts);
    stepEvents(changes);
  };

  /**
   * A `run` step: see runStep. With `handOverAfterMs`, a command still running by then is handed
   * back (still running, its records in place): the answer is `{ handedOver: true }`.
   */
  async function runStepCommand(input: RunStepInput, handOverAfterMs?: number): Promise<{ attempt: number; closedByHand?: boolean } | { handedOver: true }> {
    const attempt = Context.current().info.attempt + (input.triedBefore ?? 0);
    const files = stepFiles(input.molecule, input.step);
    const doneFile = `${files.stateFile}.done`;
    /**
     * The step's bead is closed behind the activity (joined with other steps' writes), so the
     * next step does not wait for it; the done file says the command is done until the close is
     * written, and the run closes every step that succeeded again at its end, in case this
     * write was lost with its worker.
     */
    const closeBehind = (ran: number, started: boolean): { attempt: number } => {
      const end: StepBeadChange = { bead: input.bead, status: 'closed', reason: runStepDoneReason(ran) };
      stepEvents(started ? [end] : [{ bead: input.bead, status: 'in_progress' }, end]);
      applyChanges(input.ledgerDir, [end], 'gt-molecule', { gatherMs: MIRROR_GATHER_MS }).then(
        () => remove(doneFile),
        (err: unknown) => process.stderr.write(`worker: could not close ${input.bead} (step ${input.step} of ${input.molecule}) in the ledger: ${(err as Error).message}; the run closes it at its end\n`),
      );
      return { attempt: ran };
    };
    if (input.mirror) {
      // An earlier attempt ran the command to success and its worker died before the close: close, never run it again.
      const ran = readNumber(doneFile);
      if (ran !== undefined) return closeBehind(ran, true);
      const bead = await beadFor(input.ledgerDir, input.bead);
      const closedByUs = bead?.status === 'closed' ? DONE_REASON.exec(bead.close_reason ?? '') : null;
      if (closedByUs) return { attempt: Number(closedByUs[1]) };
      if (bead?.status === 'closed') return { attempt, closedByHand: true };
    } else if ((await beadStatus(input.ledgerDir, input.bead)) === 'closed') {
      // Worked by hand (its bead closed, as agents do in the original): done, the command is not run.
      return { attempt, closedByHand: true };
    }
    // The bead goes in_progress once the command has run for a second: a step over sooner is
    // mirrored once, at its end (its start and end events together), so a fast step costs one
    // ledger write, not two.
    let started: Promise<unknown> | undefined;
    const startTimer = input.mirror
      ? setTimeout(() => {
          started = mirrorChanges(input.ledgerDir, [{ bead: input.bead, status: 'in_progress' }], { gatherMs: MIRROR_GATHER_MS }).catch(() => undefined);
        }, MIRROR_START_AFTER_MS)
      : undefined;
    let result: Awaited<ReturnType<typeof runChild>>;
    try {
      result = await runChild({
        shell: input.command,
        cwd: input.cwd,
        env: stepEnv(input),
        timeoutMs: input.timeoutMs,
        handOverAfterMs,
        ...files,
      });
    } catch (err) {
      clearTimeout(startTimer);
      await started;
      throw err;
    }
    clearTimeout(startTimer);
    if (result.handedOver) {
      // Its start is written before runStep can close it.
      await started;
      return { handedOver: true };
    }
    if (result.timedOut || result.code !== 0) {
      // A failure is no fast path: the bead says it ran (the run writes the failure next).
      if (input.mirror && started === undefined) started = mirrorChanges(input.ledgerDir, [{ bead: input.bead, status: 'in_progress' }]).catch(() => undefined);
      await started;
      if (result.timedOut) throw stepFailure(files.stateFile, input.retries, `timed out after ${limitText(input.timeoutMs!)}`, 'StepTimedOut');
      const how = result.code === null ? 'was killed' : `exited with code ${result.code}`;
      throw stepFailure(files.stateFile, input.retries, `\`${input.command}\` ${how}${result.tail ? `:\n${result.tail}` : ''}`, 'StepFailed');
    }
    clearFailures(files.stateFile);
    if (!input.mirror) return { attempt };
    // The command is done: say so before anything else, so no later attempt runs it again.
    writeFileSync(doneFile, String(attempt));
    return closeBehind(attempt, started !== undefined);
  }

  return {
    /** Apply a batch of step bead changes in one ledger write (idempotent, so retries are safe). */
    async applyStepChanges(ledgerDir: string, changes: StepBeadChange[]): Promise<void> {
      await mirrorChanges(ledgerDir, changes);
    },

    /** A cancelled run's step commands that still run (a cancelled quick go leaves its command behind): stopped. */
    async stopStepCommands(molecule: string, steps: string[]): Promise<string[]> {
      const stopped: string[] = [];
      for (const step of steps) if (await stopChild(stepFiles(molecule, step).stateFile)) stopped.push(step);
      return stopped;
    },

    /**
     * Run a `run` step: its command in a shell with vars as environment (never pasted into the
     * command text). Non-zero exit → a retryable failure carrying the output's last lines.
     * With `mirror`, the step's bead says it runs and is closed when it succeeded, here; that
     * close (and a done file between the command's end and the close) is the step's record, so a
     * retry after a lost worker never runs a finished command again.
     */
    async runStep(input: RunStepInput): Promise<{ attempt: number; closedByHand?: boolean }> {
      return (await runStepCommand(input)) as { attempt: number; closedByHand?: boolean };
    },

    /**
     * A `run` step's quick first go, as a local activity: runStep, but a command still running
     * after QUICK_LOOK_MS is handed back, still running with its records in place, for runStep
     * to adopt. Most steps end sooner, and then cost the engine no activity task, no poll and no
     * workflow task of their own: the walk goes on in the same workflow task.
     */
    async runStepQuick(input: RunStepInput): Promise<QuickStepResult> {
      try {
        return await runStepCommand(input, QUICK_LOOK_MS);
      } catch (err) {
        // The step's own failure is an answer (the workflow decides, by the step's retries), not a failed local activity.
        if (err instanceof ApplicationFailure) return { failed: { message: err.message, type: err.type ?? 'StepFailed', final: err.nonRetryable === true } };
        throw err;
      }
    },

    /**
     * Run an agent step: start the agent runtime in the work folder with the rendered step as
     * its prompt; done when the agent closes the step bead. An agent that exits without
     * closing it has failed this attempt.
     */
    async runAgentStep(input: AgentStepInput): Promise<{ attempt: number }> {
      const attempt = Context.current().info.attempt;
      const runtime = chooseRuntime({ root, agentFlag: input.agent, role: 'polecat' });
      const prompt = agentPrompt(input);
      const [command, ...args] = runtimeArgv(runtime, prompt);
      const isClosed = async () => (await beadStatus(input.ledgerDir, input.bead)) === 'closed';
      if (await isClosed()) return { attempt };
      const files = stepFiles(input.molecule, input.step);
      const result = await runChild({
        command: command!,
        args,
        cwd: input.cwd,
        env: { ...stepEnv(input), ...runtime.env, GT_ROLE: 'polecat', PATH: agentPath(root) },
        onTick: isClosed,
        timeoutMs: input.timeoutMs,
        ...files,
      });
      if (result.finishedByTick || (await isClosed())) {
        clearFailures(files.stateFile);
        return { attempt };
      }
      if (result.timedOut) throw stepFailure(files.stateFile, input.retries, `agent ${runtime.name} did not close ${input.bead} within ${limitText(input.timeoutMs!)}`, 'StepTimedOut');
      throw stepFailure(
        files.stateFile,
        input.retries,
        `agent ${runtime.name} exited (code ${result.code ?? 'unknown'}) without closing ${input.bead}${result.tail ? `:\n${result.tail}` : ''}`,
        'AgentExited',
      );
    },

    /** A `bead` gate: wait, heartbeating, until another bead is closed. */
    async waitForBeadClosed(beadId: string): Promise<void> {
      const ctx = Context.current();
      const dir = ledgerDirForId(beadId, root);
      for (;;) {
        if ((await beadStatus(dir, beadId)) === 'closed') return;
        ctx.heartbeat();
        await ctx.sleep(1000);
      }
    },
  };
}

function agentPrompt(input: AgentStepInput): string {
  const parts = [
    `You are working step "${input.step}" of molecule ${input.molecule}: ${input.title}`,
    input.description ? `\n${input.description}` : '',
    input.acceptance ? `\nDone means: ${input.acceptance}` : '',
    `\nWhen the step is done, run: bd close ${input.bead}`,
  ];
  return parts.join('\n').trim();
}
