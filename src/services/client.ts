/**
 * The client: `connect(url, options)` on every runtime, `ws://` and
 * `wss://`, with the same handler model as the server, or as a promise
 * and an async iterator of messages for scripts.
 *
 * @module
 */

import type { Timer } from "./clock.ts";
import { ClientProtocol } from "../core/client_protocol.ts";
import { defaultNetwork } from "../transport/default_network.ts";
import { ExtensionNegotiationError, HandshakeError } from "../core/errors.ts";
import type { WsEvent, WsResponseEvent } from "../core/events.ts";
import type { WebSocketProtocol } from "../core/protocol.ts";
import type { ClientExtensionFactory } from "../core/extensions/extension.ts";
import { useNetworkFeatures } from "./network_features.ts";
import { WEBSOCKET_VERSION } from "../core/handshake.ts";
import type { HeadLimits } from "../core/http/head.ts";
import type { ClientTlsOptions, Network, Transport } from "../transport/transport.ts";
import { writeOutgoing } from "./write_outgoing.ts";
import { connectHttp2 } from "./http2_client.ts";
import {
  type ConnectionPolicy,
  type Handlers,
  kClose,
  kData,
  kDrain,
  kEnd,
  resolvePolicy,
  WebSocketConnection,
} from "./connection.ts";

/** Options of {@link connect}. */
export interface ConnectOptions<Data = undefined> extends Partial<ConnectionPolicy> {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Extra request headers (e.g. `Authorization`, `Cookie`). */
  headers?: Record<string, string> | Iterable<readonly [string, string]>;
  /** `Origin` header, as a browser would send it. */
  origin?: string;
  /** `Host` header, when it must differ from the URL's host. */
  host?: string;
  /**
   * TLS options for `wss://`: `ca` trusts a private CA, `cert`/`key` present
   * a client certificate, `{ rejectUnauthorized: false }` accepts a
   * self-signed server (libwebsockets' `ssl = 2`; not on Deno's network).
   */
  tls?: ClientTlsOptions;
  /**
   * The WebSocket protocol version (libwebsockets' `ietf_version_or_minus_one`):
   * only 13 (RFC 6455) is spoken. Any other value rejects with a
   * {@link HandshakeError} whose code is `WS_ERR_INVALID_WS_VERSION`, before
   * any connection is made. Default 13.
   */
  version?: number;
  /**
   * Extensions to offer, in order of preference (libwebsockets'
   * `CLIENT_CONFIRM_EXTENSION_SUPPORTED`: offer only what you want), e.g.
   * `[perMessageDeflate()]`. An unacceptable answer fails with close code 1010.
   */
  extensions?: readonly ClientExtensionFactory[];
  /**
   * `false` sends frames unmasked, which RFC 6455 forbids: only for testing
   * how servers react (libwebsockets' `DEFEAT_CLIENT_MASK`). Default true.
   */
  maskFrames?: boolean;
  /** Handlers, as a server protocol's. Without a `message` handler, iterate the connection instead. */
  handlers?: Handlers<Data>;
  /** Your per-connection data. */
  data?: Data;
  /** Time allowed for TCP/TLS connect plus the opening handshake, ms. Default 10000. */
  handshakeTimeout?: number;
  /** Largest message accepted, bytes. Default 16 MiB. */
  maxMessageSize?: number;
  maxFrameSize?: number;
  headLimits?: Partial<HeadLimits>;
  /** Where to connect: the runtime's network by default. */
  network?: Network;
  /**
   * Cancels the connection attempt (TCP, TLS and the opening handshake):
   * `connect` then rejects with `signal.reason` and closes what it opened.
   * No effect once the connection is open.
   */
  signal?: AbortSignal;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441), one
   * connection per origin shared by every such WebSocket. `true` falls back
   * to an HTTP/1.1 upgrade when the server does not offer it (no `h2` by
   * ALPN, no SETTINGS_ENABLE_CONNECT_PROTOCOL, or a `ws://` URL), as
   * browsers do; `"only"` rejects then, with a {@link HandshakeError} coded
   * `"WS_ERR_HTTP2_UNAVAILABLE"`. Default false.
   */
  http2?: boolean | "only";
}

