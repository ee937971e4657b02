/**
 * The clocks of an open connection: keepalive pings with a pong deadline,
 * the idle timeout, and the close timeout that destroys a transport whose
 * closing handshake or TCP close never comes. All run on the policy's
 * {@link Clock}, so tests drive them by hand.
 *
 * @module
 */

import type { WebSocketProtocol } from "../core/protocol.ts";
import { WsReadyState } from "../core/protocol_options.ts";
import type { Timer } from "./clock.ts";
import type { ConnectionPolicy } from "./policy.ts";

/** Internal: how the application's timeout ({@link ConnectionTimers.startApp}) reaches its connection. */
export const kTimedOut: unique symbol = Symbol("wsport.timedOut");

/** The members of a connection the timers act through. */
export interface TimedConnection {
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /** The application's timeout expired. */
  [kTimedOut](reason: string, code: number): void;
}

/** One connection's timers. */
export class ConnectionTimers {
  /** When something was last received, on the policy's clock. */
  lastReceived: number;
  #closeTimer: Timer | undefined;
  #keepaliveTimer: Timer | undefined;
  #idleTimer: Timer | undefined;
  #appTimer: Timer | undefined;
  #awaitingPong = false;
  #cleared = false;

  constructor(
    readonly policy: ConnectionPolicy,
    readonly connection: TimedConnection,
    readonly core: WebSocketProtocol,
  ) {
    this.lastReceived = policy.clock.now();
  }

  /** The connection opened: keepalive and idle timeout start. */
  start(): void {
    this.#startKeepalive();
    this.#startIdleTimer();
  }

  /** Bytes arrived. */
  received(): void {
    this.lastReceived = this.policy.clock.now();
  }

  /** Gives the closing handshake and the TCP close `closeTimeout` before the transport is destroyed. Once. */
  armClose(): void {
    if (this.#closeTimer || this.#cleared) return;
    const connection = this.connection;
    this.#closeTimer = this.policy.clock.setTimer(this.policy.closeTimeout, () => connection.terminate());
  }

  /** A pong arrived: the keepalive deadline is met and the next ping is scheduled. */
  pongReceived(): void {
    if (!this.#awaitingPong) return;
    this.#awaitingPong = false;
    this.#keepaliveTimer?.cancel();
    this.#startKeepalive();
  }

  /**
   * Starts the application's timeout (`startTimeout`), replacing the one running.
   *
   * @param ms Milliseconds from now.
   * @param reason Why, for the close frame.
   * @param code The close code.
   */
  startApp(ms: number, reason: string, code: number): void {
    this.cancelApp();
    if (this.#cleared) return;
    this.#appTimer = this.policy.clock.setTimer(ms, () => {
      this.#appTimer = undefined;
      this.connection[kTimedOut](reason, code);
    });
  }

  /** Cancels the application's timeout. */
  cancelApp(): void {
    this.#appTimer?.cancel();
    this.#appTimer = undefined;
  }

  /** Cancels every timer (the transport closed). */
  clear(): void {
    this.#cleared = true;
    this.#appTimer?.cancel();
    this.#closeTimer?.cancel();
    this.#keepaliveTimer?.cancel();
    this.#idleTimer?.cancel();
  }

  #startKeepalive(): void {
    const { pingInterval, clock } = this.policy;
    if (pingInterval <= 0) return;
    this.#keepaliveTimer = clock.setTimer(pingInterval, () => this.#sendKeepalivePing());
  }

  #sendKeepalivePing(): void {
    if (this.core.readyState !== WsReadyState.OPEN) return;
    const { clock, pingInterval, pongTimeout } = this.policy;
    // Quiet for a whole interval: let extensions free what they can rebuild (a compressor).
    if (clock.now() - this.lastReceived >= pingInterval) this.core.idle();
    this.#awaitingPong = true;
    this.connection.ping();
    this.#keepaliveTimer = clock.setTimer(pongTimeout, () => {
      if (this.#awaitingPong) this.connection.close(1011, "keepalive ping timeout");
    });
  }

  #startIdleTimer(): void {
    const { idleTimeout, clock } = this.policy;
    if (idleTimeout <= 0) return;
    // One timer, re-armed lazily: cheaper than resetting a timer on every read.
    const due = this.lastReceived + idleTimeout - clock.now();
    this.#idleTimer = clock.setTimer(Math.max(0, due), () => {
      if (clock.now() - this.lastReceived >= idleTimeout) this.connection.close(1001, "idle timeout");
      else this.#startIdleTimer();
    });
  }
}
