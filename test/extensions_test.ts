import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketProtocol, SEND_EOF } from "../src/core/protocol.ts";
import { ClientProtocol } from "../src/core/client_protocol.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { concat } from "../src/core/bytes.ts";
import { ExtensionNegotiationError, ProtocolError } from "../src/core/errors.ts";
import type { WsEvent } from "../src/core/events.ts";
import {
  type ClientExtensionFactory,
  type Extension,
  type ExtensionFrame,
  RSV2,
  RSV3,
  type ServerExtensionFactory,
} from "../src/core/extensions/extension.ts";
import { extensionOffer, negotiateAsClient, negotiateAsServer } from "../src/core/extensions/negotiate.ts";
import { parseExtensions } from "../src/core/http/header_values.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A toy extension: XORs payloads with a byte and marks the first frame of a message with its RSV bit. */
class XorExtension implements Extension {
  readonly name: string;
  readonly rsvBits: number;
  readonly log: string[] = [];
  closed = 0;
  idled = 0;
  constructor(name: string, rsvBits: number, readonly byte: number, readonly delay?: () => Promise<void>) {
    this.name = name;
    this.rsvBits = rsvBits;
  }
  #xor(frame: ExtensionFrame, rsv: number): ExtensionFrame {
    return { ...frame, rsv, data: frame.data.map((b) => b ^ this.byte) };
  }
  decode(frame: ExtensionFrame): ExtensionFrame | Promise<ExtensionFrame> {
    this.log.push(`decode ${dec.decode(frame.data.map((b) => b ^ this.byte))}`);
    const out = this.#xor(frame, frame.rsv & ~this.rsvBits);
    return this.delay ? this.delay().then(() => out) : out;
  }
  encode(frame: ExtensionFrame): ExtensionFrame | Promise<ExtensionFrame> {
    this.log.push(`encode ${dec.decode(frame.data)}`);
    const out = this.#xor(frame, frame.rsv | (frame.opcode === Opcode.Continuation ? 0 : this.rsvBits));
    return this.delay ? this.delay().then(() => out) : out;
  }
  idle(): void {
    this.idled++;
  }
  close(): void {
    this.closed++;
  }
}

function bytesOf(conn: WebSocketProtocol): Uint8Array {
  return concat(conn.dataToSend().filter((x): x is Uint8Array => x !== SEND_EOF));
}

function framesOf(bytes: Uint8Array): { b0: number; payload: Uint8Array }[] {
  const out = [];
  let i = 0;
  while (i < bytes.length) {
    const len = bytes[i + 1]! & 0x7f; // the tests use payloads under 126 bytes
    out.push({ b0: bytes[i]!, payload: bytes.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}

test("Extension: frames go through extensions in negotiated order when sent, in reverse when received", () => {
  const a = new XorExtension("a", RSV2, 0x0f);
  const b = new XorExtension("b", RSV3, 0xf0);
  const sender = new WebSocketProtocol("server", { extensions: [a, b] });
  sender.sendText("hi");
  const [frame] = framesOf(bytesOf(sender));
  assert.equal(frame!.b0, 0x80 | RSV2 | RSV3 | Opcode.Text);
  assert.deepEqual([...frame!.payload], [..."hi"].map((c) => c.charCodeAt(0) ^ 0xff));
  const a2 = new XorExtension("a", RSV2, 0x0f);
  const b2 = new XorExtension("b", RSV3, 0xf0);
  const receiver = new WebSocketProtocol("client", { extensions: [a2, b2] });
  const events = receiver.receiveData(concat(encodeFrame(Opcode.Text, frame!.payload, { rsv: RSV2 | RSV3 })));
  assert.deepEqual(events, [{ type: "text", data: "hi" }]);
  assert.deepEqual(b2.log, ["decode " + String.fromCharCode(..."hi".split("").map((c) => c.charCodeAt(0) ^ 0x0f))]);
  assert.equal(a2.log.length, 1, "a decodes after b");
});

test("Extension: an RSV bit no negotiated extension owns fails the connection with 1002", () => {
  const conn = new WebSocketProtocol("client", { extensions: [new XorExtension("a", RSV2, 1)] });
  const events = conn.receiveData(concat(encodeFrame(Opcode.Text, enc.encode("x"), { rsv: RSV3 })));
  assert.equal(events[0]?.type, "error");
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1002);
});

test("Extension: a control frame with an owned RSV bit fails with 1002 (control frames are never transformed)", () => {
  const ext = new XorExtension("a", RSV2, 1);
  const conn = new WebSocketProtocol("client", { extensions: [ext] });
  const events = conn.receiveData(concat(encodeFrame(Opcode.Ping, enc.encode("p"), { rsv: RSV2 })));
  assert.equal(events[0]?.type, "error");
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1002);
  assert.deepEqual(ext.log, []);
});

test("Extension: control frames bypass extensions in both directions", () => {
  const ext = new XorExtension("a", RSV2, 1);
  const conn = new WebSocketProtocol("client", { extensions: [ext] });
  const events = conn.receiveData(concat(encodeFrame(Opcode.Ping, enc.encode("p"))));
  assert.deepEqual(events.map((e) => e.type), ["ping"]);
  conn.sendPing("q");
  assert.deepEqual(ext.log, []);
});

test("Extension: a decode error that is a ProtocolError closes with its code; any other error with 1011", () => {
  const failing = (error: Error): Extension => ({
    name: "f",
    rsvBits: RSV2,
    decode: () => {
      throw error;
    },
    encode: (f) => f,
  });
  const c1 = new WebSocketProtocol("client", { extensions: [failing(new ProtocolError(1007, "X", "bad"))] });
  const e1 = c1.receiveData(concat(encodeFrame(Opcode.Binary, enc.encode("x"), { rsv: RSV2 })));
  assert.equal((e1[0] as { error: ProtocolError }).error.closeCode, 1007);
  const c2 = new WebSocketProtocol("client", { extensions: [failing(new Error("boom"))] });
  const e2 = c2.receiveData(concat(encodeFrame(Opcode.Binary, enc.encode("x"), { rsv: RSV2 })));
  assert.equal((e2[0] as { error: ProtocolError }).error.closeCode, 1011);
});

test("Extension: decoded size is checked against maxMessageSize (1009)", () => {
  const inflating: Extension = {
    name: "grow",
    rsvBits: RSV2,
    decode: (f) => ({ ...f, rsv: 0, data: new Uint8Array(f.data.length * 100) }),
    encode: (f) => f,
  };
  const conn = new WebSocketProtocol("client", { extensions: [inflating], maxMessageSize: 1000 });
  const events = conn.receiveData(concat(encodeFrame(Opcode.Binary, new Uint8Array(20), { rsv: RSV2 })));
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1009);
});

