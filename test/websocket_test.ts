// The WHATWG WebSocket (src/services/websocket.ts), held to the WebSockets
// Standard and to what the web-platform-tests' websockets/ directory checks
// (written from what they check; none of their code). Against a raw server
// (test/whatwg_server.ts) on the runtime's own sockets.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runtimeNetwork, WebSocket } from "../mod.ts";
import { deferred, until, within } from "./helpers.ts";
import { WhatwgTestServer } from "./whatwg_server.ts";
import { skipIf } from "./skips.ts";

let server: WhatwgTestServer;
before(async () => {
  server = await WhatwgTestServer.start(await runtimeNetwork());
});
after(async () => {
  await server.close();
});

/** Every event of a socket, as `type(readyState,...)`, until close. */
function trace(ws: WebSocket): { events: string[]; closed: Promise<CloseEvent> } {
  const events: string[] = [];
  const closed = deferred<CloseEvent>();
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (event) => {
      let text = `${type}(${ws.readyState}`;
      if (event instanceof MessageEvent) text += `,${typeof event.data === "string" ? JSON.stringify(event.data) : describeBinary(event.data)}`;
      if (type === "close") {
        const close = event as CloseEvent;
        text += `,${close.code},${JSON.stringify(close.reason)},${close.wasClean}`;
      }
      events.push(text + ")");
      if (type === "close") closed.resolve(event as CloseEvent);
    });
  }
  return { events, closed: within(closed.promise, 10000, "the close event") };
}

/** The class string of the platform's CloseEvent (Deno's says "[object Event]"), or the one of ours where there is none. */
function closeEventTag(): string {
  const Platform = (globalThis as { CloseEvent?: typeof CloseEvent }).CloseEvent;
  return Platform === undefined ? "[object CloseEvent]" : Object.prototype.toString.call(new Platform("close"));
}

function describeBinary(data: unknown): string {
  if (data instanceof ArrayBuffer) return `ArrayBuffer[${new Uint8Array(data).join(",")}]`;
  if (data instanceof Blob) return `Blob(${data.size})`;
  return String(data);
}

function opened(ws: WebSocket): Promise<void> {
  return within(new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("close", () => reject(new Error("closed before open")), { once: true });
  }), 10000, "open");
}

function nextMessage(ws: WebSocket): Promise<MessageEvent> {
  return within(new Promise((resolve) => ws.addEventListener("message", (event) => resolve(event as MessageEvent), { once: true })), 10000, "a message");
}

function throwsDom(fn: () => unknown, name: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DOMException, `expected a DOMException, got ${String(error)}`);
    assert.equal(error.name, name);
    return true;
  });
}

/** The frames the server received on the connection, once the client is closed. */
async function wire(ws: WebSocket, seen: Promise<{ frames: string[]; closed: Promise<void> }>): Promise<string[]> {
  const connection = await within(seen, 10000, "the connection");
  await within(connection.closed, 10000, "the server's side to close");
  void ws;
  return connection.frames;
}

// --- A. the constructor, url, protocols ---

test("constructor: no argument is a TypeError; a URL that does not parse, a wrong scheme, a fragment or a relative URL a SyntaxError DOMException", () => {
  assert.throws(() => new (WebSocket as unknown as new () => WebSocket)(), TypeError);
  for (const url of ["ws://foo bar.com/", "wss://foo bar.com/", "ws://web platform.test/", "ftp://127.0.0.1/", "mailto:x@example.com", "about:blank", "file:///tmp/x", "invalid-scheme://x/", "ws://127.0.0.1/#", "ws://127.0.0.1/#test", "/echo", "#test", "", "undefined"]) {
    assert.throws(() => new WebSocket(url), (error: unknown) => {
      assert.ok(error instanceof DOMException, url);
      assert.equal(error.name, "SyntaxError", url);
      assert.equal(error.code, 12, url);
      return true;
    });
  }
});

