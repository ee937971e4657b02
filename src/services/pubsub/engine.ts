/**
 * The seam between a server and whatever carries its broadcasts and
 * publications to other servers (other threads, processes or machines): a
 * {@link PubSubEngine}. The server hands the engine what it publishes and
 * which topics its connections listen to; the engine hands back, through
 * the {@link PubSubNode} it was attached to, what the other servers
 * published. `BroadcastChannel`, the `node:cluster` relay and Redis
 * (`wsport/redis`) are engines.
 *
 * @module
 */

import { WebSocketError } from "../../core/errors.ts";
import type { Message } from "../handlers.ts";

/** What a message asks the receiving servers to do: send to a protocol's connections, or to a topic's subscribers. */
export type PubSubKind = "broadcast" | "publish";

/** A broadcast or publication made on this server, for the engine to carry. */
export interface Publication {
  kind: PubSubKind;
  /** The protocol (broadcast) or the topic (publish). */
  target: string;
  message: Message;
  /**
   * A connection of this server that must not receive it (`publish`'s
   * `except`): opaque to the engine, handed back in the {@link Delivery}
   * when the engine delivers the message to this server itself.
   */
  except?: unknown;
}

/** A message for this server's connections, from the engine. */
export interface Delivery {
  kind: PubSubKind;
  target: string;
  /** What the connections receive (with history, already stamped with its id: see the engine). */
  message: Message;
  /** Its position in the topic's history (e.g. a Redis stream id), when the topic keeps one. */
  id?: string;
  /** The server that published it, and its sequence number there (to merge sources without duplicates). */
  origin?: string;
  seq?: number;
  /** From {@link Publication.except}. */
  except?: unknown;
}

/**
 * Where the engine says a publication is delivered to the publishing
 * server's own connections: `"local"`, by the server at once (the engine
 * only carries it to the others); `"engine"`, by the engine through
 * {@link PubSubNode.deliver}, in order with everything else (e.g. once the
 * message has its history id).
 */
export type LocalRoute = "local" | "engine";

/** What an engine sees of the server it is attached to. */
export interface PubSubNode {
  /**
   * Sends a message from the engine to this server's connections (the
   * protocol's, or the topic's subscribers), encoded once for all.
   *
   * @returns How many connections it was queued on.
   */
  deliver(delivery: Delivery): number;
  /** This server's connections subscribed to a topic. */
  subscriberCount(topic: string): number;
  /** The topics this server's connections are subscribed to. */
  topics(): Iterable<string>;
  /** The protocols this server serves (broadcast targets). */
  readonly protocols: readonly string[];
}

/** One entry of a topic's history: its id and the message as subscribers receive it. */
export interface HistoryEntry {
  id: string;
  message: Message;
  origin?: string;
  seq?: number;
}

/**
 * The answer of {@link PubSubEngine.history}: every message after the
 * given id (`"complete"`, possibly none); `"gap"` when the history no
 * longer reaches back to it (trimmed, lost with the engine's data, or an
 * id the topic never had); `"unavailable"` when the topic keeps no history
 * or the engine cannot be reached.
 */
export type HistoryResult =
  | { type: "complete"; entries: HistoryEntry[] }
  | { type: "gap" }
  | { type: "unavailable"; error: PubSubError };

/** A server of the deployment, as presence lists it. */
export interface NodeInfo {
  /** The engine's node id (random per engine). */
  id: string;
  /** What the node told about itself (runtime, pid, host, start time...). */
  info: Record<string, unknown>;
}

/**
 * Carries broadcasts and publications between servers. A server is
 * attached to at most one engine (`serve({ pubsub })`), and closes it when
 * it closes.
 */
export interface PubSubEngine {
  /**
   * Links the engine to its server; called once, by the server's constructor.
   *
   * @param node What the engine sees of the server.
   */
  attach(node: PubSubNode): void;
  /**
   * Carries a broadcast or publication to the other servers.
   *
   * @param publication What was published here.
   * @returns Who delivers it to this server's own connections.
   */
  publish(publication: Publication): LocalRoute;
  /**
   * The number of this server's subscribers of a topic changed (read it
   * with {@link PubSubNode.subscriberCount}): an engine listens to a topic
   * only while the server has subscribers to it.
   */
  topicChanged?(topic: string): void;
  /**
   * The messages of a topic after `since` (for a client that reconnects).
   * Resolves once every message up to the last entry returned has also
   * reached {@link PubSubNode.deliver}, so that a caller holding the live
   * messages can merge both without a duplicate.
   */
  history?(topic: string, since: string): Promise<HistoryResult>;
  /** The servers alive now (presence). */
  nodes?(): Promise<NodeInfo[]>;
  /** The subscribers of a topic on every server (presence). */
  subscriberCount?(topic: string): Promise<number>;
  /** Stops carrying messages (the server is closing). */
  close(): void | Promise<void>;
}

/** Codes of {@link PubSubError}. */
export type PubSubErrorCode =
  /** The engine cannot reach its broker: a publication was not carried to other servers. */
  | "WS_ERR_PUBSUB_UNAVAILABLE"
  /** A message on a wsport channel is not in wsport's format (another application wrote to it): dropped. */
  | "WS_ERR_PUBSUB_FOREIGN_MESSAGE"
  /** A message in a newer version of wsport's format: dropped. */
  | "WS_ERR_PUBSUB_VERSION"
  /** Messages were missed and the history no longer has them. */
  | "WS_ERR_PUBSUB_GAP"
  /** The topic keeps no history. */
  | "WS_ERR_PUBSUB_NO_HISTORY"
  /** A history id that is not one (from a client). */
  | "WS_ERR_PUBSUB_INVALID_ID";

/** An error of a pub/sub engine, with the topic or protocol it concerns. */
export class PubSubError extends WebSocketError {
  /** The topic (or protocol) concerned, when there is one. */
  readonly target: string | undefined;

  /**
   * @param code What happened.
   * @param message Details.
   * @param options The target and the cause.
   */
  constructor(code: PubSubErrorCode, message: string, options: { target?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.target = options.target;
  }
}
