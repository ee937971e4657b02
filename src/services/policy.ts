/**
 * The timing and buffering policy of connections, with its defaults.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

/** Timing and buffering policy of a connection. */
export interface ConnectionPolicy {
  /** Time source for every timer. Default: the system clock. */
  clock: Clock;
  /** Buffered outgoing bytes above which `send` reports `"backpressure"`. Default 1 MiB. */
  highWaterMark: number;
  /** Buffered outgoing bytes above which a send is dropped and the connection closed with 1008. Default 64 MiB. */
  maxBufferedAmount: number;
  /** How long to wait for the closing handshake and the TCP close before destroying, ms. Default 5000. */
  closeTimeout: number;
  /** Close (1001) after this long without receiving anything, ms; 0 disables. Default 0. */
  idleTimeout: number;
  /** Send a ping after this long, ms; 0 disables keepalive. Default 30000. */
  pingInterval: number;
  /** Close (1011) when the pong has not arrived after this long, ms. Default 30000. */
  pongTimeout: number;
}

/** Defaults of {@link ConnectionPolicy}, except the clock. */
export const DEFAULT_POLICY: Readonly<Omit<ConnectionPolicy, "clock">> = {
  highWaterMark: 1024 * 1024,
  maxBufferedAmount: 64 * 1024 * 1024,
  closeTimeout: 5000,
  idleTimeout: 0,
  pingInterval: 30000,
  pongTimeout: 30000,
};

/**
 * Fills in the defaults of a partial policy.
 *
 * @param options Any subset of the policy.
 * @returns A complete policy.
 * @example
 * ```ts
 * resolvePolicy({ pingInterval: 0 }).closeTimeout; // 5000
 * ```
 */
export function resolvePolicy(options: Partial<ConnectionPolicy> = {}): ConnectionPolicy {
  return {
    clock: options.clock ?? systemClock,
    highWaterMark: options.highWaterMark ?? DEFAULT_POLICY.highWaterMark,
    maxBufferedAmount: options.maxBufferedAmount ?? DEFAULT_POLICY.maxBufferedAmount,
    closeTimeout: options.closeTimeout ?? DEFAULT_POLICY.closeTimeout,
    idleTimeout: options.idleTimeout ?? DEFAULT_POLICY.idleTimeout,
    pingInterval: options.pingInterval ?? DEFAULT_POLICY.pingInterval,
    pongTimeout: options.pongTimeout ?? DEFAULT_POLICY.pongTimeout,
  };
}
