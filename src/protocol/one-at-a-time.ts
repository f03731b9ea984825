/**
 * A queue of calls that must not overlap (the protocol has one call or one device request
 * outstanding at a time): each task starts once the one before it has settled, in the order given,
 * whatever that one's outcome.
 */
export function oneAtATime(): <T>(task: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>) => {
    const run = last.then(task);
    last = run.catch(() => undefined);
    return run;
  };
}
