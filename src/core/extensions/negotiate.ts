/**
 * Extension negotiation for both sides of the opening handshake
 * (RFC 6455 section 9.1).
 *
 * @module
 */

import { ExtensionNegotiationError } from "../errors.ts";
import { type ExtensionOffer, formatExtensions } from "../http/header_values.ts";
import type { ClientExtensionFactory, Extension, ServerExtensionFactory } from "./extension.ts";

/** What the server settled: the response header value (empty for none) and the extensions in order. */
export interface ServerNegotiation {
  header: string;
  extensions: Extension[];
}

/**
 * Server side: walks the client's offers in order and lets the factory of
 * each name accept the first offer it can, so the client's order is the
 * order of the pipeline. A declined offer leaves the next one of the same
 * name to try, which is how a client's fallback offers work.
 *
 * @param offers The client's offers, in order.
 * @param factories The extensions the server is willing to use for this connection.
 * @returns The response header value and the negotiated extensions.
 * @example
 * ```ts
 * import { negotiateAsServer, parseExtensions, perMessageDeflate } from "wsport/core";
 *
 * const offers = parseExtensions("permessage-deflate; client_max_window_bits") ?? [];
 * const { header, extensions } = negotiateAsServer(offers, [perMessageDeflate()]);
 * // header: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
 * ```
 */
export function negotiateAsServer(
  offers: readonly ExtensionOffer[],
  factories: readonly ServerExtensionFactory[],
): ServerNegotiation {
  const accepted: Extension[] = [];
  const response: ExtensionOffer[] = [];
  const done = new Set<string>();
  for (const offer of offers) {
    if (done.has(offer.name)) continue;
    const factory = factories.find((f) => f.name === offer.name);
    if (factory === undefined) continue;
    const result = factory.negotiate(offer.params, accepted);
    if (result === undefined) continue;
    const [params, extension] = result;
    if ((extension.rsvBits & accepted.reduce((bits, e) => bits | e.rsvBits, 0)) !== 0) {
      extension.close?.();
      continue; // two extensions cannot own the same RSV bit
    }
    done.add(offer.name);
    accepted.push(extension);
    response.push({ name: offer.name, params: params.map(([k, v]) => [k, v]) });
  }
  return { header: formatExtensions(response), extensions: accepted };
}

/**
 * Client side: the offer header for the factories, in order.
 *
 * @param factories The extensions to offer.
 * @returns The `Sec-WebSocket-Extensions` value (empty when there is nothing to offer).
 */
export function extensionOffer(factories: readonly ClientExtensionFactory[]): string {
  const offers: ExtensionOffer[] = [];
  for (const factory of factories) {
    for (const params of factory.offers()) offers.push({ name: factory.name, params: params.map(([k, v]) => [k, v]) });
  }
  return formatExtensions(offers);
}

/**
 * Client side: builds the extensions the server accepted, in its order.
 *
 * @param response The server's `Sec-WebSocket-Extensions`, parsed.
 * @param factories The factories whose offers were sent.
 * @returns The extensions, in pipeline order.
 * @throws ExtensionNegotiationError (close code 1010) when the server named
 *   an extension that was not offered, named one twice, or answered with
 *   parameters the factory refuses.
 */
export function negotiateAsClient(
  response: readonly ExtensionOffer[],
  factories: readonly ClientExtensionFactory[],
): Extension[] {
  const accepted: Extension[] = [];
  try {
    for (const item of response) {
      const factory = factories.find((f) => f.name === item.name);
      if (factory === undefined) throw new ExtensionNegotiationError(`server accepted extension ${item.name}, which was not offered`);
      if (accepted.some((e) => e.name === item.name)) throw new ExtensionNegotiationError(`server accepted extension ${item.name} twice`);
      const extension = factory.accept(item.params, accepted);
      if ((extension.rsvBits & accepted.reduce((bits, e) => bits | e.rsvBits, 0)) !== 0) {
        extension.close?.();
        throw new ExtensionNegotiationError(`extension ${item.name} uses an RSV bit already taken`);
      }
      accepted.push(extension);
    }
  } catch (error) {
    for (const extension of accepted) extension.close?.();
    throw error;
  }
  return accepted;
}
