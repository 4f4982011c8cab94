export { moleculeWorkflow } from './formula.js';
export { polecatWorkflow } from './polecat.js';
export { refineryWorkflow } from './refinery.js';
export { convoyWorkflow } from './convoy.js';
export { dispatchWorkflow } from './dispatch.js';
export { townClaimWorkflow } from './town.js';
export { townActivityWorkflow, townCommandWorkflow } from './remote.js';
