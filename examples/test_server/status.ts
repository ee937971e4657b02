// lws-status: pushes the list of open connections (every protocol's) as JSON
// to its own connections, once when one opens and again whenever the list
// changes. The other protocols are wrapped by `track` so that their opens
// and closes update the list.
import type { PeerInfo, Subprotocol, WebSocketConnection } from "../../mod.ts";
import { type DemoEventListener, remoteOf } from "./events.ts";

export const STATUS_PROTOCOL = "lws-status";

/** One row of the list, as sent. */
export interface ConnectionInfo {
  protocol: string;
  remote: string;
  /** When the connection opened, ISO 8601. */
  connectedAt: string;
  /** The client's User-Agent, or "" if it sent none. */
  userAgent: string;
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

  constructor(onEvent: DemoEventListener) {
    this.#onEvent = onEvent;
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
        });
        this.#onEvent({ type: "open", protocol: protocol.name, remote: remoteOf(ws) });
        protocol.open?.(ws);
        this.#publish();
      },
      close: (ws, code, reason) => {
        this.#open.delete(ws);
        this.#onEvent({ type: "close", protocol: protocol.name, remote: remoteOf(ws), code, reason });
        protocol.close?.(ws, code, reason);
        this.#publish();
      },
    };
  }

  #message(): string {
    const message: StatusMessage = { connections: [...this.#open.values()] };
    return JSON.stringify(message);
  }

  #publish(): void {
    if (this.#watchers.size === 0) return;
    const message = this.#message();
    for (const ws of this.#watchers) ws.send(message);
  }
}
