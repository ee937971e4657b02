// Shared by the HTTP/2 tests (not a test file itself): a wsport server on
// HTTP/2 + HTTP/1.1 over TLS, and a raw node:http2 client (the runtime's own
// HTTP/2, not wsport's code) that sends whatever request a test needs.
import http2 from "node:http2";
import { closeHttp2Sessions } from "../adapters/node_http2.ts";
import { concat } from "../src/core/bytes.ts";
import { perMessageDeflate } from "../src/core/extensions/permessage_deflate.ts";
import { type Server, serve, type ServeOptions } from "../mod.ts";
import { opensslMissing, testCertificate } from "./certificate.ts";
import { deferred, within } from "./helpers.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
/** The runtime running the tests. */
export const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
/** The `skip` option of a test that needs openssl (its certificate): one call per test. */
export const skipWithoutOpenssl = (): string | false => skipUnlessPeer(opensslMissing());
export const { cert, key } = opensslMissing() ? { cert: "", key: "" } : testCertificate();

/** An HTTP/2 server with an echo protocol (first, the default) and a chat protocol, and permessage-deflate. */
export async function h2Server(options: ServeOptions = {}): Promise<Server> {
  return await serve({
    hostname: "127.0.0.1",
    tls: { cert, key },
    http2: true,
    pingInterval: 0,
    extensions: [perMessageDeflate()],
    protocols: [
      { name: "echo", message: (ws, m) => void ws.send(m) },
      { name: "chat", message: (ws, m) => void ws.send(`chat: ${m}`) },
    ],
    ...options,
  });
}

/**
 * Closes the server (its WebSockets get 1001), then this process's pooled
 * HTTP/2 client connections (Deno's sanitizers want both gone).
 */
export async function stop(server: Server): Promise<void> {
  await server.close({ timeout: 2000 });
  await closeHttp2Sessions();
}

/** A raw HTTP/2 client session to a port. */
export async function rawSession(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  session.on("error", () => {});
  const ready = deferred<void>();
  session.once("remoteSettings", () => ready.resolve());
  await within(ready.promise, 10_000, "the server's SETTINGS");
  return session;
}

/** What a raw request got back. */
export interface RawAnswer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  rstCode: number;
}

/** Sends a request with exactly these fields, and an optional body, and reads the whole answer. */
export async function rawRequest(
  session: http2.ClientHttp2Session,
  fields: Record<string, string | string[]>,
  body?: Uint8Array | string,
): Promise<RawAnswer> {
  const stream = session.request(fields, { endStream: body === undefined && fields[":method"] !== "CONNECT" });
  if (body !== undefined) stream.end(body);
  else if (fields[":method"] === "CONNECT") stream.end();
  const chunks: Uint8Array[] = [];
  let status = 0;
  let headers: http2.IncomingHttpHeaders = {};
  stream.on("response", (h) => {
    headers = h;
    status = Number(h[":status"]);
  });
  stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  stream.on("error", () => {});
  const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  await within(closed, 10_000, "the stream to close");
  return { status, headers, body: new TextDecoder().decode(concat(chunks)), rstCode: stream.rstCode ?? 0 };
}

/** An extended CONNECT's fields for `port`, with edits. */
export function connectFields(port: number, edits: Record<string, string | undefined> = {}): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "https",
    ":path": "/",
    ":authority": `127.0.0.1:${port}`,
    "sec-websocket-version": "13",
    ...edits,
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined));
}
