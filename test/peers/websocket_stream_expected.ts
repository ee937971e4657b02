// What test/peers/websocket_stream_script.ts must report: first what the
// web platform asks (the WPT websockets/stream/tentative tests, the IDL of
// whatwg/websockets PR #48 and the WebSockets Standard's URL and protocol
// rules), which wsport does on Node, Deno and Bun alike; then where Deno's
// native WebSocketStream (2.9.6, --unstable-net) does otherwise, and why
// the expected outcome is the right one.

const BOTH_REJECT_1006 = 'opened reject WebSocketError(closeCode=1006, reason=""); closed reject WebSocketError(closeCode=1006, reason="")';
const closedWith = (closeCode: number, reason = "") => `closed resolve {"closeCode":${closeCode},"reason":"${reason}"}`;
const closeCall = (closeCode: number, reason = "") => `ok; ${closedWith(closeCode, reason)}`;
const closedThrough = (closeCode: number, reason = "") => `${closedWith(closeCode, reason)}; its promise resolve undefined`;
const peerClosed = (reads: string, closeCode: number, reason = "") =>
  `reads ${reads}; ${closedWith(closeCode, reason)}; writer.ready reject DOMException InvalidStateError`;
const FAILED_1006 = 'WebSocketError(closeCode=1006, reason="")';

