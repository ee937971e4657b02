/**
 * Close codes of RFC 6455 section 7.4 and the rules for which of them may
 * appear on the wire.
 *
 * @module
 */

/** Named close codes (RFC 6455 section 7.4.1 and the IANA registry). */
export const CloseCode = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent, reported when a close frame carried no code. */
  NoStatusReceived: 1005,
  /** Reserved: never sent, reported when the TCP connection ended without a close frame. */
  AbnormalClosure: 1006,
  InvalidPayloadData: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never sent, reported when the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

/** Any of the named close codes. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 section
 * 7.4.1 and 7.4.2): 1000–1003, 1007–1014 and 3000–4999. Codes 1004–1006 and
 * 1015 are reserved for reporting, 0–999 and 1016–2999 are not assigned to
 * applications, 5000 and above are out of range.
 *
 * @param code A close code read from or about to be written to a close frame.
 * @returns True when the code is valid on the wire.
 * @example
 * ```ts
 * isValidWireCloseCode(1000); // true
 * isValidWireCloseCode(1005); // false
 * ```
 */
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/** Codes after which `ConnectionClosed`-style reports count as a clean close (as python-websockets does). */
export const OK_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1005]);

/** The longest close reason that fits a control frame: 125 bytes minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;
