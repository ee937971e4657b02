// A differential test against an HTTP/1.1 parser nobody here wrote:
// Debian's python3-h11 reads the same byte streams as wsport's
// HttpServerProtocol, each answering every complete request at once, and
// their verdicts are compared: the valid streams of http_cases.ts and
// random pipelined requests must give exactly the same requests and bodies;
// every hostile stream wsport refuses is refused by h11 too unless it is in
// H11_ACCEPTS below (where h11 is more lenient, each with the reason); and
// over thousands of random mutations of valid streams, wsport never
// accepts what h11 refuses, and when both accept they agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import fc from "fast-check";
import { latin1 } from "./helpers.ts";
import { concat } from "../src/core/bytes.ts";
import { HttpServerProtocol } from "../src/core/http/connection.ts";
import type { HttpEvent } from "../src/core/http/events.ts";
import { HOSTILE, VALID } from "./http_cases.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./peers/h11_verdicts.py", import.meta.url));

/** undefined when /usr/bin/python3 can import h11, else why not. */
function h11Missing(): string | undefined {
  const run = spawnSync(PYTHON, ["-c", "import h11"], { encoding: "utf8", timeout: 15_000 });
  if (run.error || run.status !== 0) return `${PYTHON} cannot import h11; install the Debian package python3-h11 (apt-get install python3-h11)`;
  return undefined;
}
const missing = h11Missing();