/** Default of {@link ConnectOptions.handshakeTimeout}. */
export const DEFAULT_CLIENT_HANDSHAKE_TIMEOUT = 10000;

/**
 * Opens a WebSocket connection.
 *
 * @param url A `ws://` or `wss://` URL (`http(s)://` is accepted too).
 * @param options Subprotocols, headers, origin, TLS, handlers, limits.
 * @returns The open connection; rejects with a {@link HandshakeError} (or the network's error),
 *   at once for a `version` other than 13, and with `signal.reason` when `signal` aborts first.
 * @example
 * ```ts
 * const ws = await connect("ws://127.0.0.1:9001/chat", { protocols: ["chat"] });
 * ws.send("hello");
 * for await (const message of ws) console.log(message);
 * ```
 */
export async function connect<Data = undefined>(
  url: string | URL,
  options: ConnectOptions<Data> = {},
): Promise<WebSocketConnection<Data>> {
  const target = parseWebSocketUrl(url);
  checkVersion(options.version);
  const signal = options.signal;
  signal?.throwIfAborted();
  const network = options.network ?? await defaultNetwork();
  signal?.throwIfAborted();
  await useNetworkFeatures(network);
  const policy = resolvePolicy(options);
  const timeout = options.handshakeTimeout ?? DEFAULT_CLIENT_HANDSHAKE_TIMEOUT;

  // Rejects on the handshake timeout or the caller's abort, whichever comes first.
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  let cancelledWith: unknown;
  const cancelled = new Promise<never>((_, reject) => {
    const cancel = (error: unknown) => reject(cancelledWith = error);
    timer = policy.clock.setTimer(timeout, () => cancel(new HandshakeError(0, "WS_ERR_HANDSHAKE_TIMEOUT", `no handshake response within ${timeout} ms`)));
    onAbort = () => cancel(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort(); // aborted while the network was being loaded
  });
  cancelled.catch(() => {}); // reported through the races below, if at all
  try {
    let transport: Transport | undefined;
    if (options.http2) {
      const attempt = await Promise.race([connectHttp2(target, options, network, policy, timeout, headerList(options.headers)), cancelled]);
      if ("ws" in attempt) return attempt.ws;
      transport = attempt.fallback;
    }
    if (transport === undefined) {
      const connecting = network.connect({ hostname: target.hostname, port: target.port, tls: target.secure ? options.tls ?? {} : undefined });
      transport = await Promise.race([connecting, cancelled]).catch((error) => {
        // A connection that completes after all must not be left open.
        connecting.then((late) => late.destroy(), () => {});
        throw error;
      });
    }
    const opened = transport;
    const opening = handshake(opened, target, options, policy, network.isUtf8);
    return await Promise.race([opening.result, cancelled]).catch((error) => {
      // Destroyed only once the race is settled: a runtime that reports the close at once would
      // otherwise fail the handshake first, with an error that hides the timeout or the abort.
      if (error === cancelledWith) opened.destroy();
      throw error;
    });
  } finally {
    timer?.cancel();
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/** Refuses a protocol version other than the one spoken (13), before anything touches the network. */
function checkVersion(version: number | undefined): void {
  if (version === undefined || version === Number(WEBSOCKET_VERSION)) return;
  throw new HandshakeError(
    0,
    "WS_ERR_INVALID_WS_VERSION",
    `WebSocket version ${typeof version === "number" ? String(version) : JSON.stringify(version)} is not spoken: only ${WEBSOCKET_VERSION} (RFC 6455) is; omit \`version\` or pass ${WEBSOCKET_VERSION}`,
  );
}

interface WebSocketUrl {
  secure: boolean;
  hostname: string;
  port: number;
  /** `Host` header value: the port only when not the scheme's default. */
  host: string;
  path: string;
}

/**
 * Parses and checks a WebSocket URL (RFC 6455 section 3).
 *
 * @param url The URL.
 * @returns Its parts.
 * @example
 * ```ts
 * parseWebSocketUrl("wss://example.com/chat?x=1").path; // "/chat?x=1"
 * ```
 */
export function parseWebSocketUrl(url: string | URL): WebSocketUrl {
  const parsed = typeof url === "string" ? new URL(url) : url;
  const scheme = parsed.protocol;
  if (!["ws:", "wss:", "http:", "https:"].includes(scheme)) {
    throw new SyntaxError(`unsupported URL scheme ${scheme} (use ws: or wss:)`);
  }
  // RFC 6455 3: "Fragment identifiers are meaningless in the context of WebSocket URIs".
  // An empty fragment ("ws://h/#") has hash "" but is a fragment all the same.
  if (parsed.hash !== "" || parsed.href.endsWith("#")) throw new SyntaxError("a WebSocket URL cannot have a fragment");
  const secure = scheme === "wss:" || scheme === "https:";
  const port = parsed.port === "" ? (secure ? 443 : 80) : Number(parsed.port);
  // URL keeps brackets around IPv6 literals; sockets want them off.
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return { secure, hostname, port, host: parsed.host, path: (parsed.pathname || "/") + parsed.search };
}

function headerList(headers: ConnectOptions<unknown>["headers"]): [string, string][] {
  if (headers === undefined) return [];
  if (Symbol.iterator in headers) return [...(headers as Iterable<readonly [string, string]>)].map(([n, v]) => [n, v]);
  return Object.entries(headers);
}

/** The connection of a client whose handshake (over HTTP/1.1 or HTTP/2) succeeded. */
export function clientConnection<Data>(
  core: WebSocketProtocol,
  transport: Transport,
  opened: WsResponseEvent,
  path: string,
  options: ConnectOptions<Data>,
  policy: ConnectionPolicy,
): WebSocketConnection<Data> {
  return new WebSocketConnection<Data>({
    core,
    transport,
    policy,
    handlers: options.handlers ?? {},
    data: options.data as Data,
    protocol: opened.protocol,
    extensions: opened.response.headers.get("sec-websocket-extensions") ?? "",
    path,
  });
}

/** Runs the opening handshake on a connected transport. */
function handshake<Data>(
  transport: Transport,
  target: WebSocketUrl,
  options: ConnectOptions<Data>,
  policy: ConnectionPolicy,
  isUtf8: ((bytes: Uint8Array) => boolean) | undefined,
): { result: Promise<WebSocketConnection<Data>> } {
  const core = new ClientProtocol({
    host: options.host ?? target.host,
    path: target.path,
    origin: options.origin,
    protocols: options.protocols,
    headers: headerList(options.headers),
    maxMessageSize: options.maxMessageSize,
    maxFrameSize: options.maxFrameSize,
    headLimits: options.headLimits,
    isUtf8,
    extensions: options.extensions,
    maskFrames: options.maskFrames,
    streamMessages: options.handlers?.chunk !== undefined,
  });
  let forward: WebSocketConnection<Data> | undefined;
  let settle!: { resolve: (ws: WebSocketConnection<Data>) => void; reject: (error: Error) => void };
  const result = new Promise<WebSocketConnection<Data>>((resolve, reject) => (settle = { resolve, reject }));
  const fail = (error: Error) => {
    settle.reject(error);
    transport.destroy();
  };
  const onEvents = (events: WsEvent[]) => {
    const first = events[0];
    if (first?.type === "response") {
      const ws = clientConnection(core, transport, first, target.path, options, policy);
      forward = ws;
      ws.open(); // the open handler, then the frames that came with the 101
      settle.resolve(ws);
    } else if (first?.type === "handshake-error") {
      if (first.error instanceof ExtensionNegotiationError) {
        // The 101 arrived: the queued close frame (1010) says why before the transport ends.
        writeOutgoing(core.dataToSend(), transport);
        settle.reject(first.error);
      } else {
        fail(first.error);
      }
    }
  };
  transport.start({
    data: (chunk) => (forward ? forward[kData](chunk) : onEvents(core.receiveNext(chunk))),
    drain: () => forward?.[kDrain](),
    end: () => (forward ? forward[kEnd]() : onEvents(core.receiveEof())),
    close: (error) => {
      if (forward) return forward[kClose]();
      settle.reject(error ?? new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", "connection closed before the handshake response"));
    },
  });
  writeOutgoing(core.dataToSend(), transport);
  return { result };
}