test("constructor: protocols that repeat (also in another ASCII case) or are not tokens are a SyntaxError; conversions come first", () => {
  const url = server.url("/echo");
  for (const protocols of [["echo", "echo"], ["echo", "eCho"], "", "ec ho", "/echo", "\u0080echo", ["a", "b,c"], "a\tb", "{}", {}, ["ok", ""]]) {
    throwsDom(() => new WebSocket(url, protocols as string[]), "SyntaxError");
  }
  // The URL is checked before the protocols; every argument is converted before either.
  assert.throws(() => new WebSocket("ftp://x/", ["a", "a"]), (e: unknown) => e instanceof DOMException && /scheme/.test(e.message));
  assert.throws(() => new WebSocket("ftp://x/", Symbol() as unknown as string), TypeError);
  assert.throws(() => new WebSocket(Symbol() as unknown as string), TypeError);
});

test("constructor: every accepted form of protocols goes into one Sec-WebSocket-Protocol header", async () => {
  const cases: [unknown, string[]][] = [
    ["chat", ["chat"]],
    [["chat", "superchat"], ["chat", "superchat"]],
    [new Set(["a", "b"]), ["a", "b"]],
    [1, ["1"]],
    [null, ["null"]],
    [undefined, []],
    [[], []],
    [[1, true], ["1", "true"]],
  ];
  for (const [protocols, offered] of cases) {
    const seen = server.next("/echo");
    const ws = new WebSocket(server.url("/echo"), protocols as string[]);
    const { closed } = trace(ws);
    assert.deepEqual((await within(seen)).request.protocols, offered, String(protocols));
    await opened(ws);
    assert.equal(ws.protocol, offered[0] ?? "");
    ws.close();
    await closed;
  }
});

test("constructor: http and https become ws and wss; url is the serialised URL; a stray third argument is ignored", async () => {
  const port = server.port;
  const ws = new WebSocket(`http://127.0.0.1:${port}/echo?x=1`, [], "stray" as never);
  assert.equal(ws.url, `ws://127.0.0.1:${port}/echo?x=1`);
  const { closed } = trace(ws);
  await opened(ws);
  ws.close();
  await closed;
  assert.equal(new WebSocket(`https://127.0.0.1:1/x`).url, "wss://127.0.0.1:1/x");
  assert.equal(new WebSocket(`ws://127.0.0.1:${port}`).url, `ws://127.0.0.1:${port}/`);
  assert.equal(new WebSocket("ws://127.0.0.1:80/a").url, "ws://127.0.0.1/a");
  assert.equal(new WebSocket(new URL(`ws://127.0.0.1:${port}/u`)).url, `ws://127.0.0.1:${port}/u`);
  for (const socket of [new WebSocket(`ws://127.0.0.1:${port}/sleep`)]) socket.close();
});

test("constructor: the state before open; url, readyState and the other attributes are prototype accessors", () => {
  const ws = new WebSocket(server.url("/sleep"));
  assert.equal(ws.readyState, WebSocket.CONNECTING);
  assert.equal(ws.protocol, "");
  assert.equal(ws.extensions, "");
  assert.equal(ws.binaryType, "blob");
  assert.equal(ws.bufferedAmount, 0);
  for (const name of ["onopen", "onmessage", "onerror", "onclose"] as const) {
    assert.equal(ws[name], null);
    assert.ok(name in ws);
  }
  for (const name of ["url", "readyState", "bufferedAmount", "protocol", "extensions", "binaryType", "onopen", "onmessage", "onerror", "onclose"]) {
    const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
    assert.ok(descriptor?.get, `${name} is an accessor on the prototype`);
    assert.equal(descriptor.enumerable, true, `${name} is enumerable`);
    assert.equal(Object.getOwnPropertyDescriptor(ws, name), undefined, `${name} is not an own property`);
  }
  const url = ws.url;
  assert.equal(Reflect.set(ws, "url", "ws://elsewhere/"), false);
  assert.equal(Reflect.deleteProperty(ws, "url"), true); // nothing own to delete
  assert.equal(ws.url, url);
  assert.throws(() => {
    "use strict";
    (ws as { readyState: number }).readyState = 3;
  }, TypeError);
  assert.equal(ws.readyState, 0);
  ws.close();
});

