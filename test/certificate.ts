// Certificates for the TLS tests, made at run time with Debian's `openssl`
// (no private key lives in the repository), each valid for a day:
// - testCertificate(): one self-signed certificate, CN=localhost, SAN
//   DNS:localhost and IP:127.0.0.1, usable by a server or a client;
// - testPki(): a small CA, a server certificate it signed (same names), a
//   client certificate it signed (CN=alice), and a client certificate
//   signed by another CA (CN=mallory).
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its private key, in PEM. */
export interface TestCertificate {
  cert: string;
  key: string;
}

/** Why the certificates cannot be made here (no `openssl` command), or undefined. */
export function opensslMissing(): string | undefined {
  const run = spawnSync("openssl", ["version"], { stdio: "ignore" });
  return run.error || run.status !== 0
    ? "needs the `openssl` command to make test certificates: install the Debian package openssl (apt-get install openssl)"
    : undefined;
}

let made: TestCertificate | undefined;

/** The self-signed certificate and key, in PEM; generated once per process. */
export function testCertificate(): TestCertificate {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), "wsport-cert-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
      "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      // An end-entity certificate: rustls (Deno) refuses a CA certificate used as a server's.
      "-addext", "basicConstraints=critical,CA:FALSE",
      "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
      "-addext", "extendedKeyUsage=serverAuth,clientAuth",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    made = { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A CA and the certificates of {@link testPki}. */
export interface TestPki {
  /** The test CA's certificate (CN=wsport test CA). */
  ca: string;
  /** Another CA's certificate (CN=wsport other CA), which signed `stranger`. */
  otherCa: string;
  /** Signed by `ca`: CN=localhost, O=wsport tests, SAN DNS:localhost and IP:127.0.0.1, serverAuth. */
  server: TestCertificate;
  /** Signed by `ca`: CN=alice, O=wsport tests, clientAuth. */
  client: TestCertificate;
  /** Signed by `otherCa`: CN=mallory, O=wsport tests, clientAuth. */
  stranger: TestCertificate;
}

let pki: TestPki | undefined;

// P-256 keys: made in milliseconds, and accepted by OpenSSL (Node), BoringSSL (Bun) and rustls (Deno).
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const LEAF = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];

/** The CA, its server and client certificates and a stranger's; generated once per process. */
export function testPki(): TestPki {
  if (pki) return pki;
  const dir = mkdtempSync(join(tmpdir(), "wsport-pki-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const read = (name: string) => readFileSync(file(name), "utf8");
  const makeCa = (name: string, cn: string) => {
    openssl(
      "req", "-x509", ...EC_KEY, "-days", "1", "-subj", `/CN=${cn}`,
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`),
    );
  };
  const makeLeaf = (name: string, cn: string, ca: string, extensions: string[]): TestCertificate => {
    openssl("req", "-new", ...EC_KEY, "-subj", `/CN=${cn}/O=wsport tests`, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`));
    writeFileSync(file(`${name}.ext`), [...LEAF, ...extensions].join("\n") + "\n");
    openssl(
      "x509", "-req", "-in", file(`${name}.csr`), "-days", "1",
      "-CA", file(`${ca}.pem`), "-CAkey", file(`${ca}.key`), "-set_serial", "0x" + randomBytes(8).toString("hex"),
      "-extfile", file(`${name}.ext`), "-out", file(`${name}.pem`),
    );
    return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
  };
  try {
    makeCa("ca", "wsport test CA");
    makeCa("other", "wsport other CA");
    pki = {
      ca: read("ca.pem"),
      otherCa: read("other.pem"),
      server: makeLeaf("server", "localhost", "ca", ["extendedKeyUsage=serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1"]),
      client: makeLeaf("client", "alice", "ca", ["extendedKeyUsage=clientAuth"]),
      stranger: makeLeaf("stranger", "mallory", "other", ["extendedKeyUsage=clientAuth"]),
    };
    return pki;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
