// The HTTP scenario of bench/run.mjs (`--scenarios http`): wsport's plain
// HTTP/1.1 side against each runtime's reference HTTP server in the same run,
// with the same load generator (loadgen_http.mjs):
//   node: wsport vs node:http     deno: wsport vs Deno.serve     bun: wsport vs Bun.serve
// Every server answers GET with "hello world" (a small fixed body) and keeps
// connections alive without an idle limit. Two measurements per server, on
// a fresh process: the memory of idle kept-alive connections (each made one
// request), then requests/s over 64 kept-alive connections, one request in
// flight on each.

/** The HTTP servers of one runtime: wsport, then the anchor. */
function httpServers(runtime, { node, deno, bun }) {
  const run = { node, deno, bun }[runtime];
  const anchor = {
    node: { impl: "node:http", cmd: node("bench/servers/node_http.mjs") },
    deno: { impl: "Deno.serve", cmd: deno("bench/servers/deno_native.ts") },
    bun: { impl: "Bun.serve", cmd: bun("bench/servers/bun_native.ts") },
  }[runtime];
  return [{ impl: "wsport", cmd: run("bench/servers/wsport.ts") }, { ...anchor, anchor: true }];
}

/** The anchor of the HTTP rows on each runtime. */
export const HTTP_ANCHOR = { node: "node:http", deno: "Deno.serve", bun: "Bun.serve" };

export const S_HTTP = "http keep-alive, small response";
export const S_HTTP_RSS = "http idle keep-alive connection RSS";
export const S_HTTP_HEAP = "http idle keep-alive connection JS heap";
const HTTP_LOAD = { conns: 64, depth: 1 };

/**
 * Measures the HTTP scenario on one runtime.
 *
 * @param runtime "node", "deno" or "bun".
 * @param ctx The driver's helpers: startServer, load, record, holdIdle, median, spread, cpuNote, fmt, node, deno, bun.
 */
export async function measureHttp(runtime, ctx) {
  const { startServer, load, record, holdIdle, median, spread, cpuNote, fmt } = ctx;
  for (const spec of httpServers(runtime, ctx)) {
    const base = { runtime, impl: spec.impl };
    const fail = (scenario, unit, error, lowerIsBetter) => record({ ...base, scenario, value: null, unit, detail: `error: ${error.message ?? error}`, lowerIsBetter });
    let server;
    try {
      server = await startServer(spec.cmd);
    } catch (error) {
      for (const [scenario, unit, lower] of [[S_HTTP_RSS, "KiB/conn", true], [S_HTTP_HEAP, "KiB/conn", true], [S_HTTP, "req/s", false]]) fail(scenario, unit, error, lower);
      continue;
    }
    try {
      // 1. Idle kept-alive connections, on the fresh server.
      try {
        await holdIdle(server, "idle-http", async (ready, empty, full, ask) => {
          const { closedByServer } = await ask("stats");
          const n = ready.open - closedByServer;
          const note = `${ready.open} kept-alive conns, each after one request (${closedByServer} closed by the server meanwhile), opened in ${ready.seconds} s; empty server ${fmt(empty.rss / 2 ** 20)} MiB RSS`;
          record({ ...base, scenario: S_HTTP_RSS, value: (full.rss - empty.rss) / n / 1024, unit: "KiB/conn", detail: note, lowerIsBetter: true });
          record({ ...base, scenario: S_HTTP_HEAP, value: (full.heap - empty.heap) / n / 1024, unit: "KiB/conn", detail: note, lowerIsBetter: true });
        });
      } catch (error) {
        fail(S_HTTP_RSS, "KiB/conn", error, true);
        fail(S_HTTP_HEAP, "KiB/conn", error, true);
      }
      await new Promise((r) => setTimeout(r, 500)); // let the server finish closing them
      // 2. Requests/s.
      try {
        const r = await load(server, "http", HTTP_LOAD);
        const statuses = Object.entries(r.statuses).map(([status, count]) => `${count} × ${status}`).join(", ");
        record({ ...base, scenario: S_HTTP, value: median(r.rounds), unit: "req/s", detail: `${spread(r.rounds)}, ${cpuNote(r)}, ${HTTP_LOAD.conns} conns × ${HTTP_LOAD.depth} in flight; answers ${statuses}; ${r.closedByServer} closed by the server` });
      } catch (error) {
        fail(S_HTTP, "req/s", error, false);
      }
      if (!server.alive()) throw new Error("server died during the run");
    } finally {
      await server.stop();
    }
  }
}
