import { describe, expect, it } from 'vitest';
import { chooseName, NAME_THEMES, poolNames, POOL_SIZE } from '../../../src/polecat/names.js';

describe('polecat name pool', () => {
  it('every theme has 50 distinct valid names', () => {
    for (const [style, names] of Object.entries(NAME_THEMES)) {
      expect(names, style).toHaveLength(POOL_SIZE);
      expect(new Set(names).size, style).toBe(POOL_SIZE);
      for (const n of names) expect(n, style).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
    }
  });

  it('hands out the lowest free name, then numbered names after the pool', () => {
    const pool = poolNames({});
    expect(chooseName('myrig', pool, new Set())).toBe(pool[0]);
    expect(chooseName('myrig', pool, new Set([pool[0]!, pool[2]!]))).toBe(pool[1]);
    expect(chooseName('myrig', pool, new Set(pool))).toBe('myrig-51');
    expect(chooseName('myrig', pool, new Set([...pool, 'myrig-51']))).toBe('myrig-52');
  });

  it('takes a rig\'s own names or style, and refuses an unknown style or a bad name', () => {
    expect(poolNames({ namepool: { names: ['ada', 'bob', 'ada'] } })).toEqual(['ada', 'bob']);
    expect(poolNames({ namepool: { style: 'minerals' } })[0]).toBe(NAME_THEMES.minerals![0]);
    expect(() => poolNames({ namepool: { style: 'nope' } })).toThrow(/unknown namepool style "nope"/);
    expect(() => poolNames({ namepool: { names: ['Bad Name'] } })).toThrow(/not valid/);
  });
});
