/**
 * Broadcasts between `node:cluster` processes, where `BroadcastChannel`
 * does not reach: a channel over each worker's IPC link, relayed by the
 * primary. Exported by `wsport/node`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import process from "node:process";
import type { BroadcastChannelLike } from "../src/services/pubsub/channel_engine.ts";
import { WebSocketError } from "../src/core/errors.ts";

/** A cluster channel's message on the IPC channel between a worker process and the primary. */
interface ClusterEnvelope {
  wsportChannel: string;
  data: unknown;
}

function isClusterEnvelope(message: unknown): message is ClusterEnvelope {
  return typeof message === "object" && message !== null && typeof (message as ClusterEnvelope).wsportChannel === "string";
}

// The IPC channel serialises as JSON unless the primary chose "advanced": bytes travel as base64 to survive both.
function toIpc(data: unknown): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    out[key] = value instanceof Uint8Array ? { wsportBytes: Buffer.from(value.buffer, value.byteOffset, value.length).toString("base64") } : value;
  }
  return out;
}

function fromIpc(data: unknown): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const bytes = (value as { wsportBytes?: unknown } | null)?.wsportBytes;
    out[key] = typeof bytes === "string" ? new Uint8Array(Buffer.from(bytes, "base64")) : value;
  }
  return out;
}

/**
 * A channel between the worker processes of `node:cluster`, for
 * `serve({ broadcastChannel: clusterChannel("chat") })`: `BroadcastChannel`
 * only reaches the threads of one process, and cluster workers are
 * processes. Messages go through the IPC channel to the primary, which
 * must call {@link relayClusterChannels} to pass them on to the other workers.
 *
 * @param name Servers with the same name hear each other.
 * @returns The channel (call in a cluster worker).
 * @throws WebSocketError `"WS_ERR_NO_IPC"` in a process without an IPC channel to a primary.
 * @example
 * ```ts
 * import { serve } from "wsport";
 * import { clusterChannel } from "wsport/node";
 *
 * // in each cluster worker
 * const server = await serve({
 *   port: 9001,
 *   reusePort: true,
 *   broadcastChannel: clusterChannel("chat"),
 *   protocols: [{ name: "chat", message: (_ws, m) => void server.broadcast("chat", m) }],
 * });
 * ```
 */
export function clusterChannel(name: string): BroadcastChannelLike {
  if (typeof process.send !== "function") {
    throw new WebSocketError("WS_ERR_NO_IPC", "clusterChannel needs an IPC channel to the primary: use it in a node:cluster worker");
  }
  const listeners = new Set<(event: { data: unknown }) => void>();
  const onMessage = (message: unknown) => {
    if (!isClusterEnvelope(message) || message.wsportChannel !== name) return;
    const event = { data: fromIpc(message.data) };
    for (const listener of listeners) listener(event);
  };
  process.on("message", onMessage);
  return {
    postMessage: (data) => void process.send?.({ wsportChannel: name, data: toIpc(data) } satisfies ClusterEnvelope),
    addEventListener: (_type, listener) => void listeners.add(listener),
    close: () => {
      process.off("message", onMessage);
      listeners.clear();
    },
  };
}

/** The members of `node:cluster`'s primary side that {@link relayClusterChannels} uses. */
export interface ClusterPrimary {
  readonly workers?: Record<string, { send(message: unknown): boolean; isConnected(): boolean } | undefined>;
  on(event: "message", listener: (worker: unknown, message: unknown) => void): unknown;
  off(event: "message", listener: (worker: unknown, message: unknown) => void): unknown;
}

/**
 * In the `node:cluster` primary: passes every {@link clusterChannel}
 * message from one worker to all the others (never back to the sender).
 *
 * @param cluster The `node:cluster` module.
 * @returns A function that stops relaying.
 * @example
 * ```ts
 * import cluster from "node:cluster";
 * if (cluster.isPrimary) {
 *   relayClusterChannels(cluster);
 *   for (let i = 0; i < 4; i++) cluster.fork();
 * }
 * ```
 */
export function relayClusterChannels(cluster: ClusterPrimary): () => void {
  const onMessage = (from: unknown, message: unknown) => {
    if (!isClusterEnvelope(message)) return;
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker !== undefined && worker !== from && worker.isConnected()) worker.send(message);
    }
  };
  cluster.on("message", onMessage);
  return () => void cluster.off("message", onMessage);
}
