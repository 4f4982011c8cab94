/**
 * The detached committer process started by a ledger write inside a git work tree:
 * `node committer.js <ledger dir>`. Waits so a burst of writes lands as one commit, then commits;
 * retries a few times if git is busy (another ledger of the same town committing at that moment).
 */
import { COMMIT_DELAY_MS, flushLedgerCommits } from './git.js';

const dir = process.argv[2];
if (dir) {
  const delay = Number(process.env.BD_COMMIT_DELAY_MS ?? COMMIT_DELAY_MS);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(Number.isFinite(delay) ? delay : COMMIT_DELAY_MS);
  for (let attempt = 0; attempt < 5; attempt++) {
    let result;
    try {
      result = flushLedgerCommits(dir, { ownPid: process.pid });
    } catch {
      result = { error: 'lock' };
    }
    if (!result.error) break;
    await sleep(500 * (attempt + 1) + Math.random() * 500);
  }
}