test("constructor: the constants are read-only on the interface and its prototype, not on instances; the class string is WebSocket", () => {
  const ws = new WebSocket(server.url("/sleep"));
  for (const [name, value] of [["CONNECTING", 0], ["OPEN", 1], ["CLOSING", 2], ["CLOSED", 3]] as const) {
    for (const holder of [WebSocket, WebSocket.prototype]) {
      assert.deepEqual(Object.getOwnPropertyDescriptor(holder, name), { value, writable: false, enumerable: true, configurable: false });
      assert.equal(Reflect.deleteProperty(holder, name), false);
      assert.throws(() => Object.defineProperty(holder, name, { value: 9 }), TypeError);
    }
    assert.equal(ws[name], value);
    assert.equal(Object.hasOwn(ws, name), false);
  }
  assert.equal(Object.prototype.toString.call(ws), "[object WebSocket]");
  assert.equal(String(ws), "[object WebSocket]");
  assert.equal(WebSocket.length, 1);
  ws.close();
});

test("constructor: the server choosing no subprotocol when some were asked for, one not offered, or a 404 fails: error, close 1006, no open", async () => {
  for (const [path, protocols] of [["/no-protocol", ["chat"]], ["/bad-protocol", ["chat"]], ["/404", []]] as const) {
    const ws = new WebSocket(server.url(path), [...protocols]);
    const { events, closed } = trace(ws);
    await closed;
    assert.deepEqual(events, ["error(3)", 'close(3,1006,"",false)'], path);
  }
  // Without subprotocols asked for, a server that names none is fine.
  const ws = new WebSocket(server.url("/no-protocol"));
  const { events, closed } = trace(ws);
  await opened(ws);
  ws.close();
  await closed;
  assert.deepEqual(events, ["open(1)", 'close(3,1005,"",true)']);
});

// --- B. readyState and the order of events ---

test("events: open fires asynchronously, to listeners added after the constructor, with protocol and extensions set", async () => {
  const ws = new WebSocket(server.url("/echo"), "chat");
  const seen: string[] = [];
  assert.equal(ws.readyState, 0);
  ws.onopen = function (event) {
    seen.push(`open:${this === ws}:${event.target === ws}:${ws.readyState}:${ws.protocol}:${ws.extensions}`);
  };
  seen.push("after constructor");
  await opened(ws);
  assert.deepEqual(seen, ["after constructor", "open:true:true:1:chat:"]);
  const { closed } = trace(ws);
  ws.close();
  await closed;
  assert.equal(ws.protocol, "chat", "protocol stays set after close");
});

test("events: a connection that cannot be made: error (readyState CLOSED), then close 1006, no open", async () => {
  const refused = new WebSocket("ws://127.0.0.1:1/");
  const { events, closed } = trace(refused);
  const close = await closed;
  assert.deepEqual(events, ["error(3)", 'close(3,1006,"",false)']);
  assert.equal(Object.prototype.toString.call(close), closeEventTag());
});

test("events: close() while CONNECTING is CLOSING at once, then promptly error and close 1006 (no handshake timeout wait), no close frame", async () => {
  const seen = server.next("/sleep");
  const ws = new WebSocket(server.url("/sleep"), [], { handshakeTimeout: 120000 });
  const { events, closed } = trace(ws);
  await within(seen);
  ws.close();
  assert.equal(ws.readyState, WebSocket.CLOSING);
  assert.deepEqual(events, [], "nothing fires during close()");
  ws.send("abc"); // no throw: counted, not sent
  assert.equal(ws.bufferedAmount, 3);
  await closed;
  assert.deepEqual(events, ["error(3)", 'close(3,1006,"",false)']);
  assert.deepEqual((await within(seen)).frames, []);
});

