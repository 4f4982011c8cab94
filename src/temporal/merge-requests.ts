/**
 * Hand a finished polecat branch to the rig's merge queue: the refinery's client helper
 * (signal-with-start on the rig's task queue, with the request checked first).
 */
export * from './merge-protocol.js';
export { submitMergeRequest, validateMergeRequest } from '../refinery/client.js';
