/**
 * The Redis engine: broadcasts and publications reach every server
 * attached to the same Redis, exactly once and in each publisher's order;
 * optionally with a bounded history per topic (Redis Streams) for
 * recovery, and with presence. Written against {@link RedisLink} only, so
 * it is the same code on Node, Deno and Bun; `wsport/redis` makes the link
 * from a URL or a client.
 *
 * - A server's own connections are served at once, by the server; the
 *   engine publishes for the others and drops its own messages when they
 *   come back. On a topic with history, the message is delivered here too
 *   once Redis has given it its id (so that it can carry it).
 * - A node subscribes to a topic's channel only while it has local
 *   subscribers; subscriptions and unsubscriptions made in the same tick
 *   go out as one command (per channel in sharded mode, where a command
 *   must stay within one slot).
 * - Publications are never queued while Redis is unreachable: each is
 *   reported to `onError` (`WS_ERR_PUBSUB_UNAVAILABLE`) and counted in
 *   `stats.failed`; local delivery is unaffected. Subscriptions come back by
 *   themselves, and topics with history are read from where their feed
 *   stopped.
 *
 * @module
 */

import { type Clock, systemClock } from "../../clock.ts";
import type { Message } from "../../handlers.ts";
import { randomId } from "../channel_engine.ts";
import {
  type HistoryResult,
  type LocalRoute,
  type NodeInfo,
  type PubSubEngine,
  PubSubError,
  type PubSubKind,
  type PubSubNode,
  type Publication,
} from "../engine.ts";
import { decodeWire, encodeWire, joinWire, type WireMessage } from "../wire.ts";
import { type HistoryOptions, TopicHistory } from "./history.ts";
import { type RedisLink, replyText } from "./link.ts";
import { Presence, type PresenceOptions } from "./presence.ts";
import { PUBLISH_WITH_HISTORY, RedisNames, runScript } from "./scripts.ts";

/** Options of the Redis engine. */
export interface RedisEngineOptions {
  /** What every key and channel starts with; servers with the same prefix on the same Redis hear each other. Default "wsport". */
  prefix?: string;
  /** Sharded pub/sub (SSUBSCRIBE/SPUBLISH), for Redis Cluster. Default false. */
  sharded?: boolean;
  /** Keep a bounded history per topic, for recovery. Default: none. */
  history?: HistoryOptions | boolean;
  /** Heartbeat and subscriber counts. Default on; false turns it off. */
  presence?: PresenceOptions | boolean;
  /** Told every failure (a publication not carried, a foreign message dropped, a gap). Default: logged to the console, at most once a second per code. */
  onError?: (error: PubSubError) => void;
  /** This node's id (printable ASCII). Default: random. */
  nodeId?: string;
  /** Timers (presence). Default: the system clock. */
  clock?: Clock;
}

/** What an engine has done since it started. */
export interface RedisEngineStats {
  /** Publications carried to Redis (Redis answered). */
  published: number;
  /** Publications that could not be carried (Redis unreachable or refusing). */
  failed: number;
  /** Messages from other nodes delivered here. */
  received: number;
  /** Of those, delivered by a resync from the history after an outage. */
  recovered: number;
  /** Messages on wsport channels that were not wsport's, dropped. */
  foreign: number;
  /** Topics found with a gap larger than their history after an outage. */
  gaps: number;
}

interface Subscription {
  kind: PubSubKind;
  target: string;
  /** Resolves once Redis confirmed it (never rejects). */
  confirmed: Promise<void>;
}

/** A {@link PubSubEngine} on Redis. Made by `redisEngine()` from `wsport/redis`. */
export class RedisEngine implements PubSubEngine {
  /** This node's id, as presence lists it. */
  readonly nodeId: string;
  readonly #link: RedisLink;
  readonly #names: RedisNames;
  readonly #sharded: boolean;
  readonly #history: TopicHistory | undefined;
  readonly #historyOptions: HistoryOptions | undefined;
  readonly #presenceOptions: PresenceOptions | undefined;
  #presence: Presence | undefined;
  readonly #clock: Clock;
  readonly #onError: (error: PubSubError) => void;
  readonly #subscriptions = new Map<string, Subscription>(); // by channel
  // The protocol or topic behind each channel awaiting a flush (names are not parsed back: a prefix may contain anything).
  readonly #pending = new Map<string, { kind: PubSubKind; target: string }>();
  #flushScheduled = false;
  #node: PubSubNode | undefined;
  #seq = 0;
  #closed = false;
  #outage = false;
  #resyncWanted = false;
  readonly #stats: Omit<RedisEngineStats, "recovered" | "gaps"> = { published: 0, failed: 0, received: 0, foreign: 0 };