test("events: close() while OPEN is CLOSING at once; a message arriving after it is not delivered; close is clean, no error", async () => {
  const ws = new WebSocket(server.url("/echo"));
  const { events, closed } = trace(ws);
  await opened(ws);
  ws.send("late echo");
  ws.close(1000);
  assert.equal(ws.readyState, WebSocket.CLOSING);
  await closed;
  assert.deepEqual(events, ["open(1)", 'close(3,1000,"",true)']);
});

test("events: the server closes: close with its code and reason (1005 for none), clean; the client answers with the same code", async () => {
  for (const [query, code, reason] of [["", 1005, ""], ["?code=4000&reason=robot", 4000, "robot"], ["?code=1000&reason=%E3%83%AD%E3%83%9C%E3%83%83%E3%83%88", 1000, "ロボット"]] as const) {
    const seen = server.next("/close");
    const ws = new WebSocket(server.url(`/close${query}`));
    const { events, closed } = trace(ws);
    await closed;
    assert.deepEqual(events, ["open(1)", `close(3,${code},${JSON.stringify(reason)},true)`]);
    assert.deepEqual((await within(seen)).frames, [`close:${code}:${reason}`]);
  }
});

test("events: messages before the server's close are all delivered with readyState OPEN", async () => {
  const ws = new WebSocket(server.url("/msg-then-close"));
  const { events, closed } = trace(ws);
  await closed;
  assert.deepEqual(events, ["open(1)", 'message(1,"a")', 'message(1,"b")', 'close(3,1000,"bye",true)']);
});

test("events: TCP dropped without a close frame: close 1006, not clean, no error", async () => {
  const ws = new WebSocket(server.url("/abrupt"));
  const { events, closed } = trace(ws);
  await closed;
  assert.deepEqual(events, ["open(1)", 'close(3,1006,"",false)']);
});

test("events: a protocol error from the server: the message before it, then error with readyState CLOSED, then close 1006; the client fails with the RFC's code", async () => {
  for (const [kind, code] of [["opcode", 1002], ["utf8", 1007], ["close-1005", 1002], ["close-utf8", 1007]] as const) {
    const seen = server.next("/protocol-error");
    const ws = new WebSocket(server.url(`/protocol-error?kind=${kind}`));
    const { events, closed } = trace(ws);
    await closed;
    assert.deepEqual(events, ["open(1)", 'message(1,"test")', "error(3)", 'close(3,1006,"",false)'], kind);
    assert.equal((await within(seen)).frames[0]?.split(":").slice(0, 2).join(":"), `close:${code}`, kind);
  }
});

test("events: the closing handshake left unanswered (TCP dropped) is not clean: 1006", async () => {
  const ws = new WebSocket(server.url("/passive-close-abort"));
  const { events, closed } = trace(ws);
  await opened(ws);
  ws.close(1000, "bye");
  await closed;
  assert.deepEqual(events, ["open(1)", 'close(3,1006,"",false)']);
});

test("events: close() again, or inside onclose, fires nothing more; send() after CLOSED neither throws nor fires", async () => {
  const ws = new WebSocket(server.url("/echo"));
  const { events, closed } = trace(ws);
  await opened(ws);
  ws.onclose = () => {
    ws.close();
    ws.close(1000, "again");
    assert.equal(ws.readyState, 3);
    assert.equal(ws.send("x"), undefined);
  };
  ws.close();
  ws.close(1000);
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(events, ["open(1)", 'close(3,1005,"",true)']);
  assert.equal(ws.readyState, 3);
});

