import { describe, expect, it } from 'vitest';
import { budgetSpent, formatBudget, parseBudget } from '../../../src/convoy/budget.js';

describe('convoy budgets', () => {
  it('reads tokens and dollars', () => {
    expect(parseBudget('120000')).toEqual({ tokens: 120000 });
    expect(parseBudget('500k')).toEqual({ tokens: 500000 });
    expect(parseBudget('2M')).toEqual({ tokens: 2000000 });
    expect(parseBudget('1.5m tokens')).toEqual({ tokens: 1500000 });
    expect(parseBudget('$5')).toEqual({ usd: 5 });
    expect(parseBudget('$12.50')).toEqual({ usd: 12.5 });
    expect(formatBudget({ tokens: 2000000 })).toBe('2,000,000 tokens');
    expect(formatBudget({ usd: 5 })).toBe('$5.00');
  });

  it('refuses what is no budget', () => {
    for (const text of ['', 'lots', '$', '$-1', '$0', '0', '-5', '5 dollars', '$1.234', '1e6', '12q']) expect(typeof parseBudget(text), text).toBe('string');
  });

  it('is spent when what was spent reaches it; an unknown dollar figure never spends a dollar budget', () => {
    expect(budgetSpent({ tokens: 100 }, { tokens: 100 })).toBe(true);
    expect(budgetSpent({ tokens: 100 }, { tokens: 99, usd: 1000 })).toBe(false);
    expect(budgetSpent({ usd: 1 }, { tokens: 1e9, usd: 1.01 })).toBe(true);
    expect(budgetSpent({ usd: 1 }, { tokens: 1e9 })).toBe(false);
  });
});
