// The bare-Temporal floor of `npm run bench -- formula` (not a benchmark: the dispatcher skips
// files starting with "_"). A minimal workflow walking the same DAG as a molecule: every step
// whose needs are done starts at once (up to maxParallel), each step one no-op activity; and the
// same with each step one no-op local activity (the floor of a step that needs no task of its own).
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

const regular = proxyActivities({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities({ startToCloseTimeout: '1 minute' });

export function baselineDag(input) {
  return walk(input, regular.noop);
}

export function baselineDagLocal(input) {
  return walk(input, local.noop);
}

async function walk({ steps, maxParallel }, noop) {
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
