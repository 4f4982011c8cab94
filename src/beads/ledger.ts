import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonFile } from '../town/layout.js';

/** Create an empty ledger in `dir` (a `.beads` folder) whose ids start with `<prefix>-`. */
export function initLedger(dir: string, prefix: string): void {
  mkdirSync(dir, { recursive: true });
  writeJsonFile(join(dir, 'config.json'), { prefix, version: 1 });
  if (!existsSync(join(dir, 'issues.jsonl'))) writeFileSync(join(dir, 'issues.jsonl'), '');
}