test("events: open and error are plain Events, message a MessageEvent, close a CloseEvent; none bubbles or can be cancelled", async () => {
  const kinds: string[] = [];
  const check: EventListener = (event) => {
    assert.equal(event instanceof MessageEvent, event.type === "message");
    assert.equal(event.bubbles, false);
    assert.equal(event.cancelable, false);
    assert.equal(event.eventPhase, 2);
    kinds.push(`${event.type}:${Object.prototype.toString.call(event)}`);
  };
  const ws = new WebSocket(server.url("/protocol-error?kind=opcode"));
  for (const type of ["open", "message", "error", "close"]) ws.addEventListener(type, check);
  const { closed } = trace(ws);
  const close = await closed;
  // The platform's MessageEvent (Node 20's says "[object Event]").
  const messageTag = Object.prototype.toString.call(new MessageEvent("message"));
  assert.deepEqual(kinds, ["open:[object Event]", `message:${messageTag}`, "error:[object Event]", `close:${closeEventTag()}`]);
  const PlatformCloseEvent = (globalThis as { CloseEvent?: typeof CloseEvent }).CloseEvent;
  if (PlatformCloseEvent !== undefined) assert.ok(close instanceof PlatformCloseEvent);
  // Read-only attributes.
  assert.equal(Reflect.set(close, "wasClean", true), false);
  assert.equal(Reflect.set(close, "code", 1000), false);
  assert.equal(close.wasClean, false);
  assert.equal(close.code, 1006);
});

// --- C. send() ---

test("send: no argument is a TypeError in every state; a string while CONNECTING an InvalidStateError", async () => {
  const ws = new WebSocket(server.url("/echo"));
  const send = ws.send as (...args: unknown[]) => void;
  assert.throws(() => send.call(ws), TypeError);
  throwsDom(() => ws.send("x"), "InvalidStateError");
  assert.throws(() => ws.send(Symbol() as unknown as string), TypeError);
  const { closed } = trace(ws);
  await opened(ws);
  assert.throws(() => send.call(ws), TypeError);
  ws.close();
  await closed;
  assert.throws(() => send.call(ws), TypeError);
});

test("send: anything that is not binary goes as its string, as text; lone surrogates as U+FFFD", async () => {
  const seen = server.next("/echo");
  const ws = new WebSocket(server.url("/echo"));
  const { closed } = trace(ws);
  await opened(ws);
  const fn = function named() {};
  const values: unknown[] = [null, undefined, 1, {}, [], ws, new Error(), fn, "\uD807", "a\uDC00xb\uD800xc\uDC00\uD800x", "\uD801\uDC7E"];
  for (const value of values) ws.send(value as string);
  ws.close();
  await closed;
  assert.deepEqual((await wire(ws, seen)).slice(0, values.length), [
    "text:null", "text:undefined", "text:1", "text:[object Object]", "text:", "text:[object WebSocket]", "text:Error", `text:${String(fn)}`,
    "text:\uFFFD", "text:a\uFFFDxb\uFFFDxc\uFFFD\uFFFDx", "text:\uD801\uDC7E",
  ]);
});

test("send: an ArrayBuffer, every kind of view (only its bytes) and a Blob go as binary, copied at send time, in order", async () => {
  const seen = server.next("/echo");
  const ws = new WebSocket(server.url("/echo"));
  const { closed } = trace(ws);
  await opened(ws);
  const buffer = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).buffer;
  ws.send(new Blob([new Uint8Array([100, 101])]));
  ws.send(buffer);
  ws.send(new Int16Array(buffer, 2));
  ws.send(new Uint16Array(buffer, 2, 2));
  ws.send(new Uint8Array(buffer).subarray(6));
  ws.send(new DataView(buffer, 1, 3));
  ws.send(new Float64Array(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer));
  ws.send(new BigInt64Array(1));
  ws.send(new Uint8ClampedArray([255]));
  new Uint8Array(buffer).fill(0); // after the sends: what went out is unaffected
  ws.send(new ArrayBuffer(0));
  ws.send("");
  ws.close();
  await closed;
  assert.deepEqual(await wire(ws, seen), [
    "binary:100,101", "binary:0,1,2,3,4,5,6,7,8,9", "binary:2,3,4,5,6,7,8,9", "binary:2,3,4,5", "binary:6,7,8,9", "binary:1,2,3",
    "binary:1,2,3,4,5,6,7,8", "binary:0,0,0,0,0,0,0,0", "binary:255", "binary:", "text:", "close:1005:",
  ]);
});

