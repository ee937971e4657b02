// The HTTP/1.1 modes of the load generator (bench/loadgen.mjs imports them):
// raw TCP, plain JS, the same whatever server it measures. Responses are
// counted by reading heads and skipping bodies (Content-Length or chunked),
// never by buffering them.
//
//   node bench/loadgen.mjs http      --port P [--conns 64 --depth 1 --path /hello]
//       each connection keeps `depth` requests in flight on one kept-alive connection
//       (depth 1: request, answer, next request, as wrk and browsers do)
//   node bench/loadgen.mjs idle-http --port P [--conns 10000]
//       each connection makes one request, reads the answer, then holds the kept-alive
//       connection until stdin says "close"; "stats" prints {"event":"stats","closedByServer":n}
import net from "node:net";

const CRLFCRLF = Buffer.from("\r\n\r\n");

/**
 * Counts complete HTTP/1.1 responses in a byte stream. Heads are searched for
 * their end and their framing headers; bodies are skipped, chunk by chunk.
 */
export class ResponseCounter {
  buffered = Buffer.alloc(0);
  skip = 0; // body bytes still to skip
  chunked = false; // inside a chunked body, between chunks
  statuses = new Map(); // status -> count, to tell errors from answers

  /** @returns how many responses ended in this chunk */
  feed(chunk) {
    let data = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    let at = 0;
    let done = 0;
    for (;;) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, data.length - at);
        this.skip -= take;
        at += take;
        if (this.skip > 0) break;
        if (!this.chunked) done++;
        continue;
      }
      if (this.chunked) {
        const eol = data.indexOf("\r\n", at, "latin1");
        if (eol < 0) break;
        const size = parseInt(data.toString("latin1", at, eol), 16);
        if (size === 0) {
          // The last chunk: no trailers from the servers measured, so its CRLF and the final one.
          if (data.length < eol + 4) break;
          at = eol + 4;
          this.chunked = false;
          done++;
        } else {
          at = eol + 2;
          this.skip = size + 2; // the data and its CRLF
        }
        continue;
      }
      const end = data.indexOf(CRLFCRLF, at);
      if (end < 0) break;
      const head = data.toString("latin1", at, end);
      at = end + 4;
      const status = Number(head.slice(9, 12));
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) this.chunked = true;
      else if (length && Number(length[1]) > 0) this.skip = Number(length[1]);
      else done++;
    }
    this.buffered = at < data.length ? Buffer.from(data.subarray(at)) : Buffer.alloc(0);
    return done;
  }
}

/** The HTTP modes, given the load generator's shared pieces. */
export function httpModes({ opt, host, port, conns, emit, timedRounds, openMany }) {
  const path = opt.path ?? "/hello";
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: wsport-bench\r\n\r\n`);

  function open() {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.on("error", () => {});
        resolve(socket);
      });
      socket.once("error", reject);
    });
  }

  /**
   * Requests/s over kept-alive connections, `depth` in flight on each. A
   * connection the server closes (a requests-per-connection limit) is
   * replaced, as a client would, and counted in `closedByServer`.
   */
  async function http() {
    const depth = Number(opt.depth ?? 1);
    const burst = Buffer.concat(Array.from({ length: depth }, () => request));
    const statuses = {};
    let total = 0;
    let closed = 0;
    let running = true;
    const drive = (socket) => {
      const counter = new ResponseCounter();
      counter.statuses = { set: (status, n) => (statuses[status] = n), get: (status) => statuses[status] };
      let inFlight = depth;
      socket.on("data", (chunk) => {
        const n = counter.feed(chunk);
        total += n;
        inFlight -= n;
        if (inFlight <= depth / 2) {
          socket.write(burst.subarray(0, (depth - inFlight) * request.length));
          inFlight = depth;
        }
      });
      socket.on("close", () => {
        closed++;
        if (running) open().then(drive, () => {});
      });
      socket.write(burst);
    };
    for (const socket of await openMany(conns, open)) drive(socket);
    const result = await timedRounds(() => total);
    running = false;
    emit({ mode: "http", depth, responses: total, statuses, closedByServer: closed, ...result });
  }

  /** Opens `conns` connections, one request each, then holds them until told to close. */
  async function idleHttp() {
    const start = performance.now();
    let sockets;
    let closedByServer = 0;
    try {
      // Each connection asks as soon as it is open, as a client does: waiting for all
      // of them first would leave the early ones to the server's head timeout.
      const answers = [];
      const openAndAsk = () => open().then((socket) => {
        answers.push(new Promise((resolve, reject) => {
          const counter = new ResponseCounter();
          socket.once("close", () => reject(new Error("the server closed a connection before answering")));
          socket.on("data", (chunk) => {
            if (counter.feed(chunk) > 0) resolve();
          });
          socket.write(request);
        }));
        return socket;
      });
      sockets = await openMany(conns, openAndAsk);
      await Promise.all(answers);
    } catch (error) {
      emit({ event: "error", message: String(error?.message ?? error) });
      process.exit(1);
    }
    for (const socket of sockets) {
      socket.removeAllListeners("close");
      socket.on("close", () => closedByServer++);
    }
    emit({ event: "ready", open: sockets.length, seconds: +((performance.now() - start) / 1000).toFixed(2) });
    process.stdin.setEncoding("utf8");
    const close = () => {
      for (const socket of sockets) socket.destroy();
      emit({ mode: "idle-http", open: sockets.length });
      process.exit(0);
    };
    process.stdin.on("data", (text) => {
      if (text.includes("stats")) emit({ event: "stats", closedByServer });
      if (text.includes("close")) close();
    });
    process.stdin.on("end", close);
  }

  return { http, "idle-http": idleHttp };
}
