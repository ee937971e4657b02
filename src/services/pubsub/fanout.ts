/**
 * A server's fan-out: broadcast to a protocol's connections and publish to
 * a topic's subscribers, each message encoded once; the link to the
 * server's {@link PubSubEngine}, when it has one, both ways; and the
 * recovery of a client that comes back with the last id it saw.
 *
 * @module
 */

import { WsReadyState } from "../../core/protocol.ts";
import { kSendShared, type Message, type WebSocketConnection } from "../connection.ts";
import { encodeSharedFrame, type SharedFrame } from "../shared_frames.ts";
import { TopicRegistry } from "../topics.ts";
import { type Delivery, type PubSubEngine, PubSubError, type PubSubNode } from "./engine.ts";
import { mergeRecovery, type Recovery, RecoveryGate } from "./recovery.ts";

type Connection = WebSocketConnection<any>;

/** A publication this server's connections must not receive (`local: false`): it is for the other servers only. */
const NOWHERE_LOCAL: unique symbol = Symbol("wsport.nowhereLocal");

/** A server-side subscriber of a topic (`server.subscribe(topic, listener)`). */
export type TopicListener = (message: Message, topic: string) => void;

/** The fan-out of one server. */
export class Fanout {
  readonly topics: TopicRegistry<Connection>;
  readonly #engine: PubSubEngine | undefined;
  readonly #connectionsOf: (protocol: string) => ReadonlySet<Connection>;
  readonly #gate = new RecoveryGate<Connection>();
  readonly #listeners = new Map<string, Set<TopicListener>>();
  #closed = false;

