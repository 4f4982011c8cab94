import { Command } from 'commander';
import { reportError } from './run.js';
import { registerWorkspaceCommands } from './gt/workspace.js';
import { registerServiceCommands } from './gt/services.js';
import { registerRigCommands } from './gt/rig.js';
import { registerConfigCommands } from './gt/config.js';
import { registerMqCommands } from './gt/mq.js';
import { registerMailCommands } from './gt/mail.js';
import { registerNudgeCommands } from './gt/nudge.js';
import { registerMayorCommands } from './gt/mayor.js';
import { registerSlingCommands } from './gt/sling.js';
import { registerAgentCommands } from './gt/agents.js';
import { registerConvoyCommands } from './gt/convoy.js';
import { registerMountainCommands } from './gt/mountain.js';
import { registerLogCommands } from './gt/log.js';
import { registerDoctorCommands } from './gt/doctor.js';
import { registerFeedCommands } from './gt/feed.js';
import { registerDashboardCommands } from './gt/dashboard.js';
import { registerWorkCommands } from './gt/work.js';
import { registerCostsCommands } from './gt/costs.js';
import { registerWorkerCommands } from './gt/worker.js';
import { PACKAGE_VERSION } from '../version.js';
import { noteAgentProgress } from '../polecat/progress.js';
import { remoteTownName } from '../remote/commands.js';

// No top-level await: the bundle is a CommonJS script (bin/load.js runs it with a V8 code cache).
async function main(): Promise<void> {
  // An agent on a host without the town folder: its command goes to the town through the engine.
  const remoteTown = remoteTownName(process.env, process.argv.slice(2));
  if (remoteTown) {
    noteAgentProgress();
    const { runInTown } = await import('../remote/client.js');
    process.exit(await runInTown(remoteTown, 'gt', process.argv.slice(2)));
  }

  /** `gt`: Gas Town. Thin: each command group lives in its own file under cli/gt/. */
  const program = new Command('gt')
    .description('Gas Town on Temporal: a multi-agent workspace where every long-running thing is a durable workflow')
    .version(PACKAGE_VERSION)
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    });

  registerWorkspaceCommands(program);
  registerServiceCommands(program);
  registerRigCommands(program);
  registerConfigCommands(program);
  registerMqCommands(program);
  registerMailCommands(program);
  registerNudgeCommands(program);
  registerMayorCommands(program);
  registerSlingCommands(program);
  registerAgentCommands(program);
  registerConvoyCommands(program);
  registerMountainCommands(program);
  registerLogCommands(program);
  registerDoctorCommands(program);
  registerFeedCommands(program);
  registerDashboardCommands(program);
  registerWorkCommands(program);
  registerCostsCommands(program);
  registerWorkerCommands(program);
  program
    .command('version')
    .description('the version of gt (the same as gt --version)')
    .action(() => {
      process.stdout.write(`gt ${PACKAGE_VERSION}\n`);
    });

  noteAgentProgress();
  await program.parseAsync(process.argv);
}

main().catch(reportError);
