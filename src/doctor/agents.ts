import { execFileSync } from 'node:child_process';
import { GtError } from '../errors.js';
import { chooseRuntime, commandExists } from '../town/runtimes.js';
import { integrationFor } from '../town/integrations.js';
import { checkRuntimeFiles, claudeSettings } from '../polecat/runtime-files.js';
import { ok, problem, type CheckResult, type DoctorContext } from './types.js';

/** The agents: each runtime the town would start (the Mayor's, each rig's polecats') is on PATH with settings that parse, and tmux runs. */
export function checkAgents(ctx: DoctorContext): CheckResult[] {
  const out: CheckResult[] = [];
  const uses: Array<{ who: string; rig?: string; role: string }> = [
    { who: 'the Mayor', role: 'mayor' },
    ...Object.keys(ctx.rigs).map((rig) => ({ who: `polecats of ${rig}`, rig, role: 'polecat' })),
  ];
  for (const use of uses) {
    const name = `agent for ${use.who}`;
    try {
      const runtime = chooseRuntime({ root: ctx.root, rig: use.rig, role: use.role });
      // Its settings files parse (a person's Claude Code settings, merged under gt's hooks).
      if (use.rig) checkRuntimeFiles(ctx.root, use.rig, runtime);
      else if (integrationFor(runtime.provider, runtime).style === 'claude-settings') claudeSettings(ctx.root);
      out.push(commandExists(runtime.command)
        ? ok('agents', name, `${runtime.name} (${runtime.command}, chosen by ${runtime.source})`)
        : problem('agents', name, use.role === 'mayor' ? 'warning' : 'error', `agent "${runtime.name}" (chosen by ${runtime.source}) runs "${runtime.command}", which is not on PATH: its sessions could only fail`,
          `install ${runtime.command}, or pick another agent: gt config agent set <name> "<command>" and gt config default-agent <name>`));
    } catch (err) {
      out.push(problem('agents', name, 'error', (err as Error).message, (err as GtError).hint));
    }
  }
  try {
    const version = execFileSync('tmux', ['-V'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    out.push(ok('agents', 'tmux', version));
  } catch (err) {
    out.push(problem('agents', 'tmux', 'warning', `tmux cannot be run (${(err as Error).message.split('\n')[0]}): agents can only run headless and the Mayor cannot start`, 'install tmux (apt-get install tmux)'));
  }
  return out;
}
