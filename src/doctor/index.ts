import { requireRig } from '../town/rigs.js';
import { readRigs } from '../town/layout.js';
import { engineConfig, type EngineConfig } from '../temporal/config.js';
import { checkAgents } from './agents.js';
import { checkEngine } from './engine.js';
import { checkLedgers } from './ledgers.js';
import { checkSessions } from './sessions.js';
import { checkTown } from './town.js';
import { problem, type CheckResult, type DoctorContext } from './types.js';

export { GROUPS, type CheckGroup, type CheckResult, type CheckStatus } from './types.js';

/**
 * `gt doctor`: every check, in groups (engine, town, ledgers, agents, sessions). With `fix`, each
 * finding that can be repaired safely is repaired, in that order, and then every check runs
 * again (and what that finds is repaired once more): what is reported is the town as it is after
 * the repairs.
 */
export interface DoctorReport {
  checks: CheckResult[];
  /** What `--fix` did, one line a repair. */
  fixed: string[];
  errors: number;
  warnings: number;
}

async function runChecks(root: string, rig: string | undefined): Promise<{ checks: CheckResult[]; close: () => Promise<void> }> {
  const checks: CheckResult[] = [];
  // A file that does not parse is a finding of the town checks, not the end of the run.
  let rigs: ReturnType<typeof readRigs>['rigs'] = {};
  try {
    rigs = readRigs(root).rigs;
  } catch {
    // named by the layout check
  }
  let config: EngineConfig | undefined;
  try {
    config = engineConfig(root);
  } catch (err) {
    checks.push(problem('engine', 'settings', 'error', `cannot tell where the engine is: ${(err as Error).message}`, 'fix settings/config.json'));
  }
  const ctx: DoctorContext = { root, rigs: rig ? { [rig]: rigs[rig]! } : rigs, config };
  const guarded = async (group: CheckResult['group'], fn: () => CheckResult[] | Promise<CheckResult[]>) => {
    try {
      checks.push(...(await fn()));
    } catch (err) {
      checks.push(problem(group, 'checks', 'error', `the ${group} checks failed: ${(err as Error).message.split('\n')[0]}`, 'run with GT_DEBUG=1 for details'));
    }
  };
  if (config) await guarded('engine', () => checkEngine(ctx, config));
  await guarded('town', () => checkTown(ctx));
  await guarded('ledgers', () => checkLedgers(ctx));
  await guarded('agents', () => checkAgents(ctx));
  await guarded('sessions', () => checkSessions(ctx));
  return { checks, close: async () => void (await ctx.client?.connection.close().catch(() => undefined)) };
}

export async function doctor(root: string, opts: { rig?: string; fix?: boolean } = {}): Promise<DoctorReport> {
  if (opts.rig !== undefined) requireRig(root, opts.rig);
  let run = await runChecks(root, opts.rig);
  const fixed: string[] = [];
  // Two rounds: a repair of the engine (a worker started again) lets the next checks see more.
  for (let round = 0; opts.fix && round < 2; round++) {
    const repairs = run.checks.filter((c) => c.repair);
    if (repairs.length === 0) break;
    try {
      for (const c of repairs) {
        try {
          const did = await c.repair!();
          if (!fixed.includes(did)) fixed.push(did);
        } catch (err) {
          fixed.push(`could not fix "${c.name}": ${(err as Error).message.split('\n')[0]}`);
        }
      }
    } finally {
      await run.close();
    }
    run = await runChecks(root, opts.rig);
  }
  await run.close();
  const checks = run.checks.map(({ repair: _repair, ...c }) => c);
  return { checks, fixed, errors: checks.filter((c) => c.status === 'error').length, warnings: checks.filter((c) => c.status === 'warning').length };
}
