import { runProgram } from './program.js';
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

/** `gt`: Gas Town. Thin: each command group lives in its own file under cli/gt/. */
runProgram('gt', 'Gas Town on Temporal: a multi-agent workspace where every long-running thing is a durable workflow', (program) => {
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
});
