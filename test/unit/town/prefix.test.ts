import { describe, expect, it } from 'vitest';
import { checkPrefix, derivePrefix, normalizeGitUrl, validateRigName } from '../../../src/town/rigs.js';
import { GtError } from '../../../src/errors.js';

describe('derivePrefix', () => {
  it.each([
    ['my-project', 'mp'],
    ['my_project', 'mp'],
    ['gas-town-hall', 'gth'],
    ['myrig', 'my'],
    ['backend', 'ba'],
    ['api', 'api'],
    ['ab', 'ab'],
    ['Frontend', 'fr'],
    ['myProject', 'mp'],
    ['HTMLParser', 'hp'],
    ['tools-py', 'to'],
    ['web-app-go', 'wa'],
    ['a--b', 'ab'],
  ])('%s → %s', (name, prefix) => {
    expect(derivePrefix(name)).toBe(prefix);
  });
});

describe('checkPrefix', () => {
  const rigs = { version: 1, rigs: { 'my-project': { git_url: 'x', default_branch: 'main', prefix: 'mp', added_at: '' } } };

  it('accepts a free, well-formed prefix', () => {
    expect(() => checkPrefix('ab', rigs, 'new', false)).not.toThrow();
  });

  it('refuses hq, a clash with another rig, and malformed prefixes, saying which', () => {
    expect(() => checkPrefix('hq', rigs, 'new', false)).toThrow(/town's own ledger/);
    expect(() => checkPrefix('mp', rigs, 'new', true)).toThrow(/already used by rig "my-project"/);
    for (const bad of ['', 'Ab', '1a', 'a-b', 'a b', 'abcdefghijklmnopq']) {
      expect(() => checkPrefix(bad, rigs, 'new', false)).toThrow(GtError);
    }
  });

  it('lets a rig keep its own prefix', () => {
    expect(() => checkPrefix('mp', rigs, 'my-project', false)).not.toThrow();
  });
});

describe('validateRigName', () => {
  it.each(['', ' ', 'a/b', '..', 'a..b', 'has space', 'hq', 'HQ', 'mayor', 'settings', '.hidden', '-x', 'x'.repeat(65), 'a\\b'])('refuses %j', (name) => {
    expect(() => validateRigName(name)).toThrow(GtError);
  });

  it.each(['myrig', 'my-project', 'my_project', 'Rig2', '2048'])('accepts %j', (name) => {
    expect(() => validateRigName(name)).not.toThrow();
  });
});

describe('normalizeGitUrl', () => {
  it('keeps URLs and scp-like addresses, makes local paths absolute', () => {
    expect(normalizeGitUrl('https://example.com/o/r.git')).toBe('https://example.com/o/r.git');
    expect(normalizeGitUrl('file:///srv/r.git')).toBe('file:///srv/r.git');
    expect(normalizeGitUrl('git@example.com:o/r.git')).toBe('git@example.com:o/r.git');
    expect(normalizeGitUrl('.', '/')).toBe('/');
  });

  it('refuses empty, option-like and missing local paths', () => {
    expect(() => normalizeGitUrl('')).toThrow(/empty/);
    expect(() => normalizeGitUrl('--upload-pack=x')).toThrow(/starts with '-'/);
    expect(() => normalizeGitUrl('./surely/not/here', '/')).toThrow(/does not exist/);
  });
});
