// One command for every benchmark: wsport against the anchors of each runtime
// (ws on Node, Bun.serve on Bun, Deno.serve on Deno, and a raw TCP echo on
// each), in the same run, with ratios.
//
//   npm run bench                 full run (about 15 min); writes bench/results/latest.json,
//                                 a dated copy and bench/results/README.md
//   npm run bench -- --quick      about 3 min; writes bench/results/latest.json
//   options: --no-save (print only)  --runtimes node,deno,bun   --scenarios core,echo,large,broadcast,memory,handshake,deflate,http,http2
//   A run of only some scenarios leaves latest.json, the dated copy and results/README.md alone;
//   a full (not --quick) run that includes deflate writes its rows to bench/results/deflate-DATE.json.
//   npm run bench -- --scenarios deflate      permessage-deflate only (about 3 min per runtime)
//   npm run bench -- --scenarios cluster      Redis fan-out (opt-in, not in the default run; Node; needs
//                                             Debian's redis-server): one publisher, 5,000 clients over two
//                                             server processes on one Redis, against one process and against
//                                             socket.io 4 + @socket.io/redis-adapter; writes results/cluster-DATE.json
//   npm run bench -- --scenarios http2        WebSockets over HTTP/2 streams against HTTP/1.1 upgrades, over TLS
//   npm run bench -- --scenarios http         plain HTTP/1.1 keep-alive against node:http, Deno.serve, Bun.serve (bench/http.mjs)
//
// Every server runs pinned to CPU 0 and every load generator to CPU 1
// (taskset), each in its own process group, killed when measured and on exit.
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { readdirSync, readFileSync, writeFileSync, mkdirSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HTTP_ANCHOR, measureHttp } from "./http.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "node_modules/.bin");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const SAVE = !argv.includes("--no-save"); // --no-save: print only, leave bench/results/ alone
const listOption = (name, all) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1].split(",") : all;
};
const RUNTIMES = listOption("runtimes", ["node", "deno", "bun"]);
const ALL_SCENARIOS = ["core", "memory", "handshake", "echo", "large", "broadcast", "deflate", "http", "http2"];
// Opt-in scenarios: run only when named.
const EXTRA_SCENARIOS = ["cluster"];
const SCENARIOS = new Set(listOption("scenarios", ALL_SCENARIOS));
for (const s of SCENARIOS) if (!ALL_SCENARIOS.includes(s) && !EXTRA_SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
const PARTIAL = ALL_SCENARIOS.some((s) => !SCENARIOS.has(s));

const CFG = QUICK
  ? { warmup: 0.3, seconds: 0.5, rounds: 3, idle: 5000, receivers: 5000, fanouts: 3, coreTime: 60 }
  : { warmup: 2, seconds: 2, rounds: 5, idle: 10000, receivers: 5000, fanouts: 11, coreTime: 400 };
const ECHO_SMALL = { conns: 64, depth: 32, size: 32 };
const ECHO_LARGE = [
  { label: "64 KiB", size: 64 * 1024, conns: 8, depth: 8 },
  { label: "1 MiB", size: 1024 * 1024, conns: 4, depth: 2 },
];
const DEFLATE = { conns: 64, depth: 8, size: 4096 };
const DEFLATE_LARGE = { conns: 8, depth: 4, size: 64 * 1024 };
// Idle connections with permessage-deflate: each echoes one 4 KiB compressible message first.
// A wsport server started with --ping-interval PING frees its compressor once a connection has
// been quiet a whole interval (at most about two intervals after its last message), so the
// second measurement, QUIET seconds after the echoes, is after that release.
const DEFLATE_IDLE = { conns: QUICK ? 1000 : 2000, size: 4096, settle: 0.5, quiet: 5, ping: 2000 };

const HAS_TASKSET = (() => {
  try {
    execFileSync("which", ["taskset"], { stdio: "ignore" });
    return os.cpus().length >= 2;
  } catch {
    return false;
  }
})();
const SERVER_CPU = "0";
const LOADGEN_CPU = "1";
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString()) || 100;
  } catch {
    return 100;
  }
})();

// --- process groups -----------------------------------------------------------

const groups = new Set();
function killGroup(pid, signal = "SIGKILL") {
  try {
    process.kill(-pid, signal);
  } catch { /* already gone */ }
}
process.on("exit", () => { for (const pid of groups) killGroup(pid); });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every benchmark process`);
    process.exit(130);
  });
}

/** Spawns `command` in its own process group, pinned to `cpu`, with the fd limit raised. */
function spawnPinned(cpu, command, env = {}) {
  const pinned = HAS_TASKSET ? ["taskset", "-c", cpu, ...command] : command;
  const child = spawn("bash", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "bench", ...pinned], {
    cwd: ROOT,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  groups.add(child.pid);
  child.lines = createInterface({ input: child.stdout });
  child.stderrText = "";
  child.stderr.on("data", (d) => { child.stderrText = (child.stderrText + d).slice(-2000); });
  child.exited = new Promise((resolve) => child.on("exit", (code, sig) => { groups.delete(child.pid); resolve(code ?? sig); }));
  child.stdin.on("error", () => {});
  return child;
}

/** Resolves with the first stdout line `match` accepts (its return value); rejects on timeout or exit. */
function waitLine(child, match, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timeout waiting for ${what}`)), timeoutMs);
    const onLine = (line) => {
      let value;
      try {
        value = match(line);
      } catch (error) {
        return done(error); // a line that reports a failure rejects, never throws from the listener
      }
      if (value !== undefined) done(null, value);
    };
    const onExit = (code) => done(new Error(`exited (${code}) before ${what}: ${child.stderrText.trim().split("\n").slice(-3).join(" | ")}`));
    const done = (error, value) => {
      clearTimeout(timer);
      child.lines.off("line", onLine);
      child.off("exit", onExit);
      error ? reject(error) : resolve(value);
    };
    child.lines.on("line", onLine);
    child.once("exit", onExit);
  });
}

