/**
 * The WebIDL argument conversions the WHATWG `WebSocket` applies before it
 * looks at its arguments (WebIDL, "ECMAScript type mapping"): strings,
 * `[Clamp] unsigned short`, the `(DOMString or sequence<DOMString>)` of the
 * constructor and the `(BufferSource or Blob or USVString)` of `send()`,
 * and the `CloseEvent` of runtimes that have none (Node 20).
 *
 * @module
 */

/** WebIDL `DOMString`: `ToString`, which throws a `TypeError` for a Symbol. */
export function toDOMString(value: unknown): string {
  if (typeof value === "symbol") throw new TypeError("cannot convert a Symbol to a string");
  return String(value);
}

/** WebIDL `USVString`: a `DOMString` with each lone surrogate replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
  return toDOMString(value).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/**
 * WebIDL `[Clamp] unsigned short`: `ToNumber` (a `TypeError` for a Symbol
 * or a BigInt), NaN to 0, clamped to 0–65535, rounded to the nearest
 * integer with ties to even.
 */
export function toClampedUnsignedShort(value: unknown): number {
  const x = +(value as number); // unary plus: ToNumber, throwing as WebIDL does
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(Math.max(x, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** WebIDL `unsigned short` (no `[Clamp]`): `ToNumber`, truncated, modulo 2^16. */
function toUnsignedShort(value: unknown): number {
  const x = Math.trunc(+(value as number));
  return Number.isFinite(x) ? ((x % 65536) + 65536) % 65536 : 0;
}

/**
 * The constructor's `(DOMString or sequence<DOMString>) protocols`:
 * `undefined` is the default (none); an object with `Symbol.iterator` is a
 * sequence (an array, a `Set`...); anything else is one string (`1` is
 * `"1"`, `null` is `"null"`).
 */
export function toProtocolList(value: unknown): string[] {
  if (value === undefined) return [];
  if ((typeof value === "object" && value !== null) || typeof value === "function") {
    const method = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (method !== undefined && method !== null) {
      if (typeof method !== "function") throw new TypeError("protocols[Symbol.iterator] is not a function");
      const list: string[] = [];
      for (const item of { [Symbol.iterator]: () => (method as () => Iterator<unknown>).call(value) }) list.push(toDOMString(item));
      return list;
    }
  }
  return [toDOMString(value)];
}

const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;

/** Whether `value` is an `ArrayBuffer` (not a `SharedArrayBuffer`), from any realm. */
function isArrayBuffer(value: object): value is ArrayBuffer {
  try {
    arrayBufferByteLength.call(value); // throws for anything else, a SharedArrayBuffer included
    return true;
  } catch {
    return false;
  }
}

/** Whether `value` is a `SharedArrayBuffer` (where the runtime has them). */
function isSharedArrayBuffer(value: object): boolean {
  return typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer;
}

/** What `send()` sends, converted: text, a copy of the bytes, or a Blob to read. */
export type Sendable = { kind: "text"; text: string } | { kind: "bytes"; bytes: Uint8Array } | { kind: "blob"; blob: Blob };

/**
 * `send()`'s `(BufferSource or Blob or USVString)`: an `ArrayBuffer` or a
 * view is binary (copied now: later changes to the buffer do not affect
 * what is sent), a `Blob` is binary, anything else is text through
 * `USVString` (`null` is `"null"`, `{}` is `"[object Object]"`).
 *
 * A `SharedArrayBuffer`, or a view of one, throws a `TypeError`: WebIDL's
 * `BufferSource` does not allow shared memory (no `[AllowShared]`), as in
 * Chromium, Firefox, Deno and Bun. (Node's undici sends its string form.)
 */
export function toSendable(data: unknown): Sendable {
  if ((typeof data === "object" && data !== null) || typeof data === "function") {
    if (ArrayBuffer.isView(data)) {
      if (isSharedArrayBuffer(data.buffer)) throw new TypeError("cannot send a view of a SharedArrayBuffer");
      return { kind: "bytes", bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
    }
    if (isArrayBuffer(data)) return { kind: "bytes", bytes: new Uint8Array(data).slice() };
    if (isSharedArrayBuffer(data)) throw new TypeError("cannot send a SharedArrayBuffer");
    if (typeof Blob !== "undefined" && data instanceof Blob) return { kind: "blob", blob: data };
  }
  return { kind: "text", text: toUSVString(data) };
}

/**
 * A `CloseEvent` for runtimes that have none (Node 20): the DOM's
 * interface, with read-only attributes and the class string "CloseEvent".
 */
export class CloseEventPolyfill extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#code = init.code === undefined ? 0 : toUnsignedShort(init.code);
    this.#reason = init.reason === undefined ? "" : toUSVString(init.reason);
    this.#wasClean = Boolean(init.wasClean);
  }
  /** The close code: the peer's, 1005 when its close frame had none, 1006 for an abnormal close. */
  get code(): number {
    return this.#code;
  }
  /** The close reason, "" when none. */
  get reason(): string {
    return this.#reason;
  }
  /** Whether the closing handshake completed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }
}
Object.defineProperty(CloseEventPolyfill.prototype, Symbol.toStringTag, { value: "CloseEvent", configurable: true });

/** The `CloseEvent` of the platform, or {@link CloseEventPolyfill} where it has none. */
export const CloseEventClass: typeof CloseEvent = (globalThis as { CloseEvent?: typeof CloseEvent }).CloseEvent ??
  (CloseEventPolyfill as unknown as typeof CloseEvent);
