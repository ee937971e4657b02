// One script of WebSocketStream behaviours (what the web-platform-tests'
// websockets/stream/tentative tests check, written anew, and more), run
// against any implementation of the API: wsport's in the test process on
// Node, Deno and Bun, and Deno's native one in a child process:
//
//   deno run -A --unstable-net test/peers/websocket_stream_script.ts native ws://127.0.0.1:PORT
//   deno run -A test/peers/websocket_stream_script.ts wsport ws://127.0.0.1:PORT
//
// against test/peers/stream_peer_server.ts. Each scenario yields one line
// describing what happened, so two implementations compare line by line.
// A promise that has not settled after `PENDING_MS` is reported "pending":
// only for implementations that leave it pending for good (wsport settles
// everything promptly); no duration is asserted.

/** The two classes of the API, from whichever implementation. */
export interface StreamApi {
  WebSocketStream: new (url: any, options?: any) => any;
  WebSocketError: new (message?: string, init?: { closeCode?: number; reason?: string }) => any;
}

export type Outcomes = Record<string, string>;

const PENDING_MS = 2000;

export async function runScenarios(api: StreamApi, base: string): Promise<Outcomes> {
  const { WebSocketStream, WebSocketError } = api;
  const out: Outcomes = {};
  const describe = (value: unknown): string => {
    if (value instanceof WebSocketError) {
      return `WebSocketError(closeCode=${value.closeCode}, reason=${JSON.stringify(value.reason)})`;
    }
    if (value instanceof DOMException) return `DOMException ${value.name}`;
    if (value instanceof TypeError) return "TypeError";
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    return JSON.stringify(value);
  };
  const settle = async (promise: Promise<unknown>, ms = PENDING_MS): Promise<string> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pending = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("pending"), ms)));
    const settled = promise.then((value) => `resolve ${show(value)}`, (error) => `reject ${describe(error)}`);
    const result = await Promise.race([settled, pending]);
    clearTimeout(timer);
    return result;
  };
  const attempt = (fn: () => unknown): string => {
    try {
      fn();
      return "ok";
    } catch (error) {
      return `throws ${describe(error)}`;
    }
  };
  const open = async (path: string, options?: unknown) => {
    const wss = new WebSocketStream(base + path, options);
    return { wss, info: await wss.opened };
  };
  const dispose = async (wss: { close(): void; closed: Promise<unknown> }) => {
    try {
      wss.close();
    } catch { /* already failed */ }
    await settle(wss.closed, 500);
  };

  // A scenario that throws where another implementation does not is an outcome too.
  const scenario = async (name: string, run: () => string | Promise<string>) => {
    try {
      out[name] = await run();
    } catch (error) {
      out[name] = `the script threw ${describe(error)}`;
    }
  };

  // --- constructor ---
  const ctor = (name: string, ...args: unknown[]) =>
    scenario(`constructor ${name}`, () =>
      attempt(() => {
        const wss = new (WebSocketStream as any)(...args);
        wss.opened.catch(() => {});
        wss.closed.catch(() => {});
        void dispose(wss);
      }));
  await ctor("without arguments");
  await ctor("invalid URL", "invalid:");
  await ctor("options not a dictionary", `${base}/echo`, true);
  await ctor("protocols as a string", `${base}/echo`, { protocols: "hi" });
  await ctor("signal not an AbortSignal", `${base}/echo`, { signal: {} });
  await ctor("empty fragment", `${base}/echo#`);
  await ctor("duplicate protocols differing in case", `${base}/echo`, { protocols: ["a", "A"] });
  await ctor("protocol that is not a token", `${base}/echo`, { protocols: ["a b"] });
  await ctor("relative URL", "/echo");
  await scenario("http: URL", async () => {
    const wss = new WebSocketStream(base.replace("ws:", "http:") + "/echo");
    const result = `url ${wss.url.slice(0, 5)}... opened ${await settle(wss.opened.then(() => "open"))}`;
    await dispose(wss);
    return result;
  });
  await scenario("url, getters and tag", async () => {
    const wss = new WebSocketStream(`${base}/echo`);
    const result = [
      wss.url === `${base}/echo`,
      typeof Object.getOwnPropertyDescriptor(WebSocketStream.prototype, "opened")?.get,
      typeof Object.getOwnPropertyDescriptor(WebSocketStream.prototype, "closed")?.get,
      Object.prototype.toString.call(wss),
    ].join(" ");
    await wss.opened;
    await dispose(wss);
    return result;
  });

  // --- opened ---
  await scenario("opened with protocols", async () => {
    const { wss, info } = await open("/protocol", { protocols: ["alpha", "beta"] });
    ReadableStream.prototype.getReader.call(info.readable).releaseLock();
    WritableStream.prototype.getWriter.call(info.writable).releaseLock();
    const first = await info.readable.getReader().read();
    await dispose(wss);
    return `keys ${Object.keys(info).sort().join(",")} protocol ${info.protocol} extensions ${JSON.stringify(info.extensions)} first ${first.value}`;
  });
  for (const [name, path, options] of [
    ["404", "/404", undefined],
    ["server omits the requested protocol", "/no-protocol", { protocols: ["chat"] }],
  ] as const) {
    await scenario(`opened: ${name}`, async () => {
      const wss = new WebSocketStream(base + path, options);
      const result = `opened ${await settle(wss.opened)}; closed ${await settle(wss.closed)}`;
      await dispose(wss);
      return result;
    });
  }

  // --- what the writable takes and the readable gives ---
  const buffer = new Uint8Array([9, 1, 2, 3, 9]).buffer;
  const chunks: [string, () => unknown][] = [
    ["string", () => "hello"],
    ["Uint8Array", () => new Uint8Array([1, 2])],
    ["ArrayBuffer", () => new Uint8Array([3, 4, 5]).buffer],
    ["DataView of bytes 1-3", () => new DataView(buffer, 1, 3)],
    ["number", () => 42],
    ["object without a string form", () => ({ toString() { return this; } })],
    ["resizable ArrayBuffer", () => new (ArrayBuffer as any)(4, { maxByteLength: 8 })],
    ["view on a SharedArrayBuffer", () => new Uint8Array(new SharedArrayBuffer(4))],
  ];
  for (const [name, make] of chunks) {
    await scenario(`write ${name}`, async () => {
      const { wss, info } = await open("/echo");
      const written = await settle(info.writable.getWriter().write(make()));
      let read = "";
      if (written.startsWith("resolve")) {
        const { value } = await info.readable.getReader().read();
        read = `; read ${value?.constructor?.name} ${show(typeof value === "string" ? value : Array.from(value))}`;
      }
      await dispose(wss);
      return written + read;
    });
  }

  // --- close() ---
  for (const [name, arg] of [
    ["close()", undefined],
    ["close({})", {}],
    ["close({ reason: '' })", { reason: "" }],
    ["close({ reason: 'non-empty' })", { reason: "non-empty" }],
    ["close({ closeCode: 3456, reason: 'pizza' })", { closeCode: 3456, reason: "pizza" }],
    ["close({ code: 3456 }), an obsolete member", { code: 3456 }],
    ["close({ closeCode: 1000.7 })", { closeCode: 1000.7 }],
  ] as const) {
    await scenario(name, async () => {
      const { wss } = await open("/echo");
      return `${attempt(() => wss.close(arg))}; closed ${await settle(wss.closed)}`;
    });
  }
  await scenario("close() argument checks", async () => {
    const { wss } = await open("/echo");
    const results = [];
    for (const [name, arg] of [
      ["true", true],
      ["124-byte reason", { reason: ".".repeat(124) }],
      ["closeCode 999", { closeCode: 999 }],
      ["closeCode 1001", { closeCode: 1001 }],
      ["closeCode 2999", { closeCode: 2999 }],
      ["closeCode 5000", { closeCode: 5000 }],
      ["closeCode NaN", { closeCode: NaN }],
      ["closeCode 70000", { closeCode: 70000 }],
    ] as const) {
      results.push(`${name}: ${attempt(() => wss.close(arg))}`);
    }
    wss.close();
    await settle(wss.closed);
    results.push(`again after closed: ${attempt(() => wss.close())}`);
    return results.join("; ");
  });
  for (const [name, path, wait] of [
    ["close() during a slow handshake", "/slow-handshake", false],
    ["close() during a handshake never answered", "/sleep", true],
  ] as const) {
    await scenario(name, async () => {
      const wss = new WebSocketStream(base + path);
      if (wait) await new Promise((resolve) => setTimeout(resolve, 50));
      wss.close();
      return `opened ${await settle(wss.opened)}; closed ${await settle(wss.closed)}`;
    });
  }

  // --- closing through the streams ---
  const domWithMembers = () => Object.assign(new DOMException("yes", "DataCloneError"), { closeCode: 1000, reason: "x" });
  for (const [name, act] of [
    ["writer.close()", (i: any) => i.writable.getWriter().close()],
    ["writable.abort()", (i: any) => i.writable.abort()],
    ["writable.abort({ closeCode, reason })", (i: any) => i.writable.abort({ closeCode: 3333, reason: "obsolete" })],
    ["writable.abort(WebSocketError 3333)", (i: any) => i.writable.abort(new WebSocketError("", { closeCode: 3333 }))],
    ["writable.abort(WebSocketError 3456 'set')", (i: any) => i.writable.abort(new WebSocketError("", { closeCode: 3456, reason: "set" }))],
    ["writable.abort(WebSocketError reason only)", (i: any) => i.writable.abort(new WebSocketError("", { reason: "specified" }))],
    ["writable.abort(DOMException with closeCode)", (i: any) => i.writable.abort(domWithMembers())],
    ["readable.cancel()", (i: any) => i.readable.cancel()],
    ["readable.cancel(WebSocketError 3456 'set')", (i: any) => i.readable.cancel(new WebSocketError("", { closeCode: 3456, reason: "set" }))],
    ["readable.cancel(DOMException with closeCode)", (i: any) => i.readable.cancel(domWithMembers())],
  ] as const) {
    await scenario(name, async () => {
      const { wss, info } = await open("/echo");
      const done = act(info);
      return `closed ${await settle(wss.closed)}; its promise ${await settle(done)}`;
    });
  }
  await scenario("writer.close() waits for the closing handshake", async () => {
    const { wss, info } = await open("/delayed-passive-close");
    let closedFirst = false;
    wss.closed.then(() => (closedFirst = true), () => (closedFirst = true));
    const result = await settle(info.writable.getWriter().close());
    return `${result}; closed settled before it: ${closedFirst}`;
  });

  // --- the peer closes ---
  const readAll = async (readable: ReadableStream) => {
    const reader = readable.getReader();
    const reads: string[] = [];
    for (;;) {
      const next = reader.read().then((r: ReadableStreamReadResult<unknown>) => r, (error: unknown) => ({ error }));
      const r = await Promise.race([next, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), PENDING_MS))]);
      if (r === undefined) return [...reads, "pending"];
      if ("error" in r) return [...reads, `reject ${describe(r.error)}`];
      if (r.done) return [...reads, "done"];
      reads.push(JSON.stringify(r.value));
    }
  };
  for (const path of [
    "/remote-close?code=1000",
    "/remote-close",
    "/remote-close?code=4000&reason=robot",
    "/remote-close?code=4000&reason=%E3%83%AD%E3%83%9C%E3%83%83%E3%83%88",
    "/msg-then-close",
    "/protocol-error",
    "/remote-close?abrupt=1",
  ]) {
    await scenario(`peer ${path}`, async () => {
      const { wss, info } = await open(path);
      const reads = await readAll(info.readable);
      const closed = await settle(wss.closed);
      const closedError = await wss.closed.catch((e: unknown) => e);
      const ready = info.writable.getWriter().ready;
      const readyOutcome = await settle(ready);
      const sameObject = await ready.then(() => false, (e: unknown) => e === closedError);
      return `reads ${reads.join(",")}; closed ${closed}; writer.ready ${readyOutcome}${sameObject ? " (the same error object)" : ""}`;
    });
  }
  await scenario("the peer's close crosses ours", async () => {
    const { wss } = await open("/remote-close?code=4222&reason=remote");
    const local = attempt(() => wss.close({ closeCode: 4111, reason: "local" }));
    return `${local}; closed ${await settle(wss.closed)}`;
  });
  await scenario("closing handshake cut short", async () => {
    const { wss } = await open("/passive-close-abort");
    wss.close({ closeCode: 4000, reason: "because" });
    return `closed ${await settle(wss.closed)}`;
  });
  await scenario("peer closes while a write is unsent", async () => {
    const { wss, info } = await open("/remote-close?code=4567&unread=1&after=data");
    const write = info.writable.getWriter().write(new Uint8Array(20 * 1024 * 1024));
    write.catch(() => {}); // looked at below
    return `closed ${await settle(wss.closed)}; write ${await settle(write)}`;
  });

  // --- AbortSignal ---
  await scenario("signal aborted before construction", async () => {
    const wss = new WebSocketStream(`${base}/echo`, { signal: AbortSignal.abort() });
    return `opened ${await settle(wss.opened)}; closed ${await settle(wss.closed)}`;
  });
  await scenario("signal aborted before construction, custom reason", async () => {
    const wss = new WebSocketStream(`${base}/echo`, { signal: AbortSignal.abort(new Error("custom")) });
    return `opened ${await settle(wss.opened)}; closed ${await settle(wss.closed)}`;
  });
  await scenario("abort during the handshake", async () => {
    const controller = new AbortController();
    const wss = new WebSocketStream(`${base}/sleep`, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    return `opened ${await settle(wss.opened)}; closed ${await settle(wss.closed)}`;
  });
  await scenario("abort after opening", async () => {
    const controller = new AbortController();
    const { wss, info } = await open("/echo", { signal: controller.signal });
    controller.abort();
    await info.writable.getWriter().write("still here");
    const result = `echo ${(await info.readable.getReader().read()).value}`;
    await dispose(wss);
    return result;
  });

  // --- backpressure ---
  await scenario("receive backpressure", async () => {
    // The peer floods 64 MiB; the reader takes one message and stops. A reader that stops the
    // socket leaves the peer stuck with most of it unsent; one that buffers lets it all go.
    const id = Math.random().toString(36).slice(2);
    const { wss, info } = await open(`/flood?id=${id}&count=64&size=1048576`);
    const reader = info.readable.getReader();
    await reader.read();
    const stats = await open(`/stats?id=${id}`);
    const { flushed, total } = JSON.parse((await stats.info.readable.getReader().read()).value);
    let messages = 1;
    while (!(await reader.read()).done && ++messages < 64);
    await dispose(stats.wss);
    await dispose(wss);
    return `${flushed < total / 2 ? "the peer was held back" : "everything was taken"}; messages ${messages}`;
  });
  await scenario("send backpressure", async () => {
    // The peer reads nothing until released: a 32 MiB write must wait for it.
    const id = Math.random().toString(36).slice(2);
    const { wss, info } = await open(`/sink?id=${id}`);
    const write = info.writable.getWriter().write(new Uint8Array(32 * 1024 * 1024));
    write.catch(() => {}); // looked at below
    const before = await settle(write, 500);
    const release = await open(`/release?id=${id}`);
    const after = await settle(write, 30_000);
    const reply = (await info.readable.getReader().read()).value;
    await dispose(release.wss);
    await dispose(wss);
    return `before the peer reads: ${before}; after: ${after}; the peer got ${reply} bytes`;
  });
  return out;
}

function show(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (typeof value === "object" && value !== null && !Array.isArray(value) && !("closeCode" in value)) return "object";
  return JSON.stringify(value);
}

// As a script: print the outcomes of the chosen implementation as one JSON line.
if ((import.meta as { main?: boolean }).main) {
  const [which, base] = (globalThis as any).Deno?.args ?? [];
  const api: StreamApi = which === "native"
    ? { WebSocketStream: (globalThis as any).WebSocketStream, WebSocketError: (globalThis as any).WebSocketError }
    : await import("../../mod.ts").then((m) => ({ WebSocketStream: m.WebSocketStream, WebSocketError: m.WebSocketStreamError }));
  if (typeof api.WebSocketStream !== "function") throw new Error("no WebSocketStream here (Deno needs --unstable-net)");
  console.log(JSON.stringify(await runScenarios(api, base)));
  (globalThis as any).Deno?.exit(0);
}
