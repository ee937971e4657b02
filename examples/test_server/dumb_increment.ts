// dumb-increment-protocol: every connection has its own counter and is sent
// the next number about every 50 ms. As in libwebsockets, the timer does not
// send: it asks for a writable callback (requestWritable, lws's
// callback_on_writable) and the number goes out from that callback (drain),
// so a connection that cannot take data gets no backlog of numbers, only the
// next one when it can.
import type { Subprotocol, WebSocketConnection } from "../../mod.ts";
import { type DemoEventListener, remoteOf } from "./events.ts";

export const DUMB_INCREMENT_PROTOCOL = "dumb-increment-protocol";
/** The reason sent with 1001 when a client asks for "closeme". */
export const CLOSEME_REASON = "closing on request";
export const INCREMENT_INTERVAL_MS = 50;

/** Per-connection data. */
export interface IncrementState {
  /** The next number to send. */
  next: number;
  /** Set by the timer, cleared when the number is sent: at most one number per tick. */
  due: boolean;
}

/**
 * The protocol. One timer serves all its connections (lws's
 * callback_on_writable_all_protocol); it runs only while one is open, so a
 * closed server leaves no timer behind.
 *
 * @param onEvent Told about every number sent.
 * @param interval Time between numbers, ms.
 * @returns The protocol, to pass to `serve`.
 */
export function dumbIncrementProtocol(onEvent: DemoEventListener, interval = INCREMENT_INTERVAL_MS): Subprotocol<IncrementState> {
  const open = new Set<WebSocketConnection<IncrementState>>();
  let timer: ReturnType<typeof setInterval> | undefined;

  const tick = () => {
    for (const ws of open) {
      ws.data.due = true;
      ws.requestWritable();
    }
  };

  return {
    name: DUMB_INCREMENT_PROTOCOL,
    data: () => ({ next: 0, due: false }),
    open(ws) {
      open.add(ws);
      timer ??= setInterval(tick, interval);
    },
    drain(ws) {
      // Also called when a send buffer drains; only a tick's request sends.
      if (!ws.data.due) return;
      ws.data.due = false;
      const value = ws.data.next++;
      ws.send(String(value));
      onEvent({ type: "increment", remote: remoteOf(ws), value });
    },
    message(ws, message) {
      if (typeof message !== "string") return;
      // libwebsockets' own client sends "reset\n"; a browser's button need not.
      const command = message.replace(/\r?\n$/, "");
      if (command === "reset") ws.data.next = 0;
      else if (command === "closeme") ws.close(1001, CLOSEME_REASON);
    },
    close(ws) {
      open.delete(ws);
      if (open.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    },
  };
}
