import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// The core must run unchanged on every runtime: no runtime module, global or
// timer may appear in src/ (comments excluded).
const FORBIDDEN: [RegExp, string][] = [
  [/from\s+["']node:/, "node: import"],
  [/\bimport\(\s*["']node:/, "node: dynamic import"],
  [/\brequire\(/, "require()"],
  [/\bDeno\./, "Deno global"],
  [/\bBun\./, "Bun global"],
  [/\bprocess\./, "process global"],
  [/\bBuffer\b/, "Buffer"],
];

// The sans-IO core must not schedule anything; the services may defer to a
// microtask (output batching), and only the clock touches timers.
const TIMER = /\b(setTimeout|setInterval|setImmediate)\(/;
const MICROTASK = /\bqueueMicrotask\(/;
const SERVICES = new Set(["clock.ts", "websocket_connection.ts", "server.ts", "client.ts", "websocket.ts", "default_network.ts", "transport.ts"]);

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

test("src/ uses no runtime-specific import or global, and only the clock uses timers", () => {
  const files = readdirSync("src", { recursive: true }).map(String).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length > 10, "src/ was found");
  const problems: string[] = [];
  for (const file of files) {
    const code = stripComments(readFileSync(join("src", file), "utf8"));
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(code)) problems.push(`${file}: ${what}`);
    if (file !== "clock.ts" && TIMER.test(code)) problems.push(`${file}: timer outside clock.ts`);
    if (!SERVICES.has(file) && MICROTASK.test(code)) problems.push(`${file}: microtask in the sans-IO core`);
  }
  assert.deepEqual(problems, []);
});
