// Session resume (PROTOCOL.md section 8) against a real wskit server
// (examples/ts_client_peer.rs, resumable sessions on), its connections lost through a TCP
// proxy the test cuts: what was missed arrives once, in order, after the automatic
// reconnect; refusals are told; a server without resume is used as before.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConnectionClosedError, createClient } from "../dist/index.js";
import { collect, nextState, startPeer } from "./peer.mjs";
import { TcpProxy } from "./proxy.mjs";

/** Fast reconnects, and no heartbeats: every frame a test counts is one it caused. */
const OPTIONS = { reconnect: { initialDelayMs: 20, maxDelayMs: 100 }, heartbeat: false };

/** Resolves with the next session event of `client`. */
function nextSession(client) {
  return new Promise((resolve) => {
    const off = client.onSession((event) => {
      off();
      resolve(event);
    });
  });
}

/** Connects `client` and resolves with its first session event. */
async function connected(client) {
  const session = nextSession(client);
  await client.connect();
  return session;
}

describe("resume", () => {
  let peer;
  let publisher;

  before(async () => {
    peer = await startPeer();
    publisher = createClient({ url: peer.url });
    await publisher.connect();
  });

  after(async () => {
    await publisher.close();
    await peer.kill();
  });

  /** Publishes a NOTE with each of `texts` to `topic`, in order. */
  async function publish(topic, ...texts) {
    for (const text of texts) await publisher.request("PUBLISH", { topic, text });
  }

  test("what was missed arrives once, in order, after the automatic reconnect", async () => {
    const proxy = await TcpProxy.start(peer.port);
    const client = createClient({
      ...OPTIONS,
      url: proxy.url("/ws?room=lobby"),
      resume: true,
      auth: { getToken: () => "secret" },
    });
    // What the application sees, in order: session events and notes.
    const seen = [];
    client.onSession((event) => seen.push(event.status));
    client.on("NOTE", (note) => seen.push(note.text));
    const unhandled = [];
    client.onUnhandled((frame) => unhandled.push(frame.type));

    const started = await connected(client);
    assert.equal(started.status, "new");
    assert.match(started.token, /^[0-9a-f]{32}$/);
    const first = proxy.query(0);
    assert.deepEqual([...first], [["room", "lobby"], ["access_token", "secret"], ["wskit-resume", "new"]]);

    await client.request("SUBSCRIBE", { topic: "news" });
    const before = collect(client, "NOTE", 1);
    await publish("news", "before");
    await before;

    // Written by the server, lost on the way: a reply and a publish.
    proxy.stall();
    const lostReply = client.request("ADD", { a: 40, b: 2 }).catch((error) => error);
    await proxy.dropped('"sum":42');
    await publish("news", "in flight");
    await proxy.dropped("in flight");

    const away = nextState(client, (state) => state === "reconnecting");
    proxy.cut();
    await away;
    assert.ok((await lostReply) instanceof ConnectionClosedError, "the request failed with its socket");
    await publish("news", "away 1", "away 2", "away 3");

    const resumed = nextSession(client);
    const missed = collect(client, "NOTE", 4);
    proxy.restore();
    assert.deepEqual(await resumed, { status: "resumed", token: started.token, replayed: 5 });
    assert.deepEqual(await missed, ["in flight", "away 1", "away 2", "away 3"].map((text) => ({ text })));
    // The session's token and what was received of it (SUBSCRIBED and one NOTE), the
    // other parameters kept.
    assert.equal(
      proxy.requestLines.at(-1),
      `GET /ws?room=lobby&access_token=secret&wskit-resume=${started.token}:2 HTTP/1.1`,
    );

    // Live frames follow, numbered on; a round trip shows nothing else came.
    const live = collect(client, "NOTE", 1);
    await publish("news", "live");
    await live;
    assert.deepEqual(await client.request("ADD", { a: 1, b: 1 }), { sum: 2 });
    assert.deepEqual(seen, ["new", "before", "resumed", "in flight", "away 1", "away 2", "away 3", "live"]);
    assert.deepEqual(unhandled, [], "the replayed SUM of the failed request is dropped, $ws:session never shown");

    // Lost again: the count went on across the resume (2 + 5 replayed + NOTE + SUM).
    const again = nextSession(client);
    proxy.cut();
    proxy.restore();
    assert.deepEqual(await again, { status: "resumed", token: started.token, replayed: 0 });
    assert.match(proxy.requestLines.at(-1), new RegExp(`&wskit-resume=${started.token}:9 `));
    await client.close();
    await proxy.close();
  });

  test("a refused resume is told with its reason, and the application resyncs", async () => {
    const client = createClient({ ...OPTIONS, url: peer.url, resume: true });
    const started = await connected(client);
    await client.request("SUBSCRIBE", { topic: "kicked" });

    // A close the server decides ends the session: there is nothing to resume.
    const refused = nextSession(client);
    client.send("KICK");
    const event = await refused;
    assert.equal(event.status, "refused");
    assert.equal(event.reason, "expired");
    assert.match(event.token, /^[0-9a-f]{32}$/);
    assert.notEqual(event.token, started.token, "a new session");

    // The subscription went with the old session; subscribing again is the resync.
    const notes = [];
    client.on("NOTE", (note) => notes.push(note.text));
    await publish("kicked", "unheard");
    await client.request("SUBSCRIBE", { topic: "kicked" });
    const heard = collect(client, "NOTE", 1);
    await publish("kicked", "heard");
    await heard;
    assert.deepEqual(notes, ["heard"]);
    await client.close();
  });

  test("close() with 1000 ends the session; another code leaves it to resume", async () => {
    const client = createClient({ ...OPTIONS, url: peer.url, resume: true });
    const first = await connected(client);
    await client.request("SUBSCRIBE", { topic: "later" });

    await client.close({ code: 4001, reason: "back soon" });
    await publish("later", "while closed");
    const missed = collect(client, "NOTE", 1);
    assert.deepEqual(await connected(client), { status: "resumed", token: first.token, replayed: 1 });
    assert.deepEqual(await missed, [{ text: "while closed" }]);

    await client.close();
    const fresh = await connected(client);
    assert.equal(fresh.status, "new", "nothing is resumed after a normal close");
    assert.notEqual(fresh.token, first.token);
    await client.close();
  });
});