export const EXPECTED: Record<string, string> = {
  // constructor.any.js; the URL and protocol rules are WebSocket's ("get a URL record").
  "constructor without arguments": "throws TypeError",
  "constructor invalid URL": "throws DOMException SyntaxError",
  "constructor options not a dictionary": "throws TypeError",
  "constructor protocols as a string": "throws TypeError",
  "constructor signal not an AbortSignal": "throws TypeError",
  "constructor empty fragment": "throws DOMException SyntaxError",
  "constructor duplicate protocols differing in case": "throws DOMException SyntaxError",
  "constructor protocol that is not a token": "throws DOMException SyntaxError",
  "constructor relative URL": "throws DOMException SyntaxError", // no base URL on a server runtime
  "http: URL": 'url ws://... opened resolve "open"',
  "url, getters and tag": "true function function [object WebSocketStream]",
  "opened with protocols": 'keys extensions,protocol,readable,writable protocol alpha extensions "" first alpha',
  "opened: 404": BOTH_REJECT_1006,
  "opened: server omits the requested protocol": BOTH_REJECT_1006,
  // write.any.js, and Chromium's sink: BufferSource as binary, anything else stringified; binary reads as Uint8Array.
  "write string": 'resolve undefined; read String "hello"',
  "write Uint8Array": "resolve undefined; read Uint8Array [1,2]",
  "write ArrayBuffer": "resolve undefined; read Uint8Array [3,4,5]",
  "write DataView of bytes 1-3": "resolve undefined; read Uint8Array [1,2,3]",
  "write number": 'resolve undefined; read String "42"',
  "write object without a string form": "reject TypeError",
  "write resizable ArrayBuffer": "reject TypeError",
  "write view on a SharedArrayBuffer": "reject TypeError",
  // close.any.js
  "close()": closeCall(1005),
  "close({})": closeCall(1005),
  "close({ reason: '' })": closeCall(1005),
  "close({ reason: 'non-empty' })": closeCall(1000, "non-empty"),
  "close({ closeCode: 3456, reason: 'pizza' })": closeCall(3456, "pizza"),
  "close({ code: 3456 }), an obsolete member": closeCall(1005),
  "close({ closeCode: 1000.7 })": closeCall(1000),
  "close() argument checks": [
    "true: throws TypeError",
    "124-byte reason: throws DOMException SyntaxError",
    "closeCode 999: throws DOMException InvalidAccessError",
    "closeCode 1001: throws DOMException InvalidAccessError",
    "closeCode 2999: throws DOMException InvalidAccessError",
    "closeCode 5000: throws DOMException InvalidAccessError",
    "closeCode NaN: throws TypeError",
    "closeCode 70000: throws TypeError",
    "again after closed: ok",
  ].join("; "),
  "close() during a slow handshake": BOTH_REJECT_1006,
  "close() during a handshake never answered": BOTH_REJECT_1006,
  "writer.close()": closedThrough(1005),
  "writable.abort()": closedThrough(1005),
  "writable.abort({ closeCode, reason })": closedThrough(1005),
  "writable.abort(WebSocketError 3333)": closedThrough(3333),
  "writable.abort(WebSocketError 3456 'set')": closedThrough(3456, "set"),
  "writable.abort(WebSocketError reason only)": closedThrough(1000, "specified"),
  "writable.abort(DOMException with closeCode)": closedThrough(1005),
  "readable.cancel()": closedThrough(1005),
  "readable.cancel(WebSocketError 3456 'set')": closedThrough(3456, "set"),
  "readable.cancel(DOMException with closeCode)": closedThrough(1005),
  "writer.close() waits for the closing handshake": "resolve undefined; closed settled before it: true",
  // remote-close.any.js
  "peer /remote-close?code=1000": peerClosed("done", 1000),
  "peer /remote-close": peerClosed("done", 1005),
  "peer /remote-close?code=4000&reason=robot": peerClosed("done", 4000, "robot"),
  "peer /remote-close?code=4000&reason=%E3%83%AD%E3%83%9C%E3%83%83%E3%83%88": peerClosed("done", 4000, "ロボット"),
  "peer /msg-then-close": peerClosed('"a","b",done', 1000, "bye"),
  "peer /protocol-error": `reads "test",reject ${FAILED_1006}; closed reject ${FAILED_1006}; writer.ready reject ${FAILED_1006} (the same error object)`,
  "peer /remote-close?abrupt=1": `reads reject ${FAILED_1006}; closed reject ${FAILED_1006}; writer.ready reject ${FAILED_1006} (the same error object)`,
  "the peer's close crosses ours": closeCall(4222, "remote"),
  "closing handshake cut short": `closed reject ${FAILED_1006}`,
  "peer closes while a write is unsent": 'closed reject WebSocketError(closeCode=4567, reason=""); write reject DOMException InvalidStateError',
  // abort.any.js; the reason given to abort() is what rejects (as fetch()).
  "signal aborted before construction": "opened reject DOMException AbortError; closed reject DOMException AbortError",
  "signal aborted before construction, custom reason": "opened reject Error: custom; closed reject Error: custom",
  "abort during the handshake": "opened reject DOMException AbortError; closed reject DOMException AbortError",
  "abort after opening": "echo still here",
  // backpressure.any.js, as an outcome rather than a duration.
  "receive backpressure": "the peer was held back; messages 64",
  "send backpressure": "before the peer reads: pending; after: resolve undefined; the peer got 33554432 bytes",
};

const writerReadyResolves = (reads: string, closeCode: number, reason = "") =>
  `reads ${reads}; ${closedWith(closeCode, reason)}; writer.ready resolve undefined`;
const FAILED_NULL = 'WebSocketError(closeCode=null, reason="")';

/**
 * Where Deno 2.9.6's native WebSocketStream reports otherwise, with what it
 * reports and why the expected outcome is kept.
 */
