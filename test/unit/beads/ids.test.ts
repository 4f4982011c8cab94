import { describe, expect, it } from 'vitest';
import { generateId, hashChars, hashLengthFor, nextChildId, validateExplicitId, validatePrefix } from '../../../src/beads/ids.js';

describe('bead ids', () => {
  it('are <prefix>- plus 5 base36 characters for a small ledger, longer as it grows', () => {
    const id = generateId({ prefix: 'gt', title: 't', actor: 'a', time: '2025-01-01T00:00:00.000Z', count: 0 }, () => false);
    expect(id).toMatch(/^gt-[0-9a-z]{5}$/);
    expect(hashLengthFor(0)).toBe(5);
    expect(hashLengthFor(1000)).toBe(5);
    expect(hashLengthFor(10_000)).toBe(6);
    expect(hashLengthFor(1_000_000)).toBeGreaterThan(6);
  });

  it('depend on title, actor, time and nonce', () => {
    const base = hashChars('t', 'a', 'x', 0, 8);
    expect(hashChars('t', 'a', 'x', 0, 8)).toBe(base);
    for (const other of [hashChars('u', 'a', 'x', 0, 8), hashChars('t', 'b', 'x', 0, 8), hashChars('t', 'a', 'y', 0, 8), hashChars('t', 'a', 'x', 1, 8)]) {
      expect(other).not.toBe(base);
    }
  });

  it('try the next nonce on a collision', () => {
    const opts = { prefix: 'gt', title: 't', actor: 'a', time: 'now', count: 0 };
    const first = generateId(opts, () => false);
    const second = generateId(opts, (id) => id === first);
    expect(second).not.toBe(first);
    expect(second).toBe(`gt-${hashChars('t', 'a', 'now', 1, 5)}`);
  });

  it('carry a sub-prefix when asked (convoys: hq-cv-xxxxx)', () => {
    expect(generateId({ prefix: 'hq', subPrefix: 'cv', title: 't', actor: 'a', time: 'now', count: 0 }, () => false)).toMatch(/^hq-cv-[0-9a-z]{5}$/);
  });

  it('number children after the highest existing child', () => {
    expect(nextChildId('gt-abc12', [])).toBe('gt-abc12.1');
    expect(nextChildId('gt-abc12', ['gt-abc12.1', 'gt-abc12.3', 'gt-abc12.2.1', 'gt-abc123'])).toBe('gt-abc12.4');
  });

  it('validate explicit ids and prefixes', () => {
    expect(validateExplicitId('gt-abc12', 'gt')).toBe('gt-abc12');
    expect(validateExplicitId('gt-abc12.2', 'gt')).toBe('gt-abc12.2');
    expect(validateExplicitId('hq-cv-x7k2m', 'hq')).toBe('hq-cv-x7k2m');
    for (const bad of ['hq-abc12', 'gt-', 'gt-ABC', 'gt-a b', 'gt-abc.0', 'gt-abc..1']) expect(() => validateExplicitId(bad, 'gt')).toThrow(/invalid bead id/);
    expect(validatePrefix('my-rig')).toBe('my-rig');
    for (const bad of ['', 'Gt', '1x', 'a_b', 'x'.repeat(21)]) expect(() => validatePrefix(bad)).toThrow(/invalid ledger prefix/);
  });
});
