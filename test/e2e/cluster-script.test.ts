import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT, tempDir } from '../helpers/cli.js';

/**
 * scripts/cluster.sh refuses bad input with what was wrong and how to fix it, before it makes
 * anything (its folder is not even created). The cluster itself is tested by `npm run test:cluster`.
 */
function cluster(args: string[]) {
  const r = spawnSync('bash', [join(PROJECT, 'scripts', 'cluster.sh'), ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/cluster.sh bad input', () => {
  const dir = join(tempDir('gt-cluster-bad-'), 'cluster');

  it.each([
    [['up', '--address', 'myhost:7233', '--dir', dir], 1, "--address must be <ip>:<port>, e.g. 127.0.0.1:7233 or 10.0.0.5:7233 (got 'myhost:7233')"],
    [['up', '--address', '0.0.0.0:7233', '--dir', dir], 1, "--address must name this host's own IP, not 0.0.0.0"],
    [['up', '--address', '127.0.0.1:40000', '--dir', dir], 1, 'the port of --address must be between 1724 and 33467 (got 40000)'],
    [['up', '--pg-port', 'five', '--dir', dir], 1, "--pg-port must be a port number (got 'five')"],
    [['status', '--dir', dir], 1, `no cluster folder at ${dir}`],
    [['up', '--colour', 'red'], 2, 'unknown argument: --colour'],
    [['restart'], 2, 'usage: scripts/cluster.sh up|down|status'],
  ])('%j → exit %i: %s', (args, code, message) => {
    const r = cluster(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(existsSync(dir)).toBe(false);
  });
});
