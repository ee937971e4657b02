// A self-signed certificate for `--ssl` without `--cert`/`--key`, made at
// start with the `openssl` command, so that no private key ships with the
// demo.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GeneratedCertificate {
  /** PEM; clients that should trust the server can take it as their CA. */
  cert: string;
  key: string;
  /** The directory holding cert.pem and key.pem. */
  dir: string;
  certFile: string;
  keyFile: string;
  /** Deletes the directory. */
  remove(): void;
}

/**
 * Generates a key and a certificate for localhost and 127.0.0.1 into a new
 * temporary directory, valid for 30 days.
 *
 * @returns The PEM texts and where they are.
 */
export function generateSelfSignedCertificate(): GeneratedCertificate {
  const dir = mkdtempSync(join(tmpdir(), "wsport-test-server-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
      "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      // A leaf certificate, not a CA: rustls (Deno's TLS) refuses a CA
      // certificate as a server's, yet accepts this one as a trust anchor.
      "-addext", "basicConstraints=critical,CA:FALSE",
      "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
      "-addext", "extendedKeyUsage=serverAuth",
      "-keyout", keyFile, "-out", certFile,
    ], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: Uint8Array }).stderr;
    throw new Error(`could not generate a certificate with openssl (install it, or pass --cert and --key): ${
      detail ? new TextDecoder().decode(detail).trim() : (error as Error).message
    }`);
  }
  return {
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
    dir,
    certFile,
    keyFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
