/**
 * The outbox: frames sent while no socket is open, held under the offline policy and
 * flushed in order on open.
 *
 * @module
 */

/** What the client does with a frame sent while no socket is open. */
export type QueuePolicy = "drop-newest" | "drop-oldest" | "off";

/** A frame waiting for a socket. */
export type Outgoing =
  /** A one-way frame, encoded. */
  | { kind: "message"; text: string }
  /** A request, rendered when written so that `meta.timeoutMs` is the time it has left. */
  | { kind: "request"; id: string; render: () => string };

/** Why {@link Outbox.push} refused a frame. */
export type Refused = "off" | "full";

/** The frames waiting for a socket, oldest first, bounded by `capacity`. */
export class Outbox {
  private frames: Outgoing[] = [];

  constructor(
    readonly policy: QueuePolicy,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.frames.length;
  }

  /**
   * Queues `frame`. Under `drop-oldest` a full queue evicts its oldest frame, which is
   * returned (so that a request it carried can be failed); `drop-newest` refuses the new one.
   */
  push(frame: Outgoing): { refused: Refused } | { evicted: Outgoing | undefined } {
    if (this.policy === "off") return { refused: "off" };
    if (this.capacity <= 0) return { refused: "full" };
    if (this.frames.length < this.capacity) {
      this.frames.push(frame);
      return { evicted: undefined };
    }
    if (this.policy === "drop-newest") return { refused: "full" };
    const evicted = this.frames.shift();
    this.frames.push(frame);
    return { evicted };
  }

  /** Withdraws the queued request `id`; whether it was queued. */
  removeRequest(id: string): boolean {
    const index = this.frames.findIndex((frame) => frame.kind === "request" && frame.id === id);
    if (index >= 0) this.frames.splice(index, 1);
    return index >= 0;
  }

  /** Takes every frame, oldest first. */
  drain(): Outgoing[] {
    const frames = this.frames;
    this.frames = [];
    return frames;
  }
}
