// TopicRegistry (src/services/topics.ts): who is subscribed to what, both
// ways, with nothing left behind when subscribers leave.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TopicRegistry } from "../src/services/topics.ts";

test("topics: subscribe, unsubscribe and the lookups both ways", () => {
  const topics = new TopicRegistry<string>();
  assert.equal(topics.subscribe("a", "news"), true);
  assert.equal(topics.subscribe("a", "news"), false, "already subscribed");
  topics.subscribe("a", "sport");
  topics.subscribe("b", "news");
  assert.deepEqual([...topics.subscribersOf("news")], ["a", "b"]);
  assert.deepEqual(topics.topicsOf("a"), ["news", "sport"], "in subscription order");
  assert.equal(topics.isSubscribed("b", "sport"), false);
  assert.equal(topics.topicCount, 2);
  assert.equal(topics.unsubscribe("b", "sport"), false, "not subscribed");
  assert.equal(topics.unsubscribe("a", "sport"), true);
  assert.equal(topics.topicCount, 1, "an empty topic is forgotten");
  assert.deepEqual([...topics.subscribersOf("sport")], []);
  assert.deepEqual(topics.topicsOf("nobody"), []);
});

test("topics: removing a subscriber removes every subscription and every topic it alone held", () => {
  const topics = new TopicRegistry<object>();
  const a = {};
  const b = {};
  for (const topic of ["x", "y", "z"]) topics.subscribe(a, topic);
  topics.subscribe(b, "y");
  topics.removeSubscriber(a);
  assert.deepEqual(topics.topicsOf(a), []);
  assert.equal(topics.topicCount, 1);
  assert.deepEqual([...topics.subscribersOf("y")], [b]);
  topics.removeSubscriber(a); // again: nothing to do
  topics.removeSubscriber(b);
  assert.equal(topics.topicCount, 0);
});

test("topics: any sequence of operations keeps both directions consistent and leaves no empty topic (property)", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("sub" as const), who: fc.nat(4), topic: fc.nat(4) }),
    fc.record({ kind: fc.constant("unsub" as const), who: fc.nat(4), topic: fc.nat(4) }),
    fc.record({ kind: fc.constant("remove" as const), who: fc.nat(4), topic: fc.constant(0) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const topics = new TopicRegistry<number>();
      const model = new Set<string>();
      for (const { kind, who, topic } of ops) {
        const key = `${who}/${topic}`;
        if (kind === "sub") {
          assert.equal(topics.subscribe(who, String(topic)), !model.has(key));
          model.add(key);
        } else if (kind === "unsub") assert.equal(topics.unsubscribe(who, String(topic)), model.delete(key));
        else {
          topics.removeSubscriber(who);
          for (const k of [...model]) if (k.startsWith(`${who}/`)) model.delete(k);
        }
      }
      for (let who = 0; who <= 4; who++) {
        for (let topic = 0; topic <= 4; topic++) {
          const expected = model.has(`${who}/${topic}`);
          assert.equal(topics.isSubscribed(who, String(topic)), expected);
          assert.equal(topics.subscribersOf(String(topic)).has(who), expected);
        }
      }
      assert.equal(topics.topicCount, new Set([...model].map((k) => k.split("/")[1])).size);
    }),
  );
});
