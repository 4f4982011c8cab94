/**
 * Loaded with `--import` into the worker process, so it runs in the main thread and in each
 * workflow thread the SDK starts (worker threads take the process's preload modules).
 *
 * The SDK runs every call into a workflow's V8 context with a vm timeout, its guard against a
 * workflow that loops without awaiting. Node starts and joins a watchdog thread for each such call:
 * about 130 µs on an idle machine and milliseconds on a busy one, several calls a workflow task.
 * Measured on a 12-bead mountain (the core SDK's workflow task execution latency, idle machine):
 * convoy 18.2 → 11.2 ms, dispatcher 15.7 → 12.5, polecat 15.3 → 10.9, refinery 10.1 → 6.4 ms.
 *
 * Here a workflow thread's calls run without that timeout; instead each thread stamps when its
 * current call began in memory shared with the main thread (two atomic writes a call), and the
 * main thread looks every second. A call still running after the limit is a deadlock: the worker
 * says so and exits, and is started again (what the SDK's cut came to as well: on Node 20 the cut
 * can corrupt the thread's async hooks and take the whole worker down).
 */
import vm from 'node:vm';
import { getEnvironmentData, isMainThread, setEnvironmentData, threadId } from 'node:worker_threads';

const KEY = 'gt.activation-clock';
const SLOTS = 64;
/** How long one call into a workflow may run, as the SDK's isolateExecutionTimeout was (the variable is for tests). */
export const ACTIVATION_LIMIT_MS = Number(process.env.GT_ACTIVATION_LIMIT_MS) || 60_000;

// Word 0 hands out slots; word i (1..SLOTS) holds when thread i's current call began (ms since the epoch), or 0.
if (isMainThread) {
  const words = new BigInt64Array(new SharedArrayBuffer(8 * (SLOTS + 1)));
  setEnvironmentData(KEY, words.buffer);
  const timer = setInterval(() => {
    const now = Date.now();
    for (let i = 1; i <= SLOTS; i++) {
      const began = Number(Atomics.load(words, i));
      if (began === 0 || now - began < ACTIVATION_LIMIT_MS) continue;
      process.stderr.write(`worker: a workflow activation has run ${Math.round((now - began) / 1000)} s without yielding (limit ${ACTIVATION_LIMIT_MS / 1000} s): taken as a deadlock; the worker exits to be started again\n`);
      process.exit(70);
    }
  }, Math.min(1000, ACTIVATION_LIMIT_MS));
  timer.unref();
} else {
  const buffer = getEnvironmentData(KEY);
  const words = buffer instanceof SharedArrayBuffer ? new BigInt64Array(buffer) : undefined;
  const slot = words ? Number(Atomics.add(words, 0, 1n)) + 1 : 0;
  if (words && slot <= SLOTS) {
    const run = vm.Script.prototype.runInContext;
    let depth = 0;
    vm.Script.prototype.runInContext = function (this: vm.Script, context: vm.Context, options?: vm.RunningScriptOptions) {
      const { timeout: _cut, ...rest } = options ?? {};
      if (depth++ === 0) Atomics.store(words, slot, BigInt(Date.now()));
      try {
        return run.call(this, context, rest);
      } finally {
        if (--depth === 0) Atomics.store(words, slot, 0n);
      }
    };
  } else if (words) {
    process.stderr.write(`worker: thread ${threadId} keeps the SDK's per-call vm timeout (more than ${SLOTS} threads)\n`);
  }
}
