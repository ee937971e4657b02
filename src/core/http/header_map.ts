/**
 * The header list used by the handshake: ordered, case-insensitive, and
 * faithful to what was received so heads can be logged or rewritten as sent.
 * Re-exported by `http_head.ts`.
 *
 * @module
 */

interface Entry {
  name: string;
  key: string; // lowercased name, computed once per line
  value: string;
}

/**
 * Ordered, case-insensitive header list. Keeps the original spelling and
 * order of every line, so repeated headers stay separate lines until read
 * with {@link HeaderMap.get}. Names and values are stored as given; the
 * writers (`writeRequestHead`, `writeResponseHead`) validate them.
 *
 * @example
 * ```ts
 * const h = new HeaderMap([["Upgrade", "websocket"]]);
 * h.get("upgrade"); // "websocket"
 * ```
 */
export class HeaderMap {
  #entries: Entry[] = [];

  /**
   * @param init - Header lines to start with, in order.
   */
  constructor(init?: Iterable<readonly [string, string]>) {
    if (init !== undefined) {
      for (const [name, value] of init) this.append(name, value);
    }
  }

  /**
   * Adds a header line after the existing ones.
   *
   * @param name - Field name, any case.
   * @param value - Field value.
   * @example
   * ```ts
   * const h = new HeaderMap();
   * h.append("Sec-WebSocket-Protocol", "chat");
   * ```
   */
  append(name: string, value: string): void {
    this.#entries.push({ name, key: name.toLowerCase(), value });
  }

  /**
   * Replaces every line of that name with one line, at the position of the
   * first one (or at the end if there was none).
   *
   * @param name - Field name, any case.
   * @param value - Field value.
   * @example
   * ```ts
   * const h = new HeaderMap([["Connection", "keep-alive"]]);
   * h.set("Connection", "Upgrade");
   * ```
   */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    const at = this.#entries.findIndex((e) => e.key === key);
    if (at === -1) {
      this.#entries.push({ name, key, value });
      return;
    }
    this.#entries = this.#entries.filter((e, i) => i === at || e.key !== key);
    this.#entries[at] = { name, key, value };
  }

  /**
   * Removes every line of that name.
   *
   * @param name - Field name, any case.
   * @example
   * ```ts
   * const h = new HeaderMap([["Sec-WebSocket-Extensions", "permessage-deflate"]]);
   * h.delete("sec-websocket-extensions");
   * ```
   */
  delete(name: string): void {
    const key = name.toLowerCase();
    this.#entries = this.#entries.filter((e) => e.key !== key);
  }

  /**
   * @param name - Field name, any case.
   * @returns Whether at least one line has that name.
   * @example
   * ```ts
   * new HeaderMap([["Host", "example.com"]]).has("HOST"); // true
   * ```
   */
  has(name: string): boolean {
    const key = name.toLowerCase();
    return this.#entries.some((e) => e.key === key);
  }

  /**
   * Reads a header as one value: repeated lines are joined with `", "`, which
   * RFC 7230 section 3.2.2 makes equivalent for list-valued fields.
   *
   * @param name - Field name, any case.
   * @returns The combined value, or `null` if absent.
   * @example
   * ```ts
   * new HeaderMap([["A", "1"], ["a", "2"]]).get("a"); // "1, 2"
   * ```
   */
  get(name: string): string | null {
    const key = name.toLowerCase();
    let found: string | null = null;
    for (const e of this.#entries) {
      if (e.key !== key) continue;
      // Joined only when repeated: the usual single line costs no array.
      found = found === null ? e.value : `${found}, ${e.value}`;
    }
    return found;
  }

  /**
   * @param name - Field name, any case.
   * @returns The values of every line of that name, in order.
   * @example
   * ```ts
   * const h = new HeaderMap([["Sec-WebSocket-Protocol", "chat"], ["sec-websocket-protocol", "superchat"]]);
   * h.getAll("sec-websocket-protocol"); // ["chat", "superchat"]
   * ```
   */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    const out: string[] = [];
    for (const e of this.#entries) if (e.key === key) out.push(e.value);
    return out;
  }

  /**
   * Calls `fn` for every line, in order, with the lower-cased name: one pass
   * when several headers are wanted at once.
   *
   * @param fn - Called with the lower-cased name and the value of each line.
   * @example
   * ```ts
   * import { HeaderMap } from "wsport/core";
   *
   * let hosts = 0;
   * new HeaderMap([["Host", "a"], ["Accept", "text/html"]]).forEachLine((key) => { if (key === "host") hosts++; });
   * ```
   */
  forEachLine(fn: (key: string, value: string) => void): void {
    for (const e of this.#entries) fn(e.key, e.value);
  }

  /**
   * Number of header lines (not distinct names).
   *
   * @returns The line count.
   * @example
   * ```ts
   * new HeaderMap([["A", "1"], ["a", "2"]]).size; // 2
   * ```
   */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Iterates `[name as received, value]` pairs in order.
   *
   * @returns A fresh iterator over copies of the lines.
   * @example
   * ```ts
   * const h = new HeaderMap([["Host", "example.com"], ["Upgrade", "websocket"]]);
   * for (const [name, value] of h) console.log(`${name}: ${value}`);
   * ```
   */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.lines()[Symbol.iterator]();
  }

  /**
   * The lines as `[name as received, value]` pairs, in order: a fresh array
   * (cheaper than iterating when all of them are wanted at once).
   *
   * @returns Copies of the lines.
   * @example
   * ```ts
   * import { HeaderMap } from "wsport/core";
   *
   * new Headers(new HeaderMap([["Accept", "text/html"]]).lines());
   * ```
   */
  lines(): [string, string][] {
    const out: [string, string][] = new Array(this.#entries.length);
    for (let i = 0; i < out.length; i++) {
      const e = this.#entries[i]!;
      out[i] = [e.name, e.value];
    }
    return out;
  }
}
