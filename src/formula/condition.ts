/**
 * Step conditions: `{{v}}`, `!{{v}}`, `{{v}} == value`, `{{v}} != value` (value optionally quoted).
 * A step whose condition is false is skipped. Import-free.
 */

export interface Condition {
  var: string;
  op: 'truthy' | 'falsy' | 'eq' | 'ne';
  value?: string;
}

const TRUTH = /^\s*(!)?\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$/;
const COMPARE = /^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*(==|!=)\s*(.*?)\s*$/;
/** Values that read as "no" in a condition; anything else non-empty reads as "yes". */
const FALSY = new Set(['', 'false', '0', 'no', 'off']);

export function parseCondition(text: string): Condition | undefined {
  const t = TRUTH.exec(text);
  if (t) return { var: t[2]!, op: t[1] ? 'falsy' : 'truthy' };
  const c = COMPARE.exec(text);
  if (c) {
    let value = c[3]!;
    const quoted = /^"(.*)"$/.exec(value) ?? /^'(.*)'$/.exec(value);
    if (quoted) value = quoted[1]!;
    else if (value === '' || /\s/.test(value)) return undefined;
    return { var: c[1]!, op: c[2] === '==' ? 'eq' : 'ne', value };
  }
  return undefined;
}

/** Why `text` is not a condition, or undefined when it is one. */
export function conditionProblem(text: string): string | undefined {
  if (parseCondition(text)) return undefined;
  if (!/\{\{/.test(text)) return `condition "${text}" names no var`;
  return `cannot read the condition "${text}"`;
}

export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && !FALSY.has(value.trim().toLowerCase());
}

/** Whether the step runs, given the final var values. */
export function evaluateCondition(cond: Condition, vars: Readonly<Record<string, string>>): boolean {
  const value = vars[cond.var] ?? '';
  switch (cond.op) {
    case 'truthy':
      return isTruthy(value);
    case 'falsy':
      return !isTruthy(value);
    case 'eq':
      return value === cond.value;
    case 'ne':
      return value !== cond.value;
  }
}