/** CPU seconds used so far by every process of a group (a runtime may fork helpers). */
function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* exited meanwhile */ }
  }
  return ticks / CLK_TCK;
}

// --- servers and load -------------------------------------------------------------

const node = (file) => [process.execPath, "--expose-gc", "--import", "tsx", file];
const deno = (file) => [path.join(BIN, "deno"), "run", "-A", "--v8-flags=--expose-gc", file];
const bun = (file) => [path.join(BIN, "bun"), file];
const SERVERS = {
  node: [
    { impl: "wsport", cmd: node("bench/servers/wsport.ts") },
    { impl: "ws", cmd: node("bench/servers/ws_server.mjs"), anchor: true },
    { impl: "raw TCP", cmd: node("bench/servers/raw_echo.ts"), raw: true },
  ],
  deno: [
    { impl: "wsport", cmd: deno("bench/servers/wsport.ts") },
    { impl: "Deno.serve", cmd: deno("bench/servers/deno_native.ts"), anchor: true },
    { impl: "raw TCP", cmd: deno("bench/servers/raw_echo.ts"), raw: true },
  ],
  bun: [
    { impl: "wsport", cmd: bun("bench/servers/wsport.ts") },
    { impl: "Bun.serve", cmd: bun("bench/servers/bun_native.ts"), anchor: true },
    { impl: "raw TCP", cmd: bun("bench/servers/raw_echo.ts"), raw: true },
  ],
};
const ANCHOR = { node: "ws", deno: "Deno.serve", bun: "Bun.serve" };

async function startServer(cmd) {
  const child = spawnPinned(SERVER_CPU, [...cmd, "--port", "0", "--host", "127.0.0.1"]);
  let info; // a server may describe itself on an "info {json}" line before "listening"
  const onInfo = (l) => { if (l.startsWith("info ")) info = JSON.parse(l.slice(5)); };
  child.lines.on("line", onInfo);
  try {
    const port = await waitLine(child, (l) => (l.startsWith("listening ") ? Number(l.slice(10)) : undefined), 30000, "listening");
    child.lines.off("line", onInfo);
    return {
      port,
      info,
      cpu: () => groupCpuSeconds(child.pid),
      async mem() {
        const reply = waitLine(child, (l) => (l.startsWith("MEM ") ? JSON.parse(l.slice(4)) : undefined), 30000, "MEM");
        child.stdin.write("mem\n");
        return reply;
      },
      async stop() {
        killGroup(child.pid, "SIGTERM");
        const timer = setTimeout(() => killGroup(child.pid), 1500);
        await child.exited;
        clearTimeout(timer);
      },
      alive: () => child.exitCode === null && child.signalCode === null,
    };
  } catch (error) {
    killGroup(child.pid);
    await child.exited;
    throw error;
  }
}

/**
 * Has the load generator open CFG.idle connections in an idle mode ("idle", "idle-http")
 * and hold them; `measure(ready, empty, full, ask)` gets its "ready" line and the server's
 * memory before and a second after, and may `ask("stats")`. The connections are closed after.
 */
async function holdIdle(server, mode, measure) {
  const empty = await server.mem();
  const holder = spawnPinned(LOADGEN_CPU, [process.execPath, "bench/loadgen.mjs", mode, "--port", String(server.port), "--conns", String(CFG.idle)]);
  const ask = (what) => {
    const reply = waitLine(holder, (l) => (JSON.parse(l).event === what ? JSON.parse(l) : undefined), 10000, what);
    holder.stdin.write(`${what}\n`);
    return reply;
  };
  try {
    const ready = await waitLine(holder, (l) => {
      const m = JSON.parse(l);
      if (m.event === "error") throw new Error(m.message);
      return m.event === "ready" ? m : undefined;
    }, 120000, "idle connections");
    await new Promise((r) => setTimeout(r, 1000));
    await measure(ready, empty, await server.mem(), ask);
  } finally {
    holder.stdin.write("close\n");
    const timer = setTimeout(() => killGroup(holder.pid), 5000);
    await holder.exited;
    clearTimeout(timer);
  }
}

/** Runs a timed load-generator mode; returns its result plus the server's CPU share over the measured part. */
async function load(server, mode, options, script = "bench/loadgen.mjs") {
  const args = { port: server.port, warmup: CFG.warmup, seconds: CFG.seconds, rounds: CFG.rounds, ...options };
  const child = spawnPinned(LOADGEN_CPU, [process.execPath, script, mode, ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)])]);
  const budget = (args.warmup + args.seconds * args.rounds) * 1000 + 90000;
  let start;
  const result = await waitLine(child, (line) => {
    const msg = JSON.parse(line);
    if (msg.event === "measure-start") start = { cpu: server.cpu(), t: performance.now() };
    else if (msg.event === "error") return { error: msg.message };
    else if (msg.mode) return msg;
    return undefined;
  }, budget, `${mode} result`).finally(() => killGroup(child.pid));
  if (result.error) throw new Error(result.error);
  if (start) result.serverCpu = +((server.cpu() - start.cpu) / ((performance.now() - start.t) / 1000)).toFixed(2);
  return result;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => {
  const m = median(xs);
  return m ? `±${Math.round(((Math.max(...xs) - Math.min(...xs)) / 2 / m) * 100)}%` : "";
};
const cpuNote = (r) => `loadgen CPU ${r.cpu}, server CPU ${r.serverCpu ?? "?"}`;

// --- results ------------------------------------------------------------------------

const rows = [];
function record(row) {
  rows.push(row);
  const value = row.value === null ? row.detail : `${fmt(row.value)} ${row.unit}`;
  console.error(`  ${row.runtime.padEnd(5)} ${row.impl.padEnd(20)} ${row.scenario.padEnd(34)} ${value}`);
}
const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString("en-US") : String(+v.toFixed(2)));

