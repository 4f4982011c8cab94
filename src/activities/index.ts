import { moleculeActivities } from './molecule.js';
import { refineryActivities } from './refinery.js';

/** Every activity the worker registers, bound to the town they act on. */
export function createActivities(root: string) {
  return {
    ...moleculeActivities(root),
    ...refineryActivities(root),
  };
}

export type Activities = ReturnType<typeof createActivities>;
