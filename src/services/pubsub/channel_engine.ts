/**
 * The engine that carries broadcasts and publications to the servers of
 * other workers (the libwebsockets `fork_service_loop` case) through a
 * `BroadcastChannel`, or any object shaped like one (`wsport/node`'s
 * `clusterChannel` for `node:cluster` processes).
 *
 * @module
 */

import type { Message } from "../handlers.ts";
import type { LocalRoute, PubSubEngine, PubSubKind, PubSubNode, Publication } from "./engine.ts";

/**
 * The members of the WHATWG `BroadcastChannel` a server uses. Any object
 * with them can link servers: it must deliver what one side posts to every
 * other side (and, like `BroadcastChannel`, need not deliver it back to the
 * poster: a server ignores its own messages anyway). `wsport/node`'s
 * `clusterChannel` is one, for `node:cluster` processes.
 */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** The shape of a message between servers (structured-clone safe). */
interface Relayed {
  /** Marks wsport's messages on a channel other code may share. */
  wsport: PubSubKind;
  /** The sending server, so a channel that echoes cannot make it deliver twice. */
  origin: string;
  /** The protocol (broadcast) or topic (publish). */
  target: string;
  message: Message;
}

/**
 * Links one server to the servers of other workers: what it broadcasts or
 * publishes is posted on the channel (its own connections are served at
 * once, by the server), and what the others post is handed to this
 * server's connections (never posted again). No history, no presence.
 *
 * @example
 * ```ts
 * import { ChannelEngine, serve } from "wsport";
 *
 * const server = await serve({ pubsub: new ChannelEngine("chat"), protocols: [{ name: "chat", open: (ws) => ws.subscribe("room") }] });
 * // the same as serve({ broadcastChannel: "chat", protocols })
 * ```
 */
export class ChannelEngine implements PubSubEngine {
  readonly #channel: BroadcastChannelLike;
  readonly #origin = randomId();
  #node: PubSubNode | undefined;
  #closed = false;

  /**
   * @param channel A channel name (a `BroadcastChannel` is opened) or a channel object.
   */
  constructor(channel: string | BroadcastChannelLike) {
    this.#channel = typeof channel === "string" ? openChannel(channel) : channel;
    this.#channel.addEventListener("message", (event) => this.#received(event.data));
  }

  /** {@inheritDoc PubSubEngine.attach} */
  attach(node: PubSubNode): void {
    if (this.#node !== undefined) throw new TypeError("this engine is already attached to a server");
    this.#node = node;
  }

  /** {@inheritDoc PubSubEngine.publish} */
  publish(publication: Publication): LocalRoute {
    if (!this.#closed) {
      const relayed: Relayed = { wsport: publication.kind, origin: this.#origin, target: publication.target, message: publication.message };
      this.#channel.postMessage(relayed);
    }
    return "local";
  }

  /** Leaves the channel. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.close();
  }

  #received(value: unknown): void {
    const data = value as Partial<Relayed> | null;
    if (this.#closed || this.#node === undefined || typeof data !== "object" || data === null) return;
    if ((data.wsport !== "broadcast" && data.wsport !== "publish") || data.origin === this.#origin) return;
    const message = data.message;
    if (typeof data.target !== "string" || (typeof message !== "string" && !(message instanceof Uint8Array))) return;
    this.#node.deliver({ kind: data.wsport, target: data.target, message });
  }
}

function openChannel(name: string): BroadcastChannelLike {
  const Channel = (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike & { unref?(): void } })
    .BroadcastChannel;
  if (Channel === undefined) {
    throw new TypeError("this runtime has no BroadcastChannel: pass a channel object (postMessage, addEventListener, close) as broadcastChannel");
  }
  const channel = new Channel(name);
  // The server's listener and sockets decide whether the process stays alive, not its relay (Node's channel is ref'd).
  channel.unref?.();
  return channel;
}

/**
 * A random identifier (96 bits, hexadecimal): a server's origin on a channel, a node's id.
 *
 * @returns 24 hexadecimal digits.
 */
export function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}
