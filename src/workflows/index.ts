export { moleculeWorkflow } from './formula.js';
