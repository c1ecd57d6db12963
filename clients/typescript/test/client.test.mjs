// The client against a real wskit server (examples/ts_client_peer.rs): states, messages,
// requests and their errors, progress, cancellation, the offline queue across a server
// restart, tokens, heartbeats.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ConnectionClosedError,
  createClient,
  RpcError,
  StateError,
  TimeoutError,
  WsKitError,
} from "../dist/index.js";
import { collect, nextState, startPeer } from "./peer.mjs";

/** Fast reconnects, so that the tests do not wait out the default backoff. */
const FAST = { initialDelayMs: 20, maxDelayMs: 100 };

/** Resolves after `ms`: only to leave a window in which something must NOT happen. */
const quiet = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks the server which SLOW requests it saw cancelled, until `tag` is among them. */
async function waitCancelled(client, tag) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { tags } = await client.request("CANCELLED", undefined);
    if (tags.includes(tag)) return tags;
    assert.ok(Date.now() < deadline, `the server never saw request ${tag} cancelled; it saw ${tags}`);
    await quiet(20);
  }
}

describe("against a running server", () => {
  let peer;
  let client;

  before(async () => {
    peer = await startPeer();
    client = createClient({ url: peer.url, reconnect: FAST });
    await client.connect();
  });

  after(async () => {
    await client.close();
    await peer.kill();
  });

  test("walks through the states from connecting to closed", async () => {
    const states = [];
    const other = createClient({ url: peer.url });
    other.onState((state) => states.push(state));
    assert.equal(other.state, "closed");
    await other.connect();
    assert.equal(other.isConnected, true);
    await other.close();
    assert.deepEqual(states, ["connecting", "open", "closing", "closed"]);
    assert.equal(other.send("ECHO", { text: "late" }), false, "a closed client refuses sends");
    await assert.rejects(other.request("ADD", { a: 1, b: 2 }), StateError);
  });

  test("sends a message and receives the answer", async () => {
    const echoed = collect(client, "ECHOED", 1);
    assert.equal(client.send("ECHO", { text: "hello" }), true);
    assert.deepEqual(await echoed, [{ text: "hello" }]);
  });

  test("reports an ERROR frame with its validation issues", async () => {
    const error = new Promise((resolve) => {
      const off = client.onError((error) => {
        off();
        resolve(error);
      });
    });
    client.send("ECHO", { text: "x".repeat(65) });
    const received = await error;
    assert.ok(received instanceof WsKitError);
    assert.equal(received.code, "INVALID_ARGUMENT");
    assert.equal(received.retryable, false);
    assert.deepEqual(
      received.issues.map((issue) => issue.path),
      ["payload.text"],
    );
  });

  test("a request resolves to its response's payload", async () => {
    assert.deepEqual(await client.request("ADD", { a: 2, b: 3 }), { sum: 5 });
  });

  test("server errors reject with typed fields", async () => {
    const notFound = await client.request("FAIL", { kind: "not_found" }).catch((error) => error);
    assert.ok(notFound instanceof RpcError && notFound instanceof WsKitError);
    assert.equal(notFound.code, "NOT_FOUND");
    assert.equal(notFound.message, "no such thing");
    assert.deepEqual(notFound.details, { id: "42" });
    assert.equal(notFound.retryable, false);
    assert.equal(notFound.retryAfterMs, undefined);
    assert.match(notFound.correlationId, /^[0-9a-f-]{36}$/);

    const unavailable = await client.request("FAIL", { kind: "unavailable" }).catch((error) => error);
    assert.equal(unavailable.code, "UNAVAILABLE");
    assert.equal(unavailable.retryable, true);
    assert.equal(unavailable.retryAfterMs, 250);

    const notNow = await client.request("FAIL", { kind: "not_now" }).catch((error) => error);
    assert.equal(notNow.retryable, true);
    assert.equal(notNow.retryAfterMs, null);

    const custom = await client.request("FAIL", { kind: "teapot" }).catch((error) => error);
    assert.equal(custom.code, "TEAPOT");
    assert.equal(custom.retryable, undefined, "a custom code leaves retrying to the client");
  });

  test("progress values arrive in order before the response", async () => {
    const progress = [];
    const done = await client.request(
      "SLOW",
      { tag: "progress", steps: 3, stepMs: 10 },
      { onProgress: (value) => progress.push(value) },
    );
    assert.deepEqual(done, { tag: "progress" });
    assert.deepEqual(progress, [{ step: 1 }, { step: 2 }, { step: 3 }]);
  });

  test("a timeout rejects with TimeoutError", async () => {
    const started = Date.now();
    const error = await client
      .request("SLOW", { tag: "timeout", steps: 1, stepMs: 5_000 }, { timeoutMs: 150 })
      .catch((error) => error);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.timeoutMs, 150);
    assert.ok(Date.now() - started < 2_000, "rejected at the timeout, not at the server's answer");
  });

  test("the server's DEADLINE_EXCEEDED rejects with TimeoutError once the client's deadline passed", async () => {
    // `request` reads the clock and starts its timer as it is called; each stub below
    // lasts only for that call. Its timer is held back, so that the server's answer to
    // the deadline the client gave it (meta.timeoutMs) comes first.
    const started = (clock) => {
      const [realSetTimeout, realNow] = [globalThis.setTimeout, Date.now];
      globalThis.setTimeout = () => 0;
      Date.now = clock(realNow);
      try {
        return client
          .request("SLOW", { tag: "server-deadline", steps: 1, stepMs: 5_000 }, { timeoutMs: 150 })
          .catch((error) => error);
      } finally {
        [globalThis.setTimeout, Date.now] = [realSetTimeout, realNow];
      }
    };
    const atTheDeadline = await started((now) => now);
    assert.ok(atTheDeadline instanceof TimeoutError, String(atTheDeadline));
    assert.equal(atTheDeadline.timeoutMs, 150);
    // Before the client's deadline (its clock an hour ahead when it set it), the server's
    // own DEADLINE_EXCEEDED stays the server's error.
    const early = await started((now) => () => now() + 3_600_000);
    assert.ok(early instanceof RpcError, String(early));
    assert.equal(early.code, "DEADLINE_EXCEEDED");
  });

  test("aborting a request sends $ws:abort, which the server observes", async () => {
    const controller = new AbortController();
    const reason = new Error("the user went elsewhere");
    const request = client.request(
      "SLOW",
      { tag: "aborted", steps: 100, stepMs: 20 },
      // Far beyond the test: only the abort can end the handler this early.
      { timeoutMs: 60_000, signal: controller.signal, onProgress: () => controller.abort(reason) },
    );
    await assert.rejects(request, (error) => error === reason);
    assert.ok((await waitCancelled(client, "aborted")).includes("aborted"));
    assert.deepEqual(await client.request("ADD", { a: 1, b: 1 }), { sum: 2 }, "the connection stays usable");
  });

  test("an already aborted signal rejects at once", async () => {
    const controller = new AbortController();
    controller.abort(new Error("never mind"));
    await assert.rejects(client.request("ADD", { a: 1, b: 1 }, { signal: controller.signal }), /never mind/);
  });

  test("the pending request limit refuses more", async () => {
    const limited = createClient({ url: peer.url, pendingRequestsLimit: 1 });
    await limited.connect();
    const first = limited.request("SLOW", { tag: "limit", steps: 1, stepMs: 50 });
    const refused = await limited.request("ADD", { a: 1, b: 1 }).catch((error) => error);
    assert.ok(refused instanceof StateError);
    assert.equal(refused.reason, "too-many-pending");
    assert.deepEqual(await first, { tag: "limit" });
    await limited.close();
  });

  test("close() rejects what is pending with ConnectionClosedError", async () => {
    const closing = createClient({ url: peer.url });
    await closing.connect();
    const pending = closing.request("SLOW", { tag: "closed", steps: 1, stepMs: 5_000 });
    await closing.close();
    await assert.rejects(pending, ConnectionClosedError);
  });
});

