/**
 * Errors as values. Every error wsport produces is a {@link WebSocketError}
 * with a stable machine-readable `code` (`"WS_ERR_*"`); protocol errors also
 * carry the close code RFC 6455 requires, handshake errors the HTTP status.
 *
 * The core never throws these at hostile input: `receiveData` turns them into
 * an `"error"` event and a queued close frame. Only caller misuse
 * ({@link InvalidStateError}, `RangeError`, `TypeError`) is thrown.
 *
 * @module
 */

/** Base class of every error wsport produces. */
export class WebSocketError extends Error {
  /** Stable identifier such as `"WS_ERR_INVALID_UTF8"`, safe to switch on. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The peer broke RFC 6455 (or an extension's rules): the connection must be
 * failed with {@link ProtocolError.closeCode}.
 */
export class ProtocolError extends WebSocketError {
  /** Close code to send, per RFC 6455 section 7.4.1. */
  readonly closeCode: number;

  constructor(closeCode: number, code: string, message: string) {
    super(code, message);
    this.closeCode = closeCode;
  }
}

/** A malformed frame or a broken framing rule: close code 1002. */
export class InvalidFrameError extends ProtocolError {
  constructor(message: string, code = "WS_ERR_INVALID_FRAME") {
    super(1002, code, message);
  }
}

/** A text message or close reason that is not UTF-8: close code 1007. */
export class InvalidUtf8Error extends ProtocolError {
  constructor(message = "invalid UTF-8 in text payload") {
    super(1007, "WS_ERR_INVALID_UTF8", message);
  }
}

/** Input the endpoint refuses by policy: close code 1008. */
export class PolicyViolationError extends ProtocolError {
  constructor(message: string, code = "WS_ERR_POLICY_VIOLATION") {
    super(1008, code, message);
  }
}

/**
 * A frame or message over the configured limit: close code 1009.
 * Raised before the oversized payload is buffered.
 */
export class MessageTooBigError extends ProtocolError {
  /** Size the message would have reached, in bytes (accounting included). */
  readonly size: number;
  /** The configured limit, in bytes. */
  readonly maxSize: number;

  constructor(size: number, maxSize: number, message?: string) {
    super(
      1009,
      "WS_ERR_MESSAGE_TOO_BIG",
      message ?? `message of ${size} bytes exceeds the limit of ${maxSize}`,
    );
    this.size = size;
    this.maxSize = maxSize;
  }
}

/** The client needs an extension the server did not negotiate: close code 1010. */
export class MandatoryExtensionError extends ProtocolError {
  constructor(message: string) {
    super(1010, "WS_ERR_MANDATORY_EXTENSION", message);
  }
}

/**
 * An HTTP request the server refuses: `status` is the answer (400, 413,
 * 431, 501...) and `headers` any headers that answer needs. Raised by the
 * HTTP/1.1 layer for malformed or hostile framing (`Content-Length` with
 * `Transfer-Encoding`, a bad chunk size...) and for limits.
 */
export class HttpError extends WebSocketError {
  /** HTTP status to answer with (server side) or the status received (client side, 0 if none). */
  readonly status: number;
  /** Extra response headers the answer needs. */
  readonly headers: ReadonlyArray<readonly [string, string]>;

  constructor(
    status: number,
    code: string,
    message: string,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * An opening handshake that cannot proceed. On the server `status` is the
 * HTTP status to answer with (400, 405, 426, 431, 505...) and `headers` any
 * headers that answer needs (426 carries `Sec-WebSocket-Version: 13`). On the
 * client `status` is the status the server sent (101 when the failure is in
 * its headers: a wrong accept value, an unoffered subprotocol...), or 0 when
 * no response arrived. A request head that breaks the grammar is one too:
 * the head is read before anyone knows whether it asks for an upgrade.
 */
export class HandshakeError extends HttpError {}

/**
 * The server's extension response is not acceptable (an extension that was
 * not offered, a duplicate, or parameters outside the offer). RFC 7692
 * section 5: the client fails the connection; it sends close code 1010.
 */
export class ExtensionNegotiationError extends HandshakeError {
  /** The close code sent: 1010. */
  readonly closeCode = 1010;

  constructor(message: string) {
    super(101, "WS_ERR_EXTENSION_NEGOTIATION", message);
  }
}

/** The caller used the API in a state that does not allow it. Never sent on the wire. */
export class InvalidStateError extends WebSocketError {
  constructor(message: string) {
    super("WS_ERR_INVALID_STATE", message);
  }
}
