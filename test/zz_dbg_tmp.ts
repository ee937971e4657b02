import { h2Server, rawRequest, rawSession, stop } from "./http2_helpers.ts";
const server = await h2Server({ maxHttpBodySize: 4 * 1024 * 1024, fetch: async (request) => new Response(String((await request.arrayBuffer()).byteLength)) });
const session = await rawSession(server.port);
const get = { ":scheme": "https", ":path": "/", ":authority": "x" };
for (const [what, body] of [["big-ok", new Uint8Array(3 * 1024 * 1024)], ["cl", undefined], ["toobig", new Uint8Array(5 * 1024 * 1024)], ["after", new Uint8Array(100000)]] as const) {
  const fields: any = { ...get, ":method": "POST" };
  if (what === "cl") fields["content-length"] = String(5 * 1024 * 1024);
  const stream = session.request(fields, { endStream: body === undefined });
  for (const ev of ["response", "end", "finish", "close", "aborted", "error"]) stream.on(ev, (a: any) => console.log(what, "cli", ev, a?.[":status"] ?? a?.message ?? "", stream.rstCode));
  stream.on("data", () => {});
  if (body) stream.end(body);
  await new Promise((r) => stream.once("close", r));
  console.log(JSON.stringify(session.state));
}
session.close();
await stop(server);
