/**
 * Dropping root privileges once the listener is bound (libwebsockets'
 * `uid`/`gid` context options), written once over the credential calls of
 * `node:process` that each adapter passes in, so the order and the checks
 * are the same on every runtime.
 *
 * @module
 */

import { WebSocketError } from "../core/errors.ts";

/** The credential calls of `node:process` used here; absent ones mean the runtime lacks them. */
export interface ProcessCredentials {
  setuid?(id: number | string): void;
  setgid?(id: number | string): void;
  setgroups?(groups: (number | string)[]): void;
  getgroups?(): number[];
  geteuid?(): number;
}

/** The user and group to switch to. */
export interface PrivilegeIds {
  uid?: number | string;
  gid?: number | string;
}

/**
 * Checks that the process can switch to `ids` and returns the function
 * that switches: supplementary groups first (they would otherwise keep
 * root's group rights after setgid), then the group, then the user (after
 * setuid nothing else could be changed).
 *
 * @param credentials The runtime's `node:process` (or any object with its credential calls).
 * @param ids The user and group, by name or number.
 * @param runtime The runtime's name, for the error messages.
 * @param mainThread False in a worker thread, where the runtimes refuse the switch (it would change every thread).
 * @returns The switch, to call once the listener is bound.
 * @throws WebSocketError `"WS_ERR_PRIVILEGES_UNSUPPORTED"` when the runtime or this thread cannot make the switch.
 * @example
 * ```ts
 * import process from "node:process";
 * const drop = preparePrivilegeDrop(process, { uid: 65534, gid: 65534 }, "node");
 * // ... bind the listener ...
 * drop();
 * ```
 */
export function preparePrivilegeDrop(credentials: ProcessCredentials, ids: PrivilegeIds, runtime: string, mainThread = true): () => void {
  const { uid, gid } = ids;
  if (!mainThread) {
    throw unsupported(`${runtime} cannot switch users from a worker thread (it would switch the whole process): do it in the main thread`);
  }
  if (uid !== undefined && typeof credentials.setuid !== "function") {
    throw unsupported(`${runtime} cannot set the user id here (no setuid, e.g. on Windows)`);
  }
  if (gid !== undefined && typeof credentials.setgid !== "function") {
    throw unsupported(`${runtime} cannot set the group id here (no setgid, e.g. on Windows)`);
  }
  const groups = gid === undefined ? [] : [gid];
  let clearGroups = false;
  if (credentials.geteuid?.() === 0) {
    if (typeof credentials.setgroups === "function") {
      clearGroups = true;
    } else {
      const current = credentials.getgroups?.();
      const leftover = current === undefined ? undefined : current.filter((group) => group !== gid);
      if (leftover === undefined || leftover.length > 0) {
        throw unsupported(
          `${runtime} has no setgroups, and the process's supplementary groups (${leftover?.join(", ") ?? "unknown"}) ` +
            "would keep their rights after the switch: start it without them (e.g. `setpriv --clear-groups`)",
        );
      }
    }
  }
  return () => {
    if (clearGroups) credentials.setgroups!(groups);
    if (gid !== undefined) credentials.setgid!(gid);
    if (uid !== undefined) credentials.setuid!(uid);
  };
}

function unsupported(message: string): WebSocketError {
  return new WebSocketError("WS_ERR_PRIVILEGES_UNSUPPORTED", message);
}
