/**
 * The URL and subprotocol rules of the WHATWG WebSocket APIs ("get a URL
 * record" and the constructor's protocol checks), with the exceptions a
 * browser throws.
 *
 * @module
 */

import { isToken } from "../core/http/header_values.ts";
import { toUsvString } from "./websocket_error.ts";

/**
 * Parses a WebSocket URL as the WebSockets Standard does: `http:` becomes
 * `ws:` and `https:` becomes `wss:`; any other scheme than these four, a
 * fragment (even an empty one: `ws://host/#`) or a URL that does not parse
 * throws. There is no base URL on a server runtime, so a relative URL
 * does not parse.
 *
 * @param url The URL (any other value is converted to a string first).
 * @returns The URL record, with a `ws:` or `wss:` scheme.
 * @throws `SyntaxError` DOMException; TypeError for a value that has no string form.
 * @example
 * ```ts
 * webSocketUrl("https://example.com/chat").href; // "wss://example.com/chat"
 * ```
 */
export function webSocketUrl(url: unknown): URL {
  const text = url instanceof URL ? url.href : toUsvString(url);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new DOMException(`invalid URL: ${JSON.stringify(text)}`, "SyntaxError");
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new DOMException(`unsupported URL scheme ${parsed.protocol} (use ws: or wss:)`, "SyntaxError");
  }
  // URL's hash is "" for both no fragment and an empty one; only href tells them apart.
  if (parsed.hash !== "" || parsed.href.endsWith("#")) {
    throw new DOMException("a WebSocket URL cannot have a fragment", "SyntaxError");
  }
  return parsed;
}

/**
 * Checks subprotocols as the WHATWG constructors do: each must be an HTTP
 * token, and none may appear twice, ignoring ASCII case.
 *
 * @param protocols The subprotocols, already converted to strings.
 * @returns The same list.
 * @throws `SyntaxError` DOMException.
 */
export function checkSubprotocols(protocols: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new DOMException(`invalid subprotocol ${JSON.stringify(protocol)}`, "SyntaxError");
    const folded = protocol.toLowerCase(); // tokens are ASCII: this folds ASCII case only
    if (seen.has(folded)) throw new DOMException(`subprotocol ${JSON.stringify(protocol)} appears twice`, "SyntaxError");
    seen.add(folded);
  }
  return [...protocols];
}
