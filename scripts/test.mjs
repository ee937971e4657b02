// Runs the one test source set under Node, Deno and Bun, prints each
// runtime's summary, then how many tests each runtime skipped and why
// (grouped by reason), and fails if any runtime fails or skipped a test
// without a recorded reason. Usage:
//   node scripts/test.mjs [node|deno|bun ...]
//
// Skip reasons: deno test and bun test do not print a skipped test's
// reason, so the tests record their own (test/skips.ts: every `skip`
// option goes through skipIf() or skipUnlessPeer(), which append the
// reason to the file named by WSPORT_SKIP_LOG), and this script checks
// that as many reasons were recorded as the runtime says it skipped.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** The reasons recorded by test/skips.ts, counted: [reason, count], most frequent first. */
function skipReasons(file) {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const counts = new Map();
  for (const line of text.split("\n").filter(Boolean)) {
    const reason = JSON.parse(line);
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

const chosen = process.argv.slice(2).filter((a) => a in runtimes);
const results = [];
const logs = mkdtempSync(join(tmpdir(), "wsport-skips-"));
for (const name of chosen.length ? chosen : Object.keys(runtimes)) {
  const rt = runtimes[name];
  console.log(`\n=== ${name}: ${[rt.cmd, ...rt.args.slice(0, 4)].join(" ")} ...`);
  const skipLog = join(logs, `${name}.jsonl`);
  const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", WSPORT_SKIP_LOG: skipLog };
  const run = spawnSync(rt.cmd, rt.args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env });
  const out = (run.stdout ?? "") + (run.stderr ?? "");
  const counts = rt.parse(out);
  const reasons = skipReasons(skipLog);
  const recorded = reasons.reduce((n, [, count]) => n + count, 0);
  const ok = run.status === 0 && counts.failed === 0 && counts.passed > 0 && recorded === counts.skipped;
  // The whole report on failure; the tail (the runtime's own summary) otherwise.
  process.stdout.write((ok ? out.split("\n").slice(-25).join("\n") : out) + "\n");
  if (run.error) console.log(`${name}: could not start: ${run.error.message}`);
  results.push({ name, ok, status: run.status, ...counts, reasons, recorded });
}
rmSync(logs, { recursive: true, force: true });

console.log("\n=== summary");
for (const r of results) {
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (exit ${r.status})`);
}
const total = results.reduce((t, r) => ({ p: t.p + r.passed, f: t.f + r.failed, s: t.s + r.skipped }), { p: 0, f: 0, s: 0 });
console.log(`total: ${total.p} passed, ${total.f} failed, ${total.s} skipped`);

console.log("\n=== skipped, by runtime and reason");
for (const r of results) {
  console.log(`${r.name}: ${r.skipped} skipped`);
  for (const [reason, count] of r.reasons) console.log(`  ${String(count).padStart(3)}  ${reason}`);
  if (r.recorded !== r.skipped) {
    console.log(`  ${r.name} reports ${r.skipped} skipped but ${r.recorded} reasons were recorded: a skip that bypasses test/skips.ts (skipIf, skipUnlessPeer) fails the run`);
  }
}
// exitCode, not exit(): stdout may be a pipe (`npm test | tee` in .ci/run) whose pending writes
// process.exit() would drop, cutting a failing runtime's report after the first 128 KiB.
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
