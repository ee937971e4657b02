// lws-mirror-protocol: every message from any connection goes to every
// connection of the protocol, the sender included, through a bounded ring of
// recent messages, as libwebsockets' mirror does:
//
// - each connection has a read position in the ring and is written to from
//   its writable callback (drain), until its send buffer pushes back;
// - an entry is freed once the slowest connection has been written it;
// - when the ring is nearly full because a reader lags, the connections that
//   keep *sending* are paused (rx flow control: their sockets are not read,
//   so TCP slows them down) and resumed once the ring has drained below a
//   low-water mark. Nothing is dropped and nothing grows without bound.
//
// With several demo servers on one Redis (`--redis URL`), what a server's
// connections send is also published to the others (`local: false`), which
// put it in their own rings (`acceptRemote`): a remote server cannot be
// paused, so what finds the ring full waits in a bounded backlog, whose
// oldest entries are dropped past REMOTE_BACKLOG.
//
// New connections start at the head of the ring: they get what is sent from
// now on, not history. The ring is a flow-control buffer, not a record of the
// drawing; replaying it would give a new tab an arbitrary last-512-segments
// cut of the picture, and would start it 512 entries behind.
import type { Message, Server, Subprotocol, WebSocketConnection } from "../../mod.ts";
import { type DemoEventListener, remoteOf } from "./events.ts";

export const MIRROR_PROTOCOL = "lws-mirror-protocol";
/** libwebsockets' mirror keeps 512 messages. */
export const DEFAULT_RING_SIZE = 512;
/** The topic on which demo servers share their mirror traffic. */
export const MIRROR_TOPIC = "lws-mirror";
/** Messages from other servers kept while the ring is full, at most. */
export const REMOTE_BACKLOG = 4096;

