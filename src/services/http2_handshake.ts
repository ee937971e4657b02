/**
 * The opening phase of a WebSocket that arrives as an HTTP/2 stream (RFC
 * 8441): the extended CONNECT is checked, decided by the same server logic
 * as an HTTP/1.1 upgrade (routing, filters, extensions, data), and
 * answered with the stream's response HEADERS; then every transport event
 * goes to the {@link WebSocketConnection}.
 *
 * @module
 */

import type { Http2ServerProtocol } from "../core/h2_server_protocol.ts";
import type { Http2StreamTransport } from "../transport/http2.ts";
import type { PeerInfo, TransportEvents } from "../transport/transport.ts";
import type { Timer } from "./clock.ts";
import { kClose, kData, kDrain, kEnd, type WebSocketConnection } from "./connection.ts";
import type { Http2HandshakeHooks, Opening } from "./opening.ts";
import { writeOutgoing } from "./write_outgoing.ts";

/** One HTTP/2 stream's opening phase; see the module. */
export class Http2Handshake implements TransportEvents, Opening {
  ws: WebSocketConnection<any> | undefined;
  closed = false;
  #timer: Timer | undefined;

  constructor(
    readonly hooks: Http2HandshakeHooks,
    readonly transport: Http2StreamTransport,
    readonly core: Http2ServerProtocol,
    readonly peer: PeerInfo,
  ) {}

  /**
   * Checks the request the stream carries and starts the decision; the
   * stream is reset if no answer is ready within `timeout` (a slow
   * `filterHandshake`).
   */
  begin(timeout: number): void {
    const events = this.core.receiveRequest(this.transport.headers);
    this.#arm(timeout);
    this.transport.start(this);
    const event = events[0];
    if (event?.type !== "request") return this.#answer();
    // Accepted: attach() sent the 200. Refused: the refusal is waiting in the core.
    void this.hooks.decide(this, event.request).then((ws) => ws === undefined && this.#answer());
  }

  attach(ws: WebSocketConnection<any>): void {
    this.ws = ws;
    this.hooks.upgraded(this.transport);
    this.#answer(); // the 200 leaves before the connection's first frame
  }

  data(chunk: Uint8Array): void {
    if (this.ws) this.ws[kData](chunk);
    else this.core.receiveData(chunk); // kept by the core until accept()
  }

  drain(): void {
    this.ws?.[kDrain]();
  }

  end(): void {
    if (this.ws) this.ws[kEnd]();
    else this.core.receiveEof();
  }

  close(): void {
    this.closed = true;
    this.#timer?.cancel();
    this.hooks.closed(this.transport);
    this.ws?.[kClose]();
  }

  #arm(ms: number): void {
    this.#timer?.cancel();
    const transport = this.transport;
    this.#timer = this.hooks.clock().setTimer(ms, () => transport.destroy());
  }

  /** Sends the decided response head: a 200 (the connection writes its frames after it) or a refusal and its body. */
  #answer(): void {
    this.#timer?.cancel();
    const head = this.core.takeResponse();
    if (head === undefined || this.closed) return;
    this.transport.respond(head);
    if (head.status === 200) return;
    // A refusal: body and END_STREAM; the client then has closeTimeout to end its side before the reset.
    writeOutgoing(this.core.dataToSend(), this.transport);
    this.#arm(this.hooks.closeTimeout());
  }
}
