import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Build the workflow bundle once at build time so the worker starts fast and every worker runs
 * the same code. Run by `npm run build` after tsc.
 */
const dist = fileURLToPath(new URL('../', import.meta.url));
const { code } = await bundleWorkflowCode({
  workflowsPath: join(dist, 'workflows', 'index.js'),
  logger: { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} },
});
writeFileSync(join(dist, 'workflow-bundle.js'), code);