  /**
   * @param link Two connections to Redis.
   * @param options Prefix, sharding, history, presence, error listener.
   */
  constructor(link: RedisLink, options: RedisEngineOptions = {}) {
    this.#link = link;
    this.nodeId = options.nodeId ?? randomId();
    this.#names = new RedisNames(options.prefix ?? "wsport");
    this.#sharded = options.sharded ?? false;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? consoleReporter();
    this.#historyOptions = options.history === true ? {} : options.history || undefined;
    this.#presenceOptions = options.presence === false ? undefined : options.presence === true || options.presence === undefined ? {} : options.presence;
    if (this.#historyOptions !== undefined) {
      this.#history = new TopicHistory(link, this.#names, this.nodeId, this.#historyOptions, (topic, wire) => this.#deliver(wire, topic), (e) => this.#report(e));
    }
    // Checked now: a bad id would otherwise fail on the first publication.
    encodeWire("publish", this.nodeId, 0, "");
    link.listen({
      message: (channel, payload) => this.#received(channel, payload),
      ready: (connection, reconnected) => this.#ready(connection, reconnected),
      down: (connection, error) => this.#down(connection, error),
    });
  }

  /** Counters since the engine started. */
  get stats(): RedisEngineStats {
    return { ...this.#stats, recovered: this.#history?.recovered ?? 0, gaps: this.#history?.gaps ?? 0 };
  }

  /** {@inheritDoc PubSubEngine.attach} */
  attach(node: PubSubNode): void {
    if (this.#node !== undefined) throw new TypeError("this engine is already attached to a server");
    this.#node = node;
    for (const protocol of node.protocols) this.#want("broadcast", protocol);
    for (const topic of node.topics()) this.topicChanged(topic);
    if (this.#presenceOptions !== undefined) {
      const local = { count: (topic: string) => node.subscriberCount(topic), topics: () => node.topics() };
      this.#presence = new Presence(this.#link, this.#names, this.nodeId, this.#presenceOptions, local, this.#clock, (e) => this.#failed("presence", e));
      this.#presence.start();
    }
    this.#flush();
  }

  /** {@inheritDoc PubSubEngine.publish} */
  publish(publication: Publication): LocalRoute {
    if (this.#closed) return "local";
    const { kind, target, message } = publication;
    const seq = ++this.#seq;
    const { head, body } = encodeWire(kind, this.nodeId, seq, message);
    const channel = this.#names.channel(kind, target);
    if (kind === "publish" && this.#history?.has(target)) {
      this.#publishWithHistory(publication, channel, head, body, seq);
      return "engine";
    }
    this.#link.command([this.#sharded ? "SPUBLISH" : "PUBLISH", channel, joinWire(head, body)]).then(
      () => void this.#stats.published++,
      (error) => this.#failed(target, error, true),
    );
    return "local";
  }

  /** {@inheritDoc PubSubEngine.topicChanged} */
  topicChanged(topic: string): void {
    if (this.#closed) return;
    this.#presence?.changed(topic);
    this.#want("publish", topic);
    this.#scheduleFlush();
  }

  /** {@inheritDoc PubSubEngine.history} */
  async history(topic: string, since: string): Promise<HistoryResult> {
    const history = this.#history;
    if (history === undefined || !history.has(topic)) {
      return { type: "unavailable", error: new PubSubError("WS_ERR_PUBSUB_NO_HISTORY", `topic ${topic} keeps no history`, { target: topic }) };
    }
    if (!this.#link.ready.commands || !this.#link.ready.subscriber) {
      // Answered now rather than when Redis is back: the connection gets the live messages meanwhile.
      return { type: "unavailable", error: new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", `Redis is out of reach: no history of ${topic} now`, { target: topic }) };
    }
    this.#flush(); // the caller just subscribed: the live feed must be on before the history is read
    await this.#subscriptions.get(this.#names.channel("publish", topic))?.confirmed;
    try {
      return await history.read(topic, since);
    } catch (cause) {
      return { type: "unavailable", error: new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", `could not read the history of ${topic}`, { target: topic, cause }) };
    }
  }

  /** {@inheritDoc PubSubEngine.nodes} */
  nodes(): Promise<NodeInfo[]> {
    if (this.#presence === undefined) return Promise.reject(new TypeError("presence is off"));
    return this.#presence.nodes();
  }

  /** {@inheritDoc PubSubEngine.subscriberCount} */
  subscriberCount(topic: string): Promise<number> {
    if (this.#presence === undefined) return Promise.reject(new TypeError("presence is off"));
    return this.#presence.subscriberCount(topic);
  }

  /** Leaves presence and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#presence?.stop();
    await this.#link.close();
  }

  // --- publishing ---

  #publishWithHistory(publication: Publication, channel: string, head: Uint8Array, body: Uint8Array, seq: number): void {
    const { target, message, except } = publication;
    const options = this.#historyOptions!;
    const args = [channel, head, body, String(this.#history!.maxLength), this.#sharded ? "1" : "0", String(options.ttl ?? 0)];
    runScript(this.#link, PUBLISH_WITH_HISTORY, [this.#names.stream(target)], args).then(
      (reply) => {
        this.#stats.published++;
        const id = replyText(reply);
        const wire: WireMessage = { kind: "publish", origin: this.nodeId, seq, id, message };
        // Delivered here now, with its id; its copy coming back from Redis is dropped (origin: this node).
        if (id !== undefined) this.#deliver(wire, target, except);
        else this.#deliverOwn(target, message, except);
      },
      (error) => {
        this.#failed(target, error, true);
        // Redis is out of reach: this server's subscribers still get it, without an id (it is in no history).
        this.#deliverOwn(target, message, except);
      },
    );
  }

  #deliverOwn(topic: string, message: Message, except: unknown): void {
    if (!this.#closed) this.#node?.deliver({ kind: "publish", target: topic, message, origin: this.nodeId, except });
  }

  // --- receiving ---

  #received(channel: string, payload: Uint8Array): void {
    const subscription = this.#subscriptions.get(channel);
    if (this.#closed || subscription === undefined) return;
    const wire = decodeWire(payload);
    if (wire instanceof PubSubError) {
      this.#stats.foreign++;
      return this.#report(new PubSubError(wire.code as "WS_ERR_PUBSUB_FOREIGN_MESSAGE", `${wire.message} (on ${channel}): dropped`, { target: subscription.target }));
    }
    if (wire.kind !== subscription.kind) {
      this.#stats.foreign++;
      return this.#report(new PubSubError("WS_ERR_PUBSUB_FOREIGN_MESSAGE", `a ${wire.kind} message on ${channel}: dropped`, { target: subscription.target }));
    }
    if (wire.id !== undefined && this.#history?.has(subscription.target)) return this.#history.received(subscription.target, wire);
    if (wire.origin !== this.nodeId) this.#deliver(wire, subscription.target);
  }

  #deliver(wire: WireMessage, target: string, except?: unknown): void {
    const node = this.#node;
    if (node === undefined || this.#closed) return;
    this.#stats.received += wire.origin === this.nodeId ? 0 : 1;
    const stamped = wire.id !== undefined && wire.kind === "publish" && this.#history?.has(target);
    const message = stamped ? this.#history!.stamp(target, wire.message, wire.id!) : wire.message;
    node.deliver({ kind: wire.kind, target, message, id: wire.id, origin: wire.origin, seq: wire.seq, except });
  }

  // --- subscriptions ---

  #want(kind: PubSubKind, target: string): void {
    this.#pending.set(this.#names.channel(kind, target), { kind, target });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /** Subscribes to the channels that gained listeners here and leaves those that lost them, in one command each way. */
  #flush(): void {
    this.#flushScheduled = false;
    const node = this.#node;
    if (node === undefined || this.#closed || this.#pending.size === 0) return;
    const join: string[] = [];
    const leave: string[] = [];
    for (const [channel, target] of this.#pending) {
      const wanted = target.kind === "broadcast" || node.subscriberCount(target.target) > 0;
      const subscribed = this.#subscriptions.has(channel);
      if (wanted && !subscribed) {
        join.push(channel);
        this.#subscriptions.set(channel, { ...target, confirmed: Promise.resolve() });
      } else if (!wanted && subscribed) {
        leave.push(channel);
        this.#subscriptions.delete(channel);
        if (target.kind === "publish") this.#history?.closed(target.target);
      }
    }
    this.#pending.clear();
    for (const batch of this.#batches(join)) {
      const confirmed = this.#link.subscribe(batch, this.#sharded).then(() => {}, (error) => this.#failed(batch[0]!, error));
      for (const channel of batch) {
        const subscription = this.#subscriptions.get(channel)!;
        subscription.confirmed = confirmed;
        if (subscription.kind === "publish" && this.#history?.has(subscription.target)) {
          const topic = subscription.target;
          void confirmed.then(() => this.#history!.opened(topic)).catch((error) => this.#failed(topic, error));
        }
      }
    }
    for (const batch of this.#batches(leave)) this.#link.unsubscribe(batch, this.#sharded).catch((error) => this.#failed(batch[0]!, error));
  }

  /** One command per 1000 channels; in sharded mode one per channel (a command may not span slots in a cluster). */
  *#batches(channels: string[]): Generator<string[]> {
    const size = this.#sharded ? 1 : 1000;
    for (let i = 0; i < channels.length; i += size) yield channels.slice(i, i + size);
  }

  // --- connection state ---

  #ready(connection: "commands" | "subscriber", reconnected: boolean): void {
    if (this.#closed || !reconnected) return;
    this.#outage = false;
    if (connection === "commands") this.#presence?.rewrite();
    // Once the link has subscribed again, what the feed missed meanwhile is read from the history.
    this.#resync();
  }

  /** Reads the history back, once both connections are up (the reading is done on the command connection). */
  #resync(): void {
    const history = this.#history;
    if (history === undefined || !this.#resyncWanted || !this.#link.ready.commands || !this.#link.ready.subscriber) return;
    this.#resyncWanted = false;
    void this.#link.barrier()
      .then(() => history.resync())
      .then((complete) => {
        // Cut off again while reading: the next reconnection reads on from where this one stopped.
        if (!complete) this.#resyncWanted = true;
      })
      .catch((error) => {
        this.#resyncWanted = true;
        this.#failed("history", error);
      });
  }

  #down(connection: "commands" | "subscriber", error: Error): void {
    if (this.#closed) return;
    if (connection === "subscriber") {
      this.#history?.cut();
      this.#resyncWanted = true;
    }
    if (this.#outage) return;
    this.#outage = true;
    this.#report(new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", `lost the Redis ${connection} connection (reconnecting): ${error.message}`, { cause: error }));
  }

  #failed(target: string, cause: unknown, publication = false): void {
    if (publication) this.#stats.failed++;
    if (this.#closed) return;
    const why = cause instanceof Error ? cause.message : String(cause);
    this.#report(new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", `Redis did not take a message for ${target}: ${why}`, { target, cause }));
  }

  #report(error: PubSubError): void {
    try {
      this.#onError(error);
    } catch {
      // A throwing listener must not break the message path.
    }
  }
}

/** The default error listener: the console, at most once a second per code, so an outage does not flood it. */
function consoleReporter(): (error: PubSubError) => void {
  const last = new Map<string, number>();
  return (error) => {
    const now = Date.now();
    if (now - (last.get(error.code) ?? -Infinity) < 1000) return;
    last.set(error.code, now);
    console.error(`wsport/redis: ${error.code}: ${error.message}`);
  };
}
