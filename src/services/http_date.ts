/**
 * HTTP-dates (RFC 9110 section 5.6.7): the current one for the `Date`
 * header of every answer (formatted at most once a second: a busy server
 * answers thousands of requests with the same string), formatting and
 * parsing for validators (`Last-Modified`, `If-Modified-Since`, `If-Range`).
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
 * const headers: [string, string][] = [];
 * headers.push(["date", httpDate()]);
 * ```
 */
export function httpDate(): string {
  const now = Date.now();
  const current = Math.floor(now / 1000);
  if (current !== second) {
    second = current;
    formatted = formatHttpDate(now);
  }
  return formatted;
}

/**
 * Formats a time as an HTTP-date (IMF-fixdate), as `Last-Modified` carries it.
 *
 * @param timeMs - Ms since the epoch.
 * @returns e.g. `Tue, 02 Jan 2024 03:04:05 GMT`.
 * @example
 * ```ts
 * formatHttpDate(Date.UTC(2024, 0, 2, 3, 4, 5)); // "Tue, 02 Jan 2024 03:04:05 GMT"
 * ```
 */
export function formatHttpDate(timeMs: number): string {
  return new Date(Math.floor(timeMs / 1000) * 1000).toUTCString(); // ES2018 fixes this format
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const RFC_850_DATE = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const ASCTIME_DATE = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/**
 * Parses an HTTP-date in any of the three forms RFC 9110 section 5.6.7 makes
 * recipients accept (IMF-fixdate, RFC 850, asctime). Written out rather than
 * left to `Date.parse`, whose leniency differs between JavaScript engines.
 * A two-digit RFC 850 year is read as 1970-2069.
 *
 * @param value - The header value.
 * @returns Ms since the epoch, or `undefined` if it is not an HTTP-date.
 * @example
 * ```ts
 * parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"); // 784111777000
 * parseHttpDate("yesterday"); // undefined
 * ```
 */
export function parseHttpDate(value: string): number | undefined {
  const fields = httpDateFields(value.trim());
  if (fields === undefined) return undefined;
  const month = MONTHS.indexOf(fields.month.toLowerCase());
  const [year, day, hour, minute, second] = [fields.year, fields.day, fields.hour, fields.minute, fields.second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const time = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)); // a leap second counts as the one before
  // Date.UTC rolls "31 Feb" over into March: refuse dates that do not exist.
  return new Date(time).getUTCDate() === day ? time : undefined;
}

interface HttpDateFields {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

function httpDateFields(text: string): HttpDateFields | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m) return { day: m[1]!, month: m[2]!, year: m[3]!, hour: m[4]!, minute: m[5]!, second: m[6]! };
  m = RFC_850_DATE.exec(text);
  if (m) {
    const twoDigitYear = Number(m[3]);
    const year = String(twoDigitYear < 70 ? 2000 + twoDigitYear : 1900 + twoDigitYear);
    return { day: m[1]!, month: m[2]!, year, hour: m[4]!, minute: m[5]!, second: m[6]! };
  }
  m = ASCTIME_DATE.exec(text);
  if (m) return { month: m[1]!, day: m[2]!.trim(), hour: m[3]!, minute: m[4]!, second: m[5]!, year: m[6]! };
  return undefined;
}
