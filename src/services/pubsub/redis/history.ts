/**
 * Topic history on Redis Streams: each publication on a topic with history
 * is appended to the topic's stream (bounded, `MAXLEN ~`) and published with
 * its stream id, atomically (see `scripts.ts`). This module keeps, for each
 * such topic this node listens to, where its live feed is in the stream,
 * and uses the stream twice:
 *
 * - a node whose subscriber connection was lost reads, once it is back,
 *   the entries after the last one it received, so its connections miss
 *   nothing that Redis kept (what pub/sub dropped meanwhile);
 * - a client that reconnects with the last id it saw gets the entries
 *   after it ({@link TopicHistory.read}).
 *
 * Every source (the live feed, a resync, this node's own publications)
 * hands messages over in each publisher's order, so a duplicate is simply
 * a sequence number not above the last one delivered from that publisher
 * on that topic.
 *
 * @module
 */

import type { Message } from "../../handlers.ts";
import { type HistoryEntry, type HistoryResult, PubSubError } from "../engine.ts";
import { compareStreamIds } from "../stream_ids.ts";
import { decodeWire, type WireMessage } from "../wire.ts";
import { type RedisLink, type RedisReply, replyBytes, replyText } from "./link.ts";
import type { RedisNames } from "./scripts.ts";

/** Options of history. */
export interface HistoryOptions {
  /** Entries kept per topic, about (`MAXLEN ~`: Redis trims whole blocks, so a few more may stay). Default 1000. */
  maxLength?: number;
  /** Milliseconds a topic's history is kept after its last publication; 0 keeps it. Default 0. */
  ttl?: number;
  /** Which topics keep a history. Default: every topic. */
  topics?: (topic: string) => boolean;
  /**
   * How a message carries its id to the clients: the function returns
   * what subscribers receive, computed once per node. Default
   * {@link stampMessage}: the id, a line feed, then the message.
   */
  stamp?: (message: Message, stamp: { id: string; topic: string }) => Message;
}

/** Default of {@link HistoryOptions.maxLength}. */
export const DEFAULT_HISTORY_LENGTH = 1000;

const encoder = new TextEncoder();

/**
 * The default stamp: the stream id, a line feed (0x0A), then the message,
 * as text for text and as bytes for binary. A client splits at the first
 * line feed (ids have none) and keeps the id to come back with.
 *
 * @param message The message published.
 * @param stamp Its id and topic.
 * @returns What subscribers receive.
 * @example
 * ```ts
 * stampMessage("hello", { id: "1718000000000-0", topic: "news" }); // "1718000000000-0\nhello"
 * ```
 */
export function stampMessage(message: Message, stamp: { id: string; topic: string }): Message {
  if (typeof message === "string") return `${stamp.id}\n${message}`;
  const id = encoder.encode(stamp.id + "\n");
  const out = new Uint8Array(id.length + message.length);
  out.set(id, 0);
  out.set(message, id.length);
  return out;
}

/** What the node knows of one topic's stream. */
interface TopicStream {
  /** The last id received from the live feed or a resync (undefined until known). */
  lastId: string | undefined;
  /** Per publisher, the last sequence number delivered on this topic. */
  delivered: Map<string, number>;
  /** Live messages held while a resync reads the stream. */
  held: WireMessage[] | undefined;
  /** Where the next resync starts when the feed was cut off (else lastId). */
  resumeFrom: string | undefined;
  /** A resync is reading the stream. */
  reading: boolean;
}

/** The history side of the engine for the topics this node listens to. */
export class TopicHistory {
  readonly #link: RedisLink;
  readonly #names: RedisNames;
  readonly #self: string;
  readonly #maxLength: number;
  readonly #select: (topic: string) => boolean;
  readonly #stamp: (message: Message, stamp: { id: string; topic: string }) => Message;
  readonly #deliver: (topic: string, wire: WireMessage) => void;
  readonly #report: (error: PubSubError) => void;
  readonly #streams = new Map<string, TopicStream>();
  /** Entries delivered by resyncs, and messages found missing for good. */
  recovered = 0;
  gaps = 0;

