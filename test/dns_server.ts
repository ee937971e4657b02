// A DNS server of the tests' own (not a test file): answers PTR queries from
// a fixed table over UDP on 127.0.0.1, NXDOMAIN for anything else, so what a
// reverse lookup returns is pinned by the test, not by the machine's DNS.
import dgram from "node:dgram";

/** A running server: its port, how many queries it answered, and close(). */
export interface PtrServer {
  port: number;
  queries: string[];
  close(): Promise<void>;
}

function encodeName(name: string): Uint8Array {
  const bytes: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    const encoded = new TextEncoder().encode(label);
    bytes.push(encoded.length, ...encoded);
  }
  bytes.push(0);
  return Uint8Array.from(bytes);
}

/**
 * Starts the server.
 *
 * @param records PTR names by query name (e.g. `"7.2.0.192.in-addr.arpa"` → `["a.example."]`).
 */
export async function startPtrServer(records: Record<string, string[]>): Promise<PtrServer> {
  const socket = dgram.createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (message, from) => {
    const query = new Uint8Array(message);
    const labels: string[] = [];
    let at = 12;
    while (query[at] !== 0 && at < query.length) {
      const length = query[at]!;
      labels.push(new TextDecoder().decode(query.subarray(at + 1, at + 1 + length)));
      at += length + 1;
    }
    const questionEnd = at + 5; // the root label, QTYPE, QCLASS
    const name = labels.join(".").toLowerCase();
    queries.push(name);
    const answers = records[name] ?? [];
    const parts: number[] = [query[0]!, query[1]!, 0x81, answers.length > 0 ? 0x80 : 0x83, 0, 1, 0, answers.length, 0, 0, 0, 0];
    parts.push(...query.subarray(12, questionEnd));
    for (const answer of answers) {
      const data = encodeName(answer);
      // A pointer to the question's name, PTR, IN, a TTL of 60 s, the data.
      parts.push(0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 60, data.length >> 8, data.length & 0xff, ...data);
    }
    socket.send(Uint8Array.from(parts), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const port = (socket.address() as { port: number }).port;
  return { port, queries, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}
