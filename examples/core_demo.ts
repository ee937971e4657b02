// The sans-IO core, end to end, with no socket: a client and a server
// connection hand each other bytes; every byte on the "wire" is printed.
// Run with `node --import tsx examples/core_demo.ts`.
import { ClientProtocol, SEND_EOF, ServerProtocol, type WebSocketProtocol, type WsEvent } from "../src/core/mod.ts";

const server = new ServerProtocol();
const client = new ClientProtocol({ host: "localhost:8080", path: "/chat", protocols: ["chat", "superchat"] });

function hex(bytes: Uint8Array): string {
  const shown = [...bytes.subarray(0, 24)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > 24 ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** Moves everything `from` queued to `to`, printing the bytes and the events they cause. */
function deliver(from: WebSocketProtocol, to: WebSocketProtocol, label: string, http = false): WsEvent[] {
  const events: WsEvent[] = [];
  for (const chunk of from.dataToSend()) {
    if (chunk === SEND_EOF) {
      console.log(`${label}  <half-close>`);
      events.push(...to.receiveEof());
      continue;
    }
    if (http) {
      console.log(`${label}  ${new TextDecoder().decode(chunk).trimEnd().replaceAll("\r\n", `\n${" ".repeat(label.length + 2)}`)}`);
    } else {
      console.log(`${label}  ${hex(chunk)}`);
    }
    events.push(...to.receiveData(chunk));
  }
  for (const event of events) console.log(`${" ".repeat(label.length)}  => ${describe(event)}`);
  return events;
}

function describe(event: WsEvent): string {
  switch (event.type) {
    case "request":
      return `request ${event.request.path}, subprotocols offered: ${event.request.protocols.join(", ")}`;
    case "response":
      return `open, subprotocol "${event.protocol}"`;
    case "text":
      return `text ${JSON.stringify(event.data)}`;
    case "binary":
      return `binary ${event.data.length} bytes`;
    case "ping":
    case "pong":
      return `${event.type} ${JSON.stringify(new TextDecoder().decode(event.data))}`;
    case "close":
      return `close ${event.code} ${JSON.stringify(event.reason)}`;
    case "error":
      return `error ${event.error.closeCode}: ${event.error.message}`;
    case "handshake-error":
      return `handshake refused ${event.error.status}: ${event.error.message}`;
    default:
      return event.type;
  }
}

console.log("-- opening handshake");
const [request] = deliver(client, server, "client -> server", true);
if (request?.type === "request") server.accept({ protocol: request.request.protocols[0] });
deliver(server, client, "server -> client", true);

console.log("\n-- messages (client frames are masked, server frames are not)");
client.sendText("Hello, wsport");
client.sendPing("are you there?");
client.sendBinary(new Uint8Array(300).fill(42));
deliver(client, server, "client -> server");
server.sendText("Hello back");
deliver(server, client, "server -> client");

console.log("\n-- closing handshake");
client.sendClose(1000, "done");
deliver(client, server, "client -> server");
deliver(server, client, "server -> client");
console.log(`\nclient state ${client.readyState}, server state ${server.readyState} (3 = CLOSED)`);
