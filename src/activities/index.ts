import { convoyActivities } from './convoy.js';
import { moleculeActivities } from './molecule.js';
import { polecatActivities } from './polecat.js';
import { refineryActivities } from './refinery.js';

/** Every activity the worker registers, bound to the town they act on. */
export function createActivities(root: string) {
  return {
    ...moleculeActivities(root),
    ...polecatActivities(root),
    ...refineryActivities(root),
    ...convoyActivities(root),
  };
}

export type Activities = ReturnType<typeof createActivities>;
