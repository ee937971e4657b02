import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { WebSocketProtocol, SEND_EOF } from "../src/core/protocol.ts";
import { ClientProtocol } from "../src/core/client_protocol.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { concat } from "../src/core/bytes.ts";
import { ExtensionNegotiationError, MessageTooBigError, type ProtocolError } from "../src/core/errors.ts";
import type { WsEvent } from "../src/core/events.ts";
import { RSV1 } from "../src/core/extensions/extension.ts";
import { compressionWindow, type DeflateCodec } from "../src/core/extensions/deflate_codec.ts";
import { pakoCodec } from "../src/core/extensions/pako_codec.ts";
import { perMessageDeflate, type PerMessageDeflateOptions } from "../src/core/extensions/permessage_deflate.ts";
import { parseExtensions } from "../src/core/http/header_values.ts";

const enc = new TextEncoder();
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
const bytes = (text: string) => new Uint8Array(text.split(" ").map((h) => parseInt(h, 16)));

function output(conn: WebSocketProtocol): Uint8Array {
  return concat(conn.dataToSend().filter((x): x is Uint8Array => x !== SEND_EOF));
}

// The core's synchronous path: pako, whatever default another test's server installed for this runtime.
const sync = (options: PerMessageDeflateOptions): PerMessageDeflateOptions => ({ codec: pakoCodec, ...options });

/** A client and a server that negotiated permessage-deflate with these options. */
function pair(
  serverOptions: PerMessageDeflateOptions = {},
  clientOptions: PerMessageDeflateOptions = {},
  limits: { maxMessageSize?: number } = {},
): { client: ClientProtocol; server: ServerProtocol; header: string } {
  const client = new ClientProtocol({ host: "h", path: "/", extensions: [perMessageDeflate(sync(clientOptions))], ...limits });
  const server = new ServerProtocol(limits);
  server.receiveData(output(client));
  server.accept({ extensions: [perMessageDeflate(sync(serverOptions))] });
  const events = client.receiveData(output(server));
  assert.equal(events[0]?.type, "response", JSON.stringify(events[0]));
  return { client, server, header: server.extensionsHeader };
}

/** A connection on the client side that negotiated permessage-deflate with the server's answer `response`. */
function clientWith(response: string, options: PerMessageDeflateOptions = {}): WebSocketProtocol {
  const factory = perMessageDeflate(sync(options));
  const extension = factory.accept(parseExtensions(`permessage-deflate${response ? "; " + response : ""}`)![0]!.params);
  return new WebSocketProtocol("client", { extensions: [extension] });
}

function serverAnswer(offer: string, options: PerMessageDeflateOptions = {}): string | undefined {
  const [first] = parseExtensions(offer)!;
  const result = perMessageDeflate(options).negotiate(first!.params);
  if (result === undefined) return undefined;
  return result[0].map(([k, v]) => (v === true ? k : `${k}=${v}`)).join("; ");
}

// --- RFC 7692 section 7.2.3 examples ---

test("permessage-deflate: RFC 7692 7.2.3.1 'Hello' compressed, whole and fragmented", () => {
  assert.deepEqual(clientWith("").receiveData(bytes("c1 07 f2 48 cd c9 c9 07 00")), [{ type: "text", data: "Hello" }]);
  assert.deepEqual(clientWith("").receiveData(bytes("41 03 f2 48 cd 80 04 c9 c9 07 00")), [{ type: "text", data: "Hello" }]);
});

test("permessage-deflate: RFC 7692 7.2.3.2 context takeover: the second 'Hello' refers to the first", () => {
  const conn = clientWith("");
  assert.deepEqual(conn.receiveData(bytes("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00")), [
    { type: "text", data: "Hello" },
    { type: "text", data: "Hello" },
  ]);
});

