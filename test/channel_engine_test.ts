// ChannelEngine (src/services/pubsub/channel_engine.ts, the broadcastChannel option): broadcasts and publications
// between the servers of several workers over a BroadcastChannel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type BroadcastChannelLike, ChannelEngine } from "../src/services/pubsub/channel_engine.ts";
import type { PubSubKind } from "../src/services/pubsub/engine.ts";
import { until } from "./helpers.ts";
import { skipIf } from "./skips.ts";

/** A channel pair in memory: what one posts, every other end of the same name receives (not itself), structured-cloned. */
class FakeHub {
  readonly ends: FakeChannel[] = [];
  open(): FakeChannel {
    const end = new FakeChannel(this);
    this.ends.push(end);
    return end;
  }
}
class FakeChannel implements BroadcastChannelLike {
  listeners: ((event: { data: unknown }) => void)[] = [];
  closed = false;
  constructor(readonly hub: FakeHub) {}
  postMessage(message: unknown): void {
    for (const end of this.hub.ends) if (end !== this && !end.closed) for (const l of end.listeners) l({ data: structuredClone(message) });
  }
  addEventListener(_type: "message", listener: (event: { data: unknown }) => void): void {
    this.listeners.push(listener);
  }
  close(): void {
    this.closed = true;
  }
}

type Delivered = [PubSubKind, string, string | Uint8Array];

/** The ChannelEngine of a server whose node hands every delivery to `deliver`, and its publish as a post(). */
class BroadcastRelay {
  readonly engine: ChannelEngine;
  constructor(channel: string | BroadcastChannelLike, deliver: (...delivered: Delivered) => void) {
    this.engine = new ChannelEngine(channel);
    this.engine.attach({
      deliver: (d) => (deliver(d.kind, d.target, d.message), 1),
      subscriberCount: () => 0,
      topics: () => [],
      protocols: [],
    });
  }
  post(kind: PubSubKind, target: string, message: string | Uint8Array): void {
    this.engine.publish({ kind, target, message });
  }
  close(): void {
    this.engine.close();
  }
}

test("ChannelEngine (broadcastChannel): what one relay posts, the others deliver; a relay never delivers its own", () => {
  const hub = new FakeHub();
  const seen: Record<string, Delivered[]> = { a: [], b: [], c: [] };
  const relays = Object.fromEntries(Object.keys(seen).map((name) => [name, new BroadcastRelay(hub.open(), (...d) => void seen[name]!.push(d))]));
  relays.a!.post("broadcast", "chat", "hi");
  relays.b!.post("publish", "news", new Uint8Array([1, 2]));
  assert.deepEqual(seen.a, [["publish", "news", new Uint8Array([1, 2])]]);
  assert.deepEqual(seen.b, [["broadcast", "chat", "hi"]]);
  assert.deepEqual(seen.c, [["broadcast", "chat", "hi"], ["publish", "news", new Uint8Array([1, 2])]]);
});

test("ChannelEngine (broadcastChannel): an echoing channel cannot make a relay deliver its own message; foreign messages are ignored", () => {
  const hub = new FakeHub();
  const end = hub.open();
  const delivered: Delivered[] = [];
  const relay = new BroadcastRelay(end, (...d) => void delivered.push(d));
  let posted: unknown;
  end.postMessage = (message) => (posted = message);
  relay.post("broadcast", "p", "x");
  for (const listener of end.listeners) listener({ data: posted }); // echoed back
  for (const data of [null, "text", { wsport: "other", origin: "o", target: "t", message: "m" }, { wsport: "broadcast", origin: "o", target: 1, message: "m" }, { wsport: "publish", origin: "o", target: "t", message: 42 }]) {
    for (const listener of end.listeners) listener({ data });
  }
  assert.deepEqual(delivered, []);
});

test("ChannelEngine (broadcastChannel): after close() nothing is posted or delivered, and the channel is closed once", () => {
  const hub = new FakeHub();
  const delivered: Delivered[] = [];
  const mine = hub.open();
  const relay = new BroadcastRelay(mine, (...d) => void delivered.push(d));
  const other = new BroadcastRelay(hub.open(), () => {});
  relay.close();
  relay.close();
  assert.equal(mine.closed, true);
  other.post("broadcast", "p", "x");
  relay.post("broadcast", "p", "y");
  assert.deepEqual(delivered, []);
});

test("ChannelEngine (broadcastChannel): a channel name opens the runtime's BroadcastChannel, across relays of one process", { skip: skipIf(typeof BroadcastChannel === "undefined" && "no BroadcastChannel here") }, async () => {
  const name = `wsport-broadcast-test-${Math.random()}`;
  const delivered: Delivered[] = [];
  const receiver = new BroadcastRelay(name, (...d) => void delivered.push(d));
  const sender = new BroadcastRelay(name, () => {});
  sender.post("publish", "t", new Uint8Array([9]));
  await until(() => delivered.length === 1, "the relayed message");
  assert.deepEqual(delivered, [["publish", "t", new Uint8Array([9])]]);
  sender.close();
  receiver.close();
});
