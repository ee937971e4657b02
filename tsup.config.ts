import { defineConfig } from "tsup";

export default defineConfig({
  entry: { mod: "mod.ts" },
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
  platform: "neutral",
  outDir: "dist",
});