async function measureServer(runtime, spec) {
  const base = { runtime, impl: spec.impl };
  const fail = (scenario, unit, error) => record({ ...base, scenario, value: null, unit, detail: `error: ${error.message ?? error}` });
  let server;
  try {
    server = await startServer(spec.cmd);
  } catch (error) {
    for (const [scenario, unit] of plannedRows(spec)) fail(scenario, unit, error);
    return;
  }
  const attempt = async (scenarios, fn) => {
    try {
      await fn();
    } catch (error) {
      for (const [scenario, unit] of scenarios) fail(scenario, unit, error);
    }
  };
  try {
    if (SCENARIOS.has("memory")) {
      await attempt([["idle memory RSS", "KiB/conn"], ["idle memory JS heap", "KiB/conn"]], async () => {
        await holdIdle(server, "idle", async (ready, empty, full) => {
          const n = full.conns || ready.open;
          const note = `${n} idle conns (server counts ${full.conns}), opened in ${ready.seconds} s; empty server ${fmt(empty.rss / 2 ** 20)} MiB RSS`;
          record({ ...base, scenario: "idle memory RSS", value: (full.rss - empty.rss) / n / 1024, unit: "KiB/conn", detail: note, lowerIsBetter: true });
          record({ ...base, scenario: "idle memory JS heap", value: (full.heap - empty.heap) / n / 1024, unit: "KiB/conn", detail: note, lowerIsBetter: true });
        });
      });
      await new Promise((r) => setTimeout(r, 500)); // let the server finish closing them
    }
    if (SCENARIOS.has("handshake")) {
      await attempt([["handshakes", "handshakes/s"]], async () => {
        const r = await load(server, "handshake", { conns: 32 });
        record({ ...base, scenario: "handshakes", value: median(r.rounds), unit: "handshakes/s", detail: `${spread(r.rounds)}, ${cpuNote(r)}${r.failed ? `, ${r.failed} failed` : ""}` });
      });
    }
    if (SCENARIOS.has("echo")) {
      await attempt([["echo 32 B text", "msg/s"]], async () => {
        const r = await load(server, "echo", ECHO_SMALL);
        record({ ...base, scenario: "echo 32 B text", value: median(r.rounds), unit: "msg/s", detail: `${spread(r.rounds)}, ${cpuNote(r)}` });
      });
    }
    if (SCENARIOS.has("large")) {
      for (const large of ECHO_LARGE) {
        const scenario = `echo ${large.label} binary`;
        await attempt([[scenario, "MB/s"]], async () => {
          const { label, ...options } = large;
          const r = await load(server, "echo", { ...options, binary: 1 });
          const mbps = r.rounds.map((x) => (x * large.size) / 1e6);
          record({ ...base, scenario, value: median(mbps), unit: "MB/s", detail: `${fmt(median(r.rounds))} msg/s, ${spread(mbps)}, ${cpuNote(r)}` });
        });
      }
    }
    if (!spec.raw && SCENARIOS.has("broadcast")) {
      const deliveries = `broadcast 100 B to ${CFG.receivers}`;
      const fanout = `broadcast full fan-out to ${CFG.receivers}`;
      await attempt([[deliveries, "deliveries/s"], [fanout, "ms"]], async () => {
        const r = await load(server, "broadcast", { conns: CFG.receivers, size: 100, window: 16, fanouts: CFG.fanouts });
        record({ ...base, scenario: deliveries, value: median(r.rounds), unit: "deliveries/s", detail: `${spread(r.rounds)}, ${cpuNote(r)}` });
        record({ ...base, scenario: fanout, value: median(r.fanoutMs), unit: "ms", detail: `median of ${r.fanoutMs.length} single broadcasts, ${spread(r.fanoutMs)}`, lowerIsBetter: true });
      });
    }
    if (!server.alive()) throw new Error("server died during the run");
  } finally {
    await server.stop();
  }
}

function plannedRows(spec) {
  const out = [];
  if (SCENARIOS.has("memory")) out.push(["idle memory RSS", "KiB/conn"], ["idle memory JS heap", "KiB/conn"]);
  if (SCENARIOS.has("handshake")) out.push(["handshakes", "handshakes/s"]);
  if (SCENARIOS.has("echo")) out.push(["echo 32 B text", "msg/s"]);
  if (SCENARIOS.has("large")) for (const l of ECHO_LARGE) out.push([`echo ${l.label} binary`, "MB/s"]);
  if (!spec.raw && SCENARIOS.has("broadcast")) out.push([`broadcast 100 B to ${CFG.receivers}`, "deliveries/s"], [`broadcast full fan-out to ${CFG.receivers}`, "ms"]);
  return out;
}

// --- permessage-deflate -------------------------------------------------------------

const S_DEFLATE_MEM = "idle memory RSS, permessage-deflate";
const S_DEFLATE_MEM_QUIET = `idle memory RSS, permessage-deflate, after ${DEFLATE_IDLE.quiet} s quiet`;
const S_DEFLATE_MEM_BROWSER = `idle memory RSS, permessage-deflate (browser offer), after ${DEFLATE_IDLE.quiet} s quiet`;
const S_DEFLATE_ECHO = "echo 4 KiB text, permessage-deflate";
const S_DEFLATE_LARGE = "echo 64 KiB text, permessage-deflate";

/**
 * The servers of the deflate scenarios on one runtime: wsport with each codec (explicitly,
 * whatever the runtime's default), then the anchor. Deno.serve is tried too and gives
 * "n/a" rows: Deno.upgradeWebSocket does not negotiate permessage-deflate.
 */
