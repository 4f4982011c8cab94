import { describe, expect, it } from 'vitest';
import { parseCommand, splitWords, suggestions } from '../../../src/dashboard/palette.js';
import { emptySnapshot } from '../../../src/feed/model.js';

const gates = [{ molecule: 'hq-m1', step: 'approve', bead: 'hq-m1.2', waitingFor: 'approval' }];

describe('dashboard command palette', () => {
  it('splits words, quotes holding spaces', () => {
    expect(splitWords(`convoy "Feature X" ap-1  'two words' ap-2`)).toEqual(['convoy', 'Feature X', 'ap-1', 'two words', 'ap-2']);
  });

  it('turns each command into the action of its button', () => {
    expect(parseCommand('sling ap-1 ap-2 app', gates)).toEqual({ action: 'sling', fields: { bead: 'ap-1 ap-2 app' } });
    expect(parseCommand('nudge app/polecats/nux check   your mail', gates)).toEqual({ action: 'nudge', fields: { agent: 'app/polecats/nux', message: 'check your mail' } });
    expect(parseCommand('approve hq-cv-1', gates)).toEqual({ action: 'approve-convoy', fields: { convoy: 'hq-cv-1' } });
    expect(parseCommand('approve hq-m1.2', gates)).toEqual({ action: 'approve-gate', fields: { molecule: 'hq-m1', step: 'approve' } });
    expect(parseCommand('pause hq-cv-2', gates)).toEqual({ action: 'pause', fields: { convoy: 'hq-cv-2' } });
    expect(parseCommand(' resume hq-cv-2 ', gates)).toEqual({ action: 'resume', fields: { convoy: 'hq-cv-2' } });
    expect(parseCommand('convoy "Feature X" ap-1 ap-2 --human', gates)).toEqual({ action: 'create-convoy', fields: { name: 'Feature X', beads: 'ap-1 ap-2', human: '1' } });
  });

  it('refuses what it does not know or what is missing, saying the usage', () => {
    expect(() => parseCommand('launch rockets', gates)).toThrow(/the palette has no command "launch"/);
    expect(() => parseCommand('', gates)).toThrow(/type a command/);
    expect(() => parseCommand('nudge mayor', gates)).toThrow(expect.objectContaining({ hint: 'usage: nudge <agent> <message…>', exitCode: 2 }));
    expect(() => parseCommand('convoy "Only a name"', gates)).toThrow(/missing something/);
  });

  it('suggests what the page shows that can be acted on', () => {
    const s = {
      ...emptySnapshot(),
      ready: [{ bead: 'ap-3', title: 'T', rig: 'app' }],
      agents: [{ rig: 'app', name: 'nux', address: 'app/polecats/nux', session: 'ap-nux', status: 'working' as const, sessionAlive: true, hooked: [], queued: [], stallMs: 1 }],
      convoys: [
        { id: 'hq-cv-1', title: 'A', mode: 'convoy' as const, status: 'awaiting-approval', done: 1, total: 1, human: true, failed: [] },
        { id: 'hq-cv-2', title: 'B', mode: 'mountain' as const, status: 'paused', done: 0, total: 2, human: false, failed: [] },
      ],
      gates,
    };
    expect(suggestions(s)).toEqual(['sling ap-3 app', 'nudge app/polecats/nux ', 'approve hq-cv-1', 'resume hq-cv-2', 'approve hq-m1.2']);
  });
});
