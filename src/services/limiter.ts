/**
 * A concurrency limit for asynchronous codecs, shared by every connection
 * that uses one: unbounded parallel zlib work is how servers ran out of
 * memory in ws#1202 and node#15301 (concurrency 5: 90 MB RSS, against
 * 2.8 GB unlimited).
 *
 * @module
 */

/** Runs at most `limit` jobs at a time, in the order they were submitted. */
export class ConcurrencyLimiter {
  readonly limit: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError("the concurrency limit must be a positive integer");
    this.limit = limit;
  }

  /** Jobs waiting for a slot. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Runs `job` when a slot is free.
   *
   * @returns The job's result.
   */
  run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running++;
        job().then(resolve, reject).finally(() => {
          this.#running--;
          this.#queue.shift()?.();
        });
      };
      if (this.#running < this.limit) start();
      else this.#queue.push(start);
    });
  }
}
