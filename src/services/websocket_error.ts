/**
 * The WHATWG `WebSocketError` (whatwg/websockets PR #48) and the
 * `WebSocketCloseInfo` dictionary that `WebSocketStream.close()` and the
 * error's constructor take, with the WebIDL conversions and checks a
 * browser applies to them.
 *
 * @module
 */

import { MAX_CLOSE_REASON_BYTES } from "../core/close_code.ts";

const encoder = new TextEncoder();

// Set by connectionError() for the one construction that follows: the public constructor
// refuses the codes a connection reports but never sends (1006, or whatever the peer sent).
let reported: { closeCode: number; reason: string } | undefined;

/** A close code and reason, as `WebSocketStream.closed` resolves and `close()` takes them. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000–4999 when sending; any code received when reporting (1005 if the close frame had none). */
  closeCode?: number;
  /** At most 123 bytes of UTF-8. Default "". */
  reason?: string;
}

/** A {@link WebSocketCloseInfo} after conversion and validation. */
export interface CloseRequest {
  /** The code to send; undefined sends a close frame without a body. */
  closeCode: number | undefined;
  reason: string;
}

/**
 * The WHATWG `WebSocketError`: a `DOMException` named `"WebSocketError"`
 * with the close code and reason of a connection that did not close
 * cleanly. `WebSocketStream` rejects `closed` (and errors its streams)
 * with it, and `writable.abort(error)` / `readable.cancel(error)` close
 * the connection with its code and reason.
 *
 * Exported as `WebSocketStreamError` because `WebSocketError` already
 * names wsport's own base error class; `name` is `"WebSocketError"`, as
 * the platform's. When wsport's own error explains the failure (a
 * `HandshakeError` with the HTTP status...), it is the `cause`.
 *
 * @example
 * ```ts
 * const error = new WebSocketStreamError("bye", { closeCode: 4000, reason: "done" });
 * error.name; // "WebSocketError"
 * error.closeCode; // 4000
 * ```
 */
export class WebSocketStreamError extends DOMException {
  readonly #closeCode: number | null;
  readonly #reason: string;

  /**
   * @param message The message. Default "".
   * @param init The close code (1000 or 3000–4999) and reason (at most 123 bytes of UTF-8);
   *   a reason without a code means 1000.
   * @throws TypeError for an `init` that is not a dictionary or a code outside 0–65535;
   *   `InvalidAccessError` for any other code; `SyntaxError` for a reason too long.
   */
  constructor(message: string = "", init: WebSocketCloseInfo = {}) {
    super(message === undefined ? "" : toDomString(message), "WebSocketError");
    if (reported !== undefined) {
      ({ closeCode: this.#closeCode, reason: this.#reason } = reported);
      reported = undefined;
      return;
    }
    const request = validateCloseInfo(toCloseInfo(init));
    this.#closeCode = request.closeCode ?? null;
    this.#reason = request.reason;
  }

  /** The close code, or null when there is none. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason, or "". */
  get reason(): string {
    return this.#reason;
  }
}

/**
 * Makes the error of a connection that did not close cleanly, without the
 * checks of the public constructor (1006 and the codes a peer sent are
 * reported, not sent).
 *
 * @param message What happened.
 * @param closeCode The code to report: 1006 for an abnormal closure, or the peer's.
 * @param reason The peer's reason, or "".
 * @param cause wsport's own error, when one explains the failure.
 * @returns The error.
 */
export function connectionError(message: string, closeCode: number, reason = "", cause?: unknown): WebSocketStreamError {
  reported = { closeCode, reason };
  const error = new WebSocketStreamError(message);
  if (cause !== undefined) Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true, enumerable: false });
  return error;
}

/**
 * The close request an abort or cancel reason carries: a `WebSocketError`
 * (wsport's, or the runtime's own where it has one, as Deno with
 * `--unstable-net`) closes with its code and reason; anything else closes
 * with an empty close frame.
 *
 * @param reason The reason given to `writable.abort()` or `readable.cancel()`.
 * @returns The close request.
 */
export function closeRequestOf(reason: unknown): CloseRequest {
  const native = (globalThis as { WebSocketError?: abstract new (...args: never[]) => unknown }).WebSocketError;
  const isError = reason instanceof WebSocketStreamError || (native !== undefined && reason instanceof native);
  if (!isError) return { closeCode: undefined, reason: "" };
  const { closeCode, reason: text } = reason as { closeCode: number | null; reason: string };
  // Its code was validated when it was made (or it is 1000 for a reason alone).
  return { closeCode: closeCode ?? undefined, reason: text };
}

/**
 * WebIDL conversion of a `WebSocketCloseInfo` dictionary:
 * `closeCode` is an `[EnforceRange] unsigned short`, `reason` a `USVString`.
 *
 * @param value What the caller passed (undefined and null are an empty dictionary).
 * @returns The members present.
 * @throws TypeError for a value that is not a dictionary or a code that is not an integer in 0–65535.
 */
export function toCloseInfo(value: unknown): WebSocketCloseInfo {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" && typeof value !== "function") {
    throw new TypeError("the close info must be a dictionary ({ closeCode, reason })");
  }
  const { closeCode, reason } = value as Record<string, unknown>; // read in WebIDL's order: closeCode, then reason
  const info: WebSocketCloseInfo = {};
  if (closeCode !== undefined) info.closeCode = enforceUnsignedShort(closeCode, "closeCode");
  if (reason !== undefined) info.reason = toUsvString(reason);
  return info;
}

/**
 * The checks a close request must pass before anything is sent: a code of
 * 1000 or 3000–4999, a reason of at most 123 bytes of UTF-8. A reason
 * without a code means 1000.
 *
 * @param info A converted {@link WebSocketCloseInfo}.
 * @returns What to send.
 * @throws `InvalidAccessError` DOMException for another code; `SyntaxError` DOMException for a reason too long.
 */
export function validateCloseInfo(info: WebSocketCloseInfo): CloseRequest {
  let closeCode = info.closeCode;
  const reason = info.reason ?? "";
  if (closeCode !== undefined && closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
    throw new DOMException(`the close code must be 1000 or in 3000-4999, not ${closeCode}`, "InvalidAccessError");
  }
  if (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(`the close reason is longer than ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`, "SyntaxError");
  }
  if (closeCode === undefined && reason !== "") closeCode = 1000;
  return { closeCode, reason };
}

/**
 * WebIDL `USVString`: any value to a string (a symbol, or an object whose
 * conversion fails, throws TypeError), lone surrogates replaced by U+FFFD.
 *
 * @param value Any value.
 * @returns A well-formed string.
 */
export function toUsvString(value: unknown): string {
  const text = toDomString(value);
  const wellFormed = (text as { toWellFormed?: () => string }).toWellFormed;
  return wellFormed ? wellFormed.call(text) : new TextDecoder().decode(encoder.encode(text));
}

/** WebIDL `DOMString`: `String()` semantics, except that a symbol throws TypeError as the spec's ToString does. */
function toDomString(value: unknown): string {
  return `${value as string}`;
}

/** WebIDL `[EnforceRange] unsigned short`. */
function enforceUnsignedShort(value: unknown, name: string): number {
  const number = +(value as number); // ToNumber: throws for a symbol or a BigInt
  if (!Number.isFinite(number)) throw new TypeError(`${name} is not a finite number`);
  const integer = Math.trunc(number) + 0; // + 0 turns -0 into 0
  if (integer < 0 || integer > 0xffff) throw new TypeError(`${name} is outside the accepted range of 0 to 65535`);
  return integer;
}
