/**
 * A convoy's budget: tokens ("500k", "2M", "120000") or US dollars ("$5", "$12.50"). When what
 * its beads' sessions spent reaches it, the convoy sends out no new beads (those running finish)
 * until the budget is raised. Import-free: the workflow, its activities and the CLI share it.
 */
export interface BudgetLimit {
  tokens?: number;
  usd?: number;
}

export interface ConvoyBudget extends BudgetLimit {
  /** What its beads' sessions had spent at the last look. */
  spentTokens?: number;
  spentUsd?: number;
  /** Since when dispatch is held for the budget (ISO). */
  exhaustedAt?: string;
}

/** The budget a text names, or a message saying why it names none. */
export function parseBudget(text: string): BudgetLimit | string {
  const t = text.trim();
  const usd = /^\$(\d+(?:\.\d{1,2})?)$/.exec(t);
  if (usd) {
    const v = Number(usd[1]);
    return v > 0 ? { usd: v } : 'a budget must be more than $0';
  }
  const tok = /^(\d+(?:\.\d+)?)\s*([kKmM]?)(?:\s*tokens?)?$/.exec(t);
  if (tok) {
    const v = Math.round(Number(tok[1]) * (tok[2] ? (tok[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1));
    return v > 0 && Number.isSafeInteger(v) ? { tokens: v } : 'a budget must be at least 1 token';
  }
  return 'give tokens (e.g. 500k, 2M, 120000) or dollars (e.g. $5, $12.50)';
}

export function formatBudget(b: BudgetLimit): string {
  return b.usd !== undefined ? `$${b.usd.toFixed(2)}` : `${(b.tokens ?? 0).toLocaleString('en-US')} tokens`;
}

export function formatSpent(b: ConvoyBudget): string {
  return b.usd !== undefined ? `$${(b.spentUsd ?? 0).toFixed(2)}` : `${(b.spentTokens ?? 0).toLocaleString('en-US')} tokens`;
}

/** Spent: the tokens reached a token budget, or the dollars (when known) a dollar budget. */
export function budgetSpent(b: BudgetLimit, spent: { tokens: number; usd?: number }): boolean {
  if (b.tokens !== undefined) return spent.tokens >= b.tokens;
  if (b.usd !== undefined) return spent.usd !== undefined && spent.usd >= b.usd;
  return false;
}

/** A budget as kept in the convoy bead's metadata, or undefined when it is not one. */
export function budgetFromMeta(value: unknown): BudgetLimit | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.tokens === 'number' && v.tokens > 0) return { tokens: v.tokens };
  if (typeof v.usd === 'number' && v.usd > 0) return { usd: v.usd };
  return undefined;
}
