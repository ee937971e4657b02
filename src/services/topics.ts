/**
 * Topic subscriptions for publish/subscribe: which connections listen to
 * which topic, kept both ways so that publishing is one set lookup and a
 * closing connection leaves every topic it joined in one call.
 *
 * @module
 */

/**
 * The subscriptions of one server. Generic over the subscriber so that
 * this module needs nothing from the connection class.
 *
 * @example
 * ```ts
 * const topics = new TopicRegistry<string>();
 * topics.subscribe("alice", "news");
 * topics.subscribersOf("news"); // Set { "alice" }
 * topics.removeSubscriber("alice"); // when alice's connection closes
 * ```
 */
export class TopicRegistry<Subscriber> {
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  readonly #topicsOf = new Map<Subscriber, Set<string>>();
  readonly #changed: ((topic: string) => void) | undefined;

  /**
   * @param changed Told the topic whenever a topic's number of subscribers
   *   changes (a pub/sub engine listens to a topic only while it has some).
   */
  constructor(changed?: (topic: string) => void) {
    this.#changed = changed;
  }

  /**
   * Adds a subscription.
   *
   * @param subscriber Who listens.
   * @param topic To what.
   * @returns False when it was already subscribed.
   */
  subscribe(subscriber: Subscriber, topic: string): boolean {
    let topics = this.#topicsOf.get(subscriber);
    if (topics?.has(topic)) return false;
    if (topics === undefined) this.#topicsOf.set(subscriber, (topics = new Set()));
    topics.add(topic);
    let subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) this.#subscribers.set(topic, (subscribers = new Set()));
    subscribers.add(subscriber);
    this.#changed?.(topic);
    return true;
  }

  /**
   * Removes a subscription.
   *
   * @param subscriber Who listened.
   * @param topic To what.
   * @returns False when it was not subscribed.
   */
  unsubscribe(subscriber: Subscriber, topic: string): boolean {
    const topics = this.#topicsOf.get(subscriber);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.#topicsOf.delete(subscriber);
    this.#leave(subscriber, topic);
    return true;
  }

  /**
   * Whether a subscriber listens to a topic.
   *
   * @param subscriber Who.
   * @param topic What.
   * @returns True when subscribed.
   */
  isSubscribed(subscriber: Subscriber, topic: string): boolean {
    return this.#topicsOf.get(subscriber)?.has(topic) ?? false;
  }

  /**
   * The topics a subscriber listens to.
   *
   * @param subscriber Who.
   * @returns Its topics, in subscription order.
   */
  topicsOf(subscriber: Subscriber): string[] {
    return [...(this.#topicsOf.get(subscriber) ?? [])];
  }

  /**
   * The subscribers of a topic.
   *
   * @param topic What.
   * @returns Its subscribers (a live set: do not modify it).
   */
  subscribersOf(topic: string): ReadonlySet<Subscriber> {
    return this.#subscribers.get(topic) ?? EMPTY;
  }

  /**
   * Removes every subscription of a subscriber (its connection closed).
   *
   * @param subscriber Who.
   */
  removeSubscriber(subscriber: Subscriber): void {
    const topics = this.#topicsOf.get(subscriber);
    if (topics === undefined) return;
    this.#topicsOf.delete(subscriber);
    for (const topic of topics) this.#leave(subscriber, topic);
  }

  /** Topics with at least one subscriber. */
  get topicCount(): number {
    return this.#subscribers.size;
  }

  /**
   * The topics with at least one subscriber.
   *
   * @returns Them, in the order they got their first subscriber.
   */
  topics(): IterableIterator<string> {
    return this.#subscribers.keys();
  }

  #leave(subscriber: Subscriber, topic: string): void {
    const subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) return;
    subscribers.delete(subscriber);
    // Topics come and go with their subscribers: an empty one must not stay in memory.
    if (subscribers.size === 0) this.#subscribers.delete(topic);
    this.#changed?.(topic);
  }
}

const EMPTY: ReadonlySet<never> = new Set<never>();
