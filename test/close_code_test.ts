import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, isValidWireCloseCode } from "../src/core/close_code.ts";

test("isValidWireCloseCode() accepts 1000-1003, 1007-1014 and 3000-4999 only", () => {
  const valid: number[] = [];
  for (let code = 0; code < 6000; code++) if (isValidWireCloseCode(code)) valid.push(code);
  const expected: number[] = [1000, 1001, 1002, 1003];
  for (let code = 1007; code <= 1014; code++) expected.push(code);
  for (let code = 3000; code <= 4999; code++) expected.push(code);
  assert.deepEqual(valid, expected);
});

test("isValidWireCloseCode() refuses the reserved reporting codes", () => {
  for (const code of [1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, -1, 1000.5]) {
    assert.equal(isValidWireCloseCode(code), false, String(code));
  }
  assert.equal(CloseCode.NoStatusReceived, 1005);
  assert.equal(CloseCode.AbnormalClosure, 1006);
});