describe("across a server restart", () => {
  let peer;

  before(async () => {
    peer = await startPeer();
  });

  after(async () => {
    await peer.kill();
  });

  /** A connected client of `peer` with `options`. */
  async function connected(options = {}) {
    const client = createClient({ url: peer.url, reconnect: FAST, ...options });
    await client.connect();
    return client;
  }

  /** Kills the server and waits until `clients` noticed. */
  async function killServer(...clients) {
    const noticed = clients.map((client) => nextState(client, (state) => state === "reconnecting"));
    await peer.kill();
    await Promise.all(noticed);
  }

  /** Restarts the server and waits until `clients` are open again. */
  async function restartServer(...clients) {
    const opened = clients.map((client) => nextState(client, (state) => state === "open"));
    await peer.start();
    await Promise.all(opened);
  }

  test("queues while down and flushes in order on reconnect; in-flight requests fail", async () => {
    const client = await connected();
    const inFlight = client.request("SLOW", { tag: "in-flight", steps: 1, stepMs: 10_000 }).catch((error) => error);
    await killServer(client);
    assert.ok((await inFlight) instanceof ConnectionClosedError);

    const echoed = collect(client, "ECHOED", 3);
    for (const text of ["a", "b", "c"]) assert.equal(client.send("ECHO", { text }), true);
    const queuedRequest = client.request("ADD", { a: 20, b: 22 });
    await restartServer(client);
    assert.deepEqual(await echoed, [{ text: "a" }, { text: "b" }, { text: "c" }]);
    assert.deepEqual(await queuedRequest, { sum: 42 });
    await client.close();
  });

  test("queue policies: drop-newest refuses, drop-oldest evicts, off refuses", async () => {
    const newest = await connected({ queue: "drop-newest", queueSize: 2 });
    const oldest = await connected({ queue: "drop-oldest", queueSize: 2 });
    const off = await connected({ queue: "off" });
    await killServer(newest, oldest, off);

    const keptNewest = collect(newest, "ECHOED", 2);
    const keptOldest = collect(oldest, "ECHOED", 2);
    assert.deepEqual(
      ["a", "b", "c"].map((text) => newest.send("ECHO", { text })),
      [true, true, false],
    );
    const evicted = oldest.request("ADD", { a: 1, b: 1 });
    assert.deepEqual(
      ["a", "b", "c"].map((text) => oldest.send("ECHO", { text })),
      [true, true, true],
    );
    const evictedError = await evicted.catch((error) => error);
    assert.ok(evictedError instanceof StateError && evictedError.reason === "queue-full", String(evictedError));
    assert.equal(off.send("ECHO", { text: "a" }), false);
    const refused = await off.request("ADD", { a: 1, b: 1 }).catch((error) => error);
    assert.equal(refused.reason, "queue-off");

    const offEchoes = [];
    off.on("ECHOED", (payload) => offEchoes.push(payload));
    await restartServer(newest, oldest, off);
    assert.deepEqual(await keptNewest, [{ text: "a" }, { text: "b" }]);
    assert.deepEqual(await keptOldest, [{ text: "b" }, { text: "c" }]);
    // A round trip on each: anything queued before it would have arrived first.
    assert.deepEqual(await off.request("ADD", { a: 0, b: 0 }), { sum: 0 });
    assert.deepEqual(offEchoes, []);
    await Promise.all([newest.close(), oldest.close(), off.close()]);
  });

  test("a request aborted while queued is never sent", async () => {
    const client = await connected();
    await killServer(client);
    const controller = new AbortController();
    const request = client.request("SLOW", { tag: "withdrawn", steps: 1, stepMs: 10 }, { signal: controller.signal });
    controller.abort(new Error("withdrawn"));
    await assert.rejects(request, /withdrawn/);
    const done = [];
    client.onUnhandled((frame) => done.push(frame.type));
    await restartServer(client);
    const { tags } = await client.request("CANCELLED", undefined);
    assert.ok(!tags.includes("withdrawn"));
    assert.deepEqual(done, [], "no DONE for a request that was withdrawn");
    await client.close();
  });

  test("backs off with growing delays while the server is down, and gives up after maxAttempts", async () => {
    const client = await connected({ reconnect: { initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 4 } });
    const delays = [];
    client.onState((state, info) => {
      if (state === "reconnecting") delays.push(info.delayMs);
    });
    const closed = nextState(client, (state) => state === "closed");
    await peer.kill();
    await closed;
    // The lost socket, then three failed attempts; the fourth failure gives up.
    assert.equal(delays.length, 4);
    const ceilings = [10, 20, 40, 40];
    delays.forEach((delay, attempt) => assert.ok(delay >= 0 && delay <= ceilings[attempt], `${delay} ms`));
    await peer.start();
  });
});

