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
    redis: "adapters/redis.ts",
  },
  format: ["esm", "cjs"],
  // The Redis clients are optional peer dependencies, loaded only by wsport/redis.
  external: [/^node:/, "@redis/client", "ioredis"],
  // Shared code in chunks, so `wsport` and `wsport/node` share one copy of each class (instanceof works across them).
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
  platform: "neutral",
  // Keep "node:" on built-in imports: Deno and bundlers for non-Node targets need the prefix to know them.
  removeNodeProtocol: false,
  outDir: "dist",
});
