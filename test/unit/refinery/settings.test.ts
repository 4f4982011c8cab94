import { describe, expect, it } from 'vitest';
import { RIG_SETTINGS, TOWN_SETTINGS, settingsProblems } from '../../../src/doctor/settings.js';

/** The merge queue's batch settings as `gt doctor` checks them (the refinery uses the defaults for a bad value). */
describe('merge_queue batch settings', () => {
  it('accepts "adaptive" or a whole number of at least 1 for batch_size, in rig and town settings', () => {
    for (const shape of [RIG_SETTINGS, TOWN_SETTINGS]) {
      expect(settingsProblems({ merge_queue: { batch_size: 'adaptive', max_batch_size: 16, max_concurrent: 3 } }, shape)).toEqual([]);
      expect(settingsProblems({ merge_queue: { batch_size: 1 } }, shape)).toEqual([]);
    }
  });

  it('names a bad batch_size, max_batch_size or max_concurrent and what it must be', () => {
    expect(settingsProblems({ merge_queue: { batch_size: 0 } }, RIG_SETTINGS)).toEqual(['merge_queue.batch_size must be "adaptive" or a whole number of at least 1, not number 0']);
    expect(settingsProblems({ merge_queue: { batch_size: 'big' } }, TOWN_SETTINGS)).toEqual(['merge_queue.batch_size must be "adaptive" or a whole number of at least 1, not string "big"']);
    expect(settingsProblems({ merge_queue: { max_concurrent: 1.5 } }, RIG_SETTINGS)).toEqual(['merge_queue.max_concurrent must be a whole number of at least 1, not number 1.5']);
    expect(settingsProblems({ merge_queue: { max_batch_size: 0 } }, RIG_SETTINGS)).toEqual(['merge_queue.max_batch_size must be a whole number of at least 1, not number 0']);
  });

  it('town settings take only the batch keys of merge_queue (the test command is a rig\'s)', () => {
    expect(settingsProblems({ merge_queue: { test_command: 'true' } }, TOWN_SETTINGS)[0]).toMatch(/unknown key "merge_queue\.test_command"/);
  });
});
