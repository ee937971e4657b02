/**
 * Presence on Redis: which nodes are alive, and how many subscribers a
 * topic has on all of them. Each node renews a heartbeat every
 * `interval`; a node that stops (crash, `kill -9`, network loss) drops out
 * of the list `ttl` after its last heartbeat at the latest, judged on
 * Redis's clock. Each node keeps its own subscriber counts in a hash that
 * expires with it, so a dead node's counts vanish on their own.
 *
 * @module
 */

import type { Clock, Timer } from "../../clock.ts";
import type { NodeInfo } from "../engine.ts";
import { type RedisLink, replyText } from "./link.ts";
import { HEARTBEAT, LIVE_NODES, type RedisNames, runScript, SUBSCRIBER_COUNT } from "./scripts.ts";

/** Options of presence. */
export interface PresenceOptions {
  /** Milliseconds between heartbeats. Default 2000. */
  interval?: number;
  /** Milliseconds after the last heartbeat at which a node counts as gone. Default 3 × interval. */
  ttl?: number;
  /** What this node tells about itself in `nodes()` (JSON-serialisable). Default: runtime and start time. */
  info?: Record<string, unknown>;
  /** Milliseconds between writes of changed subscriber counts. Default 100. */
  countsInterval?: number;
}

/** Default of {@link PresenceOptions.interval}. */
export const DEFAULT_HEARTBEAT_INTERVAL = 2000;

/** One node's part in presence. */
export class Presence {
  readonly #link: RedisLink;
  readonly #names: RedisNames;
  readonly #id: string;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #ttl: number;
  readonly #countsInterval: number;
  readonly #info: string;
  readonly #count: (topic: string) => number;
  readonly #topics: () => Iterable<string>;
  readonly #report: (error: unknown) => void;
  readonly #dirty = new Set<string>();
  #heartbeat: Timer | undefined;
  #countsTimer: Timer | undefined;
  #stopped = false;

  /**
   * @param link The Redis connections.
   * @param names Key names.
   * @param id This node's id.
   * @param options Timing and info.
   * @param local This node's subscriber count of a topic, and its topics.
   * @param clock Timers.
   * @param report Where failures go (they never stop the heartbeat).
   */
  constructor(
    link: RedisLink,
    names: RedisNames,
    id: string,
    options: PresenceOptions,
    local: { count: (topic: string) => number; topics: () => Iterable<string> },
    clock: Clock,
    report: (error: unknown) => void,
  ) {
    this.#link = link;
    this.#names = names;
    this.#id = id;
    this.#clock = clock;
    this.#interval = options.interval ?? DEFAULT_HEARTBEAT_INTERVAL;
    this.#ttl = options.ttl ?? 3 * this.#interval;
    if (!(this.#interval > 0) || !(this.#ttl > this.#interval)) throw new RangeError("presence needs interval > 0 and ttl > interval");
    this.#countsInterval = options.countsInterval ?? 100;
    this.#info = JSON.stringify(options.info ?? {});
    this.#count = local.count;
    this.#topics = local.topics;
    this.#report = report;
  }

  /** The milliseconds after which a silent node is gone. */
  get ttl(): number {
    return this.#ttl;
  }

  /** Starts the heartbeat (at once, then every interval). */
  start(): void {
    this.#beat();
  }

  /** Redis came back (perhaps empty, after a restart): write everything again, at once. */
  rewrite(): void {
    if (this.#stopped) return;
    for (const topic of this.#topics()) this.#dirty.add(topic);
    this.#heartbeat?.cancel();
    this.#beat();
    this.#scheduleCounts(0);
  }

  /**
   * A topic's local count changed: written with the next batch.
   *
   * @param topic The topic.
   */
  changed(topic: string): void {
    this.#dirty.add(topic);
    this.#scheduleCounts(this.#countsInterval);
  }

  /**
   * The live nodes.
   *
   * @returns Each with its id and info.
   */
  async nodes(): Promise<NodeInfo[]> {
    const reply = await runScript(this.#link, LIVE_NODES, [this.#names.nodes], [this.#names.infoPrefix]);
    const flat = Array.isArray(reply) ? reply : [];
    const nodes: NodeInfo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      let info: Record<string, unknown> = {};
      try {
        info = JSON.parse(replyText(flat[i + 1]) || "{}");
      } catch {
        // Another writer's value: the node is listed with no info.
      }
      nodes.push({ id: replyText(flat[i]) ?? "", info });
    }
    return nodes;
  }

  /**
   * A topic's subscribers on every live node (this one's as last written: within `countsInterval`).
   *
   * @param topic The topic.
   * @returns The sum.
   */
  async subscriberCount(topic: string): Promise<number> {
    const reply = await runScript(this.#link, SUBSCRIBER_COUNT, [this.#names.nodes], [this.#names.countsPrefix, topic]);
    return typeof reply === "number" ? reply : Number(replyText(reply) ?? 0);
  }

  /** Leaves presence at once (a graceful stop), rather than after the ttl. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#heartbeat?.cancel();
    this.#countsTimer?.cancel();
    if (!this.#link.ready.commands) return;
    await Promise.all([
      this.#link.command(["ZREM", this.#names.nodes, this.#id]),
      this.#link.command(["DEL", this.#names.infoPrefix + this.#id, this.#names.countsPrefix + this.#id]),
    ]).catch(() => {}); // the node expires anyway
  }

  #beat(): void {
    if (this.#stopped) return;
    if (this.#link.ready.commands) {
      const keys = [this.#names.nodes, this.#names.infoPrefix + this.#id, this.#names.countsPrefix + this.#id];
      runScript(this.#link, HEARTBEAT, keys, [this.#id, String(this.#ttl), this.#info]).catch(this.#report);
    }
    this.#heartbeat = this.#clock.setTimer(this.#interval, () => this.#beat());
  }

  #scheduleCounts(ms: number): void {
    if (this.#countsTimer !== undefined || this.#stopped) return;
    this.#countsTimer = this.#clock.setTimer(ms, () => {
      this.#countsTimer = undefined;
      this.#writeCounts();
    });
  }

  #writeCounts(): void {
    if (this.#dirty.size === 0 || this.#stopped) return;
    if (!this.#link.ready.commands) return; // kept dirty: rewritten in full when Redis is back
    const key = this.#names.countsPrefix + this.#id;
    const set: string[] = [];
    const gone: string[] = [];
    for (const topic of this.#dirty) {
      const n = this.#count(topic);
      if (n > 0) set.push(topic, String(n));
      else gone.push(topic);
    }
    this.#dirty.clear();
    const writes: Promise<unknown>[] = [];
    if (set.length > 0) writes.push(this.#link.command(["HSET", key, ...set]));
    if (gone.length > 0) writes.push(this.#link.command(["HDEL", key, ...gone]));
    writes.push(this.#link.command(["PEXPIRE", key, String(this.#ttl)]));
    Promise.all(writes).catch(this.#report);
  }
}