test("permessage-deflate: RFC 7692 7.2.3.3–7.2.3.5: stored block, BFINAL block, two blocks", () => {
  assert.deepEqual(clientWith("").receiveData(bytes("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00")), [{ type: "text", data: "Hello" }]);
  assert.deepEqual(clientWith("").receiveData(bytes("c1 08 f3 48 cd c9 c9 07 00 00")), [{ type: "text", data: "Hello" }]);
  assert.deepEqual(clientWith("").receiveData(bytes("c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00")), [{ type: "text", data: "Hello" }]);
});

test("permessage-deflate: sending 'Hello' twice gives RFC 7692's bytes, the tail cut and the context taken over", () => {
  const { server } = pair({ threshold: 0 });
  server.sendText("Hello");
  assert.equal(hex(output(server)), "c1 07 f2 48 cd c9 c9 07 00");
  server.sendText("Hello");
  assert.equal(hex(output(server)), "c1 05 f2 00 11 00 00");
});

test("permessage-deflate: server_no_context_takeover resets the compressor after every message", () => {
  const { server, header } = pair({ threshold: 0, serverNoContextTakeover: true });
  assert.equal(header, "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12");
  server.sendText("Hello");
  server.sendText("Hello");
  assert.equal(hex(output(server)), "c1 07 f2 48 cd c9 c9 07 00 c1 07 f2 48 cd c9 c9 07 00");
});

test("permessage-deflate: messages under the threshold go out uncompressed (RSV1 clear)", () => {
  const { server, client } = pair({ threshold: 16 });
  server.sendText("short");
  const small = output(server);
  assert.equal(small[0], 0x81);
  server.sendText("a longer message, a longer message");
  const large = output(server);
  assert.equal(large[0], 0xc1);
  assert.deepEqual(client.receiveData(concat([small, large])), [
    { type: "text", data: "short" },
    { type: "text", data: "a longer message, a longer message" },
  ]);
});

test("permessage-deflate: a fragmented message has RSV1 on its first frame only and reassembles", () => {
  const { server, client } = pair();
  server.sendFragment("part one, ", false);
  server.sendFragment(enc.encode("part two, "), false);
  server.sendFragment("part three", true);
  const wire = output(server);
  assert.equal(wire[0], 0x41, "first frame: text, RSV1, not fin");
  const events = client.receiveData(wire);
  assert.deepEqual(events, [{ type: "text", data: "part one, part two, part three" }]);
});

test("permessage-deflate: round trips text and binary of many sizes both ways, with context takeover", () => {
  const { server, client } = pair({ threshold: 0 }, { threshold: 0 });
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (const size of [0, 1, 100, 4096, 70000, 300000]) {
    const text = Array.from({ length: size }, () => "abcdefgh ,{}\"é€"[Math.floor(random() * 15)]).join("");
    const binary = Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
    client.sendText(text);
    client.sendBinary(binary);
    const events = server.receiveData(output(client));
    assert.deepEqual(events, [{ type: "text", data: text }, { type: "binary", data: binary }], `size ${size}`);
    server.sendText(text);
    const back = client.receiveData(output(server));
    assert.deepEqual(back, [{ type: "text", data: text }]);
  }
});

test("permessage-deflate: RSV1 on a continuation frame fails with 1002", () => {
  const conn = clientWith("");
  const events = conn.receiveData(concat([
    ...encodeFrame(Opcode.Text, bytes("f2 48"), { fin: false, rsv: RSV1 }),
    ...encodeFrame(Opcode.Continuation, bytes("cd c9 c9 07 00"), { rsv: RSV1 }),
  ]));
  assert.equal(events[0]?.type, "error");
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1002);
});

test("permessage-deflate: a compressed (RSV1) control frame fails with 1002", () => {
  const events = clientWith("").receiveData(concat(encodeFrame(Opcode.Ping, bytes("f2 48"), { rsv: RSV1 })));
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1002);
});

test("permessage-deflate: invalid compressed data fails with 1007", () => {
  const events = clientWith("").receiveData(concat(encodeFrame(Opcode.Binary, bytes("ff ff ff ff"), { rsv: RSV1 })));
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1007);
});

