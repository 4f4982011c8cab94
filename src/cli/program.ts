import { Command } from 'commander';
import { reportError } from './run.js';
import { noteAgentProgress } from '../polecat/progress.js';
import { remoteTownName } from '../remote/commands.js';
import { PACKAGE_VERSION } from '../version.js';

/**
 * The start `gt` and `bd` share: a command of an agent on a host without the town folder goes
 * to the town through the engine; else the program, its commands (`register`), and a run.
 * No top-level await: the bundle is a CommonJS script (bin/load.js runs it with a V8 code cache).
 */
export function runProgram(name: 'gt' | 'bd', description: string, register: (program: Command) => void | Promise<void>): void {
  const main = async (): Promise<void> => {
    const remoteTown = remoteTownName(process.env, process.argv.slice(2));
    if (remoteTown) {
      noteAgentProgress();
      const { runInTown } = await import('../remote/client.js');
      process.exit(await runInTown(remoteTown, name, process.argv.slice(2)));
    }
    const program = new Command(name)
      .description(description)
      .version(PACKAGE_VERSION)
      .showHelpAfterError()
      .exitOverride((err) => {
        if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
        process.exit(2);
      });
    await register(program);
    noteAgentProgress();
    await program.parseAsync(process.argv);
  };
  main().catch(reportError);
}