function deflateServers(runtime) {
  const run = { node, deno, bun }[runtime];
  const wsport = (codec, ...extra) => [...run("bench/servers/wsport.ts"), "--deflate", "1", "--codec", codec, ...extra];
  const ping = ["--ping-interval", String(DEFLATE_IDLE.ping)];
  return [
    { impl: "wsport (pako)", cmd: wsport("pako"), pingCmd: wsport("pako", ...ping), browser: true },
    { impl: "wsport (node:zlib)", cmd: wsport("zlib"), pingCmd: wsport("zlib", ...ping), browser: true },
    // Node's default: pako below 16 KiB, node:zlib above (Bun's and Deno's default is node:zlib).
    ...(runtime === "node" ? [{ impl: "wsport (pako+node:zlib)", cmd: wsport("hybrid"), pingCmd: wsport("hybrid", ...ping), browser: true }] : []),
    {
      impl: ANCHOR[runtime],
      anchor: true,
      browser: true,
      cmd: { node: [...node("bench/servers/ws_server.mjs"), "--deflate", "1"], bun: [...bun("bench/servers/bun_native.ts"), "--deflate", "1"], deno: deno("bench/servers/deno_native.ts") }[runtime],
    },
  ];
}

const sleepS = (s) => new Promise((r) => setTimeout(r, s * 1000));

/**
 * On a fresh server: opens DEFLATE_IDLE.conns connections that each echo one
 * compressed message, measures the server settle s later and again quiet s
 * after the echoes. Returns both, per connection, with the loadgen's ping counts.
 */
async function idleDeflate(server, offer) {
  const empty = await server.mem();
  const holder = spawnPinned(LOADGEN_CPU, [process.execPath, "bench/loadgen.mjs", "idle", "--port", String(server.port), "--conns", String(DEFLATE_IDLE.conns), "--deflate", "1", "--size", String(DEFLATE_IDLE.size), "--offer", offer]);
  const ask = (what) => {
    const reply = waitLine(holder, (l) => {
      const m = JSON.parse(l);
      return m.event === what ? m : undefined;
    }, 10000, what);
    holder.stdin.write(`${what}\n`);
    return reply;
  };
  try {
    const ready = await waitLine(holder, (l) => {
      const m = JSON.parse(l);
      return m.event === "ready" || m.event === "error" ? m : undefined;
    }, 120000, "idle connections");
    if (ready.event === "error") throw new Error(ready.message);
    const readyAt = performance.now();
    await sleepS(DEFLATE_IDLE.settle);
    const first = await server.mem();
    const pingsFirst = await ask("stats");
    await sleepS(Math.max(0, DEFLATE_IDLE.quiet - (performance.now() - readyAt) / 1000));
    const second = await server.mem();
    const pingsSecond = await ask("stats");
    const n = first.conns || ready.open;
    const per = (m, key) => (m[key] - empty[key]) / n / 1024;
    const at = (m) => ({ rss: per(m, "rss"), heap: per(m, "heap"), external: per(m, "external"), conns: m.conns });
    return { n, ready, empty, first: at(first), second: at(second), pingsFirst, pingsSecond, info: server.info };
  } finally {
    holder.stdin.write("close\n");
    const timer = setTimeout(() => killGroup(holder.pid), 5000);
    await holder.exited;
    clearTimeout(timer);
  }
}

const memNote = (m) => `JS heap ${fmt(m.heap)}, external ${fmt(m.external)} KiB/conn`;
const idleNote = (r) => `${r.n} conns (server counts ${r.first.conns}), each echoed one ${DEFLATE_IDLE.size / 1024} KiB message (${r.ready.frameBytes} B on the wire; ${r.ready.compressedEchoes} echoes compressed); answer "${r.ready.negotiated}"${codecNote(r.info)}; empty server ${fmt(r.empty.rss / 2 ** 20)} MiB RSS`;
const codecNote = (info) => (info ? `; codec ${info.codec} (runtime default ${info.defaultCodec}), level ${info.level}, memLevel ${info.memLevel}, server window ${info.serverWindowBits}` : "");
/** Structured figures for results/deflate-DATE.json. */
const idleExtra = (r) => ({ conns: r.n, first: r.first, second: r.second, pings: [r.pingsFirst.pings, r.pingsSecond.pings], pingedConns: r.pingsSecond.pingedConns, negotiated: r.ready.negotiated, server: r.info });
const pingNote = (r) => `pings seen: ${r.pingsFirst.pings} at the first measurement, ${r.pingsSecond.pings} (${r.pingsSecond.pingedConns} conns) at the second`;

/** One idle-memory run on a fresh server; `fn(result)` records rows. */
async function deflateMemoryRun(runtime, spec, cmd, offer, scenarios, fn) {
  let server;
  try {
    server = await startServer(cmd);
    fn(await idleDeflate(server, offer));
    if (!server.alive()) throw new Error("server died during the run");
  } catch (error) {
    for (const scenario of scenarios) record({ runtime, impl: spec.impl, scenario, value: null, unit: "KiB/conn", detail: `error: ${error.message}`, lowerIsBetter: true });
  } finally {
    await server?.stop();
  }
}

