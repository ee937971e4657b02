// wsport's envelope between servers (src/services/pubsub/wire.ts), stream ids,
// the default stamp and the recovery merge: byte vectors and properties.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeWire, encodeWire, joinWire, WIRE_VERSION, type WireMessage } from "../src/services/pubsub/wire.ts";
import { PubSubError } from "../src/services/pubsub/engine.ts";
import { compareStreamIds, isStreamId } from "../src/services/pubsub/stream_ids.ts";
import { stampMessage } from "../src/services/pubsub/redis/history.ts";
import { mergeRecovery } from "../src/services/pubsub/recovery.ts";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

test("encodeWire() lays out a text publication byte by byte", () => {
  const { head, body } = encodeWire("publish", "n1", 1, "hi");
  assert.equal(hex(joinWire(head, body)), "57 53 01 00 02 6e 31 00 00 00 00 00 00 00 01 00 68 69");
});

test("encodeWire() flags binary and broadcast, writes a large sequence number, and joinWire() inserts the history id", () => {
  const { head, body } = encodeWire("broadcast", "A", 2 ** 40 + 3, new Uint8Array([0, 255]));
  assert.equal(hex(joinWire(head, body, "5-0")), "57 53 01 03 01 41 00 00 01 00 00 00 00 03 03 35 2d 30 00 ff");
});

test("decodeWire() reads back kind, origin, sequence, id and message", () => {
  const { head, body } = encodeWire("publish", "node-7", 42, "héllo");
  assert.deepEqual(decodeWire(joinWire(head, body, "1718000000000-12")), {
    kind: "publish", origin: "node-7", seq: 42, id: "1718000000000-12", message: "héllo",
  } satisfies WireMessage);
  // From a stream the entry id is given, and the stored envelope has none.
  assert.equal((decodeWire(joinWire(head, body), "9-9") as WireMessage).id, "9-9");
  assert.equal((decodeWire(joinWire(head, body)) as WireMessage).id, undefined);
});

test("decodeWire() answers anything that is not a wsport envelope with an error value", () => {
  const cases: [Uint8Array, string][] = [
    [new TextEncoder().encode("hello from another app"), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"],
    [new Uint8Array([]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"],
    [new Uint8Array([0x57, 0x53, 2, 0, 1, 0x41]), "WS_ERR_PUBSUB_VERSION"],
    [new Uint8Array([0x57, 0x53, 1, 0, 1, 0x41, 0, 0]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"], // truncated
    [new Uint8Array([0x57, 0x53, 1, 0x80, 1, 0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"], // unknown flag
    [new Uint8Array([0x57, 0x53, 1, 0, 1, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"], // space in the origin
    [new Uint8Array([0x57, 0x53, 1, 0, 1, 0x41, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x31]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"], // id truncated
    [new Uint8Array([0x57, 0x53, 1, 0, 1, 0x41, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"], // seq >= 2^53
    [new Uint8Array([0x57, 0x53, 1, 0, 1, 0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3]), "WS_ERR_PUBSUB_FOREIGN_MESSAGE"], // bad UTF-8 text
  ];
  for (const [bytes, code] of cases) {
    const result = decodeWire(bytes);
    assert.ok(result instanceof PubSubError, hex(bytes));
    assert.equal(result.code, code, hex(bytes));
  }
  assert.equal(WIRE_VERSION, 1);
});

test("encodeWire() refuses an origin or sequence number the format cannot carry", () => {
  assert.throws(() => encodeWire("publish", "", 1, "x"), RangeError);
  assert.throws(() => encodeWire("publish", "a b", 1, "x"), RangeError);
  assert.throws(() => encodeWire("publish", "x".repeat(256), 1, "x"), RangeError);
  assert.throws(() => encodeWire("publish", "a", -1, "x"), RangeError);
  assert.throws(() => encodeWire("publish", "a", 2 ** 53, "x"), RangeError);
});

test("property: every envelope round-trips, and decodeWire never throws on any bytes", () => {
  const origin = fc.stringMatching(/^[\x21-\x7e]{1,40}$/);
  const message = fc.oneof(fc.string({ unit: "grapheme" }), fc.uint8Array({ maxLength: 300 }));
  const id = fc.option(fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}-${b}`), { nil: undefined });
  fc.assert(fc.property(fc.constantFrom("publish", "broadcast" as const), origin, fc.maxSafeNat(), message, id, (kind, o, seq, m, i) => {
    const { head, body } = encodeWire(kind, o, seq, m);
    assert.deepEqual(decodeWire(joinWire(head, body, i ?? "")), { kind, origin: o, seq, id: i, message: m });
  }));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    const result = decodeWire(bytes);
    assert.ok(result instanceof PubSubError || typeof result.origin === "string");
  }));
});

test("isStreamId() and compareStreamIds() order ids numerically, beyond 2^53", () => {
  for (const id of ["0-0", "1718000000000-0", "18446744073709551615-18446744073709551615"]) assert.ok(isStreamId(id), id);
  for (const id of ["", "1", "1-", "-1", "01-0", "1-01", "a-0", "1-0 ", "1-0\n", "1-2-3", "1".repeat(21) + "-0"]) assert.ok(!isStreamId(id), id);
  assert.ok(compareStreamIds("9-1", "10-0") < 0);
  assert.ok(compareStreamIds("10-2", "10-10") < 0);
  assert.equal(compareStreamIds("5-5", "5-5"), 0);
  assert.ok(compareStreamIds("9007199254740993-0", "9007199254740992-0") > 0);
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(), fc.nat(), (a, b, x, y) => {
    const expected = a !== b ? (a < b ? -1 : 1) : Math.sign(x - y);
    assert.equal(Math.sign(compareStreamIds(`${a}-${x}`, `${b}-${y}`)), expected);
  }));
});

test("stampMessage() puts the id and a line feed before text and bytes", () => {
  assert.equal(stampMessage("hello", { id: "7-1", topic: "t" }), "7-1\nhello");
  assert.deepEqual(stampMessage(new Uint8Array([1, 2]), { id: "7-1", topic: "t" }), new Uint8Array([0x37, 0x2d, 0x31, 0x0a, 1, 2]));
});

test("mergeRecovery() replays the history, then the live messages it did not contain, none at or before `since`", () => {
  const live = (id: string | undefined, message: string) => ({ kind: "publish" as const, target: "t", message, id });
  const entries = [{ id: "5-0", message: "e5" }, { id: "6-0", message: "e6" }];
  const held = { deliveries: [live("4-0", "old"), live("6-0", "dup"), live("7-0", "new"), live(undefined, "no-id")], overflow: false };
  assert.deepEqual(mergeRecovery("4-0", { type: "complete", entries }, held), {
    send: ["e5", "e6", "new", "no-id"],
    recovery: { type: "recovered", count: 2, lastId: "7-0" },
  });
  // A gap replays nothing from the history; the live messages still go.
  assert.deepEqual(mergeRecovery("1-0", { type: "gap" }, { deliveries: [live("7-0", "new")], overflow: false }), { send: ["new"], recovery: { type: "gap" } });
  // Too many live messages while reading: reported as a gap, not an unbounded buffer.
  assert.equal(mergeRecovery("4-0", { type: "complete", entries }, { deliveries: [], overflow: true }).recovery.type, "gap");
});
