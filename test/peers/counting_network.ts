// A network that counts the bytes its transports hand to wsport: with the
// bytes an application has read, that tells how much wsport holds between
// the socket and the reader, whatever the runtime.
import type { Network, Transport, TransportEvents } from "../../src/transport/transport.ts";

/** Bytes received by every transport of a {@link countingNetwork}, and the transports. */
export interface ByteCounter {
  received: number;
  transports: Transport[];
}

class CountingTransport implements Transport {
  constructor(readonly inner: Transport, readonly counter: ByteCounter) {
    counter.transports.push(inner);
  }
  start(events: TransportEvents): void {
    // Forwarded one by one: a service's events object may keep its methods on a prototype.
    this.inner.start({
      data: (chunk) => {
        this.counter.received += chunk.length;
        events.data(chunk);
      },
      drain: () => events.drain(),
      end: () => events.end(),
      close: (error) => events.close(error),
    });
  }
  write(chunks: readonly Uint8Array[]): void {
    this.inner.write(chunks);
  }
  end(): void {
    this.inner.end();
  }
  destroy(): void {
    this.inner.destroy();
  }
  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  get bufferedAmount() {
    return this.inner.bufferedAmount;
  }
  get remoteAddress() {
    return this.inner.remoteAddress;
  }
  get remotePort() {
    return this.inner.remotePort;
  }
  get localAddress() {
    return this.inner.localAddress;
  }
  get localPort() {
    return this.inner.localPort;
  }
  get secure() {
    return this.inner.secure;
  }
  get raw() {
    return this.inner.raw;
  }
}

/** Wraps a network so that everything its transports receive is counted in `counter`. */
export function countingNetwork(inner: Network, counter: ByteCounter): Network {
  return {
    name: inner.name,
    isUtf8: inner.isUtf8,
    deflateCodec: inner.deflateCodec,
    listen: (options, accept) => inner.listen(options, (transport) => accept(new CountingTransport(transport, counter))),
    connect: async (options) => new CountingTransport(await inner.connect(options), counter),
  };
}
