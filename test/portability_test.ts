import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

// The layers are folders, and these rules keep them honest:
// - src/core/ is the sans-IO protocol: no runtime module or global, no timer,
//   no microtask, and no import that leaves the folder (pako is its one package);
// - src/transport/ is the seam: it may use the core, never the services;
// - src/services/ is written once for every runtime: no runtime module or
//   global, and only its clock touches timers.
// Nothing under src/ imports an adapter.
const RUNTIME: [RegExp, string][] = [
  [/from\s+["']node:/, "node: import"],
  [/\bimport\(\s*["']node:/, "node: dynamic import"],
  [/\brequire\(/, "require()"],
  [/\bDeno\./, "Deno global"],
  [/\bBun\./, "Bun global"],
  [/\bprocess\./, "process global"],
  [/\bBuffer\b/, "Buffer"],
];
const TIMER = /\b(setTimeout|setInterval|setImmediate)\(/;
const MICROTASK = /\bqueueMicrotask\(/;
const CORE_PACKAGES = new Set(["pako"]);

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

function filesOf(folder: string): string[] {
  return readdirSync(folder, { recursive: true }).map(String).filter((f) => f.endsWith(".ts")).map((f) => join(folder, f));
}

/** Every module specifier a file imports or re-exports. */
function importsOf(code: string): string[] {
  const found: string[] = [];
  for (const m of code.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) found.push(m[1]!);
  return found;
}

/** The layer a resolved path belongs to. */
function layerOf(path: string): string {
  const rel = relative(resolve("."), path).split("\\").join("/");
  for (const layer of ["src/core", "src/transport", "src/services", "adapters"]) if (rel.startsWith(layer + "/")) return layer;
  return rel;
}

const MAY_IMPORT: Record<string, Set<string>> = {
  "src/core": new Set(["src/core"]),
  "src/transport": new Set(["src/core", "src/transport"]),
  "src/services": new Set(["src/core", "src/transport", "src/services"]),
};

function check(folder: string, rules: { timers: boolean; microtasks: boolean; packages?: Set<string> }): string[] {
  const files = filesOf(folder);
  assert.ok(files.length > 3, `${folder} was found`);
  const problems: string[] = [];
  for (const file of files) {
    const code = stripComments(readFileSync(file, "utf8"));
    for (const [pattern, what] of RUNTIME) if (pattern.test(code)) problems.push(`${file}: ${what}`);
    if (!rules.timers && TIMER.test(code)) problems.push(`${file}: timer`);
    if (!rules.microtasks && MICROTASK.test(code)) problems.push(`${file}: microtask`);
    for (const specifier of importsOf(code)) {
      if (!specifier.startsWith(".")) {
        if (rules.packages !== undefined && !rules.packages.has(specifier)) problems.push(`${file}: imports the package ${specifier}`);
        continue;
      }
      const target = layerOf(resolve(dirname(file), specifier));
      if (!MAY_IMPORT[folder]!.has(target)) problems.push(`${file}: imports ${specifier} (${target})`);
    }
  }
  return problems;
}

test("src/core/ is sans-IO: no runtime, timer or microtask, and nothing imported from outside it", () => {
  assert.deepEqual(check("src/core", { timers: false, microtasks: false, packages: CORE_PACKAGES }), []);
});

test("src/transport/ depends only on the core; src/services/ only on the core and the seam, with timers in clock.ts alone", () => {
  assert.deepEqual(check("src/transport", { timers: false, microtasks: true }), []);
  const services = check("src/services", { timers: true, microtasks: true });
  const timers = filesOf("src/services").filter((f) => f !== join("src/services", "clock.ts") && TIMER.test(stripComments(readFileSync(f, "utf8"))));
  assert.deepEqual([...services, ...timers.map((f) => `${f}: timer outside clock.ts`)], []);
});

test("the portability rules catch what they forbid", () => {
  // The checker itself must fail on each kind of violation, or the tests above prove nothing.
  assert.ok(RUNTIME.every(([pattern]) => !pattern.test("const a = 1;")));
  for (const bad of ['import x from "node:fs";', "Deno.listen()", "Bun.serve()", "process.exit()", "Buffer.from(a)", "require('x')"]) {
    assert.ok(RUNTIME.some(([pattern]) => pattern.test(bad)), bad);
  }
  assert.ok(TIMER.test("setTimeout(f, 1)") && MICROTASK.test("queueMicrotask(f)"));
  assert.deepEqual(importsOf('import { a } from "../services/x.ts";\nexport * from "./y.ts";'), ["../services/x.ts", "./y.ts"]);
  assert.equal(layerOf(resolve("src/core/http", "../../services/server.ts")), "src/services");
  assert.equal(MAY_IMPORT["src/core"]!.has("src/services"), false);
});
