/** Every activity the worker registers, bound to the town they act on. */
export function createActivities(root: string) {
  void root;
  return {};
}
