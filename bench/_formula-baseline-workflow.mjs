// The bare-Temporal floor of `npm run bench -- formula` (not a benchmark: the dispatcher skips
// files starting with "_"). A minimal workflow walking the same DAG as a molecule: every step
// whose needs are done starts at once (up to maxParallel), each step one no-op activity.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities({ startToCloseTimeout: '1 minute' });

export async function baselineDag({ steps, maxParallel }) {
  const done = new Set();
  const started = new Set();
  const running = new Map();
  while (done.size < steps.length) {
    for (const s of steps) {
      if (running.size >= maxParallel) break;
      if (started.has(s.id) || !s.needs.every((n) => done.has(n))) continue;
      started.add(s.id);
      running.set(s.id, noop(s.id).then(() => s.id));
    }
    const id = await Promise.race(running.values());
    running.delete(id);
    done.add(id);
  }
  return done.size;
}
