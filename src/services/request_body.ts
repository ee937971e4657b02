/**
 * A plain-HTTP request's body as the `ReadableStream` of its WHATWG
 * `Request`, fed as the bytes arrive. Reading drives the socket: past a
 * high-water mark of unread bytes the transport is paused, so TCP pushes
 * back on the client, and it resumes as the application reads. The first
 * read is what sends `100 Continue` to a client that waits for it.
 *
 * @module
 */

/** What the body tells the connection it belongs to. */
export interface RequestBodyHooks {
  /** The application started reading (send `100 Continue` if the client waits for it). */
  firstRead(): void;
  /** Unread bytes reached the high-water mark: stop reading the socket. */
  pause(): void;
  /** The application caught up (or gave up the body): read the socket again. */
  resume(): void;
}

/** Default high-water mark of unread request-body bytes before the socket is paused. */
export const REQUEST_BODY_HIGH_WATER_MARK = 64 * 1024;

/**
 * The source of one request body. The stream has a high-water mark of 0:
 * nothing is pulled before the application reads, and the bytes that
 * arrive meanwhile wait here, counted against {@link REQUEST_BODY_HIGH_WATER_MARK}.
 */
export class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #hooks: RequestBodyHooks;
  readonly #highWaterMark: number;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #waiting = false; // a read is pending and nothing was queued for it
  #ended = false;
  #done = false; // closed, errored or cancelled: nothing more goes in
  #read = false;
  #paused = false;

  constructor(hooks: RequestBodyHooks, highWaterMark = REQUEST_BODY_HIGH_WATER_MARK) {
    this.#hooks = hooks;
    this.#highWaterMark = highWaterMark;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#pull(),
      cancel: () => this.#cancel(),
    }, { highWaterMark: 0 });
  }

  /** Whether the socket is paused on this body's account. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Whether the application has begun reading. */
  get started(): boolean {
    return this.#read;
  }

  /**
   * Bytes of the body arrived (a view the transport gave away: kept, not copied).
   *
   * @param data The bytes.
   */
  push(data: Uint8Array): void {
    if (this.#done) return;
    if (this.#waiting) {
      this.#waiting = false;
      this.#controller.enqueue(data);
      return;
    }
    this.#queue.push(data);
    this.#queued += data.length;
    if (!this.#paused && this.#queued >= this.#highWaterMark) {
      this.#paused = true;
      this.#hooks.pause();
    }
  }

  /** The body is complete. */
  end(): void {
    if (this.#done) return;
    this.#ended = true;
    if (this.#queue.length === 0) this.#finish();
  }

  /**
   * The body cannot complete (the client left, a bad chunk, a limit): the
   * application's next read rejects with `error`.
   *
   * @param error Why.
   */
  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#controller.error(error);
    } catch {
      // Already closed by the runtime.
    }
    this.#unpause();
  }

  #pull(): void {
    if (!this.#read) {
      this.#read = true;
      this.#hooks.firstRead();
    }
    const next = this.#queue.shift();
    if (next === undefined) {
      if (this.#ended) this.#finish();
      else this.#waiting = true;
      return;
    }
    this.#queued -= next.length;
    this.#controller.enqueue(next);
    if (this.#queue.length === 0 && this.#ended) this.#finish();
    else if (this.#queued < this.#highWaterMark / 2) this.#unpause();
  }

  #cancel(): void {
    // The application does not want the rest: it is read and dropped, so the connection can go on.
    this.#done = true;
    this.#queue = [];
    this.#queued = 0;
    this.#unpause();
  }

  #finish(): void {
    this.#done = true;
    try {
      this.#controller.close();
    } catch {
      // Already closed by the runtime.
    }
    this.#unpause();
  }

  #unpause(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#hooks.resume();
  }
}
