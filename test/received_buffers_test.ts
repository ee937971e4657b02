// Large received messages over the runtime's real sockets: the server
// unmasks payloads in place in the chunks its transport handed over, and
// allocates the others without zero-filling where the runtime can
// (Node's Buffer.allocUnsafeSlow). Whatever the path, every message holds
// exactly the peer's bytes and is a plain Uint8Array, never a Node Buffer
// (whose slice() would share memory instead of copying).
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, runtimeNetwork, serve } from "../mod.ts";
import { equals } from "../src/core/bytes.ts";
import { within } from "./helpers.ts";

const patterned = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed + (i >> 10)) & 0xff);

test("received buffers: large messages arrive intact as plain Uint8Arrays, echoed back intact (real sockets)", async () => {
  // 16 KiB..64 KiB fit a read (unmasked in place); 300 KiB and 2 MiB span many reads (one buffer each).
  const sizes = [16 * 1024, 40_000, 64 * 1024, 300_000, 2 * 1024 * 1024];
  const received: { size: number; plain: boolean; intact: boolean }[] = [];
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    pingInterval: 0,
    maxMessageSize: 8 * 1024 * 1024,
    protocols: [{
      name: "echo",
      message(ws, message) {
        if (typeof message === "string") return;
        received.push({ size: message.length, plain: Object.getPrototypeOf(message) === Uint8Array.prototype, intact: equals(message, patterned(message.length, message.length)) });
        ws.send(message);
      },
    }],
  });
  try {
    const echoes: Uint8Array[] = [];
    const ws = await connect(`ws://127.0.0.1:${server.port}/`, { protocols: ["echo"], pingInterval: 0, maxMessageSize: 8 * 1024 * 1024, handlers: { message: (_ws, m) => void (typeof m !== "string" && echoes.push(m)) } });
    for (const size of sizes) ws.send(patterned(size, size));
    await within((async () => { while (echoes.length < sizes.length) await new Promise((r) => setTimeout(r, 10)); })(), 10000, "the echoes");
    assert.deepEqual(received.map((r) => r.size), sizes);
    for (const r of received) {
      assert.ok(r.plain, `${r.size} B: a plain Uint8Array on the server`);
      assert.ok(r.intact, `${r.size} B: the server received the peer's bytes`);
    }
    for (const [i, echo] of echoes.entries()) assert.ok(equals(echo, patterned(sizes[i]!, sizes[i]!)), `${sizes[i]} B echoed intact`);
    ws.close();
  } finally {
    await server.close();
  }
});

test("received buffers: the runtime network's uninitialised allocator, where it has one, returns plain Uint8Arrays of their own memory", async () => {
  const network = await runtimeNetwork();
  const allocate = network.allocateUninitialized;
  if (allocate === undefined) {
    assert.notEqual(network.name, "node", "the Node network offers one (Buffer.allocUnsafeSlow)");
    return;
  }
  const a = allocate(70_000), b = allocate(70_000);
  for (const x of [a, b]) {
    assert.equal(Object.getPrototypeOf(x), Uint8Array.prototype);
    assert.equal(x.length, 70_000);
    assert.equal(x.byteOffset, 0);
    assert.equal(x.buffer.byteLength, 70_000, "its own ArrayBuffer, not a pool's");
  }
  assert.notEqual(a.buffer, b.buffer);
});
