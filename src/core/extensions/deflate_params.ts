/**
 * The four permessage-deflate parameters (RFC 7692 section 7.1), read
 * strictly: an unknown name, a duplicate or a bad value makes the whole
 * offer or response invalid (section 7.1: "MUST decline" / "MUST _Fail_").
 *
 * @module
 */

import type { ExtensionParams } from "./extension.ts";

/** The parameters of one offer or response. A window of `true` is `client_max_window_bits` without a value. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/** The smallest and largest window (RFC 7692 7.1.2). */
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;

/**
 * Parses parameters. `role` says whose list it is: in an offer
 * `client_max_window_bits` may lack a value; in a response it may not.
 *
 * @returns The parameters, or a string saying what is wrong.
 */
export function parseDeflateParams(params: ExtensionParams, role: "offer" | "response"): DeflateParams | string {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${name} takes no value`;
        if (name === "server_no_context_takeover") result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = windowBits(value);
        if (bits === undefined) return `invalid server_max_window_bits ${String(value)}`;
        result.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (value === true && role === "offer") {
          result.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return `invalid client_max_window_bits ${String(value)}`;
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${name}`;
    }
  }
  return result;
}

/** Writes parameters back, in the RFC's order. */
export function formatDeflateParams(params: DeflateParams): [string, string | true][] {
  const out: [string, string | true][] = [];
  if (params.serverNoContextTakeover) out.push(["server_no_context_takeover", true]);
  if (params.clientNoContextTakeover) out.push(["client_no_context_takeover", true]);
  if (params.serverMaxWindowBits !== undefined) out.push(["server_max_window_bits", String(params.serverMaxWindowBits)]);
  if (params.clientMaxWindowBits !== undefined) {
    out.push(["client_max_window_bits", params.clientMaxWindowBits === true ? true : String(params.clientMaxWindowBits)]);
  }
  return out;
}

/** RFC 7692 7.1.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive". */
function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/** Checks a window option given by the user. */
export function checkWindowBits(bits: number | undefined, name: string): void {
  if (bits !== undefined && !(Number.isInteger(bits) && bits >= MIN_WINDOW_BITS && bits <= MAX_WINDOW_BITS)) {
    throw new RangeError(`${name} must be an integer from 8 to 15, got ${bits}`);
  }
}
