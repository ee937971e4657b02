/**
 * Recovery of what a connection missed while it was away: a client that
 * reconnects with the last history id it saw (`ws.subscribe(topic, {
 * since })`) gets the messages after it from the engine's history, then
 * the live ones, in order and without a duplicate. While the history is
 * being read, the live messages for that connection and topic are held
 * here; once it is read, the two are merged.
 *
 * @module
 */

import type { PubSubError } from "./engine.ts";
import type { Delivery, HistoryResult } from "./engine.ts";
import { compareStreamIds } from "./stream_ids.ts";
import type { Message } from "../handlers.ts";

/**
 * The outcome of `ws.subscribe(topic, { since })`:
 * - `"recovered"`: every message after `since` was sent, `count` of them
 *   (0 when nothing was missed), followed by the live ones; `lastId` is the
 *   id of the last one sent (`since` when none was);
 * - `"gap"`: the topic's history no longer reaches back to `since`
 *   (trimmed, lost, or never one of its ids): nothing was replayed, the
 *   connection receives the live messages from now on, and the application
 *   should tell the client to reload its state;
 * - `"unavailable"`: the topic keeps no history, or the engine cannot be
 *   reached (see `error`): the connection receives the live messages.
 */
export type Recovery =
  | { type: "recovered"; count: number; lastId: string }
  | { type: "gap" }
  | { type: "unavailable"; error: PubSubError };

/** Options of `ws.subscribe(topic, options)`. */
export interface SubscribeOptions {
  /** The id of the last message of this topic the client received: replay what came after it. */
  since: string;
}

/** Live messages held for one connection and topic while its history is read. */
interface Held {
  deliveries: Delivery[];
  /** More arrived than the bound: the recovery reports a gap rather than grow without limit. */
  overflow: boolean;
}

/** Held live messages per connection and topic; bounded. */
export class RecoveryGate<Connection> {
  readonly #held = new Map<Connection, Map<string, Held>>();
  readonly #limit: number;

  /**
   * @param limit Live messages held per connection and topic during a recovery, at most.
   */
  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  /** Whether any recovery is in progress (the delivery path checks nothing otherwise). */
  get active(): boolean {
    return this.#held.size > 0;
  }

  /**
   * Starts holding a connection's live messages of a topic.
   *
   * @param connection The recovering connection.
   * @param topic Its topic.
   * @returns False when a recovery of that topic is already running on it.
   */
  hold(connection: Connection, topic: string): boolean {
    let topics = this.#held.get(connection);
    if (topics === undefined) this.#held.set(connection, (topics = new Map()));
    if (topics.has(topic)) return false;
    topics.set(topic, { deliveries: [], overflow: false });
    return true;
  }

  /**
   * Keeps a live message for a recovering connection.
   *
   * @param connection A receiver.
   * @param delivery The message.
   * @returns True when held (do not send it now).
   */
  intercept(connection: Connection, delivery: Delivery): boolean {
    const held = this.#held.get(connection)?.get(delivery.target);
    if (held === undefined) return false;
    if (held.deliveries.length < this.#limit) held.deliveries.push(delivery);
    else held.overflow = true;
    return true;
  }

  /**
   * Stops holding and returns what was held.
   *
   * @param connection The connection.
   * @param topic The topic.
   * @returns The held messages.
   */
  release(connection: Connection, topic: string): Held {
    const topics = this.#held.get(connection);
    const held = topics?.get(topic) ?? { deliveries: [], overflow: false };
    topics?.delete(topic);
    if (topics?.size === 0) this.#held.delete(connection);
    return held;
  }

  /**
   * Forgets a closed connection.
   *
   * @param connection The connection.
   */
  forget(connection: Connection): void {
    this.#held.delete(connection);
  }
}

/**
 * What a recovering connection must be sent, in order: the history's
 * entries after `since`, then the held live messages that are neither
 * among them nor at or before `since`.
 *
 * @param since The id the client came back with.
 * @param result The engine's history answer.
 * @param held The live messages held meanwhile.
 * @returns The messages to send and the outcome to report.
 */
export function mergeRecovery(since: string, result: HistoryResult, held: Held): { send: Message[]; recovery: Recovery } {
  const send: Message[] = [];
  let recovery: Recovery;
  let seen: Set<string> | undefined;
  if (result.type === "complete" && !held.overflow) {
    seen = new Set();
    for (const entry of result.entries) {
      seen.add(entry.id);
      send.push(entry.message);
    }
    recovery = { type: "recovered", count: result.entries.length, lastId: result.entries.at(-1)?.id ?? since };
  } else if (result.type === "unavailable") {
    recovery = result;
  } else {
    recovery = { type: "gap" };
  }
  for (const delivery of held.deliveries) {
    const id = delivery.id;
    // Already replayed, or older than what the client had (this server's live feed can lag behind the one it came from).
    if (id !== undefined && (seen?.has(id) || (recovery.type === "recovered" && compareStreamIds(id, since) <= 0))) continue;
    send.push(delivery.message);
    if (recovery.type === "recovered" && id !== undefined && compareStreamIds(id, recovery.lastId) > 0) recovery = { ...recovery, lastId: id };
  }
  return { send, recovery };
}
