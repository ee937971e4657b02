/**
 * The relay that carries broadcasts and publications to the servers of
 * other workers (the libwebsockets `fork_service_loop` case) through a
 * `BroadcastChannel`.
 *
 * @module
 */

import type { Message } from "./handlers.ts";

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

/** What a relayed message asks the receiving servers to do. */
export type RelayedKind = "broadcast" | "publish";

/** The shape of a message between servers (structured-clone safe). */
interface Relayed {
  /** Marks wsport's messages on a channel other code may share. */
  wsport: RelayedKind;
  /** The sending server, so a channel that echoes cannot make it deliver twice. */
  origin: string;
  /** The protocol (broadcast) or topic (publish). */
  target: string;
  message: Message;
}

/**
 * Links one server to the servers of other workers: what it broadcasts or
 * publishes is posted on the channel, and what the others post is handed
 * to `deliver` (local connections only: never posted again).
 */
export class BroadcastRelay {
  readonly #channel: BroadcastChannelLike;
  readonly #origin = randomId();
  #closed = false;

  /**
   * @param channel A channel name (a `BroadcastChannel` is opened) or a channel object.
   * @param deliver Delivers a message that came from another server to this server's connections.
   */
  constructor(channel: string | BroadcastChannelLike, deliver: (kind: RelayedKind, target: string, message: Message) => void) {
    this.#channel = typeof channel === "string" ? openChannel(channel) : channel;
    this.#channel.addEventListener("message", (event) => {
      const data = event.data as Partial<Relayed> | null;
      if (this.#closed || typeof data !== "object" || data === null) return;
      if ((data.wsport !== "broadcast" && data.wsport !== "publish") || data.origin === this.#origin) return;
      const message = data.message;
      if (typeof data.target !== "string" || (typeof message !== "string" && !(message instanceof Uint8Array))) return;
      deliver(data.wsport, data.target, message);
    });
  }

  /**
   * Sends a broadcast or publication to the other servers.
   *
   * @param kind What to do with it there.
   * @param target The protocol or topic.
   * @param message The message (bytes are copied by the channel).
   */
  post(kind: RelayedKind, target: string, message: Message): void {
    if (this.#closed) return;
    const relayed: Relayed = { wsport: kind, origin: this.#origin, target, message };
    this.#channel.postMessage(relayed);
  }

  /** Leaves the channel. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel.close();
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

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}
