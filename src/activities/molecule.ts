import { ApplicationFailure, Context } from '@temporalio/activity';
import { join } from 'node:path';
import { varEnv } from '../formula/vars.js';
import type { StepBeadChange } from '../molecule/state.js';
import { chooseRuntime, runtimeArgv } from '../town/runtimes.js';
import { townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { applyChanges, beadStatus } from './ledger.js';
import { runChild } from './process.js';

export interface StepInput {
  molecule: string;
  step: string;
  bead: string;
  ledgerDir: string;
  cwd: string;
  vars: Record<string, string>;
}

export interface RunStepInput extends StepInput {
  command: string;
}

export interface AgentStepInput extends StepInput {
  title: string;
  description?: string;
  acceptance?: string;
  agent?: string;
}

/** Activities of molecule runs, bound to the town they act on. */
export function moleculeActivities(root: string) {
  const stepFiles = (molecule: string, step: string) => ({
    logFile: join(townPaths(root).logs, 'molecules', molecule, `${step}.log`),
    pidFile: join(townPaths(root).run, 'steps', `${molecule}.${step}.pid`),
  });
  const stepEnv = (input: StepInput): NodeJS.ProcessEnv => ({
    ...process.env,
    ...varEnv(input.vars),
    GT_ROOT: root,
    GT_MOLECULE: input.molecule,
    GT_STEP: input.step,
    GT_BEAD: input.bead,
    BEADS_DIR: input.ledgerDir,
    BD_ACTOR: `molecule/${input.molecule}`,
  });

  return {
    /** Apply a batch of step bead changes in one ledger write (a local activity; idempotent). */
    async applyStepChanges(ledgerDir: string, changes: StepBeadChange[]): Promise<void> {
      await applyChanges(ledgerDir, changes, 'gt-molecule');
    },

    /**
     * Run a `run` step: its command in a shell with vars as environment (never pasted into the
     * command text). Non-zero exit → a retryable failure carrying the output's last lines.
     */
    async runStep(input: RunStepInput): Promise<{ attempt: number }> {
      const attempt = Context.current().info.attempt;
      const files = stepFiles(input.molecule, input.step);
      const result = await runChild({
        command: '/bin/sh',
        args: ['-c', input.command],
        cwd: input.cwd,
        env: stepEnv(input),
        ...files,
      });
      if (result.code !== 0) {
        const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
        throw ApplicationFailure.retryable(`\`${input.command}\` ${how}${result.tail ? `:\n${result.tail}` : ''}`, 'StepFailed');
      }
      return { attempt };
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
      const result = await runChild({
        command: command!,
        args,
        cwd: input.cwd,
        env: { ...stepEnv(input), ...runtime.env, GT_ROLE: 'polecat' },
        onTick: isClosed,
        ...stepFiles(input.molecule, input.step),
      });
      if (result.finishedByTick || (await isClosed())) return { attempt };
      throw ApplicationFailure.retryable(
        `agent ${runtime.name} exited (${result.signal ?? `code ${result.code}`}) without closing ${input.bead}${result.tail ? `:\n${result.tail}` : ''}`,
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
