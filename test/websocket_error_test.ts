import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  closeRequestOf,
  connectionError,
  toCloseInfo,
  validateCloseInfo,
  WebSocketStreamError,
} from "../src/services/websocket_error.ts";
import { checkSubprotocols, webSocketUrl } from "../src/services/whatwg_url.ts";

const enc = new TextEncoder();

function throwsDom(fn: () => unknown, name: string): void {
  assert.throws(fn, (e: unknown) => e instanceof DOMException && e.name === name, `expected a ${name} DOMException`);
}

test("WebSocketStreamError: a DOMException named WebSocketError, with closeCode null and reason '' by default", () => {
  const error = new WebSocketStreamError();
  assert.ok(error instanceof DOMException);
  assert.equal(error.name, "WebSocketError");
  assert.equal(error.message, "");
  assert.equal(error.code, 0);
  assert.equal(error.closeCode, null);
  assert.equal(error.reason, "");
  const full = new WebSocketStreamError("m", { closeCode: 3456, reason: "r" });
  assert.deepEqual([full.message, full.closeCode, full.reason], ["m", 3456, "r"]);
  // A reason alone means 1000, as close() sends it.
  assert.equal(new WebSocketStreamError("", { reason: "specified" }).closeCode, 1000);
});

test("WebSocketStreamError: the constructor checks its close info as close() does", () => {
  for (const closeCode of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535]) {
    throwsDom(() => new WebSocketStreamError("", { closeCode }), "InvalidAccessError");
  }
  throwsDom(() => new WebSocketStreamError("", { reason: "🔌".repeat(32) }), "SyntaxError"); // 128 bytes
  assert.throws(() => new WebSocketStreamError("", { closeCode: NaN }), TypeError);
  assert.throws(() => new WebSocketStreamError("", true as never), TypeError);
});

test("connectionError(): reports codes the constructor refuses (1006, the peer's), with the cause", () => {
  const cause = new Error("why");
  const error = connectionError("gone", 1006, "", cause);
  assert.ok(error instanceof WebSocketStreamError);
  assert.deepEqual([error.message, error.closeCode, error.reason, error.cause], ["gone", 1006, "", cause]);
  assert.equal(connectionError("x", 4567, "peer").reason, "peer");
  // The next public construction is checked again.
  throwsDom(() => new WebSocketStreamError("", { closeCode: 1006 }), "InvalidAccessError");
});

test("closeRequestOf(): only a WebSocketError carries a close code and reason", () => {
  assert.deepEqual(closeRequestOf(new WebSocketStreamError("", { closeCode: 3333 })), { closeCode: 3333, reason: "" });
  assert.deepEqual(closeRequestOf(new WebSocketStreamError("", { reason: "r" })), { closeCode: 1000, reason: "r" });
  const lookalike = Object.assign(new DOMException("x", "WebSocketError"), { closeCode: 3000, reason: "no" });
  for (const reason of [undefined, { closeCode: 3000, reason: "no" }, lookalike, new Error("x")]) {
    assert.deepEqual(closeRequestOf(reason), { closeCode: undefined, reason: "" });
  }
});

test("toCloseInfo(): WebIDL conversion ([EnforceRange] unsigned short, USVString)", () => {
  assert.deepEqual(toCloseInfo(undefined), {});
  assert.deepEqual(toCloseInfo(null), {});
  assert.deepEqual(toCloseInfo({ code: 3000 }), {}); // the obsolete member is not read
  assert.deepEqual(toCloseInfo({ closeCode: "3000", reason: 42 }), { closeCode: 3000, reason: "42" });
  assert.deepEqual(toCloseInfo({ closeCode: 1000.7 }), { closeCode: 1000 });
  assert.deepEqual(toCloseInfo({ closeCode: -0.5 }), { closeCode: 0 });
  assert.deepEqual(toCloseInfo({ reason: "a\uD800b" }), { reason: "a\uFFFDb" }); // a lone surrogate
  for (const bad of [true, 1, "x", Symbol("s")]) assert.throws(() => toCloseInfo(bad), TypeError);
  for (const closeCode of [NaN, Infinity, -1, 65536, 70000, 10n, Symbol("c")]) {
    assert.throws(() => toCloseInfo({ closeCode }), TypeError, String(closeCode));
  }
  assert.throws(() => toCloseInfo({ reason: Symbol("r") }), TypeError);
});

test("toCloseInfo() + validateCloseInfo(): every number is refused or gives a code that may be sent (property)", () => {
  const codes = fc.oneof(fc.double(), fc.integer({ min: -10, max: 70_000 }), fc.double({ min: 990, max: 5010 }));
  fc.assert(fc.property(codes, (closeCode) => {
    let request;
    try {
      request = validateCloseInfo(toCloseInfo({ closeCode }));
    } catch (error) {
      const integer = Math.trunc(closeCode);
      if (!Number.isFinite(closeCode) || integer < 0 || integer > 65535) return error instanceof TypeError;
      return error instanceof DOMException && error.name === "InvalidAccessError";
    }
    const code = request.closeCode!;
    return Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999)) && code === Math.trunc(closeCode);
  }));
});

test("validateCloseInfo(): a reason is checked in UTF-8 bytes, at most 123 (property)", () => {
  fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), (reason) => {
    const bytes = enc.encode(reason).length;
    try {
      const request = validateCloseInfo({ reason });
      return bytes <= 123 && request.reason === reason && request.closeCode === (reason === "" ? undefined : 1000);
    } catch (error) {
      return bytes > 123 && error instanceof DOMException && error.name === "SyntaxError";
    }
  }));
  assert.doesNotThrow(() => validateCloseInfo({ reason: "\uD800".repeat(41) })); // 123 bytes once made well-formed
});

test("webSocketUrl(): the WebSockets Standard's URL rules, SyntaxError otherwise", () => {
  assert.equal(webSocketUrl("http://h:80/p?q").href, "ws://h/p?q");
  assert.equal(webSocketUrl("https://h/p").href, "wss://h/p");
  assert.equal(webSocketUrl(new URL("ws://h:9/")).href, "ws://h:9/");
  for (const url of ["ws://h/#", "ws://h/#x", "ftp://h/", "file:///x", "mailto:a@b", "/relative", "ws://foo bar/", "invalid:"]) {
    throwsDom(() => webSocketUrl(url), "SyntaxError");
  }
  assert.throws(() => webSocketUrl(Symbol("u")), TypeError);
});

test("checkSubprotocols(): tokens, no repeats ignoring ASCII case (property)", () => {
  const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
  fc.assert(fc.property(fc.uniqueArray(token, { selector: (t) => t.toLowerCase() }), (list) => {
    assert.deepEqual(checkSubprotocols(list), list);
  }));
  fc.assert(fc.property(token, (t) => {
    throwsDom(() => checkSubprotocols([t, t.toUpperCase()]), "SyntaxError");
  }));
  for (const bad of ["", "a b", "a,b", "/echo", "\u0080x", "a\tb"]) throwsDom(() => checkSubprotocols([bad]), "SyntaxError");
});
