// Bundles a small application that imports the built package (dist/, run
// `npm run build` first) with esbuild, rollup and webpack, each trusting
// package.json's "sideEffects", and runs every bundle on Node, Deno and
// Bun: a server, connect() and the WHATWG WebSocket on the runtime's own
// network, which only works if the bundle kept what selects that network
// (dist/mod.js registers it when it is evaluated: a declared side effect).
// Exits non-zero if any bundle or run fails.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { rollup } from "rollup";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import webpack from "webpack";

const root = resolve(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "wsport-bundle-"));

// The application, as a user writes it: the package by name.
const app = `
import { connect, serve, WebSocket } from "wsport";

async function main() {
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{ name: "echo", open: (ws) => ws.send("welcome"), message: (ws, m) => ws.send(m) }],
  });
  const url = "ws://127.0.0.1:" + server.port + "/";
  const client = await connect(url, { pingInterval: 0 });
  const seen = [];
  for await (const message of client) {
    seen.push(message);
    if (seen.length === 1) client.send("echoed");
    else break;
  }
  const browser = new WebSocket(url);
  const whatwg = await new Promise((resolve, reject) => {
    browser.onerror = () => reject(new Error("WebSocket error"));
    browser.onmessage = (event) => resolve(event.data);
  });
  browser.close();
  await server.close();
  const result = JSON.stringify([...seen, whatwg]);
  if (result !== '["welcome","echoed","welcome"]') throw new Error("unexpected " + result);
  console.log("bundle ok");
}
// No top-level await: rollup places inlined modules after an entry's top-level code.
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

mkdirSync(join(work, "node_modules"));
symlinkSync(root, join(work, "node_modules", "wsport"), "dir");
writeFileSync(join(work, "app.mjs"), app);

// Each bundler with its defaults for an ES module application, the package's "sideEffects" trusted.
const bundles = {
  async esbuild() {
    const outfile = join(work, "esbuild", "app.mjs");
    await build({ entryPoints: [join(work, "app.mjs")], bundle: true, format: "esm", platform: "neutral", mainFields: ["module", "main"], external: ["node:*"], outfile, logLevel: "error" });
    return outfile;
  },
  async rollup() {
    const dir = join(work, "rollup");
    const bundle = await rollup({
      input: join(work, "app.mjs"),
      external: (id) => id.startsWith("node:"),
      plugins: [nodeResolve({ exportConditions: ["import", "default"] })],
      onwarn: (warning, warn) => warning.code === "CIRCULAR_DEPENDENCY" || warn(warning),
    });
    await bundle.write({ dir, format: "es", entryFileNames: "app.mjs", chunkFileNames: "[name]-[hash].mjs" });
    await bundle.close();
    return join(dir, "app.mjs");
  },
  async webpack() {
    const dir = join(work, "webpack");
    const compiler = webpack({
      mode: "production",
      context: work,
      entry: join(work, "app.mjs"),
      target: "es2022",
      experiments: { outputModule: true },
      output: { path: dir, filename: "app.mjs", chunkFilename: "[id].mjs", module: true, chunkFormat: "module", library: { type: "module" } },
      externalsType: "module",
      externals: [({ request }, callback) => (request.startsWith("node:") ? callback(null, `module ${request}`) : callback())],
      optimization: { minimize: false },
      resolve: { conditionNames: ["import", "default"] },
    });
    const stats = await new Promise((resolve, reject) => compiler.run((error, result) => (error ? reject(error) : resolve(result))));
    await new Promise((resolve) => compiler.close(resolve));
    if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }));
    return join(dir, "app.mjs");
  },
};

const bin = (name) => join(root, "node_modules", ".bin", name);
const runtimes = {
  node: (file) => [process.execPath, [file]],
  deno: (file) => [bin("deno"), ["run", "-A", "--no-prompt", file]],
  bun: (file) => [bin("bun"), [file]],
};

let failed = 0;
try {
  for (const [bundler, make] of Object.entries(bundles)) {
    let file;
    try {
      file = await make();
    } catch (error) {
      failed++;
      console.log(`${bundler}: bundling failed: ${error.message}`);
      continue;
    }
    for (const [runtime, command] of Object.entries(runtimes)) {
      const [cmd, args] = command(file);
      const run = spawnSync(cmd, args, { cwd: work, encoding: "utf8", timeout: 60000 });
      const out = `${run.stdout}${run.stderr}`.trim();
      const ok = run.status === 0 && out.includes("bundle ok");
      if (!ok) failed++;
      console.log(`${bundler} bundle on ${runtime}: ${ok ? "ok" : `FAILED (exit ${run.status})\n${out}`}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = failed === 0 ? 0 : 1;