async function measureDeflate(runtime) {
  const memRow = (base, scenario, m, detail, r) => record({ ...base, scenario, value: m.rss, unit: "KiB/conn", detail: `${memNote(m)}; ${detail}`, lowerIsBetter: true, extra: idleExtra(r) });
  for (const spec of deflateServers(runtime)) {
    const base = { runtime, impl: spec.impl };
    // 1. Idle memory, client_no_context_takeover, no keepalive: with contexts, and 5 s later.
    //    The same server then does the echo rows (memory is measured first, on the fresh server).
    let server;
    const echoScenarios = [[S_DEFLATE_ECHO, "msg/s"], [S_DEFLATE_LARGE, "MB/s"]];
    try {
      server = await startServer(spec.cmd);
    } catch (error) {
      for (const [scenario, unit] of [[S_DEFLATE_MEM, "KiB/conn"], [S_DEFLATE_MEM_QUIET, "KiB/conn"], ...echoScenarios]) record({ ...base, scenario, value: null, unit, detail: `error: ${error.message}` });
      continue;
    }
    try {
      try {
        const r = await idleDeflate(server, "cnct");
        memRow(base, S_DEFLATE_MEM, r.first, `${idleNote(r)}; ${fmt(r.second.rss)} KiB/conn ${DEFLATE_IDLE.quiet} s after the echoes`, r);
        // For wsport the "after quiet" row comes from a server with keepalive pings (below).
        if (spec.anchor) memRow(base, S_DEFLATE_MEM_QUIET, r.second, `no keepalive; ${idleNote(r)}`, r);
      } catch (error) {
        const failed = spec.anchor ? [S_DEFLATE_MEM, S_DEFLATE_MEM_QUIET] : [S_DEFLATE_MEM];
        const detail = /did not accept/.test(error.message) ? `n/a: ${error.message}` : `error: ${error.message}`;
        for (const scenario of failed) record({ ...base, scenario, value: null, unit: "KiB/conn", detail, lowerIsBetter: true });
      }
      await sleepS(0.5);
      for (const [scenario, unit] of echoScenarios) {
        try {
          if (scenario === S_DEFLATE_ECHO) {
            const r = await load(server, "echo", { ...DEFLATE, deflate: 1 });
            record({ ...base, scenario, value: median(r.rounds), unit, detail: `${spread(r.rounds)}, ${cpuNote(r)}, ${perCpu(median(r.rounds), r, "msg")}, ${share(r)} of replies compressed`, extra: echoExtra(r, server) });
          } else {
            const r = await load(server, "echo", { ...DEFLATE_LARGE, deflate: 1 });
            const mbps = r.rounds.map((x) => (x * DEFLATE_LARGE.size) / 1e6);
            record({ ...base, scenario, value: median(mbps), unit, detail: `${fmt(median(r.rounds))} msg/s, ${spread(mbps)}, ${cpuNote(r)}, ${perCpu(median(r.rounds), r, "msg")}, ${share(r)} of replies compressed`, extra: echoExtra(r, server) });
          }
        } catch (error) {
          const detail = /did not accept/.test(error.message) ? `n/a: ${error.message}` : `error: ${error.message}`;
          record({ ...base, scenario, value: null, unit, detail });
        }
      }
      if (!server.alive()) throw new Error("server died during the run");
    } finally {
      await server.stop();
    }
    // 2. wsport with keepalive pings: the idle release, client_no_context_takeover.
    if (spec.pingCmd) {
      await deflateMemoryRun(runtime, spec, spec.pingCmd, "cnct", [S_DEFLATE_MEM_QUIET], (r) => {
        memRow(base, S_DEFLATE_MEM_QUIET, r.second, `--ping-interval ${DEFLATE_IDLE.ping}; ${fmt(r.first.rss)} KiB/conn at the first measurement; ${pingNote(r)}; ${idleNote(r)}`, r);
      });
    }
    // 3. The offer browsers and the ws client send (no client_no_context_takeover): the server's inflate window must persist.
    if (spec.browser && spec.impl !== "Deno.serve") {
      await deflateMemoryRun(runtime, spec, spec.pingCmd ?? spec.cmd, "browser", [S_DEFLATE_MEM_BROWSER], (r) => {
        const how = spec.pingCmd ? `--ping-interval ${DEFLATE_IDLE.ping}; ${pingNote(r)}` : "no keepalive";
        memRow(base, S_DEFLATE_MEM_BROWSER, r.second, `${how}; ${fmt(r.first.rss)} KiB/conn at the first measurement; ${idleNote(r)}`, r);
      });
    }
  }
}

// On a shared machine the server may not get a whole core: work per CPU-second of the server is steadier than per second.
const perCpu = (rate, r, what) => (r.serverCpu ? `${fmt(rate / r.serverCpu)} ${what} per server CPU-s` : "");
const echoExtra = (r, server) => ({ msgPerSecond: r.rounds, loadgenCpu: r.cpu, serverCpu: r.serverCpu, frameBytes: r.frameBytes, negotiated: r.negotiated, replies: r.replies, compressedReplies: r.compressedReplies, server: server.info });
const share = (r) => (r.replies ? `${Math.round((r.compressedReplies / r.replies) * 100)}%` : "?");

async function measureCore(runtime) {
  const runs = {
    node: [[node("bench/core_bench.ts").filter((a) => a !== "--expose-gc"), {}], [node("bench/core_bench.ts").filter((a) => a !== "--expose-gc").concat("--ws-only"), { WS_NO_BUFFER_UTIL: "1" }]],
    deno: [[[path.join(BIN, "deno"), "run", "-A", "bench/core_bench.ts"], {}]],
    bun: [[bun("bench/core_bench.ts"), {}]],
  }[runtime];
  for (const [cmd, env] of runs) {
    const child = spawnPinned(SERVER_CPU, [...cmd, "--json", "--time", String(CFG.coreTime)], env);
    try {
      const result = await waitLine(child, (l) => (l.startsWith("[") ? JSON.parse(l) : undefined), 300000, "core results");
      for (const row of result) record(row.value === null ? { ...row, detail: `error: ${row.error}` } : row);
    } catch (error) {
      record({ scenario: "core", runtime, impl: "wsport", value: null, unit: "MB/s", detail: `error: ${error.message}` });
    } finally {
      killGroup(child.pid);
    }
  }
}

// --- WebSocket over HTTP/2 -------------------------------------------------------------

const S_H2_HANDSHAKES = "TLS handshakes (new WebSocket)";
const S_H2_ECHO = `TLS echo ${ECHO_SMALL.size} B text`;
const H2_IMPL = { 1: "wsport HTTP/1.1", 2: "wsport HTTP/2" };
/** HTTP/2: 4 connections carry the 32 handshake loops; the 64 echoing WebSockets share 1 connection, as a page's would. */
const H2_SESSIONS = { handshake: 4, echo: 1 };

/** A self-signed certificate for the TLS servers, made with openssl in a directory removed at exit. */
let certificate;
function benchCertificate() {
  if (certificate) return certificate;
  const dir = mkdtempSync(path.join(os.tmpdir(), "wsport-bench-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  certificate = { cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") };
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", certificate.key, "-out", certificate.cert], { stdio: "ignore" });
  return certificate;
}

