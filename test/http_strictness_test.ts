// Strict where request smuggling lives: every hostile request of
// http_cases.ts gets its own test against the sans-IO state machine (the
// status and code, the answer, Connection: close and the close), and all
// of them go to a real server over 127.0.0.1 on this runtime, whose fetch
// must never see them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { asText, drain, latin1, rawConnect, within } from "./helpers.ts";
import { HttpServerProtocol } from "../src/core/http/connection.ts";
import type { HttpEvent } from "../src/core/http/events.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { runtimeNetwork, serve } from "../mod.ts";
import { HOSTILE, VALID } from "./http_cases.ts";

for (const c of HOSTILE) {
  test(`refused with ${c.status} (${c.code}): ${c.name}`, () => {
    const http = new HttpServerProtocol();
    const events: HttpEvent[] = http.receiveData(latin1(c.text));
    if (c.at === "body") {
      assert.equal(events[0]?.type, "http-request", "the head is fine: the request is reported");
      events.push(...http.acceptBody());
    } else {
      assert.ok(!events.some((e) => e.type === "http-request"), "no request is reported");
    }
    const error = events.find((e) => e.type === "http-error");
    assert.ok(error?.type === "http-error", `an http-error event (got ${events.map((e) => e.type).join(", ")})`);
    assert.equal(error.error.status, c.status);
    assert.equal(error.error.code, c.code);
    assert.ok(!events.some((e) => e.type === "http-end"), "no request completes");
    const out = drain(http);
    const text = asText(out.bytes);
    assert.ok(text.startsWith(`HTTP/1.1 ${c.status} `), text.slice(0, 40));
    assert.match(text, /\r\nConnection: close\r\n/);
    assert.equal(out.eof, true, "the connection closes after the answer");
    assert.equal(http.closed, true);
    assert.deepEqual(http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), [], "nothing more is read");
  });
}

test("a WebSocket server without fetch refuses the hostile requests the same way", () => {
  for (const c of HOSTILE.filter((h) => h.at === "head")) {
    const server = new ServerProtocol();
    const events = server.receiveData(latin1(c.text));
    assert.equal(events.length, 1, c.name);
    assert.equal(events[0]!.type, "handshake-error", c.name);
    assert.ok(asText(drain(server).bytes).startsWith(`HTTP/1.1 ${c.status} `), c.name);
  }
});

test("every valid request of the table is read, alone and pipelined", () => {
  for (const v of VALID) {
    const http = new HttpServerProtocol();
    let events = http.receiveData(latin1(v.text));
    let requests = 0;
    while (events.length > 0) {
      if (events.some((e) => e.type === "http-error")) assert.fail(`${v.name}: ${JSON.stringify(events)}`);
      if (http.bodyPending) events.push(...http.acceptBody());
      if (events.some((e) => e.type === "http-end")) {
        requests++;
        http.respond({ status: 200 });
        events = http.receiveData(new Uint8Array(0));
      } else {
        break;
      }
    }
    assert.ok(requests >= 1, v.name);
  }
});

test("over real sockets, each hostile request gets its status and the connection closes; fetch sees none of them", async () => {
  const seen: string[] = [];
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    network: await runtimeNetwork(),
    fetch: async (request) => {
      seen.push(`${request.method} ${request.url}`);
      // A handler that reads the body, so that a bad chunk is met while it waits.
      if (request.body) await request.text().catch(() => {});
      return new Response("should not be sent");
    },
  });
  try {
    const answers: string[] = [];
    await Promise.all(HOSTILE.map(async (c) => {
      const peer = await rawConnect(await runtimeNetwork(), server.port);
      peer.transport.write([latin1(c.text)]);
      await within(peer.closed, 10000, `the close after "${c.name}"`);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(peer.text())?.[1];
      answers.push(`${c.name}: ${status}`);
      assert.equal(Number(status), c.status, `${c.name}: ${peer.text().slice(0, 80)}`);
      assert.doesNotMatch(peer.text(), /should not be sent/, c.name);
    }));
    assert.equal(answers.length, HOSTILE.length);
    // Refused at the head: fetch never runs. Refused in the body: the request may have
    // been handed over, but its answer is the refusal (asserted above).
    const bodyCases = HOSTILE.filter((c) => c.at === "body").length;
    assert.ok(seen.length <= bodyCases, `fetch saw ${seen.length} requests`);
  } finally {
    await server.close();
  }
});

test("over real sockets, a Host that would bend the URL is refused with 400", async () => {
  let called = false;
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    network: await runtimeNetwork(),
    fetch: () => {
      called = true;
      return new Response("no");
    },
  });
  try {
    for (const host of ["evil.example/x?", "a@b", "a b", "a\\b", "a#b"]) {
      const peer = await rawConnect(await runtimeNetwork(), server.port);
      peer.transport.write([latin1(`GET /path HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)]);
      await within(peer.closed);
      assert.match(peer.text(), /^HTTP\/1\.1 400 /, host);
    }
    assert.equal(called, false);
  } finally {
    await server.close();
  }
});
