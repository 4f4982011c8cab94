import { TimeoutFailure, TimeoutType } from '@temporalio/common';

/**
 * What went wrong with an activity or child run, in words for a bead comment: the innermost
 * cause's message (an ActivityFailure wraps the activity's own error, or a TimeoutFailure, as
 * its cause). A heartbeat timeout means the worker running it died or hung; another timeout is
 * reported as `timed out after <timeLimit>` when the caller knows the limit.
 */
export function describeFailure(err: unknown, timeLimit?: string): string {
  let innermost: unknown = err;
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if (e instanceof TimeoutFailure) {
      if (e.timeoutType === TimeoutType.HEARTBEAT) return 'the worker running it stopped responding, too many times';
      if (timeLimit !== undefined) return `timed out after ${timeLimit}`;
    }
    innermost = e;
  }
  return innermost instanceof Error ? innermost.message : String(innermost);
}
