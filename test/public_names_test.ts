// No public entry point exports a name that a web platform global has,
// unless it is that global's shape: a user who imports our types beside
// the DOM's must never get our `CloseEvent` where they meant the browser's.
// The names come from the TypeScript compiler (types included, through
// every `export *`); the web platform's from TypeScript's DOM and worker
// libraries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** Names a global of the same name may share, with where their shape is checked. */
const SAME_SHAPE: Record<string, string> = {
  WebSocket: "the WHATWG WebSocket itself: test/websocket_test.ts checks it is assignable to the platform's type and behaves as the Standard says",
};

/** Every entry point a user can import: deno.json's exports (the same as package.json's). */
function entries(): Record<string, string> {
  const exports = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports as Record<string, string>;
  return Object.fromEntries(Object.entries(exports).map(([name, path]) => [name, join(root, path)]));
}

/** The names the web platform declares globally (interfaces, types, variables, functions). */
function webPlatformNames(): Set<string> {
  const lib = dirname(createRequire(import.meta.url).resolve("typescript/lib/lib.dom.d.ts"));
  const names = new Set<string>();
  for (const file of ["lib.dom.d.ts", "lib.webworker.d.ts"]) {
    const text = readFileSync(join(lib, file), "utf8");
    for (const match of text.matchAll(/^(?:declare var|declare function|declare const|interface|type) ([A-Za-z_$][\w$]*)/gm)) names.add(match[1]!);
  }
  return names;
}

test("public names: no entry point exports a web platform global's name, unless it has that global's shape", () => {
  const files = entries();
  const program = ts.createProgram(Object.values(files), {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
  });
  const checker = program.getTypeChecker();
  const web = webPlatformNames();
  assert.ok(web.has("CloseEvent") && web.has("WebSocket") && web.has("TextEvent"), "the DOM library was read");
  const clashes: string[] = [];
  let total = 0;
  for (const [entry, file] of Object.entries(files)) {
    const source = program.getSourceFile(file);
    assert.ok(source, `${entry}: ${file} is in the program`);
    const module = checker.getSymbolAtLocation(source);
    assert.ok(module, `${entry} is a module`);
    const names = checker.getExportsOfModule(module).map((symbol) => symbol.name);
    assert.ok(names.length > 0, `${entry} exports something`);
    total += names.length;
    for (const name of names) if (web.has(name) && SAME_SHAPE[name] === undefined) clashes.push(`${entry}: ${name}`);
  }
  assert.ok(total > 100, `every entry's names were read (${total})`);
  assert.deepEqual(clashes, [], "exports named like a web platform global");
});

test("public names: the check sees a clash (a module that exports CloseEvent and TextEvent types)", () => {
  const host = ts.createCompilerHost({});
  const file = join(root, "clash.ts");
  const original = host.getSourceFile;
  host.getSourceFile = (name, ...rest) =>
    name === file ? ts.createSourceFile(name, "export type CloseEvent = { code: number };\nexport interface TextEvent { data: string }\nexport const ok = 1;\n", ts.ScriptTarget.ES2022) : original.call(host, name, ...rest);
  const program = ts.createProgram([file], { noEmit: true, types: [], lib: ["lib.es2022.d.ts"] }, host);
  const checker = program.getTypeChecker();
  const names = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!).map((s) => s.name);
  const web = webPlatformNames();
  assert.deepEqual(names.filter((name) => web.has(name)), ["CloseEvent", "TextEvent"]);
});
