/**
 * Time for the services (timeouts, keepalive), behind an interface so that
 * tests can replace it with a clock they advance by hand. This is the only
 * module in src/ that touches the platform's timers.
 *
 * @module
 */

/** A pending timer. */
export interface Timer {
  cancel(): void;
}

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds unless cancelled. */
  setTimer(ms: number, callback: () => void): Timer;
}

/** The platform clock: `performance.now()` and `setTimeout`, present on every runtime. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, callback) {
    const handle = globalThis.setTimeout(callback, ms);
    // Timers must not keep a process alive on their own (Node and Bun support unref).
    (handle as { unref?: () => void }).unref?.();
    return { cancel: () => globalThis.clearTimeout(handle) };
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  callback: () => void;
  live: boolean;
}

/**
 * A clock that only moves when told to: for tests of timeouts and
 * keepalive without waiting.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * let fired = false;
 * clock.setTimer(1000, () => (fired = true));
 * clock.advance(1000); // fired === true
 * ```
 */
export class ManualClock implements Clock {
  #now = 0;
  #timers: ManualTimer[] = [];
  #seq = 0;

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, callback: () => void): Timer {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback, live: true };
    this.#timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  /**
   * Moves time forward, firing due timers in order (timers they set are
   * fired too when due within the same advance).
   *
   * @param ms Milliseconds to advance.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => t.live);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.#now = next.at;
      next.live = false;
      next.callback();
    }
    this.#now = end;
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}