test("permessage-deflate: a deflate bomb (64 MiB of zeros in ~64 KiB) stops at the limit with 1009, one chunk past it at most", () => {
  const bomb = deflateRawSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
  assert.ok(bomb.length < 128 * 1024, `bomb is ${bomb.length} bytes`);
  const payload = new Uint8Array(bomb.buffer, bomb.byteOffset, bomb.length - 4); // the sync-flush tail is not there with FINISH; cut anyway
  const conn = new WebSocketProtocol("client", {
    maxMessageSize: 1024 * 1024,
    extensions: [perMessageDeflate(sync({})).accept([])],
  });
  const events = conn.receiveData(concat(encodeFrame(Opcode.Binary, payload, { rsv: RSV1 })));
  assert.equal(events[0]?.type, "error");
  const error = (events[0] as { error: ProtocolError }).error;
  assert.equal(error.closeCode, 1009);
  assert.ok(error instanceof MessageTooBigError);
  assert.ok(error.size <= 1024 * 1024 + 64 * 1024, `inflated ${error.size} bytes before stopping`);
});

test("permessage-deflate: the inflate cap is what is left of the message limit across fragments", () => {
  const { server, client } = pair({ threshold: 0 }, { threshold: 0 }, { maxMessageSize: 100_000 });
  client.sendFragment(new Uint8Array(60_000), false);
  client.sendFragment(new Uint8Array(60_000), true);
  const events = server.receiveData(output(client));
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1009);
});

// --- window bits ---

