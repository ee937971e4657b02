// The transport contract (test/transport_contract.ts) against every network
// adapter, on every runtime: the memory and node networks everywhere (Deno
// and Bun run node:net through their compatibility layers), the deno and bun
// networks on their own runtime. The same tests exist on every runtime and
// are skipped where they cannot run, so each runtime reports the same count.
import { test } from "node:test";
import { opensslMissing, testCertificate } from "./certificate.ts";
import { PEERS_REQUIRED, skipUnlessPeer } from "./peers/requirements.ts";
import { MemoryNetwork } from "../adapters/memory.ts";
import { nodeNetwork } from "../adapters/node.ts";
import { denoNetwork } from "../adapters/deno.ts";
import { bunNetwork } from "../adapters/bun.ts";
import type { ClientTlsOptions, Network, ServerTlsOptions } from "../src/transport/transport.ts";
import * as contract from "./transport_contract.ts";
import { skipIf } from "./skips.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";

// Made at run time with openssl (test/certificate.ts): self-signed, CN=localhost, SAN IP:127.0.0.1 + DNS:localhost.
const tlsMissing = opensslMissing();
const { cert, key } = tlsMissing === undefined || PEERS_REQUIRED ? testCertificate() : { cert: "", key: "" };
const serverTls: ServerTlsOptions = { cert, key };

interface Target {
  name: string;
  network: () => Network;
  real: boolean;
  /** False, or why this network cannot run here. */
  skip: false | string;
  /** Per-test skips: test key → reason. */
  skips?: Record<string, string>;
  tls: boolean;
}

const targets: Target[] = [
  { name: "memory", network: () => new MemoryNetwork(), real: false, skip: false, tls: false },
  {
    name: "node",
    network: () => nodeNetwork,
    real: true,
    skip: false,
    tls: true,
    skips: {
      // Deno's node:tls client hands writes to its own buffer: writableLength falls to 0 (sometimes, by timing)
      // while the peer is paused. The pause itself holds: tested below.
      ...(g.Deno ? { tlsBackpressure: "Deno's node:tls client may report writableLength 0 while the peer is paused (tested below without it)" } : {}),
    },
  },
  { name: "deno", network: () => denoNetwork, real: true, skip: g.Deno ? false : "runs under Deno only", tls: true },
  { name: "bun", network: () => bunNetwork, real: true, skip: g.Bun ? false : "runs under Bun only", tls: true },
];

const plain = (t: Target): contract.ContractTarget => ({ network: t.network(), real: t.real });
const secure = (t: Target, client: ClientTlsOptions = { ca: cert }, server = serverTls): contract.ContractTarget => ({
  network: t.network(),
  real: t.real,
  tls: { server, client },
});

