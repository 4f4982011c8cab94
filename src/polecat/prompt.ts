/** What a polecat agent is told. Import-free. */

export interface PromptInput {
  rig: string;
  name: string;
  bead: string;
  title?: string;
  attempt: number;
  /** Why this session follows an earlier one (crash, stall, handoff, merge refused). */
  handoff?: string;
}

/** The first prompt of every session: where to look, not what to do (that is on the hook). */
export function firstPrompt(p: PromptInput): string {
  const lines = [
    `You are polecat ${p.name} of rig ${p.rig}, working bead ${p.bead}${p.title ? ` (${p.title})` : ''} in this worktree.`,
    'Run `gt prime` for your role, your hook and its checklist, then work the bead on your hook (`gt hook`).',
    'Commit your work on this branch. When it is done, run `gt done`; if you cannot finish, `gt done --status ESCALATED` or `--status DEFERRED`.',
  ];
  if (p.handoff) lines.push('', `Handoff from the previous session (this is attempt ${p.attempt}): ${p.handoff}`);
  return lines.join('\n');
}

export function nudgeText(stall: string): string {
  return `Gas Town: no progress seen for ${stall}. If you are stuck, run \`gt prime\` and \`gt hook\` and carry on; when the work is done, commit and run \`gt done\`.`;
}

export function handoffNote(outcome: string, detail: string | undefined, attempt: number): string {
  const what =
    outcome === 'stalled' ? `session ${attempt} showed no progress and was stopped`
    : outcome === 'handoff' ? `session ${attempt} asked for a fresh session`
    : outcome === 'rejected' ? 'the merge queue sent the work back'
    : outcome === 'failed-start' ? `session ${attempt} did not start`
    : `session ${attempt} ended without \`gt done\``;
  return `${what}${detail ? `: ${detail}` : ''}. The work on disk (commits and uncommitted files) is kept: check \`git status\` and \`git log\`, then carry on.`;
}
