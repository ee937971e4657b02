// wss:// end to end over this runtime's adapter, with the self-signed
// certificate made at run time (CN=localhost, SAN 127.0.0.1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runtimeNetwork } from "../mod.ts";
import { connect } from "../src/client.ts";
import { HandshakeError } from "../src/errors.ts";
import { serve } from "../src/server.ts";
import { testCertificate } from "./certificate.ts";
import { until, within } from "./helpers.ts";

const { cert, key } = testCertificate();
const g = globalThis as { Deno?: unknown };

async function tlsServer() {
  return await serve({
    network: await runtimeNetwork(),
    hostname: "127.0.0.1",
    tls: { cert, key },
    pingInterval: 0,
    protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }],
    fetch: () => new Response("over TLS"),
  });
}

test("wss:// with the server's certificate as CA: handshake, echo, close", async () => {
  const server = await tlsServer();
  try {
    const ws = await within(connect(`wss://localhost:${server.port}/`, { network: await runtimeNetwork(), tls: { ca: cert }, pingInterval: 0 }), 10_000, "a TLS connection");
    assert.equal(ws.transport.secure, true);
    const messages = ws[Symbol.asyncIterator]();
    ws.send("secret");
    assert.equal((await within(messages.next())).value, "secret");
    ws.close();
    assert.equal((await within(ws.closed)).code, 1000);
    await until(() => server.connections.size === 0, "the server to drop the closed connection");
  } finally {
    await server.close();
  }
});

test("wss:// refuses a self-signed certificate unless told to accept it", async () => {
  const server = await tlsServer();
  const network = await runtimeNetwork();
  try {
    await assert.rejects(connect(`wss://localhost:${server.port}/`, { network, handshakeTimeout: 5000 }), (error: unknown) => !(error instanceof HandshakeError) || error.code !== "WS_ERR_HANDSHAKE_TIMEOUT");
    if (g.Deno) {
      // Deno has no per-connection switch to skip verification: the adapter says so instead of pretending.
      await assert.rejects(connect(`wss://localhost:${server.port}/`, { network, tls: { rejectUnauthorized: false } }), /rejectUnauthorized|ca/i);
    } else {
      const ws = await within(connect(`wss://127.0.0.1:${server.port}/`, { network, tls: { rejectUnauthorized: false }, pingInterval: 0 }));
      assert.equal(ws.readyState, 1);
      ws.close();
      await within(ws.closed);
    }
  } finally {
    await server.close();
  }
});
