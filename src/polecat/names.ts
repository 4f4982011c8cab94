import { usageError } from '../errors.js';
import type { RigSettings } from '../town/settings.js';

/**
 * Polecat names: a rig draws from a themed list of 50 (rig settings `namepool.style`, or its own
 * `namepool.names`), lowest free name first so a small rig keeps reusing the same few worktrees;
 * past the list come numbered names `<rig>-51`, `<rig>-52`, ...
 */

export const POOL_SIZE = 50;
export const DEFAULT_STYLE = 'wasteland';

export const NAME_THEMES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  wasteland: [
    'furiosa', 'nux', 'slit', 'rictus', 'toast', 'capable', 'cheedo', 'dag', 'angharad', 'max',
    'immortan', 'keeper', 'valkyrie', 'ace', 'morsov', 'coma', 'organic', 'corpus', 'scrotus', 'dementus',
    'jackal', 'buzzard', 'rockrider', 'warboy', 'imperator', 'glory', 'splendid', 'miss-giddy', 'toecutter', 'goose',
    'nightrider', 'bubba', 'fifi', 'jessie', 'sprog', 'gyro', 'wez', 'humungus', 'pappagallo', 'lord',
    'chumbucket', 'praetorian', 'bullet', 'gastown', 'citadel', 'rig', 'dust', 'rust', 'chrome', 'guzzoline',
  ],
  minerals: [
    'agate', 'amber', 'amethyst', 'apatite', 'azurite', 'basalt', 'beryl', 'calcite', 'carnelian', 'cinnabar',
    'citrine', 'coral', 'corundum', 'diamond', 'dolomite', 'emerald', 'feldspar', 'flint', 'fluorite', 'galena',
    'garnet', 'granite', 'gypsum', 'halite', 'hematite', 'jade', 'jasper', 'jet', 'kyanite', 'lapis',
    'magnetite', 'malachite', 'marble', 'mica', 'obsidian', 'olivine', 'onyx', 'opal', 'peridot', 'pyrite',
    'quartz', 'ruby', 'sapphire', 'selenite', 'shale', 'slate', 'spinel', 'talc', 'topaz', 'zircon',
  ],
  birds: [
    'albatross', 'avocet', 'bittern', 'bunting', 'buzzard', 'chough', 'coot', 'crake', 'curlew', 'dipper',
    'dunlin', 'egret', 'eider', 'falcon', 'finch', 'gannet', 'godwit', 'goshawk', 'grebe', 'harrier',
    'heron', 'hobby', 'ibis', 'jackdaw', 'jay', 'kestrel', 'kite', 'knot', 'lapwing', 'linnet',
    'magpie', 'martin', 'merlin', 'nightjar', 'osprey', 'ouzel', 'owl', 'petrel', 'plover', 'puffin',
    'raven', 'redstart', 'rook', 'shrike', 'siskin', 'skua', 'snipe', 'swift', 'tern', 'wren',
  ],
});

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;

export function validatePolecatName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw usageError(`polecat name "${name}" is not valid`, 'a polecat name is 1-40 lower-case letters, digits, "_" or "-", starting with a letter or digit');
  }
}

/** The rig's themed names, in the order they are handed out. */
export function poolNames(settings: Pick<RigSettings, 'namepool'>): string[] {
  const custom = settings.namepool?.names;
  if (custom && custom.length) {
    for (const n of custom) validatePolecatName(n);
    return [...new Set(custom)];
  }
  const style = settings.namepool?.style ?? DEFAULT_STYLE;
  const theme = NAME_THEMES[style];
  if (!theme) {
    throw usageError(`unknown namepool style "${style}" in the rig settings`, `styles: ${Object.keys(NAME_THEMES).join(', ')}; or list your own names in namepool.names`);
  }
  return [...theme];
}

/** The first name that is neither busy nor taken in this round; numbered names after the pool. */
export function chooseName(rig: string, pool: readonly string[], taken: ReadonlySet<string>): string {
  for (const name of pool) if (!taken.has(name)) return name;
  for (let n = Math.max(pool.length, POOL_SIZE) + 1; ; n++) {
    const name = `${rig.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}-${n}`;
    if (!taken.has(name)) return name;
  }
}