test("send: shared memory is a TypeError, not a silent send", { skip: skipIf(typeof SharedArrayBuffer === "undefined" && "no SharedArrayBuffer here") }, async () => {
  const ws = new WebSocket(server.url("/echo"));
  const { closed } = trace(ws);
  await opened(ws);
  assert.throws(() => ws.send(new SharedArrayBuffer(4)), TypeError);
  assert.throws(() => ws.send(new Uint8Array(new SharedArrayBuffer(4))), TypeError);
  ws.close();
  await closed;
});

test("send: 65000 bytes of text and of binary (a 16-bit length) echo back whole", async () => {
  const ws = new WebSocket(server.url("/echo"));
  ws.binaryType = "arraybuffer";
  const { closed } = trace(ws);
  await opened(ws);
  ws.send("c".repeat(65000));
  assert.equal((await nextMessage(ws)).data, "c".repeat(65000));
  ws.send(new Uint8Array(65000).fill(7).buffer);
  const echoed = (await nextMessage(ws)).data as ArrayBuffer;
  assert.equal(echoed.byteLength, 65000);
  assert.ok(new Uint8Array(echoed).every((b) => b === 7));
  ws.close();
  await closed;
});

test("bufferedAmount: counts UTF-8 and binary payload bytes only, grows at once, does not go down within a task (microtasks included), is 0 once echoed", async () => {
  const ws = new WebSocket(server.url("/echo"));
  const { closed } = trace(ws);
  await opened(ws);
  const steps: [unknown, number][] = [["x", 1], ["\u00E5", 3], ["\u5336", 6], ["\uD801\uDC7E", 10], ["", 10], ["\uD800", 13], [new ArrayBuffer(10), 23], [new Uint8Array(5), 28], [new Blob(["¥¥¥"]), 34]];
  for (const [data, expected] of steps) {
    ws.send(data as string);
    assert.equal(ws.bufferedAmount, expected, `after sending ${String(data)}`);
  }
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(ws.bufferedAmount, 34, "not down in a microtask");
  const echoes: number[] = [];
  ws.onmessage = () => echoes.push(ws.bufferedAmount);
  await until(() => echoes.length === steps.length, "every echo", 10000);
  assert.equal(echoes.at(-1), 0, "0 when the last echo arrives");
  ws.send("c".repeat(65000));
  assert.equal(ws.bufferedAmount, 65000);
  await until(() => ws.bufferedAmount === 0, "bufferedAmount to reach 0", 10000);
  ws.close();
  await closed;
});

test("bufferedAmount: sends after close() count and never go down, in CLOSING and CLOSED", async () => {
  const ws = new WebSocket(server.url("/echo"));
  const { closed } = trace(ws);
  await opened(ws);
  ws.close();
  const base = ws.bufferedAmount;
  ws.send("after close");
  assert.equal(ws.bufferedAmount, base + 11);
  await closed;
  const atClose = ws.bufferedAmount;
  assert.ok(atClose >= 11);
  ws.send("12345");
  ws.send(new Uint8Array(3));
  assert.equal(ws.bufferedAmount, atClose + 8);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(ws.bufferedAmount, atClose + 8);
});

test("send: over the buffer limit the socket is full: error, then close 1006 (the connection is closed, not handshaken)", async () => {
  const ws = new WebSocket(server.url("/echo"), [], { maxBufferedAmount: 1000 });
  const { events, closed } = trace(ws);
  await opened(ws);
  ws.send(new Uint8Array(2000));
  await closed;
  assert.deepEqual(events, ["open(1)", "error(3)", 'close(3,1006,"",false)']);
});

// --- D. close(code, reason) ---

