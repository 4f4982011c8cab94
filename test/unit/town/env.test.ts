import { describe, expect, it } from 'vitest';
import type { EngineConfig } from '../../../src/temporal/config.js';
import { engineEnv, hostEnv, townEnv } from '../../../src/town/env.js';

const embedded: EngineConfig = { address: '127.0.0.1:7400', namespace: 'default', external: false, grpcPort: 7400, uiPort: 8400, taskQueue: 'gt-a' };
const external: EngineConfig = { ...embedded, address: 'temporal.example:7233', external: true };

describe('town environments', () => {
  it("drop every identity, town, engine and git-identity variable of whoever starts a process, keep the machine's", () => {
    const env = hostEnv({
      PATH: '/usr/bin',
      HOME: '/home/x',
      ANTHROPIC_API_KEY: 'k',
      GT_BEAD: 'pc-1',
      GT_POLECAT: 'toast',
      GT_ROLE: 'polecat',
      GT_ROOT: '/other/town',
      BD_ACTOR: 'r/polecats/toast',
      BEADS_DIR: '/x',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      GIT_AUTHOR_NAME: 'r/polecats/toast',
      GIT_COMMITTER_EMAIL: 'toast@x',
      GIT_DIR: '/x/.git',
      TMUX: '/tmp/tmux-1/default,1,0',
      TEMPORAL_CLI: '/opt/temporal',
      GT_CONVOY_POLL_MS: '100',
    });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/home/x', ANTHROPIC_API_KEY: 'k', TEMPORAL_CLI: '/opt/temporal', GT_CONVOY_POLL_MS: '100' });
  });

  it("reach the town's own server by its ports (so it is still the town's to start), an external cluster by its address", () => {
    expect(engineEnv(embedded)).toEqual({ TEMPORAL_NAMESPACE: 'default', GT_TASK_QUEUE: 'gt-a', GT_TEMPORAL_PORT: '7400', GT_TEMPORAL_UI_PORT: '8400' });
    expect(engineEnv(external)).toEqual({ TEMPORAL_NAMESPACE: 'default', GT_TASK_QUEUE: 'gt-a', TEMPORAL_ADDRESS: 'temporal.example:7233' });
    const env = townEnv('/towns/a', embedded, 'gt-a-123456');
    expect(env).toMatchObject({ GT_ROOT: '/towns/a', GT_TMUX_SOCKET: 'gt-a-123456', GT_TEMPORAL_PORT: '7400' });
    expect(env.TEMPORAL_ADDRESS).toBeUndefined();
    expect(env.GT_WORKER_HOST).toBeUndefined();
  });

  it("on a rig host, carry the host's name (so nothing there starts the town's services), never a stale one of the caller", () => {
    expect(townEnv('/towns/a', external, 'gt-a-123456-build1', 'build1')).toMatchObject({ GT_WORKER_HOST: 'build1', TEMPORAL_ADDRESS: 'temporal.example:7233', GT_TMUX_SOCKET: 'gt-a-123456-build1' });
    expect(hostEnv({ PATH: '/usr/bin', GT_WORKER_HOST: 'elsewhere' })).toEqual({ PATH: '/usr/bin' });
  });
});
