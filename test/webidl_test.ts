// The WebIDL conversions of the WHATWG WebSocket (src/services/webidl.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseEventPolyfill, toClampedUnsignedShort, toDOMString, toProtocolList, toSendable, toUSVString } from "../src/services/webidl.ts";

test("webidl: [Clamp] unsigned short rounds half to even and clamps; NaN is 0; Symbols and BigInts throw", () => {
  const cases: [unknown, number][] = [
    [1000, 1000], [1000.4, 1000], [999.5, 1000], [1000.5, 1000], [1001.5, 1002], [3000.5, 3000], [4999.5, 5000],
    ["3000", 3000], [" 3000 ", 3000], [true, 1], [null, 0], [undefined, 0], [NaN, 0], ["x", 0], [-5, 0], [-0.5, 0],
    [2 ** 16 + 1000, 65535], [Infinity, 65535], [-Infinity, 0], [[4000], 4000], [{ valueOf: () => 3001 }, 3001],
  ];
  for (const [input, expected] of cases) assert.equal(toClampedUnsignedShort(input), expected, String(input));
  assert.throws(() => toClampedUnsignedShort(Symbol()), TypeError);
  assert.throws(() => toClampedUnsignedShort(1n), TypeError);
});

test("webidl: DOMString and USVString; lone surrogates become U+FFFD, pairs stay", () => {
  assert.equal(toDOMString(null), "null");
  assert.equal(toDOMString("\uD800"), "\uD800");
  assert.equal(toUSVString("a\uD800b\uDC00c\uD83D\uDE00\uDC00\uD800"), "a\uFFFDb\uFFFDc\uD83D\uDE00\uFFFD\uFFFD");
  assert.throws(() => toDOMString(Symbol("s")), TypeError);
});

test("webidl: protocols are a string or a sequence; other values are one string", () => {
  assert.deepEqual(toProtocolList(undefined), []);
  assert.deepEqual(toProtocolList("a"), ["a"]);
  assert.deepEqual(toProtocolList(["a", 1]), ["a", "1"]);
  assert.deepEqual(toProtocolList(new Set(["x", "y"])), ["x", "y"]);
  assert.deepEqual(toProtocolList((function* () { yield "g"; })()), ["g"]);
  assert.deepEqual(toProtocolList(null), ["null"]);
  assert.deepEqual(toProtocolList(1), ["1"]);
  assert.deepEqual(toProtocolList({}), ["[object Object]"]);
  assert.throws(() => toProtocolList({ [Symbol.iterator]: 1 }), TypeError);
  assert.throws(() => toProtocolList([Symbol()]), TypeError);
});

test("webidl: send data: buffers and views are copied bytes, Blobs stay Blobs, the rest is text; shared memory throws", () => {
  const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
  const fromBuffer = toSendable(buffer);
  assert.equal(fromBuffer.kind, "bytes");
  new Uint8Array(buffer)[0] = 9;
  assert.deepEqual(fromBuffer.kind === "bytes" && Array.from(fromBuffer.bytes), [1, 2, 3, 4], "copied at conversion");
  const view = toSendable(new DataView(buffer, 1, 2));
  assert.deepEqual(view.kind === "bytes" && Array.from(view.bytes), [2, 3]);
  const blob = new Blob(["x"]);
  assert.deepEqual(toSendable(blob), { kind: "blob", blob });
  assert.deepEqual(toSendable(null), { kind: "text", text: "null" });
  assert.deepEqual(toSendable("\uD800"), { kind: "text", text: "\uFFFD" });
  assert.deepEqual(toSendable([1, 2]), { kind: "text", text: "1,2" });
  if (typeof SharedArrayBuffer !== "undefined") {
    assert.throws(() => toSendable(new SharedArrayBuffer(1)), TypeError);
    assert.throws(() => toSendable(new Int8Array(new SharedArrayBuffer(1))), TypeError);
  }
});

test("webidl: the CloseEvent for runtimes without one: defaults, read-only attributes, class string", () => {
  const empty = new CloseEventPolyfill("close");
  assert.deepEqual([empty.code, empty.reason, empty.wasClean, empty.type], [0, "", false, "close"]);
  const event = new CloseEventPolyfill("close", { code: 70000, reason: "\uD800", wasClean: 1 as unknown as boolean });
  assert.deepEqual([event.code, event.reason, event.wasClean], [70000 % 65536, "\uFFFD", true]);
  assert.equal(Reflect.set(event, "code", 1), false);
  assert.equal(event.code, 4464);
  assert.equal(Object.prototype.toString.call(event), "[object CloseEvent]");
  assert.ok(event instanceof Event);
});