  /**
   * @param engine Carries messages to and from other servers, if any.
   * @param protocols The server's protocol names.
   * @param connectionsOf The open connections of a protocol.
   */
  constructor(engine: PubSubEngine | undefined, protocols: readonly string[], connectionsOf: (protocol: string) => ReadonlySet<Connection>) {
    this.#engine = engine;
    this.#connectionsOf = connectionsOf;
    const changed = engine?.topicChanged?.bind(engine);
    this.topics = new TopicRegistry<Connection>(changed);
    const node: PubSubNode = {
      deliver: (delivery) => this.#deliver(delivery),
      subscriberCount: (topic) => this.topics.subscribersOf(topic).size + (this.#listeners.get(topic)?.size ?? 0),
      topics: () => new Set([...this.topics.topics(), ...this.#listeners.keys()]).values(),
      protocols,
    };
    engine?.attach(node);
  }

  /** The engine, if any. */
  get engine(): PubSubEngine | undefined {
    return this.#engine;
  }

  /**
   * Sends to every open connection of a protocol, here and (through the engine) on the other servers.
   *
   * @param protocol The protocol.
   * @param message The message.
   * @returns How many of this server's connections it was queued on.
   */
  broadcast(protocol: string, message: Message, local = true): number {
    const route = this.#engine?.publish({ kind: "broadcast", target: protocol, message, except: local ? undefined : NOWHERE_LOCAL }) ?? "local";
    if (!local) return 0;
    const receivers = this.#connectionsOf(protocol);
    return route === "local" ? this.#sendToAll(receivers, message, undefined, undefined) : countOpen(receivers, undefined);
  }

  /**
   * Sends to every subscriber of a topic, here and on the other servers.
   *
   * @param topic The topic.
   * @param message The message.
   * @param except A connection of this server to leave out.
   * @returns How many of this server's connections it was (or, when the engine delivers it, will be) queued on.
   */
  publish(topic: string, message: Message, except: Connection | undefined, local = true): number {
    const route = this.#engine?.publish({ kind: "publish", target: topic, message, except: local ? except : NOWHERE_LOCAL }) ?? "local";
    if (!local) return 0;
    if (route === "local") this.#tell(topic, message);
    const receivers = this.topics.subscribersOf(topic);
    return route === "local" ? this.#sendToAll(receivers, message, except, undefined) : countOpen(receivers, except);
  }

  /**
   * Adds a server-side subscriber: it gets every publication on the topic,
   * from this server and (through the engine) the others.
   *
   * @param topic The topic.
   * @param listener Called with each message.
   * @returns A function that removes it.
   */
  listen(topic: string, listener: TopicListener): () => void {
    let listeners = this.#listeners.get(topic);
    if (listeners === undefined) this.#listeners.set(topic, (listeners = new Set()));
    listeners.add(listener);
    this.#engine?.topicChanged?.(topic);
    return () => {
      if (!listeners.delete(listener)) return;
      if (listeners.size === 0) this.#listeners.delete(topic);
      this.#engine?.topicChanged?.(topic);
    };
  }

  #tell(topic: string, message: Message): void {
    const listeners = this.#listeners.get(topic);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) {
      try {
        listener(message, topic);
      } catch {
        // One listener's failure must not stop the delivery to the others and to the connections.
      }
    }
  }

  /**
   * Subscribes a connection and replays what it missed since `since`.
   *
   * @param ws The connection.
   * @param topic The topic.
   * @param since The last id the client saw.
   * @returns The outcome, once the replay is queued.
   */
  async recover(ws: Connection, topic: string, since: string): Promise<Recovery> {
    const history = this.#engine?.history?.bind(this.#engine);
    if (history === undefined) {
      this.topics.subscribe(ws, topic);
      const error = new PubSubError("WS_ERR_PUBSUB_NO_HISTORY", "this server's pub/sub engine keeps no history", { target: topic });
      return { type: "unavailable", error };
    }
    // Held from before the subscription, so that no live message slips between the history and the live feed.
    if (!this.#gate.hold(ws, topic)) throw new TypeError(`a recovery of ${topic} is already running on this connection`);
    this.topics.subscribe(ws, topic);
    let result;
    try {
      result = await history(topic, since);
    } catch (cause) {
      result = { type: "unavailable" as const, error: new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", `history of ${topic} failed`, { target: topic, cause }) };
    }
    const { send, recovery } = mergeRecovery(since, result, this.#gate.release(ws, topic));
    if (ws.readyState === WsReadyState.OPEN) for (const message of send) ws[kSendShared](encodeSharedFrame(message));
    return recovery;
  }

  /**
   * Forgets a closed connection's subscriptions and recoveries.
   *
   * @param ws The connection.
   */
  forget(ws: Connection): void {
    this.#gate.forget(ws);
  }

  /** Stops delivering and closes the engine. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#engine?.close();
  }

  /** A message from the engine: for this server's connections only. */
  #deliver(delivery: Delivery): number {
    if (this.#closed || delivery.except === NOWHERE_LOCAL) return 0;
    if (delivery.kind === "publish") this.#tell(delivery.target, delivery.message);
    const receivers = delivery.kind === "broadcast" ? this.#connectionsOf(delivery.target) : this.topics.subscribersOf(delivery.target);
    const held = delivery.kind === "publish" && this.#gate.active ? delivery : undefined;
    return this.#sendToAll(receivers, delivery.message, delivery.except as Connection | undefined, held);
  }

  /** Queues one serialisation of `message` on every open connection of `receivers` but `except` (and those recovering). */
  #sendToAll(receivers: ReadonlySet<Connection>, message: Message, except: Connection | undefined, held: Delivery | undefined): number {
    let frame: SharedFrame | undefined;
    let count = 0;
    for (const ws of receivers) {
      if (ws === except || ws.readyState !== WsReadyState.OPEN) continue;
      if (held !== undefined && this.#gate.intercept(ws, held)) continue;
      frame ??= encodeSharedFrame(message); // only if someone receives it
      if (ws[kSendShared](frame) !== "dropped") count++;
    }
    return count;
  }
}

function countOpen(receivers: ReadonlySet<Connection>, except: Connection | undefined): number {
  let count = 0;
  for (const ws of receivers) if (ws !== except && ws.readyState === WsReadyState.OPEN) count++;
  return count;
}
