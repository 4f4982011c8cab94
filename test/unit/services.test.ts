import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EngineConfig } from '../../src/temporal/config.js';
import { devServerArgs, devServerDynamicConfigFlags } from '../../src/temporal/services.js';

const config: EngineConfig = { address: '127.0.0.1:7233', namespace: 'default', external: false, grpcPort: 7233, uiPort: 8233, taskQueue: 'gt-t' };

/** The KEY=VALUE pairs of --dynamic-config-value flags. */
function dynamicConfig(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  args.forEach((a, i) => {
    if (a !== '--dynamic-config-value') return;
    const [key, value] = args[i + 1]!.split('=');
    out.set(key!, value!);
  });
  return out;
}

describe('the engine: server settings', () => {
  it('the embedded server runs with eager activity execution, and the cluster config says the same', () => {
    const embedded = dynamicConfig(devServerArgs('/town', config));
    expect(embedded.get('system.enableActivityEagerExecution')).toBe('true');
    expect(dynamicConfig(devServerDynamicConfigFlags())).toEqual(embedded);
    // Every embedded setting is in the cluster's dynamic config with the same value.
    const yaml = readFileSync(fileURLToPath(new URL('../../scripts/cluster/dynamicconfig.yaml', import.meta.url)), 'utf8');
    for (const [key, value] of embedded) {
      expect(yaml, key).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')}:\\n\\s+- value: ${value}$`, 'm'));
    }
  });
});
