/**
 * The sans-IO core of wsport (`wsport/core`): the WebSocket protocol (RFC
 * 6455) and permessage-deflate (RFC 7692) as state machines over
 * `Uint8Array`, with no sockets, no timers and no runtime globals. Feed
 * received bytes in, read events out, take the bytes to write.
 *
 * Names ending in `Protocol` are these state machines; the services built
 * on them (the `Server`, `WebSocketConnection`, `WebSocket` of the main
 * entry) do the I/O.
 *
 * @example Drive a server without a socket
 * ```ts
 * import { ServerProtocol, ClientProtocol } from "wsport/core";
 * const server = new ServerProtocol();
 * const client = new ClientProtocol({ host: "localhost", path: "/chat" });
 * const [request] = server.receiveData(client.dataToSend()[0] as Uint8Array); // { type: "request", ... }
 * server.accept();
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./close_code.ts";
export type * from "./events.ts";
export * from "./frame.ts";
export { applyMask, randomMaskKey } from "./mask.ts";
export { isValidUtf8, Utf8Validator } from "./utf8.ts";
export { concat, equals, indexOfNeedle } from "./bytes.ts";
export {
  type CloseRecord,
  DEFAULT_MAX_MESSAGE_SIZE,
  type OutgoingData,
  type ProtocolOptions,
  WsReadyState,
  SEND_EOF,
  type Side,
  WebSocketProtocol,
} from "./protocol.ts";
export { AcceptingProtocol, type Held, type ServerAcceptOptions } from "./accepting_protocol.ts";
export { type HttpResponseInit, ServerProtocol, type ServerProtocolOptions } from "./server_protocol.ts";
export { ClientProtocol, type ClientProtocolOptions } from "./client_protocol.ts";
export * from "./handshake.ts";
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
} from "./http/head.ts";
export {
  DEFAULT_MAX_DRAIN_SIZE,
  DEFAULT_MAX_HTTP_BODY_SIZE,
  DEFAULT_MAX_REQUESTS,
  HttpServerProtocol,
  type HttpServerProtocolOptions,
} from "./http/connection.ts";
export { type HttpRequest, parseContentLength, requestFraming } from "./http/framing.ts";
export { ChunkedDecoder, encodeChunk, lastChunk, MAX_CHUNK_LINE } from "./http/chunked.ts";
export { ByteQueue } from "./byte_queue.ts";
export { type AnsweredRequest, type BodyFraming, planResponse, type ResponseHeadInit, type ResponsePlan } from "./http/response.ts";
export { type ExtensionOffer, formatExtensions, hasToken, isToken, parseExtensions, parseTokenList } from "./http/header_values.ts";
export * from "./extensions/extension.ts";
export { ExtensionPipeline } from "./extensions/pipeline.ts";
export { extensionOffer, negotiateAsClient, negotiateAsServer, type ServerNegotiation } from "./extensions/negotiate.ts";
export * from "./extensions/deflate_codec.ts";
export { pakoCodec } from "./extensions/pako_codec.ts";
export * from "./extensions/hybrid_codec.ts";
export { defaultDeflateCodec, setDefaultDeflateCodec } from "./extensions/default_codec.ts";
export * from "./extensions/permessage_deflate.ts";
export { ClientHandshakeProtocol, type ClientHandshakeOptions } from "./client_handshake.ts";
export * from "./h2_handshake.ts";
export { Http2ServerProtocol, type Http2ServerProtocolOptions } from "./h2_server_protocol.ts";
export { Http2ClientProtocol, type Http2ClientProtocolOptions } from "./h2_client_protocol.ts";
