// Codec bench: the Markdown tables printed on stdout.
import { sizeLabel } from "./env.ts";
import { CODECS } from "./codecs.ts";
import { MEM_CASES, type MemRow } from "./memory.ts";
import type { Row } from "./throughput.ts";
import type { LoopRow } from "./loop_probe.ts";
import type { SwitchRow } from "./switch_check.ts";
import type { W8Row } from "./window8.ts";

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function throughputTable(rows: Row[]): string {
  const us = (r: Row) => `${fmt(r.usPerMessage)} (${fmt((r.bestMs * 1000) / r.messagesPerRound)})`;
  const lines = [
    "| codec | config | size | compress msg/s | compress MB/s | µs/msg | decompress msg/s | decompress MB/s | µs/msg | compressed/original |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  const keys: string[] = [];
  for (const r of rows) {
    const k = `${r.codec}|${r.config}|${r.size}`;
    if (!keys.includes(k)) keys.push(k);
  }
  const order = (k: string) => {
    const [name, config, size] = k.split("|");
    const base = name!.startsWith("zlib-async-x") ? "zlib-async" : name!;
    const i = CODECS.findIndex((c) => c.name === base);
    const codec = CODECS[i];
    const ci = codec ? codec.configs.findIndex((c) => c.name === config) : 0;
    return [i + (base !== name ? 0.5 : 0), ci, Number(size)] as const;
  };
  keys.sort((a, b) => {
    const [ca, fa, sa] = order(a), [cb, fb, sb] = order(b);
    return ca - cb || fa - fb || sa - sb;
  });
  for (const k of keys) {
    const [codec, config, size] = k.split("|");
    const c = rows.find((r) => `${r.codec}|${r.config}|${r.size}` === k && r.direction === "compress");
    const d = rows.find((r) => `${r.codec}|${r.config}|${r.size}` === k && r.direction === "decompress");
    const ctx = (c ?? d)!.contextTakeover ? "" : " (no ctx)";
    lines.push(
      `| ${codec}${ctx} | ${config} | ${sizeLabel(Number(size))} | ${c ? fmt(c.messagesPerSec) : "–"} | ${c ? fmt(c.MBps) : "–"} | ${c ? us(c) : "–"} | ${d ? fmt(d.messagesPerSec) : "–"} | ${d ? fmt(d.MBps) : "–"} | ${d ? us(d) : "–"} | ${c ? (c.ratio * 100).toFixed(1) + "%" : "–"} |`,
    );
  }
  return lines.join("\n");
}

function memoryTable(rows: MemRow[]): string {
  const kib = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? (n / 1024).toFixed(1) : "n/a");
  const lines = [
    "| codec | config | RSS KiB/pair, 1 msg | JS heap | external | RSS KiB/pair, 16 msgs | JS heap | external | pairs | gc |",
    "|---|---|--:|--:|--:|--:|--:|--:|---|---|",
  ];
  for (const m of MEM_CASES) {
    const a = rows.find((r) => r.codec === m.codec && r.config === m.cfg.name && r.messagesPerPair === 1);
    const b = rows.find((r) => r.codec === m.codec && r.config === m.cfg.name && r.messagesPerPair === 16);
    if (!a && !b) continue;
    const err = [a?.error, b?.error].filter(Boolean).join("; ");
    lines.push(
      `| ${m.codec} | ${m.cfg.name} | ${kib(a?.rssPerPair)} | ${kib(a?.heapPerPair)} | ${kib(a?.externalPerPair)} | ${kib(b?.rssPerPair)} | ${kib(b?.heapPerPair)} | ${kib(b?.externalPerPair)} | ${a?.pairs ?? "-"} / ${b?.pairs ?? "-"} | ${err || ((a?.gc ?? b?.gc) ? "yes" : "no")} |`,
    );
  }
  return lines.join("\n");
}

function w8Table(rows: W8Row[]): string {
  return [
    "| data | codec | requested | result | max distance | refs > 256 | same bytes as wb 9 | zlib inflate wb 8 | pako inflate wb 8 |",
    "|---|---|---|---|--:|--:|---|---|---|",
    ...rows.map((r) =>
      r.accepted
        ? `| ${r.data} | ${r.codec} | ${r.requested} | accepted, ${r.compressedBytes} B | ${r.maxDistance} | ${r.over256} | ${r.identicalToWb9 === undefined ? "" : r.identicalToWb9 ? "yes" : "no"} | ${r.zlibInflateWb8 ?? ""} | ${r.pakoInflateWb8 ?? ""} |`
        : `| ${r.data} | ${r.codec} | ${r.requested} | rejected: ${r.error} | | | | | |`,
    ),
  ].join("\n");
}

// Prints every section present in a result object (also used by --print).
export function printResult(result: Record<string, any>) {
  const head = `${result.runtime} ${result.runtimeVersion}`;
  const m = result.machine ?? {};
  console.log(`\n## ${head} (node:zlib reports zlib ${result.zlibVersion}; ${m.cpus} CPUs, load average ${m.loadavgAtStart?.[0]} at start, ${m.loadavgAtEnd?.[0]} at end; ${result.date})`);
  if (result.fflateShippedFlush) {
    const rows = result.fflateShippedFlush as Record<string, unknown>[];
    console.log(
      `\n### ${head}: fflate Deflate#flush(true) as shipped\n\n| size | messages | without 00 00 ff ff | node:zlib inflate | pako inflate | fflate inflate |\n|---|--:|--:|---|---|---|\n` +
        rows.map((r) => `| ${sizeLabel(r.size as number)} | ${r.messages} | ${r.withoutSyncMarker} | ${r.zlibInflate} | ${r.pakoInflate} | ${r.fflateInflate} |`).join("\n") + "\n",
    );
  }
  if (result.eventLoop) {
    const rows = result.eventLoop as LoopRow[];
    console.log(
      `\n### ${head}: zlib-async, time on the main thread per message (15/8)\n\n| direction | size | write+flush return after (ms) | callback after (ms) | event-loop turns meanwhile |\n|---|---|--:|--:|--:|\n` +
        rows.map((r) => `| ${r.direction} | ${r.size ? sizeLabel(r.size) : ""} | ${r.syncMs} | ${r.totalMs} | ${r.loopTurns} |`).join("\n") + "\n",
    );
  }
  if (result.switchCodec) {
    const rows = result.switchCodec as SwitchRow[];
    console.log(
      `\n### ${head}: switching codec at a message boundary (15/8, context takeover)\n\n| check | result |\n|---|---|\n` +
        rows
          .map((r) => `| ${r.check} | ${r.result}${r.compressedBytes ? ` (${r.compressedBytes} B; one node:zlib stream: ${r.singleStreamBytes} B)` : ""}${r.primeUs ? ": " + Object.entries(r.primeUs).map(([k, v]) => `${k} ${v}`).join(", ") : ""} |`)
          .join("\n") + "\n",
    );
  }
  if (result.throughput) console.log(`\n### ${head}: throughput (µs/msg: median, best round in parentheses)\n\n${throughputTable(result.throughput as Row[])}\n`);
  if (result.memory) console.log(`\n### ${head}: memory per compressor+decompressor pair\n\n${memoryTable(result.memory as MemRow[])}\n`);
  if (result.window8) console.log(`\n### ${head}: windowBits 8\n\n${w8Table(result.window8 as W8Row[])}\n`);
}
