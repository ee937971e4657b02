// Shared frames (src/services/shared_frames.ts): a broadcast serialised
// once, and its place in each receiving connection's output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { concat } from "../src/core/bytes.ts";
import { WebSocketProtocol, SEND_EOF, type OutgoingData } from "../src/core/protocol.ts";
import { encodeSharedFrame, SharedQueue } from "../src/services/shared_frames.ts";

const bytes = (items: OutgoingData[]) => concat(items.filter((i): i is Uint8Array => i !== SEND_EOF));
/** What a client reads from a server's bytes. */
const readAsClient = (data: Uint8Array) => new WebSocketProtocol("client").receiveData(data);

test("shared_frames: a text or binary message is encoded once as an unmasked server frame, with its size", () => {
  const text = encodeSharedFrame("héllo");
  assert.equal(text.size, 2 + 6);
  assert.deepEqual(readAsClient(concat([...text.chunks])), [{ type: "text", data: "héllo" }]);
  const payload = new Uint8Array(70000).fill(3);
  const binary = encodeSharedFrame(payload);
  assert.equal(binary.size, 10 + 70000);
  assert.equal(binary.message, payload, "kept for receivers that encode it themselves");
  assert.deepEqual(readAsClient(concat([...binary.chunks])), [{ type: "binary", data: payload }]);
});

test("shared_frames: a shared frame goes behind what the connection queued before it, and before what follows", () => {
  const core = new WebSocketProtocol("server");
  const shared = new SharedQueue();
  core.send("before");
  shared.queue(core, encodeSharedFrame("shared").chunks);
  assert.equal(core.bufferedAmount, 0, "the connection's earlier output moved into the shared queue, in order");
  assert.equal(shared.bufferedAmount, 8 + 8);
  core.send("after");
  const out = shared.drain(core.dataToSend());
  assert.deepEqual(readAsClient(bytes(out)), [{ type: "text", data: "before" }, { type: "text", data: "shared" }, { type: "text", data: "after" }]);
  assert.equal(shared.bufferedAmount, 0);
  assert.deepEqual(shared.drain([]), [], "nothing twice");
});

test("shared_frames: frames deferred while a fragmented message is sent come back in order, counted meanwhile", () => {
  const shared = new SharedQueue();
  const a = encodeSharedFrame("a");
  const b = encodeSharedFrame(new Uint8Array([1]));
  shared.defer(a);
  shared.defer(b);
  assert.equal(shared.bufferedAmount, a.size + b.size);
  assert.deepEqual(shared.takeDeferred(), [a, b]);
  assert.equal(shared.bufferedAmount, 0);
  shared.defer(a);
  shared.queue(new WebSocketProtocol("server"), a.chunks);
  shared.clear();
  assert.equal(shared.bufferedAmount, 0);
  assert.deepEqual(shared.takeDeferred(), []);
  assert.deepEqual(shared.drain([]), []);
});
