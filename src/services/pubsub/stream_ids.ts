/**
 * History ids as Redis Streams make them: `<milliseconds>-<sequence>`, two
 * unsigned 64-bit decimal numbers. Compared as numbers, without BigInt and
 * without losing precision past 2^53: by length, then digit by digit.
 *
 * @module
 */

const STREAM_ID = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/;

/**
 * Whether a string is a stream id (what a client may send back as `since`).
 *
 * @param id The candidate.
 * @returns True for `<ms>-<seq>` in canonical decimal form.
 * @example
 * ```ts
 * isStreamId("1718000000000-0"); // true
 * isStreamId("1718000000000"); // false
 * ```
 */
export function isStreamId(id: string): boolean {
  return id.length <= 41 && STREAM_ID.test(id);
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two stream ids.
 *
 * @param a A stream id.
 * @param b Another.
 * @returns Negative when a comes first, 0 when equal, positive when b comes first.
 * @example
 * ```ts
 * compareStreamIds("9-1", "10-0") < 0; // true
 * ```
 */
export function compareStreamIds(a: string, b: string): number {
  const da = a.indexOf("-");
  const db = b.indexOf("-");
  return compareDecimal(a.slice(0, da), b.slice(0, db)) || compareDecimal(a.slice(da + 1), b.slice(db + 1));
}
