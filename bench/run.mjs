// One command for every benchmark: wsport against the anchors of each runtime
// (ws on Node, Bun.serve on Bun, Deno.serve on Deno, and a raw TCP echo on
// each), in the same run, with ratios.
//
//   npm run bench                 full run (about 15 min); writes bench/results/latest.json,
//                                 a dated copy and bench/results/README.md
//   npm run bench -- --quick      about 3 min; writes bench/results/latest.json
//   options: --no-save (print only)  --runtimes node,deno,bun   --scenarios core,echo,large,broadcast,memory,handshake,deflate
//
// Every server runs pinned to CPU 0 and every load generator to CPU 1
// (taskset), each in its own process group, killed when measured and on exit.
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { readdirSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
const SCENARIOS = new Set(listOption("scenarios", ["core", "memory", "handshake", "echo", "large", "broadcast", "deflate"]));

const CFG = QUICK
  ? { warmup: 0.3, seconds: 0.5, rounds: 3, idle: 5000, receivers: 5000, fanouts: 3, coreTime: 60 }
  : { warmup: 2, seconds: 2, rounds: 5, idle: 10000, receivers: 5000, fanouts: 11, coreTime: 400 };
const ECHO_SMALL = { conns: 64, depth: 32, size: 32 };
const ECHO_LARGE = [
  { label: "64 KiB", size: 64 * 1024, conns: 8, depth: 8 },
  { label: "1 MiB", size: 1024 * 1024, conns: 4, depth: 2 },
];
const DEFLATE = { conns: 64, depth: 8, size: 4096 };

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
      const value = match(line);
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
  try {
    const port = await waitLine(child, (l) => (l.startsWith("listening ") ? Number(l.slice(10)) : undefined), 30000, "listening");
    return {
      port,
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

/** Runs a timed load-generator mode; returns its result plus the server's CPU share over the measured part. */
async function load(server, mode, options) {
  const args = { port: server.port, warmup: CFG.warmup, seconds: CFG.seconds, rounds: CFG.rounds, ...options };
  const child = spawnPinned(LOADGEN_CPU, [process.execPath, "bench/loadgen.mjs", mode, ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)])]);
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
    if (!spec.raw && SCENARIOS.has("memory")) {
      await attempt([["idle memory RSS", "KiB/conn"], ["idle memory JS heap", "KiB/conn"]], async () => {
        const empty = await server.mem();
        const holder = spawnPinned(LOADGEN_CPU, [process.execPath, "bench/loadgen.mjs", "idle", "--port", String(server.port), "--conns", String(CFG.idle)]);
        try {
          const ready = await waitLine(holder, (l) => {
            const m = JSON.parse(l);
            if (m.event === "error") throw new Error(m.message);
            return m.event === "ready" ? m : undefined;
          }, 120000, "idle connections");
          await new Promise((r) => setTimeout(r, 1000));
          const full = await server.mem();
          const n = full.conns || ready.open;
          const note = `${n} idle conns (server counts ${full.conns}), opened in ${ready.seconds} s; empty server ${fmt(empty.rss / 2 ** 20)} MiB RSS`;
          record({ ...base, scenario: "idle memory RSS", value: (full.rss - empty.rss) / n / 1024, unit: "KiB/conn", detail: note, lowerIsBetter: true });
          record({ ...base, scenario: "idle memory JS heap", value: (full.heap - empty.heap) / n / 1024, unit: "KiB/conn", detail: note, lowerIsBetter: true });
        } finally {
          holder.stdin.write("close\n");
          const timer = setTimeout(() => killGroup(holder.pid), 5000);
          await holder.exited;
          clearTimeout(timer);
        }
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
  if (!spec.raw && SCENARIOS.has("memory")) out.push(["idle memory RSS", "KiB/conn"], ["idle memory JS heap", "KiB/conn"]);
  if (SCENARIOS.has("handshake")) out.push(["handshakes", "handshakes/s"]);
  if (SCENARIOS.has("echo")) out.push(["echo 32 B text", "msg/s"]);
  if (SCENARIOS.has("large")) for (const l of ECHO_LARGE) out.push([`echo ${l.label} binary`, "MB/s"]);
  if (!spec.raw && SCENARIOS.has("broadcast")) out.push([`broadcast 100 B to ${CFG.receivers}`, "deliveries/s"], [`broadcast full fan-out to ${CFG.receivers}`, "ms"]);
  return out;
}

async function measureDeflate(runtime) {
  const scenario = "echo 4 KiB text, permessage-deflate";
  record({ runtime, impl: "wsport", scenario, value: null, unit: "msg/s", detail: "n/a (not implemented)" });
  const cmd = { node: node("bench/servers/ws_server.mjs"), bun: bun("bench/servers/bun_native.ts"), deno: deno("bench/servers/deno_native.ts") }[runtime];
  let server;
  try {
    server = await startServer([...cmd, "--deflate", "1"]);
    const r = await load(server, "echo", { ...DEFLATE, deflate: 1 });
    record({ runtime, impl: ANCHOR[runtime], scenario, value: median(r.rounds), unit: "msg/s", detail: `${spread(r.rounds)}, ${cpuNote(r)}` });
  } catch (error) {
    record({ runtime, impl: ANCHOR[runtime], scenario, value: null, unit: "msg/s", detail: `error: ${error.message}` });
  } finally {
    await server?.stop();
  }
}

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

function anchorFor(row) {
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

// --- main -----------------------------------------------------------------------------------

const started = performance.now();
console.error(`wsport bench (${QUICK ? "quick" : "full"}): runtimes ${RUNTIMES.join(", ")}; ${HAS_TASKSET ? "server on CPU 0, load generator on CPU 1" : "taskset not found: processes not pinned"}`);
for (const runtime of RUNTIMES) {
  console.error(`\n[${runtime}]`);
  if (SCENARIOS.has("core")) await measureCore(runtime);
  for (const spec of SERVERS[runtime]) await measureServer(runtime, spec);
  if (SCENARIOS.has("deflate")) await measureDeflate(runtime);
}
// wsport rows that errored (e.g. an adapter still being finished) get one more try at the end.
const failedRuntimes = RUNTIMES.filter((rt) => rows.some((r) => r.runtime === rt && r.impl === "wsport" && r.value === null && r.detail?.startsWith("error") && !r.scenario.startsWith("core")));
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
console.log(`\n${text}\n\nTargets (goals, not assertions):\n${targets()}\n`);
console.log(`Ratios are value / the anchor of the same runtime and scenario (${Object.entries(ANCHOR).map(([k, v]) => `${k}: ${v}`).join(", ")}; core: ws+bufferutil, mask: bufferutil).`);
console.log(`Total time ${((performance.now() - started) / 1000).toFixed(0)} s.`);

const resultsDir = path.join(ROOT, "bench/results");
if (!SAVE) process.exit(0);
mkdirSync(resultsDir, { recursive: true });
const json = rows.map(({ scenario, runtime, impl, value, unit, ratio, detail }) => ({ scenario, runtime, impl, value: value === null ? null : +value.toFixed(2), unit, ratio, detail }));
writeFileSync(path.join(resultsDir, "latest.json"), JSON.stringify(json, null, 2) + "\n");
if (!QUICK) {
  const date = new Date().toISOString().slice(0, 10);
  copyFileSync(path.join(resultsDir, "latest.json"), path.join(resultsDir, `${date}.json`));
  writeFileSync(path.join(resultsDir, "README.md"), `# Benchmark results\n\nFull run of \`npm run bench\` on ${date}, written by bench/run.mjs (see ../README.md for the method).\n\n## Machine\n\n${machine()}\n\n## Results\n\n${text}\n\n## Targets\n\n${targets()}\n`);
}
process.exit(0);
