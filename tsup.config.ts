import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    mod: "mod.ts",
    core: "src/core/mod.ts",
    node: "adapters/node.ts",
    http2: "adapters/node_http2.ts",
    deno: "adapters/deno.ts",
    bun: "adapters/bun.ts",
    memory: "adapters/memory.ts",
    streams: "adapters/streams.ts",
    static: "adapters/static.ts",
    zlib: "adapters/zlib.ts",
  },
  format: ["esm", "cjs"],
  // Shared code in chunks, so `wsport` and `wsport/node` share one copy of each class (instanceof works across them).
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
  platform: "neutral",
  external: [/^node:/],
  outDir: "dist",
});
