// One wsport node on Redis, for the multi-process tests: runs unchanged on
// Node, Deno and Bun, serves the test protocol (a client subscribes to the
// topics in its URL, `/?topics=a,b[&since=ID]`), and obeys one JSON command
// per stdin line, answering one JSON line on stdout each:
//   {"cmd":"publish","topic":"feed","count":100}    publishes "<name>:<i>", i = 0..count-1
//   {"cmd":"stream","topic":"feed","every":10}       publishes one every `every` ms until "stop-stream"
//   {"cmd":"stop-stream"}                            answers {"sent":n}
//   {"cmd":"stats"} | {"cmd":"nodes"} | {"cmd":"count","topic":"feed"} | {"cmd":"local","topic":"feed"}
// Prints {"ready":{"port":...,"nodeId":...}} once listening.
//   <runtime> test/peers/redis_node.ts --redis URL --name NAME [--history 1] [--reconnect-ms N] [--presence-ms N]
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { serve } from "../../mod.ts";
import { redisEngine } from "../../adapters/redis.ts";
import { topicsProtocol } from "../redis_helpers.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    redis: { type: "string" },
    name: { type: "string", default: "node" },
    history: { type: "string", default: "0" },
    "reconnect-ms": { type: "string" },
    "presence-ms": { type: "string", default: "300" },
  },
});
const name = values.name!;
const errors: string[] = [];
const reconnect = values["reconnect-ms"];
const engine = await redisEngine({
  url: values.redis!,
  history: values.history === "1" ? { maxLength: 10_000 } : false,
  presence: { interval: Number(values["presence-ms"]), info: { name, runtime: "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node" } },
  onError: (error) => void errors.push(error.code),
  ...(reconnect ? { clientOptions: { socket: { reconnectStrategy: () => Number(reconnect) } } } : {}),
});
const server = await serve({ hostname: "127.0.0.1", port: 0, pingInterval: 0, pubsub: engine, protocols: [topicsProtocol()] });
const reply = (value: unknown) => process.stdout.write(JSON.stringify(value) + "\n");
reply({ ready: { port: server.port, nodeId: engine.nodeId } });

let streaming: { timer: ReturnType<typeof setInterval>; sent: number } | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as { cmd: string; topic?: string; count?: number; every?: number };
  switch (command.cmd) {
    case "publish":
      for (let i = 0; i < command.count!; i++) server.publish(command.topic!, `${name}:${i}`);
      reply({ published: command.count });
      break;
    case "stream": {
      const state = { sent: 0, timer: setInterval(() => server.publish(command.topic!, `${name}:${state.sent++}`), command.every) };
      streaming = state;
      reply({ streaming: true });
      break;
    }
    case "stop-stream":
      clearInterval(streaming?.timer);
      reply({ sent: streaming?.sent ?? 0 });
      break;
    case "stats":
      reply({ stats: engine.stats, errors: [...new Set(errors)] });
      break;
    case "nodes":
      reply({ nodes: (await engine.nodes()).map((n) => ({ id: n.id, name: n.info.name, runtime: n.info.runtime })) });
      break;
    case "count":
      reply({ count: await engine.subscriberCount(command.topic!) });
      break;
    case "local":
      reply({ local: server.subscriberCount(command.topic!) });
      break;
    case "stop":
      await server.close({ timeout: 2000 });
      reply({ stopped: true });
      process.exit(0);
  }
}
