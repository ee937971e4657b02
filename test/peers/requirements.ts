/**
 * How tests that need a system peer (a Debian package: chromium,
 * python3-websockets, libwebsockets-test-server, redis-server...) behave
 * when it is missing: on a developer's machine they skip with a message
 * naming the package; under `CI=true` they never skip, so the missing peer
 * fails the run.
 *
 * @module
 */

import process from "node:process";
import { skipIf } from "../skips.ts";

/** Whether this run must have every system peer (`CI=true`). */
export const PEERS_REQUIRED: boolean = process.env.CI === "true";

/**
 * The `skip` option of a test that needs a system peer: call it once per
 * test (a skip is recorded for the summary of `npm test`).
 *
 * @param missing Why the peer cannot run here (naming the package to install), or undefined when it can.
 * @returns The skip reason, or false: always false under `CI=true`, where the test then runs and fails on the missing peer.
 */
export function skipUnlessPeer(missing: string | undefined): string | false {
  if (missing === undefined || PEERS_REQUIRED) return false;
  return skipIf(missing);
}