/**
 * One wsport server per runtime with `http2: true` over TLS; the same load over
 * HTTP/1.1 upgrades (a TLS connection per WebSocket) and over HTTP/2 streams,
 * in the same run (bench/h2_loadgen.mjs, Node's node:http2 as the client).
 */
async function measureHttp2(runtime) {
  const planned = [[S_H2_HANDSHAKES, "handshakes/s"], [S_H2_ECHO, "msg/s"]];
  const fail = (version, scenario, unit, error) => record({ runtime, impl: H2_IMPL[version], scenario, value: null, unit, detail: `error: ${error.message ?? error}` });
  let server;
  try {
    const { cert, key } = benchCertificate();
    const wsportServer = SERVERS[runtime].find((s) => s.impl === "wsport");
    server = await startServer([...wsportServer.cmd, "--cert", cert, "--key", key, "--http2", "1"]);
  } catch (error) {
    for (const version of [1, 2]) for (const [scenario, unit] of planned) fail(version, scenario, unit, error);
    return;
  }
  try {
    for (const [scenario, unit, mode, options] of [[S_H2_HANDSHAKES, "handshakes/s", "handshake", { conns: 32 }], [S_H2_ECHO, "msg/s", "echo", ECHO_SMALL]]) {
      for (const version of [1, 2]) {
        try {
          const r = await load(server, mode, { ...options, http: version, ...(version === 2 ? { sessions: H2_SESSIONS[mode] } : {}) }, "bench/h2_loadgen.mjs");
          const via = version === 2 ? `${r.sessions} HTTP/2 connection${r.sessions > 1 ? "s" : ""}` : `a TLS connection each`;
          const what = mode === "echo" ? "msg" : "handshakes";
          record({ runtime, impl: H2_IMPL[version], scenario, value: median(r.rounds), unit, detail: `${via}, ${spread(r.rounds)}, ${cpuNote(r)}, ${perCpu(median(r.rounds), r, what)}${r.failed ? `, ${r.failed} failed` : ""}` });
        } catch (error) {
          fail(version, scenario, unit, error);
        }
      }
    }
  } finally {
    await server.stop();
  }
}

function anchorFor(row) {
  if (row.scenario.startsWith("cluster")) return CLUSTER_SINGLE;
  if (row.impl === H2_IMPL[1] || row.impl === H2_IMPL[2]) return H2_IMPL[1];
  if (row.scenario.startsWith("http ")) return HTTP_ANCHOR[row.runtime];
  if (row.scenario.startsWith("core mask")) return "bufferutil";
  if (row.scenario.startsWith("core ")) {
    const hasBu = rows.some((r) => r.runtime === row.runtime && r.scenario === row.scenario && r.impl === "ws+bufferutil");
    return hasBu ? "ws+bufferutil" : "ws (no bufferutil)";
  }
  return ANCHOR[row.runtime];
}

function addRatios() {
  for (const row of rows) {
    const anchorImpl = anchorFor(row);
    const anchor = rows.find((r) => r.runtime === row.runtime && r.scenario === row.scenario && r.impl === anchorImpl);
    row.ratio = row.value !== null && anchor?.value ? +(row.value / anchor.value).toFixed(2) : null;
  }
}

// --- output -------------------------------------------------------------------------------

function table(list) {
  const head = ["scenario", "runtime", "implementation", "value", "unit", "ratio", "notes"];
  const body = list.map((r) => [
    r.scenario + (r.lowerIsBetter ? " (lower is better)" : ""),
    r.runtime,
    r.impl,
    r.value === null ? "—" : fmt(r.value),
    r.unit,
    r.ratio === null || r.ratio === undefined ? "" : `${r.ratio}x`,
    r.detail ?? "",
  ]);
  return [head, head.map(() => "---"), ...body].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

function targets() {
  const get = (scenario, runtime, impl = "wsport") => rows.find((r) => r.scenario === scenario && r.runtime === runtime && r.impl === impl);
  const goals = [
    ["small echo ≥ 5x ws (Node)", get("echo 32 B text", "node"), (r) => r.ratio >= 5, (r) => `${r.ratio}x`],
    ["small echo ≥ 5x Deno.serve (Deno)", get("echo 32 B text", "deno"), (r) => r.ratio >= 5, (r) => `${r.ratio}x`],
    ["small echo ≥ 0.8x Bun.serve (Bun)", get("echo 32 B text", "bun"), (r) => r.ratio >= 0.8, (r) => `${r.ratio}x`],
    ["64 KiB echo ≥ 1.5x ws (Node)", get("echo 64 KiB binary", "node"), (r) => r.ratio >= 1.5, (r) => `${r.ratio}x`],
    ["mask 64 KiB ≥ bufferutil (Node)", get("core mask 64 KiB", "node"), (r) => r.ratio >= 1, (r) => `${r.ratio}x`],
    ["≤ 4 KiB RSS per idle conn (Node)", get("idle memory RSS", "node"), (r) => r.value <= 4, (r) => `${fmt(r.value)} KiB`],
    ["≤ 2 KiB RSS per idle conn (Bun)", get("idle memory RSS", "bun"), (r) => r.value <= 2, (r) => `${fmt(r.value)} KiB`],
    ["handshakes ≥ 1.5x ws (Node)", get("handshakes", "node"), (r) => r.ratio >= 1.5, (r) => `${r.ratio}x`],
    ["HTTP keep-alive ≥ 1.2x node:http (Node)", get("http keep-alive, small response", "node"), (r) => r.ratio >= 1.2, (r) => `${r.ratio}x`],
    ["HTTP keep-alive ≥ 1x Deno.serve (Deno)", get("http keep-alive, small response", "deno"), (r) => r.ratio >= 1, (r) => `${r.ratio}x`],
    ["HTTP keep-alive ≥ 0.5x Bun.serve (Bun)", get("http keep-alive, small response", "bun"), (r) => r.ratio >= 0.5, (r) => `${r.ratio}x`],
    ...["node", "deno", "bun"].map((rt) => {
      const ws = get("idle memory RSS", rt);
      return [`idle keep-alive HTTP RSS ≤ idle WebSocket RSS (${rt})`, get("http idle keep-alive connection RSS", rt), (r) => ws?.value != null && r.value <= ws.value, (r) => `${fmt(r.value)} vs ${ws?.value == null ? "?" : fmt(ws.value)} KiB`];
    }),
  ];
  return goals.map(([goal, row, ok, show]) => {
    if (!row || row.value === null) return `- ${goal}: not measured`;
    return `- ${goal}: ${show(row)}, ${ok(row) ? "met" : "NOT met"}`;
  }).join("\n");
}

function version(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT }).toString().split("\n")[0].trim();
  } catch {
    return "unavailable";
  }
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model;
  const pkg = (name) => { try { return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version; } catch { return "?"; } };
  return [
    `- CPU: ${model}, ${os.cpus().length} cores (/proc/cpuinfo), ${HAS_TASKSET ? `servers pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOADGEN_CPU} (taskset)` : "not pinned (no taskset)"}`,
    `- RAM: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${os.release()}`,
    `- Node ${process.version}, ${version(path.join(BIN, "deno"), ["--version"])}, Bun ${version(path.join(BIN, "bun"), ["--version"])}`,
    `- ws ${pkg("ws")}, bufferutil ${pkg("bufferutil")}, utf-8-validate ${pkg("utf-8-validate")}, tinybench ${pkg("tinybench")}`,
    `- mode: ${QUICK ? "--quick" : "full"}; ${CFG.rounds} rounds of ${CFG.seconds} s after ${CFG.warmup} s warm-up; ${CFG.idle} idle connections; ${CFG.receivers} broadcast receivers`,
  ].join("\n");
}

