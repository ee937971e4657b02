import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { sha1, useNativeSha1 } from "../src/core/sha1.ts";
import { acceptKey } from "../src/core/handshake.ts";
import { sha1From } from "../src/transport/native_sha1.ts";
import { encodeBase64 } from "../src/core/base64.ts";

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

async function reference(data: Uint8Array): Promise<string> {
  // Copy into a fresh ArrayBuffer-backed array so digest accepts it everywhere.
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-1", new Uint8Array(data))));
}

test("sha1 matches the FIPS 180 vector for \"abc\"", () => {
  assert.equal(hex(sha1(encoder.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
});

test("sha1 matches the FIPS 180 vector for the empty message", () => {
  assert.equal(hex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
});

test("sha1 matches the FIPS 180 vector for the 448-bit message", () => {
  const message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  assert.equal(hex(sha1(encoder.encode(message))), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
});

test("sha1 matches the FIPS 180 vector for one million \"a\"", () => {
  const message = new Uint8Array(1_000_000).fill(0x61);
  assert.equal(hex(sha1(message)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
});

test("sha1 matches WebCrypto at the padding boundaries", async () => {
  for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]) {
    const data = new Uint8Array(length);
    for (let i = 0; i < length; i++) data[i] = (i * 31 + 7) & 0xff;
    assert.equal(hex(sha1(data)), await reference(data), `length ${length}`);
  }
});

test("sha1 matches WebCrypto on arbitrary input", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (data) => {
      assert.equal(hex(sha1(data)), await reference(data));
    }),
    { numRuns: 200 },
  );
});

test("sha1 hashes a subarray, not its whole backing buffer", () => {
  const backing = encoder.encode("xxabcxx");
  assert.equal(hex(sha1(backing.subarray(2, 5))), "a9993e364706816aba3e25717850c26c9cd0d89d");
});

test("sha1 with base64 gives the RFC 6455 Sec-WebSocket-Accept example", () => {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const accept = encodeBase64(sha1(encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
  assert.equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("sha1() with the runtime's native digest installed gives the same digests as the JavaScript one", async () => {
  const { createHash } = await import("node:crypto");
  const inputs = [0, 1, 55, 56, 63, 64, 65, 1000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
  const expected = inputs.map((input) => [...sha1(input)]);
  useNativeSha1(sha1From(createHash));
  try {
    assert.deepEqual(inputs.map((input) => [...sha1(input)]), expected);
    assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  } finally {
    useNativeSha1(undefined);
  }
});