export const DENO_DEVIATIONS: Record<string, { deno: string; why: string }> = {
  "constructor protocol that is not a token": {
    deno: "ok",
    why: "Deno skips the token check of subprotocols that the WebSocket constructor makes (and PR #48 reuses)",
  },
  "constructor relative URL": {
    deno: "throws TypeError",
    why: "a URL that does not parse is a SyntaxError DOMException in the Standard's constructor steps",
  },
  "http: URL": {
    deno: "the script threw DOMException SyntaxError",
    why: "the WebSockets Standard maps http: to ws: and https: to wss: since 2023; Deno still refuses them",
  },
  "url, getters and tag": {
    deno: "true function function [object Object]",
    why: "WebIDL gives every interface its class string: [object WebSocketStream]",
  },
  "opened: 404": {
    deno: `opened reject ${FAILED_NULL}; closed reject ${FAILED_NULL}`,
    why: "a choice, not a rule: wsport reports 1006 for every connection that ends abnormally, as the WebSocket close event does; Deno reports null before the connection opened",
  },
  "opened: server omits the requested protocol": {
    deno: "opened resolve object; closed pending",
    why: "the Standard fails the connection when subprotocols were requested and the response names none",
  },
  "write ArrayBuffer": {
    deno: "reject TypeError",
    why: "the chunk may be any BufferSource (Chromium sends ArrayBuffers and every view); Deno takes only strings and Uint8Arrays",
  },
  "write DataView of bytes 1-3": { deno: "reject TypeError", why: "as for ArrayBuffer" },
  "write number": {
    deno: "reject TypeError",
    why: "Chromium sends a chunk that is not a BufferSource as its string form, as WebSocket.send() does",
  },
  "write view on a SharedArrayBuffer": {
    deno: "resolve undefined; read Uint8Array [0,0,0,0]",
    why: "write.any.js: writing a view on a shared buffer must reject with TypeError",
  },
  "close() during a slow handshake": {
    deno: `opened reject ${FAILED_NULL}; closed reject ${FAILED_NULL}`,
    why: "the same choice of 1006 as for a 404",
  },
  "close() during a handshake never answered": {
    deno: "opened pending; closed pending",
    why: "close.any.js: close() during the handshake rejects both promises; Deno waits for a response that never comes",
  },
  "peer /remote-close?code=1000": {
    deno: writerReadyResolves("done", 1000),
    why: "remote-close.any.js: after a clean close the writable is errored with an InvalidStateError",
  },
  "peer /remote-close": { deno: writerReadyResolves("done", 1005), why: "as for /remote-close?code=1000" },
  "peer /remote-close?code=4000&reason=robot": { deno: writerReadyResolves("done", 4000, "robot"), why: "as for /remote-close?code=1000" },
  "peer /remote-close?code=4000&reason=%E3%83%AD%E3%83%9C%E3%83%83%E3%83%88": {
    deno: writerReadyResolves("done", 4000, "ロボット"),
    why: "as for /remote-close?code=1000",
  },
  "peer /msg-then-close": { deno: writerReadyResolves('"a","b",done', 1000, "bye"), why: "as for /remote-close?code=1000" },
  "peer /protocol-error": {
    deno: `reads "test",reject ${FAILED_NULL}; closed reject ${FAILED_NULL}; writer.ready resolve undefined`,
    why: "remote-close.any.js (abrupt close): closeCode 1006, and the readable and writable errored with the same object",
  },
  "peer /remote-close?abrupt=1": {
    deno: `reads reject ${FAILED_NULL}; closed reject ${FAILED_NULL}; writer.ready resolve undefined`,
    why: "remote-close.any.js: an abrupt close gives closeCode 1006 and errors both streams with the error that rejects closed",
  },
  "closing handshake cut short": {
    deno: `${closedWith(1005)}`,
    why: "close.any.js: an incomplete closing handshake is an unclean close, closeCode 1006",
  },
  "peer closes while a write is unsent": {
    deno: `closed reject ${FAILED_NULL}; write reject TypeError`,
    why: "remote-close.any.js: the peer's code (4567) in the error; write.any.js: the unsent write rejects with InvalidStateError",
  },
};

/**
 * Scenarios that close right after opening: Deno 2.9.6 sometimes (about one
 * run of the script in three, on any one of them) rejects `closed` with a
 * WebSocketError whose closeCode is null, and the abort or cancel promise
 * with it, instead of reporting the clean close. wsport never does.
 */
export const DENO_RACY = new Set(Object.keys(EXPECTED).filter((name) => /^(close\(|writer\.close\(\)$|writable\.abort|readable\.cancel)/.test(name)));

/** Whether an outcome is that race's. */
export function isDenoCloseRace(outcome: string): boolean {
  return outcome.startsWith(`closed reject ${FAILED_NULL}`) || outcome.startsWith(`ok; closed reject ${FAILED_NULL}`);
}