for (const t of targets) {
  // One call per test: a skip is recorded once.
  const skip = (key: string, needsTls = false): false | string => {
    const reason = t.skip || (needsTls && !t.tls ? `the ${t.name} network has no TLS` : false) || t.skips?.[key];
    if (reason) return skipIf(reason);
    return needsTls ? skipUnlessPeer(tlsMissing) : false;
  };
  const name = (what: string) => `${t.name} network: ${what}`;

  test(name("bytes arrive in order both ways"), { skip: skip("bytes") }, () => contract.bytesBothWays(plain(t)));
  test(name("a 4 MiB write arrives intact"), { skip: skip("large") }, () => contract.largeWrite(plain(t)));
  test(name("write([a, b, c]) arrives as a+b+c"), { skip: skip("multi") }, () => contract.multiChunkWrite(plain(t)));
  test(name("bufferedAmount rises while the peer is paused; drain follows resume"), { skip: skip("backpressure") }, () =>
    contract.backpressure(plain(t)));
  test(name("pause() stops data events and nothing is lost after resume()"), { skip: skip("pause") }, () =>
    contract.pauseStopsDelivery(plain(t)));
  test(name("end() → the peer gets end, then both close once"), { skip: skip("end") }, () => contract.endThenClose(plain(t)));
  test(name("a half-closed connection still carries the reply"), { skip: skip("halfClose") }, () => contract.halfClose(plain(t)));
  test(name("write() after end() is ignored"), { skip: skip("writeAfterEnd") }, () => contract.writeAfterEnd(plain(t)));
  test(name("destroy() closes both sides once"), { skip: skip("destroy") }, () => contract.destroyCloses(plain(t)));
  test(name("addresses and ports match"), { skip: skip("addresses") }, () => contract.addresses(plain(t)));
  test(name("Listener.close() stops accepting"), { skip: skip("listenerClose") }, () => contract.listenerClose(plain(t)));

  // --- TLS ---
  test(name("TLS (ca): bytes arrive in order both ways"), { skip: skip("tlsBytes", true) }, () => contract.bytesBothWays(secure(t)));
  test(name("TLS (ca): bufferedAmount and drain"), { skip: skip("tlsBackpressure", true) }, () => contract.backpressure(secure(t)));
  test(name("TLS (ca): end() → the peer gets end, then both close once"), { skip: skip("tlsEnd", true) }, () =>
    contract.endThenClose(secure(t)));
  test(name("TLS (ca, servername localhost): bytes arrive"), { skip: skip("tlsServername", true) }, () =>
    contract.bytesBothWays(secure(t, { ca: cert, servername: "localhost" })));
  test(name("TLS: an untrusted certificate is refused"), { skip: skip("tlsUntrusted", true) }, () =>
    contract.connectRejects(secure(t), {}, /certificate|issuer|UnknownIssuer|self.signed/i));
  test(name("TLS: a certificate for another name is refused"), { skip: skip("tlsWrongName", true) }, () =>
    contract.connectRejects(secure(t), { ca: cert, servername: "example.com" }, /name|altnames|NotValidForName|example\.com/i));
  if (t.name === "deno") {
    test(name("TLS rejectUnauthorized: false is refused with an explanation"), { skip: skip("tlsInsecure", true) }, () =>
      contract.connectRejects(secure(t), { rejectUnauthorized: false }, /cannot skip TLS certificate verification.*`ca`/));
    test(name("TLS client certificates: requestCert is refused with an explanation"), { skip: skip("tlsClientCert", true) }, async () => {
      const { rejects } = await import("node:assert/strict");
      await rejects(
        t.network().listen({ hostname: "127.0.0.1", port: 0, tls: { cert, key, ca: cert, requestCert: true } }, () => {}),
        /cannot request client certificates/,
      );
    });
    test(name("TLS client certificate presented to a node:tls server with requestCert"), { skip: skip("tlsClientCertOut", true) }, () =>
      contract.bytesBothWays({
        ...secure(t, { ca: cert, cert, key }, { cert, key, ca: cert, requestCert: true, rejectUnauthorized: true }),
        listenNetwork: nodeNetwork,
      }));
  } else {
    test(name("TLS (rejectUnauthorized: false): bytes arrive"), { skip: skip("tlsInsecure", true) }, () =>
      contract.bytesBothWays(secure(t, { rejectUnauthorized: false })));
    test(name("TLS client certificates: requested and presented"), { skip: skip("tlsClientCert", true) }, () =>
      contract.bytesBothWays(secure(t, { ca: cert, cert, key }, { cert, key, ca: cert, requestCert: true, rejectUnauthorized: true })));
    test(name("TLS: requestCert refuses a client without a certificate"), { skip: skip("tlsClientCertMissing", true) }, () =>
      contract.missingClientCert(secure(t, { ca: cert }, { cert, key, ca: cert, requestCert: true, rejectUnauthorized: true })));
  }
}

test("node network on Deno: TLS with a paused reader delivers nothing until resume and loses nothing", { skip: g.Deno ? skipUnlessPeer(tlsMissing) : skipIf("Deno only") }, () =>
  contract.pausedReaderLosesNothing({ network: nodeNetwork, real: true, tls: { server: serverTls, client: { ca: cert } } }));

test(`adapters (${runtime}): the contract ran against this runtime's own network`, () => {
  // A guard against a runtime silently skipping its own adapter.
  const own = targets.find((t) => t.name === runtime)!;
  if (own.skip) throw new Error(`the ${runtime} network was skipped: ${own.skip}`);
});
