/**
 * One server connection's opening phase: the request is read under the
 * handshake timeout, then either answered (a refusal, plain HTTP) or
 * upgraded, after which every transport event goes to the
 * {@link WebSocketConnection}.
 *
 * @module
 */

import type { WsEvent } from "../core/events.ts";
import type { HandshakeRequest } from "../core/handshake.ts";
import type { RequestHead } from "../core/http/head.ts";
import type { AcceptingProtocol } from "../core/accepting_protocol.ts";
import type { ServerProtocol } from "../core/server_protocol.ts";
import type { PeerInfo, Transport, TransportEvents } from "../transport/transport.ts";
import type { Clock, Timer } from "./clock.ts";
import { kClose, kData, kDrain, kEnd, type WebSocketConnection } from "./connection.ts";
import { writeOutgoing } from "./write_outgoing.ts";

/**
 * A snapshot of who is connecting, for the hooks: the transport forgets its
 * addresses once closed, and hooks may keep what they were given.
 *
 * @param transport An open transport.
 * @returns Its peer.
 */
export function peerOf(transport: Transport): PeerInfo {
  return { remoteAddress: transport.remoteAddress, remotePort: transport.remotePort, raw: transport.raw, peerCertificate: transport.peerCertificate };
}

/** One connection's (or HTTP/2 stream's) opening phase, as the server's decision sees it. */
export interface Opening {
  readonly core: AcceptingProtocol;
  readonly transport: Transport;
  readonly peer: PeerInfo;
  /** Whether the transport closed meanwhile. */
  readonly closed: boolean;
  /** The request was accepted: every later transport event goes to this connection (called before it opens). */
  attach(ws: WebSocketConnection<any>): void;
}

/** What a {@link ServerHandshake} needs from its server: made once per server. */
export interface HandshakeHooks {
  clock(): Clock;
  closeTimeout(): number;
  decide(opening: Opening, request: HandshakeRequest): Promise<WebSocketConnection<any> | undefined>;
  serveHttp(handshake: ServerHandshake, head: RequestHead, body: Uint8Array): Promise<void>;
  upgraded(transport: Transport): void;
  closed(transport: Transport): void;
}

/**
 * One connection's opening phase: reads the request under the handshake
 * timeout, then either answers it (refusal, plain HTTP) or hands every later
 * transport event to the {@link WebSocketConnection}. One object per
 * connection, rather than a set of closures: idle connections are many.
 */
export class ServerHandshake implements TransportEvents, Opening {
  ws: WebSocketConnection<any> | undefined;
  closed = false;
  #timer: Timer | undefined;

  constructor(
    readonly hooks: HandshakeHooks,
    readonly transport: Transport,
    readonly core: ServerProtocol,
    peer: PeerInfo | undefined,
  ) {
    this.#peer = peer;
  }

  #peer: PeerInfo | undefined;

  /** Who is connecting, read from the transport the first time a hook asks (while it is open). */
  get peer(): PeerInfo {
    return (this.#peer ??= peerOf(this.transport));
  }

  /** (Re)starts the timer that destroys the transport when it runs out. */
  arm(ms: number): void {
    this.#timer?.cancel();
    const transport = this.transport;
    this.#timer = this.hooks.clock().setTimer(ms, () => transport.destroy());
  }

  #stopTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /**
   * The handshake was accepted: every later transport event goes to `ws`.
   * Called synchronously, before `ws` runs any handler, so no chunk can
   * fall between the accept and the connection (a network may deliver
   * several in one synchronous loop).
   *
   * @param ws The connection the request was upgraded to.
   */
  attach(ws: WebSocketConnection<any>): void {
    this.ws = ws;
    this.hooks.upgraded(this.transport);
  }

  data(chunk: Uint8Array): void {
    if (this.ws) this.ws[kData](chunk);
    else this.#onEvents(this.core.receiveData(chunk));
  }

  drain(): void {
    this.ws?.[kDrain]();
  }

  end(): void {
    if (this.ws) this.ws[kEnd]();
    else this.#onEvents(this.core.receiveEof());
  }

  close(): void {
    this.closed = true;
    this.#stopTimer();
    this.hooks.closed(this.transport);
    this.ws?.[kClose]();
  }

  #onEvents(events: WsEvent[]): void {
    for (const event of events) {
      if (event.type === "request") {
        this.#stopTimer();
        void this.hooks.decide(this, event.request).then((ws) => ws === undefined && this.#flush());
      } else if (event.type === "http-request") {
        this.#stopTimer();
        void this.hooks.serveHttp(this, event.request, event.body).then(() => !this.closed && this.#flush());
      }
    }
    this.#flush();
  }

  #flush(): void {
    // Refused or answered: the client gets closeTimeout to close its end.
    if (writeOutgoing(this.core.dataToSend(), this.transport)) this.arm(this.hooks.closeTimeout());
  }
}