/** A promise the test resolves by hand. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  const waiters: (() => void)[] = [];
  return { wait: () => new Promise((r) => waiters.push(r)), open: () => waiters.splice(0).forEach((r) => r()) };
}

test("Extension: asynchronous encodes keep message order, and a ping queued after a message waits for it only", async () => {
  const g = gate();
  const ext = new XorExtension("a", RSV2, 0, g.wait);
  const conn = new WebSocketProtocol("server", { extensions: [ext] });
  conn.sendText("one");
  conn.sendPing("p");
  conn.sendText("two");
  assert.deepEqual(conn.dataToSend(), [], "nothing goes out before the first message is encoded");
  assert.ok(conn.bufferedAmount >= 6, "frames being encoded count as buffered");
  const work = conn.pendingWork;
  assert.ok(work instanceof Promise);
  g.open();
  await work;
  while (conn.pendingWork) await conn.pendingWork;
  const frames = framesOf(bytesOf(conn));
  assert.deepEqual(frames.map((f) => [f.b0 & 0x0f, dec.decode(f.payload)]), [[Opcode.Text, "one"], [Opcode.Ping, "p"], [Opcode.Text, "two"]]);
  assert.equal(conn.pendingWork, undefined);
});

test("Extension: an asynchronous decode holds later frames (control frames included) until it finishes, then yields them in order", async () => {
  const g = gate();
  const ext = new XorExtension("a", RSV2, 0, g.wait);
  const conn = new WebSocketProtocol("client", { extensions: [ext] });
  const wire = concat([
    ...encodeFrame(Opcode.Text, enc.encode("one"), { rsv: RSV2 }),
    ...encodeFrame(Opcode.Ping, enc.encode("p")),
    ...encodeFrame(Opcode.Text, enc.encode("two"), { rsv: RSV2 }),
  ]);
  assert.deepEqual(conn.receiveData(wire), []);
  assert.equal(conn.receiveBlocked, true);
  const events: WsEvent[] = [];
  while (conn.pendingWork) {
    const work = conn.pendingWork;
    g.open();
    await work;
    events.push(...conn.receiveData(new Uint8Array(0)));
  }
  assert.deepEqual(events.map((e) => e.type === "text" ? e.data : e.type), ["one", "ping", "two"]);
  assert.equal(conn.receiveBlocked, false);
});

test("Extension: a rejected asynchronous encode fails the connection with 1011, reported on the next receiveData", async () => {
  const ext: Extension = { name: "f", rsvBits: RSV2, decode: (f) => f, encode: () => Promise.reject(new Error("codec died")) };
  const conn = new WebSocketProtocol("server", { extensions: [ext] });
  conn.sendText("x");
  await conn.pendingWork;
  const events = conn.receiveData(new Uint8Array(0));
  assert.equal(events[0]?.type, "error");
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1011);
});

test("Extension: dispose() closes every extension once; idle() reaches them", () => {
  const a = new XorExtension("a", RSV2, 1);
  const conn = new WebSocketProtocol("server", { extensions: [a] });
  conn.idle();
  conn.dispose();
  conn.dispose();
  assert.equal(a.idled, 1);
  assert.equal(a.closed, 1);
});

// --- negotiation ---

function serverFactory(name: string, rsvBits: number, accept: (params: readonly (readonly [string, string | true])[]) => boolean): ServerExtensionFactory {
  return {
    name,
    negotiate: (params) => (accept(params) ? [params, new XorExtension(name, rsvBits, 1)] : undefined),
  };
}

test("negotiateAsServer: the client's order decides the pipeline; a declined offer falls back to the next of the same name", () => {
  const offers = parseExtensions("b; x=1, a, b; y")!;
  const result = negotiateAsServer(offers, [
    serverFactory("a", RSV2, () => true),
    serverFactory("b", RSV3, (params) => params[0]?.[0] === "y"),
  ]);
  assert.deepEqual(result.extensions.map((e) => e.name), ["a", "b"]);
  assert.equal(result.header, "a, b; y");
});

test("negotiateAsServer: unknown offers are ignored; two extensions cannot share an RSV bit", () => {
  const offers = parseExtensions("zzz, a, b")!;
  const result = negotiateAsServer(offers, [serverFactory("a", RSV2, () => true), serverFactory("b", RSV2, () => true)]);
  assert.deepEqual(result.extensions.map((e) => e.name), ["a"]);
  assert.equal(result.header, "a");
});

const clientFactory = (name: string): ClientExtensionFactory => ({
  name,
  offers: () => [[["p", "1"]]],
  accept: (params) => {
    if (params.some(([k]) => k === "bad")) throw new ExtensionNegotiationError("bad parameter");
    return new XorExtension(name, RSV2, 1);
  },
});

test("negotiateAsClient: refuses an extension that was not offered, a duplicate, or a refused response (1010)", () => {
  assert.equal(extensionOffer([clientFactory("a")]), "a; p=1");
  assert.deepEqual(negotiateAsClient(parseExtensions("a")!, [clientFactory("a")]).map((e) => e.name), ["a"]);
  for (const response of ["b", "a, a", "a; bad"]) {
    assert.throws(() => negotiateAsClient(parseExtensions(response)!, [clientFactory("a")]), (error: unknown) => {
      assert.ok(error instanceof ExtensionNegotiationError);
      assert.equal(error.closeCode, 1010);
      return true;
    }, response);
  }
});

test("ClientConnection: an unacceptable extension response gives a handshake-error and queues close 1010", () => {
  const client = new ClientProtocol({ host: "h", path: "/", extensions: [clientFactory("a")] });
  const request = dec.decode(bytesOf(client));
  assert.match(request, /\r\nSec-WebSocket-Extensions: a; p=1\r\n/);
  const key = /Sec-WebSocket-Key: (\S+)/.exec(request)![1]!;
  const server = new ServerProtocol({});
  const [event] = server.receiveData(enc.encode(request));
  assert.equal(event?.type, "request");
  server.accept({ extensions: [{ name: "a", negotiate: () => [[["bad", true]], new XorExtension("a", RSV2, 1)] }] });
  const response = bytesOf(server);
  assert.match(dec.decode(response), /Sec-WebSocket-Extensions: a; bad\r\n/);
  assert.ok(key);
  const events = client.receiveData(response);
  assert.equal(events[0]?.type, "handshake-error");
  const out = client.dataToSend();
  const closeFrame = out[0] as Uint8Array;
  assert.equal(closeFrame[0], 0x88);
  // Masked payload: unmask the first two bytes to read the code.
  const mask = closeFrame.subarray(2, 6);
  assert.equal(((closeFrame[6]! ^ mask[0]!) << 8) | (closeFrame[7]! ^ mask[1]!), 1010);
  assert.equal(out.at(-1), SEND_EOF);
});

test("ServerConnection: accept() with extensions answers the header and installs them", () => {
  const client = new ClientProtocol({ host: "h", path: "/", extensions: [clientFactory("a")] });
  const server = new ServerProtocol({});
  server.receiveData(bytesOf(client));
  server.accept({ extensions: [serverFactory("a", RSV2, () => true)] });
  assert.equal(server.extensionsHeader, "a; p=1");
  const events = client.receiveData(bytesOf(server));
  assert.equal(events[0]?.type, "response");
  assert.deepEqual(client.extensions.map((e) => e.name), ["a"]);
  client.sendText("round trip");
  assert.deepEqual(server.receiveData(bytesOf(client)), [{ type: "text", data: "round trip" }]);
});
