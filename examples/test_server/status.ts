// lws-status: pushes the list of open connections (every protocol's) as JSON
// to its own connections, once when one opens and again whenever the list
// changes. The other protocols are wrapped by `track` so that their opens
// and closes update the list.
//
// With several demo servers on one Redis (`--redis URL`), each publishes its
// own list to the others on every change and every SYNC_INTERVAL (so a
// server that starts late learns the others' lists), and shows every live
// server's rows; a server silent for 3 intervals (stopped, crashed) is
// dropped from the list.
import type { PeerInfo, Server, Subprotocol, WebSocketConnection } from "../../mod.ts";
import { type DemoEventListener, remoteOf } from "./events.ts";

export const STATUS_PROTOCOL = "lws-status";
/** The topic on which demo servers share their connection lists. */
export const STATUS_TOPIC = "lws-status-lists";
/** Milliseconds between two publications of a server's list. */
export const SYNC_INTERVAL = 2000;

/** One row of the list, as sent. */
export interface ConnectionInfo {
  protocol: string;
  remote: string;
  /** When the connection opened, ISO 8601. */
  connectedAt: string;
  /** The client's User-Agent, or "" if it sent none. */
  userAgent: string;
  /** The demo server it is connected to (`host:port`). */
  server: string;
}

/** A server's list, as the servers share it. */
interface SharedList {
  server: string;
  connections: ConnectionInfo[];
}

/** The message lws-status sends. */
export interface StatusMessage {
  connections: ConnectionInfo[];
}

export class ConnectionList {
  readonly #open = new Map<WebSocketConnection<any>, ConnectionInfo>();
  readonly #watchers = new Set<WebSocketConnection<unknown>>();
  // The User-Agent is only seen with the request, before the connection
  // object exists; the runtime's socket object links the two.
  readonly #userAgents = new WeakMap<object, string>();
  readonly #onEvent: DemoEventListener;
  /** This server's name in the rows, set by {@link link} (or "this server"). */
  #server = "this server";
  /** The other servers' lists, and when each was last heard. */
  readonly #remote = new Map<string, { connections: ConnectionInfo[]; heard: number }>();
  #share: (() => void) | undefined;

  constructor(onEvent: DemoEventListener) {
    this.#onEvent = onEvent;
  }

  /**
   * Shares the list with the other demo servers on the same pub/sub engine.
   *
   * @param server The demo server.
   * @param name How its rows are labelled (its address).
   * @returns A function that stops sharing.
   */
  link(server: Server, name: string): () => void {
    this.#server = name;
    for (const info of this.#open.values()) info.server = name;
    const unsubscribe = server.subscribe(STATUS_TOPIC, (message) => {
      let list: SharedList;
      try {
        list = JSON.parse(String(message));
      } catch {
        return;
      }
      if (list.server === name || !Array.isArray(list.connections)) return;
      const before = this.#remote.get(list.server);
      this.#remote.set(list.server, { connections: list.connections, heard: Date.now() });
      // The periodic copy of an unchanged list is not pushed to the watchers again.
      if (before === undefined || JSON.stringify(before.connections) !== JSON.stringify(list.connections)) this.#publish();
    });
    this.#share = () => void server.publish(STATUS_TOPIC, JSON.stringify({ server: name, connections: [...this.#open.values()] } satisfies SharedList), { local: false });
    const timer = setInterval(() => {
      this.#share?.();
      // Servers not heard for 3 intervals are gone.
      let dropped = false;
      for (const [other, list] of this.#remote) {
        if (Date.now() - list.heard > 3 * SYNC_INTERVAL) dropped = this.#remote.delete(other);
      }
      if (dropped) this.#publish();
    }, SYNC_INTERVAL);
    (timer as { unref?: () => void }).unref?.();
    this.#share();
    return () => {
      clearInterval(timer);
      unsubscribe();
      this.#share = undefined;
    };
  }

  /** The lws-status protocol itself (tracked like the others). */
  readonly protocol: Subprotocol<undefined> = this.track({
    name: STATUS_PROTOCOL,
    // The list goes out when the wrapper publishes it, this connection included.
    open: (ws) => void this.#watchers.add(ws),
    close: (ws) => void this.#watchers.delete(ws),
  });

  /**
   * Wraps a protocol so its connections appear in the list.
   *
   * @param protocol Any protocol.
   * @returns The same protocol, with `data`, `open` and `close` wrapped.
   */
  track<Data>(protocol: Subprotocol<Data>): Subprotocol<Data> {
    return {
      ...protocol,
      data: (request, peer: PeerInfo) => {
        if (typeof peer.raw === "object" && peer.raw !== null) {
          this.#userAgents.set(peer.raw, request.head.headers.get("user-agent") ?? "");
        }
        return protocol.data?.(request, peer) as Data;
      },
      open: (ws) => {
        const raw = ws.transport.raw;
        this.#open.set(ws, {
          protocol: protocol.name,
          remote: remoteOf(ws),
          connectedAt: new Date().toISOString(),
          userAgent: (typeof raw === "object" && raw !== null ? this.#userAgents.get(raw) : undefined) ?? "",
          server: this.#server,
        });
        this.#onEvent({ type: "open", protocol: protocol.name, remote: remoteOf(ws) });
        protocol.open?.(ws);
        this.#changed();
      },
      close: (ws, code, reason) => {
        this.#open.delete(ws);
        this.#onEvent({ type: "close", protocol: protocol.name, remote: remoteOf(ws), code, reason });
        protocol.close?.(ws, code, reason);
        this.#changed();
      },
    };
  }

  #message(): string {
    const remote = [...this.#remote.values()].flatMap((list) => list.connections);
    const message: StatusMessage = { connections: [...this.#open.values(), ...remote] };
    return JSON.stringify(message);
  }

  /** The list changed here: tell this server's watchers, and the other servers. */
  #changed(): void {
    this.#share?.();
    this.#publish();
  }

  #publish(): void {
    if (this.#watchers.size === 0) return;
    const message = this.#message();
    for (const ws of this.#watchers) ws.send(message);
  }
}
