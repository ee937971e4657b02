// Codec bench: test data, the same bytes on every runtime.
import type { Bytes } from "./env.ts";

// xorshift32: deterministic, so every runtime compresses the same bytes.
export function makeRng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the a to of and in is it for on that with as was at by this be from are have not " +
  "order price update status ready error retry queue stream socket frame buffer server client " +
  "latency window token session user room message channel event payload request response " +
  "green blue red fast slow north south river market ticket coffee window garden planet"
).split(" ");
const NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "Zoë", "José", "Łukasz"];
const SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "ORCL", "INTC", "AMD", "BTC-USD", "ETH-USD"];
const enc = new TextEncoder();

function makeRecordSource(seed: number) {
  const r = makeRng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  let ts = 1732550400000;
  let id = int(1000, 90000);
  const sentence = (n: number) => {
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(pick(WORDS));
    return w.join(" ");
  };
  return (): string => {
    ts += int(1, 2500);
    id += int(1, 7);
    switch (int(0, 3)) {
      case 0:
        return JSON.stringify({ type: "trade", id, sym: pick(SYMBOLS), px: +(r() * 900 + 10).toFixed(2), qty: int(1, 5000), side: r() < 0.5 ? "buy" : "sell", ts });
      case 1:
        return JSON.stringify({ type: "chat", id, room: `room-${int(1, 40)}`, user: { id: int(1, 100000), name: pick(NAMES) }, text: sentence(int(3, 20)), ts });
      case 2:
        return JSON.stringify({ type: "metrics", host: `web-${int(1, 64)}`, cpu: +(r() * 100).toFixed(1), mem: int(100000, 16000000), load: [+(r() * 4).toFixed(2), +(r() * 4).toFixed(2), +(r() * 4).toFixed(2)], ok: r() < 0.9, ts });
      default:
        return JSON.stringify({ type: "presence", id, user: pick(NAMES), online: r() < 0.7, tags: Array.from({ length: int(0, 4) }, () => pick(WORDS)), seen: new Date(ts).toISOString() });
    }
  };
}

// `count` distinct messages of exactly `size` bytes: JSON arrays of records cut to size.
export function makeMessages(size: number, count: number, seed: number): Bytes[] {
  const next = makeRecordSource(seed);
  const out: Bytes[] = [];
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    let len = 1;
    while (len < size + 8) {
      const s = next();
      parts.push(s);
      len += s.length + 1;
    }
    const bytes = enc.encode("[" + parts.join(",") + "]");
    out.push(bytes.slice(0, size));
  }
  return out;
}
