// Runs the one test source set under Node, Deno and Bun, prints each
// runtime's summary and fails if any runtime fails. Usage:
//   node scripts/test.mjs [node|deno|bun ...] [-- extra test files]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const bin = (name) => join("node_modules", ".bin", name);
const files = readdirSync("test").filter((f) => f.endsWith("_test.ts")).sort().map((f) => join("test", f));
const runtimes = {
  node: {
    cmd: process.execPath,
    // --experimental-websocket: Node 20's own WebSocket client (global in Node 22+), for the interop tests.
    args: ["--experimental-websocket", "--no-warnings=ExperimentalWarning", "--import", "tsx", "--test", "--test-concurrency=2", ...files],
    parse: (out) => ({
      passed: num(out, /^# pass (\d+)/m),
      failed: num(out, /^# fail (\d+)/m) + num(out, /^# cancelled (\d+)/m),
      skipped: num(out, /^# skipped (\d+)/m) + num(out, /^# todo (\d+)/m),
    }),
  },
  deno: {
    cmd: bin("deno"),
    args: ["test", "-A", "--no-prompt", ...files],
    parse: (out) => ({
      passed: num(out, /(\d+) passed/),
      failed: num(out, /(\d+) failed/),
      skipped: num(out, /(\d+) ignored/),
    }),
  },
  bun: {
    cmd: bin("bun"),
    // bun test's default is 5 s per test; node:test and deno test have none. Peers (browsers,
    // interpreters, child runtimes) can take longer on a loaded 2-core machine.
    args: ["test", "--timeout", "120000", ...files.map((f) => "./" + f)],
    parse: (out) => ({
      passed: num(out, /^\s*(\d+) pass$/m),
      failed: num(out, /^\s*(\d+) fail$/m),
      skipped: num(out, /^\s*(\d+) (?:skip|todo)$/m),
    }),
  },
};

function num(text, re) {
  const m = re.exec(text.replace(/\x1b\[[0-9;]*m/g, ""));
  return m ? Number(m[1]) : 0;
}

const chosen = process.argv.slice(2).filter((a) => a in runtimes);
const results = [];
for (const name of chosen.length ? chosen : Object.keys(runtimes)) {
  const rt = runtimes[name];
  console.log(`\n=== ${name}: ${[rt.cmd, ...rt.args.slice(0, 4)].join(" ")} ...`);
  const run = spawnSync(rt.cmd, rt.args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  const out = (run.stdout ?? "") + (run.stderr ?? "");
  const counts = rt.parse(out);
  const ok = run.status === 0 && counts.failed === 0 && counts.passed > 0;
  // The whole report on failure; the tail (the runtime's own summary) otherwise.
  process.stdout.write((ok ? out.split("\n").slice(-25).join("\n") : out) + "\n");
  if (run.error) console.log(`${name}: could not start: ${run.error.message}`);
  results.push({ name, ok, status: run.status, ...counts });
}

console.log("\n=== summary");
for (const r of results) {
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (exit ${r.status})`);
}
const total = results.reduce((t, r) => ({ p: t.p + r.passed, f: t.f + r.failed, s: t.s + r.skipped }), { p: 0, f: 0, s: 0 });
console.log(`total: ${total.p} passed, ${total.f} failed, ${total.s} skipped`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
