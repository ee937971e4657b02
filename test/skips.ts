// Every skipped test says why, and `npm test` counts the reasons (not a
// test file). A test's `skip` option goes through skipIf() (or
// skipUnlessPeer(), which uses it): each call with a reason is one skipped
// test, recorded in the file named by WSPORT_SKIP_LOG when scripts/test.mjs
// runs the suite. node:test prints skip reasons, but deno test and bun test
// drop them, so the tests record their own; scripts/test.mjs checks the
// count against each runtime's and fails on a skip without a reason.
import { appendFileSync } from "node:fs";
import process from "node:process";

const LOG = process.env.WSPORT_SKIP_LOG;

/**
 * The `skip` option of a test that cannot run here: call it once per test.
 *
 * @param reason Why the test cannot run here, or false/undefined when it can.
 * @returns The reason (the test is skipped and the reason recorded), or false.
 */
export function skipIf(reason: string | false | undefined): string | false {
  if (!reason) return false;
  if (LOG) appendFileSync(LOG, JSON.stringify(reason) + "\n");
  return reason;
}
