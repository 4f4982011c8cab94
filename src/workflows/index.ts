export { moleculeWorkflow } from './formula.js';
export { refineryWorkflow } from './refinery.js';