/** A fixed-size ring of messages addressed by sequence number. */
export class MessageRing {
  readonly #slots: (Message | undefined)[];
  /** Sequence number the next message will get. */
  #head = 0;
  /** Sequence number of the oldest message kept. */
  #oldest = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 4) throw new RangeError("the ring needs at least 4 entries");
    this.#slots = new Array(capacity);
  }

  get head(): number {
    return this.#head;
  }

  /** Messages kept. */
  get used(): number {
    return this.#head - this.#oldest;
  }

  get full(): boolean {
    return this.used === this.capacity;
  }

  push(message: Message): void {
    if (this.full) throw new RangeError("the ring is full");
    this.#slots[this.#head % this.capacity] = message;
    this.#head++;
  }

  /** The message with this sequence number; it must still be kept. */
  at(sequence: number): Message {
    if (sequence < this.#oldest || sequence >= this.#head) throw new RangeError(`message ${sequence} is not in the ring`);
    return this.#slots[sequence % this.capacity]!;
  }

  /** Forgets every message before `sequence` (the slowest reader's position). */
  releaseBefore(sequence: number): void {
    const until = Math.min(sequence, this.#head);
    // Clear the slots so the messages can be collected now, not when overwritten.
    for (; this.#oldest < until; this.#oldest++) this.#slots[this.#oldest % this.capacity] = undefined;
  }
}

/** Per-connection data. */
export interface MirrorState {
  /** Sequence number of the next ring entry to write to this connection. */
  next: number;
  /**
   * Messages that arrived from this connection when the ring was full. A
   * pause only stops further socket reads: the rest of the read in progress
   * still arrives (lws keeps it unparsed in its rx buflist). They enter the
   * ring, in order, before anything newer from this connection.
   */
  backlog: Message[];
  /** Reading is paused by the ring's flow control. */
  paused: boolean;
  /** A writable callback is on its way: one request per callback, not one per message. */
  writeRequested: boolean;
}

/** The mirror's shared state and its protocol. */
export class Mirror {
  readonly ring: MessageRing;
  /** Pause senders at this many entries ("nearly full")... */
  readonly pauseAt: number;
  /** ...and resume them at or below this many. */
  readonly resumeAt: number;
  readonly #connections = new Set<WebSocketConnection<MirrorState>>();
  /** Backlogs waiting for room, in arrival order; a closed sender's stays until emptied. */
  readonly #backlogs: Message[][] = [];
  readonly #onEvent: DemoEventListener;
  /** Messages from other servers waiting for room (its own entry in #backlogs while non-empty). */
  readonly #remote: Message[] = [];
  /** Sends a local message to the other servers, once linked. */
  #relay: ((message: Message) => void) | undefined;

  constructor(onEvent: DemoEventListener, ringSize = DEFAULT_RING_SIZE) {
    this.ring = new MessageRing(ringSize);
    this.pauseAt = ringSize - Math.max(1, Math.floor(ringSize / 8));
    this.resumeAt = Math.floor(ringSize / 4);
    this.#onEvent = onEvent;
  }

  readonly protocol: Subprotocol<MirrorState> = {
    name: MIRROR_PROTOCOL,
    data: () => ({ next: 0, backlog: [], paused: false, writeRequested: false }),
    open: (ws) => {
      ws.data.next = this.ring.head;
      this.#connections.add(ws);
    },
    message: (ws, message) => this.#received(ws, message),
    drain: (ws) => this.#writeTo(ws),
    close: (ws) => {
      this.#connections.delete(ws);
      // Its unread entries may have been all that kept the ring full.
      this.#release();
    },
  };

  /**
   * Shares this mirror with the other servers on the same pub/sub engine.
   *
   * @param server The demo server.
   */
  link(server: Server): void {
    this.#relay = (message) => void server.publish(MIRROR_TOPIC, message, { local: false });
    server.subscribe(MIRROR_TOPIC, (message) => this.acceptRemote(message));
  }

  /**
   * A message from another server's connection.
   *
   * @param message The message.
   */
  acceptRemote(message: Message): void {
    if (this.#remote.length > 0 || this.ring.full) {
      if (this.#remote.length === 0) this.#backlogs.push(this.#remote);
      if (this.#remote.length >= REMOTE_BACKLOG) this.#remote.shift();
      this.#remote.push(message);
      return;
    }
    this.ring.push(message);
    this.#wakeReaders();
  }

  #received(ws: WebSocketConnection<MirrorState>, message: Message): void {
    this.#relay?.(message);
    const state = ws.data;
    if (state.backlog.length > 0 || this.ring.full) {
      if (state.backlog.length === 0) this.#backlogs.push(state.backlog);
      state.backlog.push(message);
    } else {
      this.ring.push(message);
      this.#wakeReaders();
    }
    if (this.ring.used >= this.pauseAt && !state.paused) {
      state.paused = true;
      ws.pause();
      this.#onEvent({ type: "mirror-paused", remote: remoteOf(ws), ringUsed: this.ring.used });
    }
    this.#onEvent({ type: "mirror-received", remote: remoteOf(ws), message, ringUsed: this.ring.used, backlog: state.backlog.length });
  }

  /** The writable callback: writes ring entries until caught up or the send buffer pushes back. */
  #writeTo(ws: WebSocketConnection<MirrorState>): void {
    const state = ws.data;
    state.writeRequested = false;
    let count = 0;
    while (state.next < this.ring.head) {
      const result = ws.send(this.ring.at(state.next));
      if (result === "dropped") return; // closing: its close handler releases its entries
      state.next++;
      count++;
      if (result === "backpressure") {
        // Queued, but above the high-water mark: stop until writable again.
        // wsport calls drain when its transport drains, but when the buffer
        // was only frames not yet flushed and the flush goes straight to the
        // OS, no transport drain comes. So ask again once the flush (already
        // queued as a microtask) is done: drain then comes at once, or when
        // the transport drains.
        state.writeRequested = true;
        queueMicrotask(() => ws.requestWritable());
        break;
      }
    }
    if (count > 0) {
      this.#onEvent({ type: "mirror-sent", remote: remoteOf(ws), count });
      this.#release();
    }
  }

  /** Asks every connection for a writable callback (lws_callback_on_writable_all_protocol). */
  #wakeReaders(): void {
    for (const ws of this.#connections) {
      if (ws.data.writeRequested || ws.data.next === this.ring.head) continue;
      ws.data.writeRequested = true;
      ws.requestWritable();
    }
  }

  /** Frees what every connection has been written, admits backlogs, and resumes senders once drained. */
  #release(): void {
    if (this.#connections.size === 0) {
      // Nobody left to mirror to: what a closed sender left waiting has no reader either.
      for (const backlog of this.#backlogs) backlog.length = 0;
      this.#backlogs.length = 0;
      this.ring.releaseBefore(this.ring.head);
      return;
    }
    let slowest = this.ring.head;
    for (const ws of this.#connections) slowest = Math.min(slowest, ws.data.next);
    this.ring.releaseBefore(slowest);

    let admitted = false;
    // Round-robin over the waiting senders, so none is starved by another's long backlog.
    while (!this.ring.full && this.#backlogs.length > 0) {
      const backlog = this.#backlogs.shift()!;
      this.ring.push(backlog.shift()!);
      admitted = true;
      if (backlog.length > 0) this.#backlogs.push(backlog);
    }
    if (admitted) this.#wakeReaders();

    if (this.ring.used > this.resumeAt) return;
    for (const ws of this.#connections) {
      const state = ws.data;
      if (state.paused && state.backlog.length === 0) {
        state.paused = false;
        ws.resume();
        this.#onEvent({ type: "mirror-resumed", remote: remoteOf(ws), ringUsed: this.ring.used });
      }
    }
  }
}
