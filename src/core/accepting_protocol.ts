/**
 * What the server's opening handshake does the same over HTTP/1.1 (RFC
 * 6455) and HTTP/2 (RFC 8441): hold the checked request until the
 * application decides, then negotiate the extensions, open, and process
 * the bytes that arrived meanwhile; or refuse with a status.
 *
 * @module
 */

import { concat } from "./bytes.ts";
import { InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import type { ServerExtensionFactory } from "./extensions/extension.ts";
import { negotiateAsServer } from "./extensions/negotiate.ts";
import type { AcceptOptions, HandshakeRequest } from "./handshake.ts";
import { type ProtocolOptions, WsReadyState, WebSocketProtocol } from "./protocol.ts";

const EMPTY = new Uint8Array(0);

/** What the server accepts a handshake with. */
export interface ServerAcceptOptions extends Omit<AcceptOptions, "extensions"> {
  /**
   * The extensions the server is willing to use for this connection; each
   * negotiates against the client's offers, in the client's order. Leave
   * out an extension here to refuse it for this connection.
   */
  extensions?: readonly ServerExtensionFactory[];
  /** Report messages as `"chunk"` events as they arrive instead of whole (see `ConnectionOptions.streamMessages`). */
  streamMessages?: boolean;
  /**
   * Leave the bytes that arrived behind the request unparsed, for
   * {@link WebSocketProtocol.receiveNext} to return one event at a time
   * (what an I/O layer that runs handlers between events wants: their
   * replies then precede the close a later frame causes). Default false:
   * `accept()` returns their events.
   */
  deferInput?: boolean;
}

/** What arrived after the request and before the decision: bytes, and whether the peer ended. */
export interface Held {
  chunks: Uint8Array[];
  eof: boolean;
}

/** The server's CONNECTING phase, whatever carries the handshake; then a {@link WebSocketProtocol}. */
export abstract class AcceptingProtocol extends WebSocketProtocol {
  /** The `Sec-WebSocket-Extensions` value of the accepting response ("" for none), once accepted. */
  extensionsHeader = "";
  /** The checked request, from its arrival until `accept()` (which lets it go, to save memory). */
  request: HandshakeRequest | undefined;

  constructor(options: Omit<ProtocolOptions, "extensions">) {
    super("server", options);
    this.readyState = WsReadyState.CONNECTING;
  }

  /**
   * Accepts the handshake: queues the accepting response and processes what
   * arrived after the request.
   *
   * @param options The chosen subprotocol (one the client offered), the extensions allowed, extra headers.
   * @returns Events from what was received before the call.
   */
  abstract accept(options?: ServerAcceptOptions): WsEvent[];

  /**
   * Refuses the handshake with a status and a plain-text body, then closes.
   *
   * @param status The HTTP status (300-599).
   * @param body A plain-text body.
   * @param headers More response headers.
   */
  abstract reject(status: number, body?: string, headers?: Iterable<readonly [string, string]>): void;

  /** The request awaiting a decision; throws when there is none. */
  protected awaitingDecision(): HandshakeRequest {
    if (this.readyState !== WsReadyState.CONNECTING || this.request === undefined) {
      throw new InvalidStateError("no handshake request is awaiting a decision");
    }
    return this.request;
  }

  /** Checks a refusal's status, and that a request awaits a decision. */
  protected checkRefusal(status: number): void {
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new RangeError(`status ${status} cannot refuse a handshake (use 300-599)`);
    }
    this.awaitingDecision();
  }

  /**
   * Negotiates the extensions, has `answer` queue the accepting response,
   * opens, and processes what was held.
   */
  protected open(options: ServerAcceptOptions, answer: (request: HandshakeRequest, response: AcceptOptions) => void, held: Held): WsEvent[] {
    const request = this.awaitingDecision();
    const { extensions = [], streamMessages = false, deferInput = false, ...response } = options;
    const negotiated = negotiateAsServer(request.extensions, extensions);
    answer(request, { ...response, extensions: negotiated.header });
    this.extensionsHeader = negotiated.header;
    if (streamMessages) this.setStreaming(true);
    this.setExtensions(negotiated.extensions);
    // The head (every header string) is not kept for the connection's lifetime; copy what you need.
    this.request = undefined;
    this.readyState = WsReadyState.OPEN;
    const { chunks } = held;
    if (chunks.length > 0 || held.eof) this.receiveLater(chunks.length === 1 ? chunks[0]! : concat(chunks), held.eof);
    return deferInput ? [] : this.receiveData(EMPTY);
  }
}