/** What a parser made of a stream: the requests it completed and whether it refused anything. */
interface Verdict {
  requests: { method: string; target: string; body: string }[];
  error: boolean;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** wsport's verdict, made the way h11_verdicts.py makes h11's: answer each request when complete, then EOF. */
function wsportVerdict(data: Uint8Array): Verdict {
  const http = new HttpServerProtocol({ maxBodySize: Infinity });
  const requests: Verdict["requests"] = [];
  let current: Verdict["requests"][number] | undefined;
  let error = false;
  const handle = (events: HttpEvent[]): void => {
    for (const e of events) {
      if (e.type === "http-request") {
        current = { method: e.request.method, target: e.request.target, body: "" };
        if (http.bodyPending) handle(http.acceptBody(Infinity));
      } else if (e.type === "http-body") {
        current!.body += hex(e.data);
      } else if (e.type === "http-end") {
        requests.push(current!);
        current = undefined;
        http.respond({ status: 200, headers: [["Content-Length", "2"]], body: latin1("ok") });
        handle(http.receiveData(new Uint8Array(0)));
      } else {
        error = true;
      }
    }
  };
  handle(http.receiveData(data));
  // A request cut short by the end of the stream cannot be answered: an error, as for h11.
  if (!http.closed && !http.idle) error = true;
  handle(http.receiveEof());
  return { requests, error: error || current !== undefined };
}

function h11Verdicts(streams: Uint8Array[]): Verdict[] {
  const input = JSON.stringify(streams.map((s) => btoa(String.fromCharCode(...s))));
  const run = spawnSync(PYTHON, [SCRIPT], { input, encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`h11_verdicts.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Verdict[];
}

/**
 * Hostile streams h11 0.14 accepts and wsport refuses, and why wsport is
 * right to: each is a place where two parsers can disagree about where a
 * request ends, or a limit h11 sets elsewhere.
 */
const H11_ACCEPTS: Record<string, string> = {
  "Content-Length with Transfer-Encoding": "h11 lets Transfer-Encoding win; RFC 9112 6.3 allows refusing it, and a front end that honours Content-Length would see another request",
  "Transfer-Encoding with Content-Length": "the same, in the other order",
  "duplicate Content-Length, same value": "h11 merges identical values; parsers that refuse and parsers that merge disagree",
  "Content-Length as a list": "the same, on one line",
  "Transfer-Encoding in HTTP/1.0": "RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; h11 decodes it",
  "chunk size before a space": "h11 allows whitespace before the CRLF; the grammar does not",
  "chunk size over 16 hex digits": "h11 takes up to 20 digits; wsport 16 (any 64-bit value)",
  "chunk extension with a NUL": "h11 takes anything after the ';'",
  "chunk size line over 4 KiB (extensions)": "h11 bounds a line by its 16 KiB event limit; wsport a chunk-size line by 4 KiB (unbounded extensions were llhttp's CVE-2024-22019)",
  "trailer with obs-fold": "h11 unfolds obs-fold (RFC 9112 5.2 allows rejecting it)",
  "trailer with a bare LF": "h11 accepts a bare LF as a line end (RFC 9112 2.2 allows rejecting it)",
  "bare LF ending a header line": "the same, in the head",
  "bare LF ending the request line": "the same, in the request line",
  "obs-fold": "h11 unfolds obs-fold in the head",
  "HTTP/2.0 request line": "h11 reads any HTTP/d.d version as 1.1; wsport answers 505",
  "Expect other than 100-continue": "h11 ignores Expect; wsport answers 417 (RFC 9110 10.1.1)",
  "request line over the head limit": "h11's limit is 16 KiB of incomplete event; wsport's head limit is 8 KiB",
  "head over 8 KiB": "the same",
  "65 header lines": "h11 has no header-count limit; wsport's is 64",
};

test("h11 and wsport read the valid streams identically, alone and pipelined", { skip: skipUnlessPeer(missing) }, () => {
  const streams = [...VALID.map((v) => latin1(v.text)), concat(VALID.filter((v) => !/close|1\.0/.test(v.text)).map((v) => latin1(v.text)))];
  const theirs = h11Verdicts(streams);
  streams.forEach((stream, i) => {
    const ours = wsportVerdict(stream);
    assert.equal(ours.error, false, `wsport refused ${VALID[i]?.name ?? "the pipelined stream"}`);
    assert.deepEqual(ours, theirs[i], VALID[i]?.name ?? "the pipelined stream");
  });
});

test("every hostile stream wsport refuses, h11 refuses too, but for the documented leniencies", { skip: skipUnlessPeer(missing) }, () => {
  const theirs = h11Verdicts(HOSTILE.map((c) => latin1(c.text)));
  const table: string[] = [];
  HOSTILE.forEach((c, i) => {
    const ours = wsportVerdict(latin1(c.text));
    assert.equal(ours.error, true, `wsport accepted "${c.name}"`);
    assert.deepEqual(ours.requests, [], `wsport completed a request of "${c.name}"`);
    const lenient = !theirs[i]!.error;
    table.push(`${c.name}: wsport ${c.status}, h11 ${lenient ? "accepts" : "refuses"}`);
    if (lenient) assert.ok(c.name in H11_ACCEPTS, `h11 accepts "${c.name}", which is not in H11_ACCEPTS`);
    else assert.ok(!(c.name in H11_ACCEPTS), `"${c.name}" is in H11_ACCEPTS but h11 refuses it now`);
  });
  assert.equal(table.length, HOSTILE.length);
});

// --- random streams ---

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const fieldValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const requestArb = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
  target: fc.stringMatching(/^\/[A-Za-z0-9/?=&%._~-]{0,30}$/),
  headers: fc.array(fc.tuple(token, fieldValue), { maxLength: 5 }),
  framing: fc.constantFrom("none", "length", "chunked"),
  body: fc.uint8Array({ maxLength: 120 }),
  chunks: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }),
}).map((r) => {
  const framingHeaders = new Set(["content-length", "transfer-encoding", "host", "connection", "expect", "upgrade"]);
  let head = `${r.method} ${r.target} HTTP/1.1\r\nHost: example\r\n`;
  for (const [name, value] of r.headers) if (!framingHeaders.has(name.toLowerCase())) head += `${name}: ${value}\r\n`;
  const parts: Uint8Array[] = [];
  if (r.framing === "length") {
    parts.push(latin1(`${head}Content-Length: ${r.body.length}\r\n\r\n`), r.body);
  } else if (r.framing === "chunked") {
    parts.push(latin1(`${head}Transfer-Encoding: chunked\r\n\r\n`));
    let at = 0;
    for (let i = 0; at < r.body.length; i++) {
      const size = Math.min(r.chunks[i % r.chunks.length]!, r.body.length - at);
      parts.push(latin1(`${size.toString(16)}\r\n`), r.body.subarray(at, at + size), latin1("\r\n"));
      at += size;
    }
    parts.push(latin1("0\r\n\r\n"));
  } else {
    parts.push(latin1(head + "\r\n"));
  }
  return concat(parts);
});
const streamArb = fc.array(requestArb, { minLength: 1, maxLength: 4 }).map((requests) => concat(requests));

// Bytes that matter to HTTP framing, for mutations.
const SPECIAL = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x30, 0x31, 0x61, 0x00, 0x7f, 0xe9, 0x2b, 0x2d];
const mutationArb = fc.tuple(streamArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom("insert", "delete", "replace"), fc.constantFrom(...SPECIAL)), { minLength: 1, maxLength: 3 }))
  .map(([stream, edits]) => {
    let bytes = Array.from(stream);
    for (const [where, kind, byte] of edits) {
      const at = where % (bytes.length + 1);
      if (kind === "insert") bytes.splice(at, 0, byte);
      else if (kind === "delete") bytes.splice(at, 1);
      else bytes[Math.min(at, bytes.length - 1)] = byte;
    }
    return Uint8Array.from(bytes);
  });

test("random pipelined streams: h11 and wsport see the same requests and bodies", { skip: skipUnlessPeer(missing) }, () => {
  const streams = fc.sample(streamArb, { numRuns: 300, seed: 1311 });
  const theirs = h11Verdicts(streams);
  streams.forEach((stream, i) => assert.deepEqual(wsportVerdict(stream), theirs[i], JSON.stringify(String.fromCharCode(...stream))));
});

/**
 * The one place wsport is more lenient than h11, on purpose: RFC 9112 2.2
 * says a server SHOULD ignore empty lines before a request line, and h11
 * refuses them. A stream wsport accepts and h11 refuses must be such a
 * case: without those empty lines, h11 accepts it and agrees.
 */
function withoutEmptyLinesBeforeRequests(stream: Uint8Array): Uint8Array {
  const text = String.fromCharCode(...stream);
  return latin1(text.replace(/^(?:\r\n)+/, "").replace(/\r\n\r\n(?:\r\n)+/g, "\r\n\r\n"));
}

test("random mutations: wsport never accepts what h11 refuses, and when both accept they agree", { skip: skipUnlessPeer(missing) }, () => {
  // A fixed seed keeps the test deterministic; WSPORT_DIFF_SEED=n explores others.
  const streams = fc.sample(mutationArb, { numRuns: 3000, seed: Number(process.env.WSPORT_DIFF_SEED ?? 6455) });
  const theirs = h11Verdicts(streams);
  let bothAccept = 0;
  let bothRefuse = 0;
  let onlyWsportRefuses = 0;
  const onlyH11Refuses: { stream: Uint8Array; ours: Verdict }[] = [];
  streams.forEach((stream, i) => {
    const ours = wsportVerdict(stream);
    const h11 = theirs[i]!;
    if (!ours.error && h11.error) {
      onlyH11Refuses.push({ stream, ours });
    } else if (!ours.error) {
      assert.deepEqual(ours, h11, JSON.stringify(String.fromCharCode(...stream)));
      bothAccept++;
    } else if (h11.error) {
      bothRefuse++;
    } else {
      onlyWsportRefuses++;
    }
  });
  const explained = h11Verdicts(onlyH11Refuses.map((c) => withoutEmptyLinesBeforeRequests(c.stream)));
  onlyH11Refuses.forEach((c, i) => {
    const shown = JSON.stringify(String.fromCharCode(...c.stream));
    assert.equal(explained[i]!.error, false, `wsport accepts what h11 refuses, and not for an empty line before a request: ${shown}`);
    assert.deepEqual(c.ours, explained[i], shown);
  });
  if (process.env.WSPORT_DIFF_STATS) console.log({ bothAccept, bothRefuse, onlyWsportRefuses, emptyLines: onlyH11Refuses.length });
  // The mutations must exercise both sides, or the comparison proves little.
  assert.ok(bothAccept > 100 && bothRefuse > 100, `accepted by both ${bothAccept}, refused by both ${bothRefuse}, only by wsport ${onlyWsportRefuses}`);
});
