// Codec bench: the runtime this runs on, the command-line options and small byte/number
// helpers shared by every section.
import { Buffer } from "node:buffer";

// ---------------------------------------------------------------- runtime, arguments

type G = {
  Deno?: { args: string[]; version: { deno: string }; execPath(): string };
  Bun?: { version: string; gc(force: boolean): void };
  gc?: () => void;
};
export const g = globalThis as unknown as G;
export const runtime: "node" | "deno" | "bun" = g.Bun ? "bun" : g.Deno ? "deno" : "node";
export const runtimeVersion = g.Bun ? g.Bun.version : g.Deno ? g.Deno.version.deno : process.version;
export const argv: string[] = g.Deno ? g.Deno.args : process.argv.slice(2);
export const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
export const quick = flag("quick");
export const sections = new Set(option("sections", "ff,loop,switch,tp,mem,w8").split(","));
export const codecFilter = new Set(option("codecs", "zlib-async,zlib-async-x8,zlib-sync,pako,pako-inflate-16k,fflate").split(","));
export const log = (...a: unknown[]) => console.error(...a);

export type Bytes = Uint8Array;
export const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
export const SIZES = [100, 4096, 65536, 1048576];
export const sizeLabel = (n: number) => (n >= 1048576 ? `${n / 1048576} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

// ---------------------------------------------------------------- small helpers

export function concat(chunks: Bytes[], total?: number): Bytes {
  if (chunks.length === 1) return chunks[0]!;
  let n = total ?? 0;
  if (total === undefined) for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

// Removes the 00 00 ff ff a sync flush leaves at the end (RFC 7692 7.2.1); throws if absent,
// so a codec that does not end a message on a sync-flush marker fails the run.
export function stripTail(b: Bytes): Bytes {
  const n = b.length;
  if (n < 4 || b[n - 4] !== 0 || b[n - 3] !== 0 || b[n - 2] !== 0xff || b[n - 1] !== 0xff) {
    throw new Error(`compressed message does not end with 00 00 ff ff (${n} bytes)`);
  }
  return b.subarray(0, n - 4);
}

export function sameBytes(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function fullGc(): boolean {
  if (g.Bun) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}
