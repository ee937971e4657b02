/**
 * A {@link DeflateCodec} on `node:zlib` (Node, Deno and Bun all have it):
 * native speed, asynchronous, so large messages do not block the event
 * loop. Work from every connection goes through one shared
 * {@link ConcurrencyLimiter}. See bench/codec.md for when it beats the
 * default pako codec.
 *
 * @example
 * ```ts
 * import { perMessageDeflate, serve } from "wsport";
 * import { zlibCodec } from "wsport/zlib";
 * await serve({ extensions: [perMessageDeflate({ codec: zlibCodec() })], protocols: [{ name: "chat" }] });
 * ```
 *
 * @module
 */

import * as zlib from "node:zlib";
import { concat } from "../src/core/bytes.ts";
import { MessageTooBigError, ProtocolError } from "../src/core/errors.ts";
import {
  type Compressor,
  compressionWindow,
  type DeflateCodec,
  type Decompressor,
} from "../src/core/extensions/deflate_codec.ts";
import { ConcurrencyLimiter } from "../src/services/limiter.ts";

export { ConcurrencyLimiter };

/** Default of {@link ZlibCodecOptions.concurrency}: ws's choice. */
export const DEFAULT_ZLIB_CONCURRENCY = 10;

/** Options of {@link zlibCodec}. */
export interface ZlibCodecOptions {
  /** At most this many zlib operations run at once, across every connection using this codec. Default 10. */
  concurrency?: number;
}

type ZlibStream = zlib.DeflateRaw | zlib.InflateRaw;

/** Runs one write + sync flush on a stream, collecting the output. */
function flushThrough(stream: ZlibStream, data: Uint8Array, maxOutput: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let failed = false;
    const onData = (chunk: Uint8Array) => {
      total += chunk.length;
      if (total > maxOutput && !failed) {
        failed = true;
        cleanup();
        // Checked per output chunk: stop inflating now, the stream is not used again.
        stream.destroy();
        reject(new MessageTooBigError(total, maxOutput, `message inflates past the limit of ${maxOutput} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onError = (error: Error) => {
      if (failed) return;
      failed = true;
      cleanup();
      reject(new ProtocolError(1007, "WS_ERR_INVALID_COMPRESSED_DATA", `invalid compressed data: ${error.message}`));
    };
    const cleanup = () => {
      stream.off("data", onData);
      stream.off("error", onError);
    };
    stream.on("data", onData);
    stream.on("error", onError);
    stream.write(data);
    // Deno's node:zlib hands the error to the flush callback before emitting "error".
    (stream.flush as (kind: number, callback: (error?: Error) => void) => void)(zlib.constants.Z_SYNC_FLUSH, (error) => {
      if (error) return onError(error);
      if (failed) return;
      cleanup();
      const out = chunks.length === 1 ? chunks[0]! : concat(chunks);
      // Plain Uint8Array views: the core's public types carry no Buffer.
      resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
    });
  });
}

/**
 * One zlib stream, either direction: its operations run one at a time, in
 * call order (resets and closes included), each through the shared limiter.
 */
class ZlibContext implements Compressor, Decompressor {
  readonly #stream: ZlibStream;
  readonly #limiter: ConcurrencyLimiter;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(stream: ZlibStream, limiter: ConcurrencyLimiter) {
    this.#stream = stream;
    this.#limiter = limiter;
  }

  compress(data: Uint8Array): Promise<Uint8Array> {
    return this.#inOrder(() => this.#limiter.run(() => flushThrough(this.#stream, data, Infinity)));
  }

  decompress(data: Uint8Array, maxOutput: number): Promise<Uint8Array> {
    return this.#inOrder(() => this.#limiter.run(() => flushThrough(this.#stream, data, maxOutput)));
  }

  reset(): void {
    this.#inOrder(async () => this.#stream.reset());
  }

  close(): void {
    this.#inOrder(async () => this.#stream.close());
  }

  #inOrder<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(job);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * Makes a `node:zlib` codec with its own concurrency limit.
 *
 * @param options The concurrency limit.
 * @returns A codec for `perMessageDeflate({ codec })`.
 */
export function zlibCodec(options: ZlibCodecOptions = {}): DeflateCodec {
  const limiter = new ConcurrencyLimiter(options.concurrency ?? DEFAULT_ZLIB_CONCURRENCY);
  return {
    name: "node:zlib",
    // (Deno's node:zlib ignores `dictionary` on raw streams: its output is then valid, only larger.)
    compressor: (settings, dictionary) =>
      new ZlibContext(
        zlib.createDeflateRaw({
          level: settings.level,
          memLevel: settings.memLevel,
          windowBits: compressionWindow(settings.windowBits),
          ...(dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {}),
        }),
        limiter,
      ),
    // A 9-bit inflate window reads any stream made with a window of 8.
    decompressor: (windowBits, dictionary) =>
      new ZlibContext(
        zlib.createInflateRaw({ windowBits: Math.max(windowBits, 9), ...(dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {}) }),
        limiter,
      ),
  };
}