describe("tokens", () => {
  let peer;

  before(async () => {
    peer = await startPeer();
  });

  after(async () => {
    await peer.kill();
  });

  for (const attach of ["query", "protocol"]) {
    test(`are fetched anew before every connect (${attach})`, async () => {
      let fetched = 0;
      const client = createClient({
        url: peer.url,
        reconnect: FAST,
        auth: { attach, getToken: async () => `token-${++fetched}` },
      });
      await client.connect();
      assert.deepEqual(await client.request("WHO_AM_I", undefined), { token: "token-1", transport: attach });
      const reopened = nextState(client, (state) => state === "open");
      client.send("KICK");
      await reopened;
      assert.deepEqual(await client.request("WHO_AM_I", undefined), { token: "token-2", transport: attach });
      await client.close();
    });
  }

  test("a token source that throws fails the attempt, and the next one retries", async () => {
    let calls = 0;
    const client = createClient({
      url: peer.url,
      reconnect: FAST,
      auth: {
        getToken: () => {
          calls += 1;
          if (calls === 1) throw new Error("token service down");
          return "second";
        },
      },
    });
    await client.connect();
    assert.deepEqual(await client.request("WHO_AM_I", undefined), { token: "second", transport: "query" });
    await client.close();
  });
});

describe("heartbeats", () => {
  let peer;

  before(async () => {
    peer = await startPeer();
  });

  after(async () => {
    peer.thaw();
    await peer.kill();
  });

  test("keep a quiet connection open, and a silent server is dropped and reconnected", async () => {
    const client = createClient({
      url: peer.url,
      reconnect: FAST,
      connectTimeoutMs: 500,
      // Loose enough for a loaded machine: an answer may take most of a second.
      heartbeat: { intervalMs: 100, timeoutMs: 1_000 },
    });
    await client.connect();
    const changes = [];
    client.onState((state) => changes.push(state));
    // Three silence timeouts long: only the answers to the heartbeats keep it open.
    await quiet(3_000);
    assert.deepEqual(changes, [], "the server's __heartbeat_ack kept the connection alive");

    const started = Date.now();
    const dropped = nextState(client, (state) => state === "reconnecting");
    peer.freeze();
    await dropped;
    const noticedAfter = Date.now() - started;
    assert.ok(noticedAfter >= 900 && noticedAfter < 5_000, `dropped after ${noticedAfter} ms`);
    const reopened = nextState(client, (state) => state === "open");
    peer.thaw();
    await reopened;
    assert.deepEqual(await client.request("ADD", { a: 1, b: 2 }), { sum: 3 });
    await client.close();
  });
});
