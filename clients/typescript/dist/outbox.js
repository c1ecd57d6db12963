/**
 * The outbox: frames sent while no socket is open, held under the offline policy and
 * flushed in order on open.
 *
 * @module
 */
/** The frames waiting for a socket, oldest first, bounded by `capacity`. */
export class Outbox {
    policy;
    capacity;
    frames = [];
    constructor(policy, capacity) {
        this.policy = policy;
        this.capacity = capacity;
    }
    get size() {
        return this.frames.length;
    }
    /**
     * Queues `frame`. Under `drop-oldest` a full queue evicts its oldest frame, which is
     * returned (so that a request it carried can be failed); `drop-newest` refuses the new one.
     */
    push(frame) {
        if (this.policy === "off")
            return { refused: "off" };
        if (this.capacity <= 0)
            return { refused: "full" };
        if (this.frames.length < this.capacity) {
            this.frames.push(frame);
            return { evicted: undefined };
        }
        if (this.policy === "drop-newest")
            return { refused: "full" };
        const evicted = this.frames.shift();
        this.frames.push(frame);
        return { evicted };
    }
    /** Withdraws the queued request `id`; whether it was queued. */
    removeRequest(id) {
        const index = this.frames.findIndex((frame) => frame.kind === "request" && frame.id === id);
        if (index >= 0)
            this.frames.splice(index, 1);
        return index >= 0;
    }
    /** Takes every frame, oldest first. */
    drain() {
        const frames = this.frames;
        this.frames = [];
        return frames;
    }
}
