// The usual conformance-suite client driver (Autobahn's fuzzingserver):
// asks for the case count, runs every case echoing each message back with
// its type until the server closes, then asks for the reports.
//   npx tsx examples/client-driver.ts --url ws://127.0.0.1:9001 --agent wsport
//   deno run -A examples/client-driver.ts --url ws://127.0.0.1:9001 --agent wsport
//   bun examples/client-driver.ts --url ws://127.0.0.1:9001 --agent wsport
// --deflate offers permessage-deflate (accepting any answer RFC 7692 allows).
import { connect, type ConnectOptions, perMessageDeflate } from "../mod.ts";
import { parseArgs } from "./args.ts";

const args = parseArgs({ url: "ws://127.0.0.1:9001", agent: "wsport", cases: "", deflate: "false" });
const base = args.url.replace(/\/$/, "");
const agent = encodeURIComponent(args.agent);
const options: ConnectOptions = {
  pingInterval: 0,
  maxMessageSize: 64 * 1024 * 1024,
  extensions: args.deflate === "true" ? [perMessageDeflate({ threshold: 0 })] : [],
};

async function caseCount(): Promise<number> {
  const ws = await connect(`${base}/getCaseCount`, options);
  for await (const message of ws) return Number(message);
  throw new Error("the server closed without sending the case count");
}

async function runCase(n: number): Promise<void> {
  try {
    const ws = await connect(`${base}/runCase?case=${n}&agent=${agent}`, {
      ...options,
      handlers: { message: (ws, message) => void ws.send(message) },
    });
    await ws.closed;
  } catch (error) {
    // A case may well end with a failed handshake or a reset connection: report it and go on.
    console.log(`case ${n}: ${error instanceof Error ? error.message : error}`);
  }
}

const count = args.cases ? Number(args.cases) : await caseCount();
console.log(`running ${count} cases against ${base} as ${args.agent}`);
for (let n = 1; n <= count; n++) {
  await runCase(n);
  if (n % 50 === 0 || n === count) console.log(`${n}/${count}`);
}
const reports = await connect(`${base}/updateReports?agent=${agent}`, options);
await reports.closed;
console.log("reports updated");
