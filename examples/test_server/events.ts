// What the test server reports about itself: the command line prints the
// connection events; tests observe all of them to check the server's side of
// an exchange (e.g. that the libwebsockets test client's circles were seen
// and mirrored) without reaching into the protocols' state.
import { isHttp2Stream, type Transport } from "../../mod.ts";

/** One thing that happened in the test server. `remote` is "address:port". */
export type DemoEvent =
  /** The page was served; `remote` is the connection it came on ("address:port"). */
  | { type: "page"; remote: string }
  | { type: "open"; protocol: string; remote: string }
  | { type: "close"; protocol: string; remote: string; code: number; reason: string }
  /** dumb-increment-protocol sent `value` from a writable callback. */
  | { type: "increment"; remote: string; value: number }
  /** lws-mirror-protocol received a message; `ringUsed` and `backlog` are after storing it. */
  | { type: "mirror-received"; remote: string; message: string | Uint8Array; ringUsed: number; backlog: number }
  /** lws-mirror-protocol wrote `count` ring entries to a connection in one writable callback. */
  | { type: "mirror-sent"; remote: string; count: number }
  /** A sender's reading was paused (rx flow control) because the ring is nearly full. */
  | { type: "mirror-paused"; remote: string; ringUsed: number }
  /** A paused sender's reading was resumed because the ring drained. */
  | { type: "mirror-resumed"; remote: string; ringUsed: number };

export type DemoEventListener = (event: DemoEvent) => void;

/**
 * "address:port", bracketing IPv6 addresses; for a WebSocket on an HTTP/2
 * stream "address:port stream N", since the streams of one connection share
 * its address and port.
 */
export function remoteOf(ws: { remoteAddress: string; remotePort: number; transport?: Transport }): string {
  const address = ws.remoteAddress.includes(":") ? `[${ws.remoteAddress}]` : ws.remoteAddress;
  const stream = ws.transport !== undefined && isHttp2Stream(ws.transport) ? ` stream ${ws.transport.streamId}` : "";
  return `${address}:${ws.remotePort}${stream}`;
}