test("permessage-deflate: window 8 compresses with zlib's window 9, which never reaches back past 250 bytes", () => {
  assert.equal(compressionWindow(8), 9);
  assert.equal(compressionWindow(12), 12);
  // A random block repeated: matches at its length's distance compress it to about one block.
  const repeated = (length: number) => {
    let seed = 1;
    const block = Uint8Array.from({ length }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
    return concat(Array.from({ length: 20 }, () => block));
  };
  const size = (data: Uint8Array) => (pakoCodec.compressor({ level: 6, memLevel: 8, windowBits: 8 }).compress(data) as Uint8Array).length;
  assert.ok(size(repeated(250)) < 1000, "distance 250 is used");
  assert.ok(size(repeated(251)) > 4000, "distance 251 is not: every match fits a 256-byte window");
  const data = repeated(250);
  const compressed = pakoCodec.compressor({ level: 6, memLevel: 8, windowBits: 8 }).compress(data) as Uint8Array;
  assert.deepEqual(new Uint8Array(inflateRawSync(compressed, { finishFlush: 2 })), data);
});

test("permessage-deflate: every window from 8 to 15 round-trips in both directions", () => {
  for (let bits = 8; bits <= 15; bits++) {
    const { server, client, header } = pair(
      { threshold: 0, serverMaxWindowBits: bits, clientMaxWindowBits: bits },
      { threshold: 0 },
    );
    assert.equal(header, `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`.replace(/; (server|client)_max_window_bits=15/g, ""));
    const text = "window test ".repeat(500) + bits;
    client.sendText(text);
    assert.deepEqual(server.receiveData(output(client)), [{ type: "text", data: text }]);
    server.sendText(text);
    assert.deepEqual(client.receiveData(output(server)), [{ type: "text", data: text }]);
  }
});

// --- negotiation, server side (RFC 7692 7.1) ---

test("permessage-deflate server: by default announces and asks for 12-bit windows (4 KiB instead of 32)", () => {
  assert.equal(serverAnswer("permessage-deflate"), "server_max_window_bits=12");
  assert.equal(serverAnswer("permessage-deflate; client_max_window_bits"), "server_max_window_bits=12; client_max_window_bits=12");
  assert.equal(serverAnswer("permessage-deflate; client_max_window_bits=10; server_max_window_bits=9"), "server_max_window_bits=9; client_max_window_bits=10");
});

test("permessage-deflate server: answers each parameter as section 7.1 requires", () => {
  const zlib = { serverMaxWindowBits: 15, clientMaxWindowBits: true } as const; // zlib's defaults: no window asked for
  const cases: [string, PerMessageDeflateOptions, string | undefined][] = [
    ["permessage-deflate", zlib, ""],
    ["permessage-deflate; client_max_window_bits", zlib, ""],
    ["permessage-deflate; client_max_window_bits", { ...zlib, clientMaxWindowBits: 10 }, "client_max_window_bits=10"],
    ["permessage-deflate; client_max_window_bits=9", { ...zlib, clientMaxWindowBits: 10 }, "client_max_window_bits=9"],
    ["permessage-deflate; client_max_window_bits=12", zlib, "client_max_window_bits=12"],
    ["permessage-deflate", { ...zlib, clientMaxWindowBits: 10 }, ""], // not offered: cannot be asked for
    ["permessage-deflate; server_max_window_bits=10", zlib, "server_max_window_bits=10"],
    ["permessage-deflate; server_max_window_bits=12", { ...zlib, serverMaxWindowBits: 9 }, "server_max_window_bits=9"],
    ["permessage-deflate", { ...zlib, serverMaxWindowBits: 12 }, "server_max_window_bits=12"],
    ["permessage-deflate; server_no_context_takeover", zlib, "server_no_context_takeover"],
    ["permessage-deflate", { ...zlib, serverNoContextTakeover: true }, "server_no_context_takeover"],
    ["permessage-deflate; client_no_context_takeover", zlib, "client_no_context_takeover"],
    ["permessage-deflate", { ...zlib, clientNoContextTakeover: true }, "client_no_context_takeover"],
    [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8",
      zlib,
      "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8",
    ],
  ];
  for (const [offer, options, expected] of cases) assert.equal(serverAnswer(offer, options), expected, `${offer} with ${JSON.stringify(options)}`);
});

test("permessage-deflate server: declines invalid offers (bad values, no value, duplicates, unknown names)", () => {
  for (const offer of [
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=08",
    "permessage-deflate; client_max_window_bits=0",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
    "permessage-deflate; x_unknown",
  ]) {
    assert.equal(serverAnswer(offer), undefined, offer);
  }
});

test("permessage-deflate server: an invalid first offer falls back to the next one", () => {
  const client = new ClientProtocol({ host: "h", path: "/", extensions: "permessage-deflate; server_max_window_bits=99, permessage-deflate; client_max_window_bits" });
  const server = new ServerProtocol({});
  server.receiveData(output(client));
  server.accept({ extensions: [perMessageDeflate({ clientMaxWindowBits: 11 })] });
  assert.equal(server.extensionsHeader, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=11");
});

// --- negotiation, client side ---

test("permessage-deflate client: offers what it is told, in order", () => {
  assert.deepEqual(perMessageDeflate().offers(), [[["client_max_window_bits", true]]]);
  const factory = perMessageDeflate({
    offers: [
      { serverMaxWindowBits: 10, clientMaxWindowBits: 10, serverNoContextTakeover: true, clientNoContextTakeover: true },
      {},
    ],
  });
  assert.deepEqual(factory.offers(), [
    [["server_no_context_takeover", true], ["client_no_context_takeover", true], ["server_max_window_bits", "10"], ["client_max_window_bits", "10"]],
    [["client_max_window_bits", true]],
  ]);
});

test("permessage-deflate client: accepts valid answers and fails (1010) on answers outside its offer", () => {
  const accepts = (response: string, options: PerMessageDeflateOptions = {}) => {
    try {
      clientWith(response, options);
      return true;
    } catch (error) {
      assert.ok(error instanceof ExtensionNegotiationError, String(error));
      assert.equal(error.closeCode, 1010);
      return false;
    }
  };
  for (const ok of ["", "server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits=8", "client_max_window_bits=8", "client_max_window_bits=15"]) {
    assert.equal(accepts(ok), true, ok);
  }
  for (const bad of ["client_max_window_bits", "server_max_window_bits=16", "server_max_window_bits", "x=1", "server_no_context_takeover; server_no_context_takeover", "client_no_context_takeover=1"]) {
    assert.equal(accepts(bad), false, bad);
  }
  assert.equal(accepts("", { serverMaxWindowBits: 10 }), false, "server_max_window_bits offered, not answered");
  assert.equal(accepts("server_max_window_bits=12", { serverMaxWindowBits: 10 }), false);
  assert.equal(accepts("server_max_window_bits=9", { serverMaxWindowBits: 10 }), true);
  assert.equal(accepts("", { serverNoContextTakeover: true }), false, "server_no_context_takeover offered, not answered");
  assert.equal(accepts("client_max_window_bits=12", { clientMaxWindowBits: 10 }), false);
  assert.equal(accepts("", { offers: [{ serverMaxWindowBits: 10 }, {}] }), true, "the second offer admits it");
});

test("permessage-deflate client: client_no_context_takeover in the answer makes the client reset its compressor", () => {
  const conn = clientWith("client_no_context_takeover", { threshold: 0 });
  conn.sendText("Hello");
  conn.sendText("Hello");
  const wire = output(conn);
  // Masked frames: compare lengths (7-byte payloads both times, never the 5-byte context-taking form).
  assert.equal(wire.length, 2 * (2 + 4 + 7));
});

// --- memory ---

/** pako, counting what it creates and frees. */
function countingCodec(): DeflateCodec & { compressors: number; decompressors: number; live: number } {
  const codec = {
    name: "counting",
    compressors: 0,
    decompressors: 0,
    live: 0,
    compressor(settings: Parameters<DeflateCodec["compressor"]>[0]) {
      codec.compressors++;
      codec.live++;
      const inner = pakoCodec.compressor(settings);
      return { compress: (d: Uint8Array) => inner.compress(d), reset: () => inner.reset?.(), close: () => (codec.live--, inner.close()) };
    },
    decompressor(bits: number) {
      codec.decompressors++;
      codec.live++;
      const inner = pakoCodec.decompressor(bits);
      return { decompress: (d: Uint8Array, m: number) => inner.decompress(d, m), reset: () => inner.reset?.(), close: () => (codec.live--, inner.close()) };
    },
  };
  return codec;
}

test("permessage-deflate: contexts are created on first use, the compressor is freed when idle, all are freed on dispose", () => {
  const codec = countingCodec();
  const { server, client } = pair({ threshold: 0, codec }, { threshold: 0 });
  assert.equal(codec.live, 0, "nothing before the first compressed message");
  client.sendText("hello hello");
  server.receiveData(output(client));
  assert.deepEqual([codec.compressors, codec.decompressors], [0, 1]);
  server.sendText("answer answer");
  assert.equal(codec.compressors, 1);
  server.idle();
  assert.equal(codec.live, 1, "the compressor went; the inflate window stays (the client takes context over)");
  server.sendText("answer answer");
  assert.equal(codec.compressors, 2);
  assert.deepEqual(client.receiveData(output(server)).map((e) => e.type), ["text", "text"]);
  server.dispose();
  assert.equal(codec.live, 0);
});

test("permessage-deflate: with client_no_context_takeover the server frees the inflate window when idle too", () => {
  const codec = countingCodec();
  const { server, client } = pair({ threshold: 0, codec, clientNoContextTakeover: true }, { threshold: 0 });
  client.sendText("hello hello");
  client.sendText("hello hello");
  assert.deepEqual(server.receiveData(output(client)).map((e) => e.type), ["text", "text"]);
  assert.equal(codec.live, 1);
  server.idle();
  assert.equal(codec.live, 0);
});

test("permessage-deflate: an asynchronous codec keeps message and ping order end to end", async () => {
  const asyncPako: DeflateCodec = {
    name: "async-pako",
    compressor: (s) => {
      const inner = pakoCodec.compressor(s);
      return { compress: async (d) => inner.compress(d), close: () => inner.close() };
    },
    decompressor: (bits) => {
      const inner = pakoCodec.decompressor(bits);
      return { decompress: async (d, m) => inner.decompress(d, m), close: () => inner.close() };
    },
  };
  const { server, client } = pair({ threshold: 0, codec: asyncPako }, { threshold: 0, codec: asyncPako });
  const sent: string[] = [];
  for (let i = 0; i < 20; i++) {
    sent.push(`message ${i} `.repeat(i * 10));
    client.sendText(sent[i]!);
    if (i % 5 === 0) client.sendPing(`p${i}`);
  }
  while (client.pendingWork) await client.pendingWork;
  const wire = output(client);
  const events: WsEvent[] = [...server.receiveData(wire)];
  while (server.pendingWork) {
    await server.pendingWork;
    events.push(...server.receiveData(new Uint8Array(0)));
  }
  const texts = events.filter((e) => e.type === "text").map((e) => (e as { data: string }).data);
  assert.deepEqual(texts, sent);
  const order = events.map((e) => (e.type === "ping" ? "ping" : "text"));
  assert.deepEqual(order.slice(0, 3), ["text", "ping", "text"]);
  assert.equal(order.filter((t) => t === "ping").length, 4);
});

test("permessage-deflate: with no context takeover, messages queued on an asynchronous codec are each compressed from a fresh window", async () => {
  // As zlibCodec: every operation (resets included) runs later, in the order it was asked for.
  const inOrder = <T extends { reset?(): void; close(): void }>(inner: T) => {
    let tail: Promise<unknown> = Promise.resolve();
    const run = <R>(job: () => R): Promise<R> => {
      const next = tail.then(job);
      tail = next.catch(() => undefined);
      return next;
    };
    return { inner, run, reset: () => void run(() => inner.reset?.()), close: () => void run(() => inner.close()) };
  };
  const deferred: DeflateCodec = {
    name: "deferred-pako",
    compressor: (s) => {
      const q = inOrder(pakoCodec.compressor(s));
      return { compress: (d) => q.run(() => q.inner.compress(d) as Uint8Array), reset: q.reset, close: q.close };
    },
    decompressor: (bits) => {
      const q = inOrder(pakoCodec.decompressor(bits));
      return { decompress: (d, m) => q.run(() => q.inner.decompress(d, m) as Uint8Array), reset: q.reset, close: q.close };
    },
  };
  const noTakeover = { threshold: 0, codec: deferred, serverNoContextTakeover: true, clientNoContextTakeover: true };
  const { server, client } = pair(noTakeover, noTakeover);
  // The same text twice: a compressor that kept its window would encode the second as a back-reference.
  const sent = ["twice ".repeat(50), "twice ".repeat(50), "other ".repeat(40)];
  for (const text of sent) client.sendText(text);
  while (client.pendingWork) await client.pendingWork;
  const wire = output(client);
  // Each message must inflate alone, as a peer that resets its window after every message reads it.
  const alone = sent.map((text) => {
    const fresh = pair({ ...noTakeover, codec: pakoCodec }, { ...noTakeover, codec: pakoCodec });
    fresh.client.sendText(text);
    return output(fresh.client).length;
  });
  const events: WsEvent[] = [...server.receiveData(wire)];
  while (server.pendingWork) {
    await server.pendingWork;
    events.push(...server.receiveData(new Uint8Array(0)));
  }
  assert.deepEqual(events.map((e) => (e.type === "text" ? e.data : e.type)), sent);
  assert.equal(wire.length, alone.reduce((n, size) => n + size, 0), "a message was compressed against the window of the one before");
});
