import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inject } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { PROJECT } from './cli.js';

/** One folder per release: the histories its workflows wrote, which every later release must replay. */
export const HISTORIES_DIR = join(PROJECT, 'test', 'fixtures', 'histories');
const RELEASE = (JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version;

/** The event history of a workflow on the test server, as the JSON `temporal workflow show` writes. */
export function fetchHistory(workflowId: string): unknown {
  const out = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', inject('temporalAddress'), '-w', workflowId, '-o', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out);
}

/**
 * Keep a history as a replay fixture of this release (test/fixtures/histories/<version>/) when
 * GT_RECORD_HISTORIES=1; the replay test then guards determinism against later changes.
 * GT_RECORD_SUFFIX (e.g. "-local-first") keeps a change's new histories beside the ones before it.
 */
export function maybeRecordHistory(workflowId: string, name: string): void {
  if (process.env.GT_RECORD_HISTORIES !== '1') return;
  mkdirSync(join(HISTORIES_DIR, RELEASE), { recursive: true });
  // Stack traces name where the project was checked out: a fixture says <project> instead.
  // (node_modules may be a link to another checkout: its real folder is named the same way.)
  let text = JSON.stringify(fetchHistory(workflowId), null, 1);
  for (const dir of new Set([PROJECT, dirname(realpathSync(join(PROJECT, 'node_modules')))])) text = text.split(`file://${dir}/`).join('<project>/').split(`${dir}/`).join('<project>/');
  writeFileSync(join(HISTORIES_DIR, RELEASE, `${name}${process.env.GT_RECORD_SUFFIX ?? ''}.json`), text + '\n');
}

interface HistoryEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

/**
 * The history as the engine writes it when a query comes in while a workflow task waits for its
 * local activity: the activity's marker closes that task, and what the code did after it is the
 * next task's. `nth` picks the local activity (0: the first). Undefined when there are fewer.
 */
export function splitAfterLocalActivity(history: { events: HistoryEvent[] }, nth: number): { events: HistoryEvent[] } | undefined {
  const events = structuredClone(history.events);
  const markers = events.flatMap((e, i) => (e.eventType === 'EVENT_TYPE_MARKER_RECORDED' && (e.markerRecordedEventAttributes as { markerName?: string }).markerName === 'core_local_activity' ? [i] : []));
  const i = markers[nth];
  if (i === undefined) return undefined;
  const at = Number(events[i]!.eventId);
  const shift = (id: string) => (Number(id) > at ? String(Number(id) + 3) : id);
  const renumber = (o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o)) {
      if (v && typeof v === 'object') renumber(v as Record<string, unknown>);
      else if (k.endsWith('EventId') && typeof v === 'string') o[k] = shift(v);
    }
  };
  for (const e of events) {
    e.eventId = shift(e.eventId);
    renumber(e);
  }
  const [scheduled, started, completed] = [at + 1, at + 2, at + 3].map(String);
  const eventTime = events[i]!.eventTime;
  const taskQueue = (events[0]!.workflowExecutionStartedEventAttributes as { taskQueue: unknown }).taskQueue;
  // The commands after the marker, up to the next workflow task, are the new task's.
  for (let j = i + 1; j < events.length && events[j]!.eventType !== 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED'; j++) {
    for (const v of Object.values(events[j]!)) if (v && typeof v === 'object' && 'workflowTaskCompletedEventId' in v) (v as { workflowTaskCompletedEventId: string }).workflowTaskCompletedEventId = completed!;
  }
  events.splice(
    i + 1,
    0,
    { eventId: scheduled!, eventTime, eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', workflowTaskScheduledEventAttributes: { taskQueue, startToCloseTimeout: '10s', attempt: 1 } },
    { eventId: started!, eventTime, eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED', workflowTaskStartedEventAttributes: { scheduledEventId: scheduled, identity: 'split', requestId: 'split' } },
    { eventId: completed!, eventTime, eventType: 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED', workflowTaskCompletedEventAttributes: { scheduledEventId: scheduled, startedEventId: started, identity: 'split' } },
  );
  return { events };
}
