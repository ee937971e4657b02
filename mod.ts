/**
 * wsport: a WebSocket library (RFC 6455) that runs unchanged on Node.js,
 * Deno and Bun, built on a sans-IO core.
 *
 * @example Drive a server connection without a socket
 * ```ts
 * import { ServerConnection } from "wsport";
 * const server = new ServerConnection();
 * const [request] = server.receiveData(requestBytes); // { type: "request", ... }
 * server.accept();
 * const events = server.receiveData(frameBytes);     // [{ type: "text", data: "Hello" }]
 * const out = server.dataToSend();                    // the 101 response, pongs, close replies...
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/close_code.ts";
export * from "./src/frame.ts";
export { applyMask, randomMaskKey } from "./src/mask.ts";
export { Utf8Validator, isValidUtf8 } from "./src/utf8.ts";
export type * from "./src/events.ts";
export {
  Connection,
  type ConnectionOptions,
  type CloseRecord,
  DEFAULT_MAX_MESSAGE_SIZE,
  type OutgoingData,
  ReadyState,
  SEND_EOF,
  type Side,
} from "./src/connection.ts";
export { ServerConnection, type ServerConnectionOptions } from "./src/server_connection.ts";
export { ClientConnection, type ClientConnectionOptions } from "./src/client_connection.ts";
export * from "./src/handshake.ts";
export {
  DEFAULT_HEAD_LIMITS,
  HeaderMap,
  type HeadLimits,
  type HeadParseResult,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
  writeRequestHead,
  writeResponseHead,
} from "./src/http_head.ts";
export {
  type ExtensionOffer,
  formatExtensions,
  hasToken,
  isToken,
  parseExtensions,
  parseTokenList,
} from "./src/header_tokens.ts";
