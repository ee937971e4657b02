/**
 * Parsers for the list-valued handshake headers: `Connection`, `Upgrade`,
 * `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`. They are hand
 * written single-pass scanners, not regular expressions: backtracking
 * patterns over these headers were the cause of ws CVE-2021-32640.
 * Every function here is linear in the input length and never throws on
 * input it is asked to parse.
 *
 * @module
 */

import { isOws, isTchar, isToken } from "./tokens.ts";

export { isToken };

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses a comma-separated token list (`Connection`, `Upgrade`,
 * `Sec-WebSocket-Protocol`) per the RFC 7230 section 7 `#token` rule: empty
 * elements are allowed and skipped, OWS around elements is ignored.
 *
 * @param value - The header value (repeated lines already joined with ", ").
 * @returns The tokens in order, or `null` if any element is not a token.
 * @example
 * ```ts
 * parseTokenList("chat, , superchat"); // ["chat", "superchat"]
 * parseTokenList("a b"); // null
 * ```
 */
export function parseTokenList(value: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  while (i <= n) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    while (i < n && isTchar(value.charCodeAt(i))) i++;
    const end = i;
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (i < n && value.charCodeAt(i) !== COMMA) return null;
    if (end > start) out.push(value.slice(start, end));
    i++; // past the comma, or past the end to stop
  }
  return out;
}

/**
 * Case-insensitive membership test on a token list.
 *
 * @param value - A header value such as `Connection`'s.
 * @param token - The token to look for, any case.
 * @returns `true` if the list is valid and contains `token`; a malformed list
 *   contains nothing, so the handshake fails closed.
 * @example
 * ```ts
 * hasToken("keep-alive, Upgrade", "upgrade"); // true
 * ```
 */
export function hasToken(value: string, token: string): boolean {
  const list = parseTokenList(value);
  if (list === null) return false;
  const wanted = token.toLowerCase();
  return list.some((t) => t.toLowerCase() === wanted);
}

/**
 * One extension from `Sec-WebSocket-Extensions`. A parameter without a value
 * is `true`; parameter order and duplicates are kept because only the
 * extension knows whether a duplicate is an error.
 */
export interface ExtensionOffer {
  name: string;
  params: Array<[string, string | true]>;
}

/**
 * A cursor over one header value; each method consumes characters at most
 * once, which is what keeps {@link parseExtensions} linear.
 */
class Cursor {
  i = 0;
  readonly s: string;

  constructor(s: string) {
    this.s = s;
  }

  get done(): boolean {
    return this.i >= this.s.length;
  }

  peek(): number {
    return this.s.charCodeAt(this.i); // NaN at the end, which matches nothing
  }

  skipOws(): void {
    while (this.i < this.s.length && isOws(this.s.charCodeAt(this.i))) this.i++;
  }

  token(): string | null {
    const start = this.i;
    while (this.i < this.s.length && isTchar(this.s.charCodeAt(this.i))) this.i++;
    return this.i > start ? this.s.slice(start, this.i) : null;
  }

  /** RFC 7230 quoted-string, returned unescaped; the cursor is on the DQUOTE. */
  quoted(): string | null {
    const parts: string[] = [];
    let start = ++this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c === DQUOTE) {
        parts.push(this.s.slice(start, this.i++));
        return parts.join("");
      }
      if (c === BACKSLASH) {
        parts.push(this.s.slice(start, this.i));
        const escaped = this.s.charCodeAt(this.i + 1);
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        if (!(escaped === 0x09 || (escaped >= 0x20 && escaped <= 0xff && escaped !== 0x7f))) return null;
        start = this.i + 1;
        this.i += 2;
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (!(c === 0x09 || (c >= 0x20 && c <= 0xff && c !== 0x7f))) return null;
      this.i++;
    }
    return null; // unterminated
  }
}

/**
 * Parses `Sec-WebSocket-Extensions` (RFC 6455 section 9.1): a list of
 * `ext-name *( ";" ext-param )` with `ext-param = token [ "=" (token /
 * quoted-string) ]`. A quoted value is unquoted and must then itself be a
 * token, as section 9.1 requires. OWS is allowed around `,`, `;` and `=`;
 * empty list elements are skipped, so values joined from several header
 * lines with ", " parse as one list.
 *
 * @param value - The header value.
 * @returns The extensions in order, or `null` on any syntax error.
 * @example
 * ```ts
 * parseExtensions('permessage-deflate; client_max_window_bits, x; a="1"');
 * // [{ name: "permessage-deflate", params: [["client_max_window_bits", true]] },
 * //  { name: "x", params: [["a", "1"]] }]
 * ```
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  const c = new Cursor(value);
  for (;;) {
    c.skipOws();
    if (c.done) return out;
    if (c.peek() === COMMA) {
      c.i++;
      continue;
    }
    const name = c.token();
    if (name === null) return null;
    const offer: ExtensionOffer = { name, params: [] };
    out.push(offer);
    c.skipOws();
    while (c.peek() === SEMICOLON) {
      c.i++;
      c.skipOws();
      const param = c.token();
      if (param === null) return null;
      c.skipOws();
      let paramValue: string | true = true;
      if (c.peek() === EQUALS) {
        c.i++;
        c.skipOws();
        const v = c.peek() === DQUOTE ? c.quoted() : c.token();
        if (v === null || !isToken(v)) return null;
        paramValue = v;
        c.skipOws();
      }
      offer.params.push([param, paramValue]);
    }
    if (c.done) return out;
    if (c.peek() !== COMMA) return null;
    c.i++;
  }
}

/**
 * Serialises extension offers or responses for `Sec-WebSocket-Extensions`.
 * Values are written bare: RFC 6455 section 9.1 only allows token values.
 *
 * @param list - Extensions in order of preference.
 * @returns e.g. `"permessage-deflate; client_max_window_bits; server_max_window_bits=10"`.
 * @throws TypeError if a name, parameter name or value is not a token, so a
 *   caller-supplied value cannot inject list elements or header lines.
 * @example
 * ```ts
 * formatExtensions([{ name: "permessage-deflate", params: [["server_max_window_bits", "10"]] }]);
 * // "permessage-deflate; server_max_window_bits=10"
 * ```
 */
export function formatExtensions(list: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const { name, params } of list) {
    if (!isToken(name)) throw new TypeError(`invalid extension name ${JSON.stringify(name)}`);
    const items = [name];
    for (const [param, v] of params) {
      if (!isToken(param)) throw new TypeError(`invalid parameter name ${JSON.stringify(param)} in ${name}`);
      if (v === true) {
        items.push(param);
        continue;
      }
      if (!isToken(v)) throw new TypeError(`invalid value ${JSON.stringify(v)} for ${name}; ${param}`);
      items.push(`${param}=${v}`);
    }
    parts.push(items.join("; "));
  }
  return parts.join(", ");
}
