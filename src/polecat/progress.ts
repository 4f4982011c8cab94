import { writeFileSync } from 'node:fs';

/**
 * A `gt` or `bd` call by an agent is a sign of progress: the agent's environment names a file
 * (GT_PROGRESS_FILE) whose change the polecat's agent activity watches. Never fails a command.
 */
export function noteAgentProgress(): void {
  const file = process.env.GT_PROGRESS_FILE;
  if (!file) return;
  try {
    writeFileSync(file, `${Date.now()} ${process.argv.slice(2, 4).join(' ')}\n`);
  } catch {
    // the town may be gone; progress is only a hint
  }
}