test("close: no arguments (or undefined ones) send a close frame without a body; the echo reports 1005", async () => {
  for (const args of [[], [undefined], [undefined, undefined]]) {
    const seen = server.next("/echo");
    const ws = new WebSocket(server.url("/echo"));
    const { events, closed } = trace(ws);
    await opened(ws);
    (ws.close as (...a: unknown[]) => void)(...args);
    await closed;
    assert.deepEqual(events, ["open(1)", 'close(3,1005,"",true)']);
    assert.deepEqual(await wire(ws, seen), ["close:1005:"]);
  }
});

test("close: what goes on the wire for each valid code and reason, after [Clamp] conversion", async () => {
  const cases: [unknown[], string][] = [
    [[1000], "close:1000:"],
    [[1000, undefined], "close:1000:"],
    [[3000, "Clean Close"], "close:3000:Clean Close"],
    [[4999, "r".repeat(123)], `close:4999:${"r".repeat(123)}`],
    [[undefined, "only a reason"], "close:1000:only a reason"],
    [["3000"], "close:3000:"],
    [[1000.4], "close:1000:"],
    [[999.5], "close:1000:"],
    [[3000.5], "close:3000:"],
    [[1000, null], "close:1000:null"],
    [[1000, "\uD800"], "close:1000:\uFFFD"],
    [[1000, "\uD800".repeat(41)], `close:1000:${"\uFFFD".repeat(41)}`],
  ];
  for (const [args, expected] of cases) {
    const seen = server.next("/echo");
    const ws = new WebSocket(server.url("/echo"));
    const { closed } = trace(ws);
    await opened(ws);
    ws.send("first");
    (ws.close as (...a: unknown[]) => void)(...args);
    const close = await closed;
    assert.deepEqual(await wire(ws, seen), ["text:first", expected], JSON.stringify(args));
    const [, code, ...reason] = expected.split(":");
    assert.equal(close.code, Number(code));
    assert.equal(close.reason, reason.join(":"));
  }
});

test("close: an invalid code is an InvalidAccessError, a reason over 123 bytes a SyntaxError, in every state, code first", async () => {
  const ws = new WebSocket(server.url("/echo"));
  const invalid: unknown[] = [0, 500, 999, 1001, 1005, 1006, 1015, 2999, 4999.5, 5000, 65535, 2 ** 16 + 1000, NaN, null, "string", true, "Close with only reason", -1];
  const check = () => {
    for (const code of invalid) throwsDom(() => ws.close(code as number), "InvalidAccessError");
    throwsDom(() => ws.close(1000, "x".repeat(124)), "SyntaxError");
    throwsDom(() => ws.close(undefined, "x".repeat(124)), "SyntaxError");
    throwsDom(() => ws.close(1000, "\uD800".repeat(42)), "SyntaxError");
    throwsDom(() => ws.close(0, "x".repeat(200)), "InvalidAccessError");
    assert.throws(() => ws.close(Symbol() as unknown as number), TypeError);
    assert.throws(() => ws.close(1n as unknown as number), TypeError);
  };
  check();
  assert.equal(ws.readyState, 0, "a throwing close() changes nothing");
  const { closed } = trace(ws);
  await opened(ws);
  check();
  assert.equal(ws.readyState, 1);
  ws.close();
  check();
  await closed;
  check();
});

test("close: a close crossing the server's reports the server's code and reason", async () => {
  const ws = new WebSocket(server.url("/cross"));
  const { closed } = trace(ws);
  await opened(ws);
  ws.send("cross");
  ws.close(4111, "local");
  const close = await closed;
  assert.equal(close.code, 4222);
  assert.equal(close.reason, "remote");
});

// --- E. events and attributes ---

