// A raw HTTP/1.1 client for the tests (not a test file itself): writes
// request bytes exactly as given over any Network and reads the answers off
// the stream one by one (status, headers, body by Content-Length, chunks or
// the close), so keep-alive, pipelining and streaming can be checked byte
// for byte. Written for the tests, independently of src/.
import type { Network, Transport } from "../src/transport/transport.ts";
import { deferred, latin1, within } from "./helpers.ts";

/** One answer read off the stream. */
export interface PeerResponse {
  status: number;
  /** Lower-cased names; repeated ones joined with ", ". */
  headers: Map<string, string>;
  body: Uint8Array;
  /** The body as Latin-1 text. */
  text: string;
  /** The size of each chunk when the body was chunked. */
  chunks: number[] | undefined;
}

export class HttpPeer {
  readonly transport: Transport;
  #buffer: number[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly closed: Promise<void>;
  #closedResolve!: () => void;

  private constructor(transport: Transport) {
    this.transport = transport;
    const closed = deferred();
    this.closed = closed.promise;
    this.#closedResolve = closed.resolve;
    transport.start({
      data: (chunk) => {
        for (const b of chunk) this.#buffer.push(b);
        this.#wake();
      },
      drain: () => {},
      end: () => {
        this.#ended = true;
        this.#wake();
        transport.end();
      },
      close: () => {
        this.#ended = true;
        this.#wake();
        this.#closedResolve();
      },
    });
  }

  static async connect(network: Network, port: number): Promise<HttpPeer> {
    return new HttpPeer(await network.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes bytes exactly as given (Latin-1 for text). */
  send(data: string | Uint8Array): void {
    this.transport.write([typeof data === "string" ? latin1(data) : data]);
  }

  /** Whether the server ended the connection (EOF or close). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes received and not read as part of an answer. */
  get pending(): number {
    return this.#buffer.length;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #need(n: number): Promise<void> {
    while (this.#buffer.length < n) {
      if (this.#ended) throw new Error(`connection ended with ${this.#buffer.length} of ${n} bytes`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async #line(): Promise<string> {
    for (;;) {
      const at = this.#indexOfCrlf();
      if (at >= 0) {
        const line = latin1Text(Uint8Array.from(this.#buffer.splice(0, at + 2).slice(0, at)));
        return line;
      }
      if (this.#ended) throw new Error("connection ended inside a line");
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #indexOfCrlf(): number {
    for (let i = 0; i + 1 < this.#buffer.length; i++) if (this.#buffer[i] === 13 && this.#buffer[i + 1] === 10) return i;
    return -1;
  }

  async #take(n: number): Promise<Uint8Array> {
    await this.#need(n);
    return Uint8Array.from(this.#buffer.splice(0, n));
  }

  /** Reads the head of the next answer (status line and headers). */
  async head(ms = 10000): Promise<{ status: number; headers: Map<string, string> }> {
    return await within(this.#head(), ms, "an answer's head");
  }

  async #head(): Promise<{ status: number; headers: Map<string, string> }> {
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(await this.#line())?.[1]);
    const headers = new Map<string, string>();
    for (;;) {
      const line = await this.#line();
      if (line === "") break;
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    return { status, headers };
  }

  /**
   * Reads the next whole answer; 1xx answers are skipped unless `informational`.
   *
   * @param method The request's method (a HEAD answer has no body).
   */
  async response(method = "GET", ms = 10000, informational = false): Promise<PeerResponse> {
    return await within(this.#response(method, informational), ms, "an answer");
  }

  async #response(method: string, informational: boolean): Promise<PeerResponse> {
    for (;;) {
      const { status, headers } = await this.#head();
      if (status < 200 && !informational) continue;
      let body: Uint8Array = new Uint8Array(0);
      let chunks: number[] | undefined;
      if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
        // no body
      } else if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
        chunks = [];
        const parts: number[] = [];
        for (;;) {
          const size = parseInt((await this.#line()).split(";")[0]!, 16);
          if (size === 0) break;
          chunks.push(size);
          parts.push(...await this.#take(size));
          await this.#line();
        }
        while ((await this.#line()) !== "") { /* trailers */ }
        body = Uint8Array.from(parts);
      } else if (headers.has("content-length")) {
        body = await this.#take(Number(headers.get("content-length")));
      } else {
        await this.closed;
        body = Uint8Array.from(this.#buffer.splice(0));
      }
      return { status, headers, body, text: latin1Text(body), chunks };
    }
  }

  /** Reads one chunk of a chunked body whose head was read with {@link head}; undefined at its end. */
  async chunk(ms = 10000): Promise<string | undefined> {
    return await within((async () => {
      const size = parseInt((await this.#line()).split(";")[0]!, 16);
      if (size === 0) {
        while ((await this.#line()) !== "") { /* trailers */ }
        return undefined;
      }
      const data = await this.#take(size);
      await this.#line();
      return latin1Text(data);
    })(), ms, "a chunk");
  }
}

/** Bytes as Latin-1 text, in slices (spreading megabytes into one call would overflow the stack). */
export function latin1Text(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}
