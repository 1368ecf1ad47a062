/**
 * Runs async functions one at a time, in the order given: each starts when the one before
 * it has settled, and a failure does not stop the next (its caller gets it). What a
 * read-check-write on the index needs when two requests arrive together.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