test("message: text is a string; binary a Blob or an ArrayBuffer of its own (binaryType read at dispatch); origin, lastEventId, ports, source", async () => {
  const ws = new WebSocket(server.url("/binary-on-open"));
  ws.onopen = () => (ws.binaryType = "arraybuffer"); // read when the message is dispatched
  const first = await nextMessage(ws);
  assert.ok(first.data instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(first.data), new Uint8Array([7, 8, 9]));
  assert.equal(first.data.byteLength, 3);
  assert.equal(first.origin, `ws://127.0.0.1:${server.port}`);
  assert.equal(first.lastEventId, "");
  assert.deepEqual(first.ports, []);
  assert.equal(first.source, null);
  const { closed } = trace(ws);
  ws.close();
  await closed;

  const blobs = new WebSocket(server.url("/echo"));
  await opened(blobs);
  blobs.send(new Uint8Array([1, 2]));
  const blob = (await nextMessage(blobs)).data;
  assert.ok(blob instanceof Blob);
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), new Uint8Array([1, 2]));
  blobs.send("text");
  assert.equal((await nextMessage(blobs)).data, "text");
  const done = trace(blobs).closed;
  blobs.close();
  await done;
});

test("binaryType: blob by default; values other than blob and arraybuffer are ignored; a Symbol throws", () => {
  const ws = new WebSocket(server.url("/sleep"));
  assert.equal(ws.binaryType, "blob");
  for (const value of ["notBlobOrArrayBuffer", "nodebuffer", "", "Blob"]) {
    ws.binaryType = value as BinaryType;
    assert.equal(ws.binaryType, "blob");
  }
  ws.binaryType = "arraybuffer";
  ws.binaryType = "fragments" as BinaryType;
  assert.equal(ws.binaryType, "arraybuffer");
  assert.throws(() => (ws.binaryType = Symbol() as unknown as BinaryType), TypeError);
  ws.close();
});

test("event handlers: non-objects are null; a non-callable object is kept (WebIDL LegacyTreatNonObjectAsNull)", () => {
  const ws = new WebSocket(server.url("/sleep"));
  for (const name of ["onopen", "onmessage", "onerror", "onclose"] as const) {
    for (const value of [1, 2, ";", undefined, "function () {}", true]) {
      (ws as unknown as Record<string, unknown>)[name] = value;
      assert.equal(ws[name], null, `${name} = ${String(value)}`);
    }
    const object = { handleEvent() {} };
    (ws as unknown as Record<string, unknown>)[name] = object;
    assert.equal(ws[name], object);
    (ws as unknown as Record<string, unknown>)[name] = null;
    assert.equal(ws[name], null);
  }
  ws.dispatchEvent(new Event("open")); // a kept non-callable object does nothing
  ws.close();
});

test("event handlers: a handler keeps the place where it was first set; the same function as a listener too runs twice", () => {
  const ws = new WebSocket(server.url("/sleep"));
  const order: string[] = [];
  ws.addEventListener("open", () => order.push("A"));
  ws.onopen = () => order.push("f");
  ws.addEventListener("open", () => order.push("B"));
  ws.onopen = () => order.push("g");
  ws.dispatchEvent(new Event("open"));
  assert.deepEqual(order, ["A", "g", "B"]);
  ws.onopen = null;
  ws.onopen = () => order.push("h");
  order.length = 0;
  ws.dispatchEvent(new Event("open"));
  assert.deepEqual(order, ["A", "B", "h"], "set again after null: at the end");

  let calls = 0;
  const both = function (this: unknown) {
    assert.equal(this, ws);
    calls++;
  };
  ws.addEventListener("message", both);
  ws.onmessage = both;
  ws.dispatchEvent(new MessageEvent("message", { data: "synthetic" }));
  assert.equal(calls, 2);
  ws.close();
});

// The class has the shape of the platform's WebSocket: code typed for it accepts ours (checked by tsc).
function acceptsPlatformWebSocket(socket: globalThis.WebSocket): string {
  return socket.url;
}
test("types: the class is assignable to the platform's WebSocket type", () => {
  const ws = new WebSocket(server.url("/sleep"));
  assert.equal(acceptsPlatformWebSocket(ws), server.url("/sleep"));
  ws.close();
});
