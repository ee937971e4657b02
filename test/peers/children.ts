// Child processes of the interop tests (Python scripts, libwebsockets apps):
// tracked so none outlives the test process, stopped politely then firmly,
// their output kept for error messages.
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import process from "node:process";

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Registers a child to be killed if the test process exits first. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // "exit" handlers must be synchronous; kill() is. The Python scripts
    // also stop when their stdin pipe closes, which covers a SIGKILLed parent.
    process.once("exit", () => {
      for (const c of children) c.kill("SIGKILL");
    });
  }
  return child;
}

/** Resolves once the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL if it hasn't gone within `graceMs`; resolves once the child is gone. */
export async function terminate(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, graceMs);
  });
  await Promise.race([exited(child), late]);
  clearTimeout(timer);
  await exited(child);
}

/** Keeps the last `max` characters of a stream, for error messages. */
export function tail(stream: Readable | null, max = 8192): () => string {
  let text = "";
  stream?.setEncoding?.("utf8");
  stream?.on("data", (chunk: string) => {
    text = (text + chunk).slice(-max);
  });
  return () => text.trim();
}

/**
 * Waits for the `PORT n` line a server script prints once listening.
 *
 * @param name The script, for error messages.
 * @param stderr What it printed to stderr, for error messages.
 */
export function portLine(child: ChildProcess, name: string, stderr: () => string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onError = (e: Error) => fail(`could not start: ${e.message}`);
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${signal ?? code}) before listening`);
    const timer = setTimeout(() => fail("printed no PORT line within 15 s"), 15_000);
    const settle = () => {
      clearTimeout(timer);
      child.off("error", onError);
      child.off("exit", onExit);
    };
    function fail(why: string) {
      settle();
      lines.close();
      void terminate(child);
      reject(new Error(`${name} ${why}${stderr() ? `:\n${stderr()}` : ""}`));
    }
    child.once("error", onError);
    child.once("exit", onExit);
    lines.on("line", (line) => {
      const m = /^PORT (\d+)$/.exec(line.trim());
      if (!m) return;
      settle();
      resolve(Number(m[1]));
    });
  });
}

/** From here on the child is passive: let the test process exit even if a test forgets to stop it. */
export function unrefAll(child: ChildProcess): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr]) {
    (handle as unknown as { unref?: () => void } | null)?.unref?.();
  }
}