  /**
   * @param link The Redis connections.
   * @param names Key names.
   * @param self This node's id (its own publications are delivered when Redis answers, not from the feed).
   * @param options The history options.
   * @param deliver Hands a message to this node's subscribers.
   * @param report Where errors go.
   */
  constructor(
    link: RedisLink,
    names: RedisNames,
    self: string,
    options: HistoryOptions,
    deliver: (topic: string, wire: WireMessage) => void,
    report: (error: PubSubError) => void,
  ) {
    this.#link = link;
    this.#names = names;
    this.#self = self;
    this.#maxLength = options.maxLength ?? DEFAULT_HISTORY_LENGTH;
    if (!Number.isInteger(this.#maxLength) || this.#maxLength < 1) throw new RangeError("history.maxLength must be a positive integer");
    this.#select = options.topics ?? (() => true);
    this.#stamp = options.stamp ?? stampMessage;
    this.#deliver = deliver;
    this.#report = report;
  }

  /** Entries kept per topic. */
  get maxLength(): number {
    return this.#maxLength;
  }

  /**
   * Whether a topic keeps a history.
   *
   * @param topic The topic.
   * @returns True when it does.
   */
  has(topic: string): boolean {
    return this.#select(topic);
  }

  /**
   * What a topic's subscribers receive for a message with this id.
   *
   * @param topic The topic.
   * @param message The message.
   * @param id Its stream id.
   * @returns The stamped message.
   */
  stamp(topic: string, message: Message, id: string): Message {
    return this.#stamp(message, { id, topic });
  }

  /**
   * This node listens to a topic now (its subscription is confirmed): note where the stream is.
   *
   * @param topic A topic with history.
   */
  async opened(topic: string): Promise<void> {
    if (!this.#streams.has(topic)) this.#streams.set(topic, { lastId: undefined, delivered: new Map(), held: undefined, resumeFrom: undefined, reading: false });
    const reply = await this.#link.command(["XREVRANGE", this.#names.stream(topic), "+", "-", "COUNT", "1"]);
    const stream = this.#streams.get(topic);
    const id = Array.isArray(reply) && Array.isArray(reply[0]) ? replyText(reply[0][0]) : "0-0";
    if (stream !== undefined && id !== undefined && (stream.lastId === undefined || compareStreamIds(id, stream.lastId) > 0)) stream.lastId = id;
  }

  /**
   * This node no longer listens to a topic.
   *
   * @param topic The topic.
   */
  closed(topic: string): void {
    this.#streams.delete(topic);
  }

  /**
   * A message from the live feed.
   *
   * @param topic The topic.
   * @param wire The decoded envelope (with its id).
   */
  received(topic: string, wire: WireMessage): void {
    const stream = this.#streams.get(topic);
    if (stream === undefined) return void this.#accept(topic, wire);
    if (wire.id !== undefined && (stream.lastId === undefined || compareStreamIds(wire.id, stream.lastId) > 0)) stream.lastId = wire.id;
    if (stream.held === undefined) return void this.#accept(topic, wire);
    stream.held.push(wire);
    if (stream.held.length > Math.max(this.#maxLength, 10_000)) {
      // Redis stays out of reach for reading while the feed runs on: give the missed stretch up rather than hold without bound.
      this.gaps++;
      this.#report(new PubSubError("WS_ERR_PUBSUB_GAP", `gave up reading back what ${topic}'s feed missed: too many live messages waiting`, { target: topic }));
      stream.resumeFrom = undefined;
      this.#release(topic, stream);
    }
  }

  /**
   * The subscriber connection was lost: from now on each topic's feed is
   * held, and the next resync reads from where it stopped, whatever arrives
   * after the reconnection and before the reading.
   */
  cut(): void {
    for (const stream of this.#streams.values()) {
      stream.resumeFrom ??= stream.lastId;
      stream.held ??= [];
    }
  }

  /**
   * The subscriber connection is back: read what each topic's feed missed, then let the feed through again.
   *
   * @returns False when some topic could not be read (to be tried again at the next reconnection).
   */
  async resync(): Promise<boolean> {
    const done = await Promise.all([...this.#streams.keys()].map((topic) => this.#resyncTopic(topic)));
    return done.every(Boolean);
  }

  /**
   * The entries of a topic after `since`, as a reconnecting client needs them.
   *
   * @param topic The topic.
   * @param since The last id the client saw ("0-0": everything kept).
   * @returns The entries, a gap, or unavailable.
   */
  async read(topic: string, since: string): Promise<HistoryResult> {
    if (!this.has(topic)) {
      return { type: "unavailable", error: new PubSubError("WS_ERR_PUBSUB_NO_HISTORY", `topic ${topic} keeps no history`, { target: topic }) };
    }
    const fromStart = since === "0-0";
    const reply = await this.#link.command(["XRANGE", this.#names.stream(topic), since, "+", "COUNT", String(this.#maxLength + 1)]);
    const raw = Array.isArray(reply) ? reply : [];
    const first = Array.isArray(raw[0]) ? replyText(raw[0][0]) : undefined;
    // The entry `since` itself must still be there: otherwise what came after it may have been trimmed.
    if (!fromStart && first !== since) return { type: "gap" };
    const rest = fromStart ? raw : raw.slice(1);
    if (rest.length > this.#maxLength) return { type: "gap" }; // more than the history holds: not a bounded replay
    const entries: HistoryEntry[] = [];
    for (const wire of this.#decodeEntries(topic, rest)) {
      entries.push({ id: wire.id!, message: this.stamp(topic, wire.message, wire.id!), origin: wire.origin, seq: wire.seq });
    }
    // Everything published before the read was answered has now also reached the live feed (see PubSubEngine.history).
    await this.#link.barrier();
    return { type: "complete", entries };
  }

  async #resyncTopic(topic: string): Promise<boolean> {
    const stream = this.#streams.get(topic);
    if (stream === undefined || stream.reading) return true;
    const from = stream.resumeFrom ?? stream.lastId;
    if (from === undefined) {
      this.#release(topic, stream);
      await this.opened(topic).catch(() => {});
      return true;
    }
    stream.held ??= [];
    stream.reading = true;
    let start = from;
    try {
      let checkFirst = true;
      for (let read = 0; read <= this.#maxLength;) {
        const reply = await this.#link.command(["XRANGE", this.#names.stream(topic), start, "+", "COUNT", "100"]);
        const raw = Array.isArray(reply) ? reply : [];
        const first = Array.isArray(raw[0]) ? replyText(raw[0][0]) : undefined;
        if (checkFirst && from !== "0-0" && first !== from) {
          this.gaps++;
          this.#report(new PubSubError("WS_ERR_PUBSUB_GAP", `the history of ${topic} no longer reaches back to ${from}: messages published while this node was cut off from Redis are lost for its subscribers`, { target: topic }));
        }
        const entries = raw.filter((entry) => Array.isArray(entry) && replyText(entry[0]) !== start);
        checkFirst = false;
        if (entries.length === 0) break;
        for (const wire of this.#decodeEntries(topic, entries)) {
          if (this.#accept(topic, wire)) this.recovered++;
          if (compareStreamIds(wire.id!, stream.lastId ?? "0-0") > 0) stream.lastId = wire.id;
        }
        read += entries.length;
        start = replyText((entries.at(-1) as RedisReply[])[0])!;
      }
      stream.resumeFrom = undefined;
      return true;
    } catch (error) {
      // The feed stays held; the next resync reads on from here.
      stream.resumeFrom = start;
      this.#report(new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", `could not read the history of ${topic}`, { target: topic, cause: error }));
      return false;
    } finally {
      stream.reading = false;
      if (stream.resumeFrom === undefined) this.#release(topic, stream);
    }
  }

  /** Lets the feed through again, after what it held meanwhile (minus what the reading delivered). */
  #release(topic: string, stream: TopicStream): void {
    const held = stream.held ?? [];
    stream.held = undefined;
    for (const wire of held) void this.#accept(topic, wire);
  }

  #decodeEntries(topic: string, entries: RedisReply[]): WireMessage[] {
    const out: WireMessage[] = [];
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const id = replyText(entry[0]);
      const fields = Array.isArray(entry[1]) ? entry[1] : [];
      const index = fields.findIndex((field, i) => i % 2 === 0 && replyText(field) === "m");
      const bytes = index >= 0 ? replyBytes(fields[index + 1]) : undefined;
      const wire = bytes === undefined || id === undefined ? undefined : decodeWire(bytes, id);
      if (wire === undefined || wire instanceof PubSubError) {
        this.#report(wire ?? new PubSubError("WS_ERR_PUBSUB_FOREIGN_MESSAGE", `entry ${id} of ${topic}'s history is not a wsport message`, { target: topic }));
        continue;
      }
      out.push(wire);
    }
    return out;
  }

  /** Delivers another node's message unless that node's later ones on this topic already were; true when delivered. */
  #accept(topic: string, wire: WireMessage): boolean {
    // This node's own messages were delivered when Redis answered its publication (see own()).
    if (wire.origin === this.#self) return false;
    const stream = this.#streams.get(topic);
    if (stream !== undefined) {
      const last = stream.delivered.get(wire.origin);
      if (last !== undefined && wire.seq <= last) return false;
      stream.delivered.set(wire.origin, wire.seq);
    }
    this.#deliver(topic, wire);
    return true;
  }
}