describe("against a server without resume", () => {
  let plain;
  let resumable;

  before(async () => {
    [plain, resumable] = await Promise.all([startPeer({ env: { PEER_RESUME: "off" } }), startPeer()]);
  });

  after(async () => {
    await Promise.all([plain.kill(), resumable.kill()]);
  });

  test("the client works as without the option, and tells nothing", async () => {
    const proxy = await TcpProxy.start(plain.port);
    const client = createClient({ ...OPTIONS, url: proxy.url("/ws"), resume: true });
    const events = [];
    client.onSession((event) => events.push(event));
    await client.connect();
    // The first frame is the application's, not a session: handled as usual.
    const echoed = collect(client, "ECHOED", 1);
    client.send("ECHO", { text: "first" });
    assert.deepEqual(await echoed, [{ text: "first" }]);

    const reopened = nextState(client, (state) => state === "open");
    proxy.cut();
    proxy.restore();
    await reopened;
    assert.deepEqual(await client.request("ADD", { a: 1, b: 2 }), { sum: 3 });
    assert.equal(proxy.query(1).get("wskit-resume"), "new", "nothing to resume: a new session asked again");
    assert.deepEqual(events, []);
    await client.close();
    await proxy.close();
  });

  test("a session lost to a server that stopped offering resume is refused as unsupported", async () => {
    const proxy = await TcpProxy.start(resumable.port);
    const client = createClient({ ...OPTIONS, url: proxy.url("/ws"), resume: true });
    assert.equal((await connected(client)).status, "new");

    proxy.retarget(plain.port);
    const refused = nextSession(client);
    const echoed = collect(client, "ECHOED", 1);
    const away = nextState(client, (state) => state === "reconnecting");
    proxy.cut();
    await away;
    proxy.restore();
    await client.onceOpen();
    client.send("ECHO", { text: "after" });
    // Told at the first frame, before the frame reaches its handler.
    assert.deepEqual(await refused, { status: "refused", token: undefined, reason: "unsupported" });
    assert.deepEqual(await echoed, [{ text: "after" }]);
    await client.close();
    await proxy.close();
  });
});
