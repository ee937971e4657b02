// Shared by every bench server, on every runtime: prints "listening PORT" once
// bound, and answers stdin commands so the bench driver can ask the server
// process about itself.
//   "mem\n"  -> collects garbage (letting finalizers run between passes), then prints: MEM {"rss":bytes,"heap":bytes,"external":bytes,"conns":n}
//             (external: memory outside the JS heap the runtime knows of: ArrayBuffers, node:zlib streams)
// Node needs --expose-gc and Deno --v8-flags=--expose-gc for a full collection; Bun has Bun.gc.

type Runtime = { Deno?: any; Bun?: any; gc?: () => void; process?: any };
const g = globalThis as unknown as Runtime;

function collect(): void {
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

function memory(): { rss: number; heap: number; external: number } {
  const m = g.Deno ? g.Deno.memoryUsage() : g.process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external ?? 0 };
}

function print(line: string): void {
  if (g.Deno) g.Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  else g.process.stdout.write(line + "\n");
}

async function stdinLines(onLine: (line: string) => void | Promise<void>): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  const feed = (bytes: Uint8Array) => {
    buffered += decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl).trim());
      buffered = buffered.slice(nl + 1);
    }
  };
  if (g.Deno) {
    for await (const chunk of g.Deno.stdin.readable) feed(chunk);
  } else {
    g.process.stdin.on("data", (chunk: Uint8Array) => feed(chunk));
  }
}

/** Call once the server is bound. `connections()` counts open WebSocket connections. */
export function ready(port: number, connections: () => number): void {
  void stdinLines(async (line) => {
    if (line === "mem") {
      // Several passes, a task apart: finalizers (of closed sockets, of fetch Requests that
      // follow a signal) run between collections and free more on the next one.
      for (let i = 0; i < 3; i++) {
        collect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      collect();
      print("MEM " + JSON.stringify({ ...memory(), conns: connections() }));
    }
  });
  print(`listening ${port}`);
}

/** `--name value` pairs from the command line, on any runtime. */
export function args(): Record<string, string> {
  const argv: string[] = g.Deno ? g.Deno.args : g.process.argv.slice(2);
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) if (argv[i]!.startsWith("--")) out[argv[i]!.slice(2)] = argv[++i]!;
  return out;
}

/** Whether a received message asks for a broadcast: text starting with "#b". */
export function isTrigger(message: unknown): boolean {
  return typeof message === "string" && message.charCodeAt(0) === 0x23 && message.charCodeAt(1) === 0x62;
}