// --- cluster: Redis fan-out between processes -----------------------------------------------

const CLUSTER = { conns: 5000, size: 100, window: 16, paced: QUICK ? 15 : 30, sample: 50 };
const CLUSTER_SINGLE = "wsport, 1 process";
const CLUSTER_IMPLS = [
  { impl: CLUSTER_SINGLE, processes: 1, cmd: node("bench/servers/wsport.ts"), proto: "wsport", redis: false },
  { impl: "wsport, 2 processes + Redis", processes: 2, cmd: node("bench/servers/wsport.ts"), proto: "wsport", redis: true },
  { impl: "socket.io 4 + redis-adapter, 2 processes", processes: 2, cmd: node("bench/servers/socketio.mjs"), proto: "socketio", redis: true },
];
const clusterRows = [];

/**
 * One publisher, CLUSTER.conns clients spread over the server processes. The servers and
 * redis-server share CPU 0 (the same budget as the single process), the load generator CPU 1.
 */
async function measureCluster() {
  const redisPort = 20000 + Math.floor(Math.random() * 20000);
  const redis = spawnPinned(SERVER_CPU, ["/usr/bin/redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
  try {
    await waitLine(redis, (l) => (l.includes("Ready to accept connections") ? true : undefined), 30000, "redis-server");
  } catch (error) {
    for (const spec of CLUSTER_IMPLS) record({ runtime: "node", impl: spec.impl, scenario: "cluster", value: null, unit: "", detail: `error: ${error.message} (Debian package redis-server)` });
    return;
  }
  const url = `redis://127.0.0.1:${redisPort}`;
  try {
    for (const spec of CLUSTER_IMPLS) {
      const servers = [];
      const base = { runtime: "node", impl: spec.impl };
      try {
        for (let i = 0; i < spec.processes; i++) servers.push(await startServer([...spec.cmd, ...(spec.redis ? ["--redis", url] : [])]));
        const cpu = () => servers.reduce((sum, s) => sum + s.cpu(), 0);
        const r = await load({ port: 0, cpu }, "cluster", { ports: servers.map((s) => s.port).join(","), proto: spec.proto, ...CLUSTER }, "bench/cluster_loadgen.mjs");
        const note = `${r.conns} clients over ${spec.processes} process(es), ${spread(r.rounds)}, ${cpuNote(r)}`;
        const rowsOf = [
          { scenario: `cluster: 100 B to ${CLUSTER.conns} clients`, value: median(r.rounds), unit: "deliveries/s", detail: note },
          { scenario: "cluster: publish→delivery latency p50, one in flight", value: r.latency.p50, unit: "ms", lowerIsBetter: true, detail: `${r.latency.n} samples (every ${CLUSTER.sample}th client)` },
          { scenario: "cluster: publish→delivery latency p99, one in flight", value: r.latency.p99, unit: "ms", lowerIsBetter: true, detail: `${r.latency.n} samples` },
          { scenario: `cluster: latency p50 / p99 with ${CLUSTER.window} in flight`, value: r.loadedLatency.p50, unit: "ms", lowerIsBetter: true, detail: `p99 ${r.loadedLatency.p99} ms, ${r.loadedLatency.n} samples` },
        ];
        for (const row of rowsOf) {
          record({ ...base, ...row });
          clusterRows.push({ ...base, ...row });
        }
      } catch (error) {
        record({ ...base, scenario: "cluster", value: null, unit: "", detail: `error: ${error.message ?? error}` });
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    }
  } finally {
    killGroup(redis.pid, "SIGTERM");
    await redis.exited;
  }
}

/** The issue's goals for the cluster scenario. */
function clusterTargets() {
  const get = (impl, prefix) => rows.find((r) => r.impl === impl && r.scenario.startsWith(prefix))?.value;
  const two = "wsport, 2 processes + Redis";
  const sio = "socket.io 4 + redis-adapter, 2 processes";
  const lines = [];
  const d2 = get(two, "cluster: 100 B"), dsio = get(sio, "cluster: 100 B"), d1 = get(CLUSTER_SINGLE, "cluster: 100 B");
  if (d2 && dsio) lines.push(`- deliveries/s ≥ 3x socket.io: ${+(d2 / dsio).toFixed(2)}x, ${d2 / dsio >= 3 ? "met" : "NOT met"}`);
  if (d2 && d1) lines.push(`- deliveries/s, 2 processes + Redis / 1 process: ${+(d2 / d1).toFixed(2)}x`);
  const l2 = get(two, "cluster: publish→delivery latency p50"), l1 = get(CLUSTER_SINGLE, "cluster: publish→delivery latency p50");
  if (l2 && l1) lines.push(`- latency p50 across nodes ≤ 1.5x one process: ${+(l2 / l1).toFixed(2)}x, ${l2 / l1 <= 1.5 ? "met" : "NOT met"}`);
  return lines.join("\n");
}

// --- main -----------------------------------------------------------------------------------

const started = performance.now();
console.error(`wsport bench (${QUICK ? "quick" : "full"}): runtimes ${RUNTIMES.join(", ")}; ${HAS_TASKSET ? "server on CPU 0, load generator on CPU 1" : "taskset not found: processes not pinned"}`);
for (const runtime of RUNTIMES) {
  console.error(`\n[${runtime}]`);
  if (SCENARIOS.has("core")) await measureCore(runtime);
  if (["memory", "handshake", "echo", "large", "broadcast"].some((x) => SCENARIOS.has(x))) {
    for (const spec of SERVERS[runtime]) await measureServer(runtime, spec);
  }
  if (SCENARIOS.has("deflate")) await measureDeflate(runtime);
  if (SCENARIOS.has("http")) {
    await measureHttp(runtime, { startServer, load, record, holdIdle, median, spread, cpuNote, fmt, node, deno, bun });
  }
  if (SCENARIOS.has("http2")) await measureHttp2(runtime);
}
if (SCENARIOS.has("cluster")) {
  console.error("\n[node] cluster (Redis fan-out)");
  await measureCluster();
}
// wsport rows that errored (e.g. an adapter still being finished) get one more try at the end.
const failedRuntimes = RUNTIMES.filter((rt) => rows.some((r) => r.runtime === rt && r.impl === "wsport" && r.value === null && r.detail?.startsWith("error") && !r.scenario.startsWith("core") && !r.scenario.includes("permessage-deflate") && !r.scenario.startsWith("http ")));
for (const runtime of failedRuntimes) {
  console.error(`\n[${runtime}] retrying wsport`);
  const before = rows.length;
  await measureServer(runtime, SERVERS[runtime][0]);
  const retried = rows.splice(before);
  for (const row of retried) {
    const i = rows.findIndex((r) => r.runtime === runtime && r.impl === "wsport" && r.scenario === row.scenario);
    if (i >= 0 && rows[i].value === null) rows[i] = row;
  }
}
addRatios();

const text = table(rows);
console.log(`\n${text}\n\nTargets (goals, not assertions):\n${targets()}\n${SCENARIOS.has("cluster") ? clusterTargets() + "\n" : ""}`);
console.log(`Ratios are value / the anchor of the same runtime and scenario (${Object.entries(ANCHOR).map(([k, v]) => `${k}: ${v}`).join(", ")}; http: ${Object.entries(HTTP_ANCHOR).map(([k, v]) => `${k}: ${v}`).join(", ")}; core: ws+bufferutil, mask: bufferutil; TLS rows: ${H2_IMPL[1]}).`);
console.log(`Total time ${((performance.now() - started) / 1000).toFixed(0)} s.`);

const resultsDir = path.join(ROOT, "bench/results");
if (!SAVE) process.exit(0);
mkdirSync(resultsDir, { recursive: true });
const json = rows.map(({ scenario, runtime, impl, value, unit, ratio, detail }) => ({ scenario, runtime, impl, value: value === null ? null : +value.toFixed(2), unit, ratio, detail }));
const date = new Date().toISOString().slice(0, 10);
if (SCENARIOS.has("deflate") && !QUICK) {
  // The deflate rows on their own, with the machine and the settings they were measured with.
  const deflateRows = rows.filter((r) => r.scenario.includes("permessage-deflate")).map(({ scenario, runtime, impl, value, unit, ratio, detail, extra }) => ({ scenario, runtime, impl, value: value === null ? null : +value.toFixed(2), unit, ratio, detail, extra }));
  const settings = { echo4KiB: DEFLATE, echo64KiB: DEFLATE_LARGE, idle: DEFLATE_IDLE, runtimes: RUNTIMES, rounds: CFG.rounds, seconds: CFG.seconds, warmup: CFG.warmup };
  writeFileSync(path.join(resultsDir, `deflate-${date}.json`), JSON.stringify({ date, machine: machine().split("\n"), settings, rows: deflateRows }, null, 2) + "\n");
}
if (SCENARIOS.has("cluster")) {
  const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  writeFileSync(path.join(resultsDir, `cluster-${date}.json`), JSON.stringify({ date, machine: machine().split("\n"), loadAverage: load, settings: CLUSTER, rows: clusterRows, targets: clusterTargets().split("\n") }, null, 2) + "\n");
}
if (PARTIAL) {
  console.error(`Only some scenarios ran: ${SCENARIOS.has("deflate") && !QUICK ? `wrote results/deflate-${date}.json; ` : ""}latest.json, the dated copy and results/README.md left alone.`);
  process.exit(0);
}
writeFileSync(path.join(resultsDir, "latest.json"), JSON.stringify(json, null, 2) + "\n");
if (!QUICK) {
  copyFileSync(path.join(resultsDir, "latest.json"), path.join(resultsDir, `${date}.json`));
  writeFileSync(path.join(resultsDir, "README.md"), `# Benchmark results\n\nFull run of \`npm run bench\` on ${date}, written by bench/run.mjs (see ../README.md for the method).\n\n## Machine\n\n${machine()}\n\n## Results\n\n${text}\n\n## Targets\n\n${targets()}\n`);
}
process.exit(0);
