/**
 * The current time as an HTTP-date (IMF-fixdate), for the `Date` header of
 * every answer. Formatted at most once a second: a busy server answers
 * thousands of requests with the same string.
 *
 * @module
 */

let second = -1;
let formatted = "";

/**
 * The current HTTP-date.
 *
 * @returns e.g. `Tue, 02 Jan 2024 03:04:05 GMT`.
 * @example
 * ```ts
 * headers.push(["date", httpDate()]);
 * ```
 */
export function httpDate(): string {
  const now = Date.now();
  const current = Math.floor(now / 1000);
  if (current !== second) {
    second = current;
    formatted = new Date(current * 1000).toUTCString();
  }
  return formatted;
}
