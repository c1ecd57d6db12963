// The chat Durable Object in the local Cloudflare runtime (workerd, through `wrangler dev`),
// tested over real sockets. Run `./build.sh` first, then `node --test test.mjs`.
//
// The runtime's output goes to .wrangler/test.log.

import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const here = dirname(fileURLToPath(import.meta.url));
/** How long to wait for the runtime to start, and for any one frame or event after it. */
const STARTUP_MS = 60_000;
const FRAME_MS = 5_000;

/** 32-bit FNV-1a over the UTF-8 bytes of `text`, as src/lib.rs computes it. */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}
const SHARDS = 2;
const shardOf = (room) => `shard-${fnv1a(room) % SHARDS}`;

// ---- The runtime ----

let runtime;
let base;
let scratch;

/** A port that was free a moment ago (wrangler reports the one it really took). */
async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/** Resolves with the address wrangler reports once it serves; rejects if it exits first. */
function ready(child, log) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the runtime did not start in ${STARTUP_MS} ms; see ${log}`)), STARTUP_MS);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const ready = /Ready on (http:\/\/[^\s]+)/.exec(line);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1].replace(/^http/, "ws").replace(/\/$/, ""));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the runtime exited (${signal ?? code}) before serving; see ${log}`));
    });
  });
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "wskit-cloudflare-"));
  await mkdir(join(here, ".wrangler"), { recursive: true });
  const log = join(here, ".wrangler", "test.log");
  runtime = spawn(
    process.execPath,
    [
      // What node_modules/.bin/wrangler would add before re-spawning node: running the CLI
      // directly leaves one process, whose SIGTERM also stops workerd.
      "--no-warnings",
      "--experimental-vm-modules",
      join(here, "node_modules", "wrangler", "wrangler-dist", "cli.js"),
      "dev",
      "--local",
      "--ip", "127.0.0.1",
      "--port", String(await freePort()),
      "--inspector-port", "0",
      "--show-interactive-dev-session=false",
      // A fresh store per run: nothing from an earlier run is seen.
      "--persist-to", join(scratch, "state"),
    ],
    {
      cwd: here,
      env: {
        ...process.env,
        // Offline: no metrics, no error reports, no download of the `cf` object.
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_SEND_ERROR_REPORTS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        CI: "true",
        WRANGLER_LOG_PATH: join(scratch, "logs"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = createWriteStream(log);
  runtime.stdout.pipe(output);
  runtime.stderr.pipe(output);
  base = await ready(runtime, log);
});

after(async () => {
  if (runtime && runtime.exitCode === null && runtime.signalCode === null) {
    const exited = once(runtime, "exit");
    runtime.kill("SIGTERM");
    // wrangler stops workerd on SIGTERM; should it hang, the run must still end.
    await within(exited, STARTUP_MS, "exit of the runtime").catch(() => runtime.kill("SIGKILL"));
  }
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// Should the test process end without `after` (an uncaught error), the runtime goes too.
process.on("exit", () => runtime?.kill("SIGTERM"));

// ---- Clients ----

const open = new Set();

/** Fails after `ms` unless `promise` settles first. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Opens a WebSocket to `/ws/<room>`. Resolves with the socket, the upgrade response's
 * headers, and `next()`, the next frame (parsed).
 */
async function connect(room) {
  const ws = new WebSocket(`${base}/ws/${room}`);
  open.add(ws);
  ws.once("close", () => open.delete(ws));
  let headers;
  // Emitted just before "open", in the same turn.
  ws.once("upgrade", (response) => (headers = response.headers));
  const frames = [];
  const waiting = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  // A refused upgrade is an "error" event ("Unexpected server response: 404").
  await within(once(ws, "open"), FRAME_MS, `upgrade of /ws/${room}`);
  return {
    ws,
    headers,
    next: () =>
      within(frames.length ? Promise.resolve(frames.shift()) : new Promise((resolve) => waiting.push(resolve)), FRAME_MS, "frame"),
    send: (type, payload, meta = {}) => ws.send(JSON.stringify({ type, meta: { timestamp: Date.now(), ...meta }, payload })),
  };
}

/** The next frame of `client`, which must be of type `type`; returns it. */
async function expectFrame(client, type) {
  const frame = await client.next();
  assert.equal(frame.type, type, JSON.stringify(frame));
  return frame;
}

/** Connects to `room` as `name` and joins it; returns the client and the ROOM_STATE payload. */
async function member(room, name) {
  const client = await connect(room);
  client.send("SET_NAME", { name });
  const welcome = await expectFrame(client, "WELCOME");
  assert.deepEqual(welcome.payload, { clientId: client.headers["x-client-id"], name });
  client.send("JOIN_ROOM", { roomId: room });
  const state = await expectFrame(client, "ROOM_STATE");
  return { client, state: state.payload };
}

afterEach(async () => {
  await Promise.all(
    [...open].map((ws) => {
      const closed = once(ws, "close");
      ws.close(1000, "test over");
      return within(closed, FRAME_MS, "close");
    }),
  );
});

// ---- Tests ----

test("two members of a room see each other join and each other's messages", async () => {
  const room = "lobby";
  const alice = await member(room, "alice");
  assert.deepEqual(alice.state.members.map((m) => m.name), ["alice"]);
  assert.deepEqual(alice.state.history, []);

  const bob = await member(room, "bob");
  assert.deepEqual(bob.state.members.map((m) => m.name).sort(), ["alice", "bob"]);
  const joined = await expectFrame(alice.client, "MEMBER_JOINED");
  assert.deepEqual(joined.payload, { roomId: room, member: { id: bob.client.headers["x-client-id"], name: "bob" } });

  // Each message reaches every member, its author included.
  for (const [author, text] of [[alice, "hi bob"], [bob, "hi alice"]]) {
    author.client.send("SEND_MESSAGE", { roomId: room, text: `  ${text} ` });
    for (const { client } of [alice, bob]) {
      const message = await expectFrame(client, "NEW_MESSAGE");
      assert.equal(message.payload.roomId, room);
      assert.equal(message.payload.from.id, author.client.headers["x-client-id"]);
      assert.equal(message.payload.text, text);
      // Read from the JavaScript clock: std::time would have trapped on wasm32.
      assert.ok(Math.abs(message.payload.sentAt - Date.now()) < 60_000, JSON.stringify(message));
    }
  }

  // A newcomer gets the history; closing the socket leaves the room.
  const carol = await member(room, "carol");
  assert.deepEqual(carol.state.history.map((m) => m.text), ["hi bob", "hi alice"]);
  await expectFrame(alice.client, "MEMBER_JOINED");
  await expectFrame(bob.client, "MEMBER_JOINED");
  bob.client.ws.close(1000, "bye");
  for (const { client } of [alice, carol]) {
    const left = await expectFrame(client, "MEMBER_LEFT");
    assert.equal(left.payload.member.name, "bob");
  }
});

test("a connection serves the room of its path only", async () => {
  const { client } = await member("kitchen", "dana");
  client.send("JOIN_ROOM", { roomId: "garden" });
  const refused = await expectFrame(client, "ERROR");
  assert.equal(refused.payload.code, "FAILED_PRECONDITION");
  assert.match(refused.payload.message, /connect to \/ws\/garden/);
  client.send("SEND_MESSAGE", { roomId: "garden", text: "hello?" });
  assert.equal((await expectFrame(client, "ERROR")).payload.code, "FAILED_PRECONDITION");
});

test("a text over 500 characters is answered with its issue, and the connection goes on", async () => {
  const room = "limits";
  const { client } = await member(room, "erin");
  const long = "x".repeat(600);

  client.send("SEND_MESSAGE", { roomId: room, text: long });
  const error = await expectFrame(client, "ERROR");
  assert.equal(error.payload.code, "INVALID_ARGUMENT");
  assert.deepEqual(error.payload.details.issues.map((issue) => issue.path), ["payload.text"]);

  // With a correlationId, the same error is an RPC_ERROR that echoes it.
  client.send("SEND_MESSAGE", { roomId: room, text: long }, { correlationId: "c-600" });
  const rpcError = await expectFrame(client, "RPC_ERROR");
  assert.equal(rpcError.meta.correlationId, "c-600");
  assert.equal(rpcError.payload.code, "INVALID_ARGUMENT");
  assert.deepEqual(rpcError.payload.details.issues.map((issue) => issue.path), ["payload.text"]);

  assert.equal(client.ws.readyState, WebSocket.OPEN);
  client.send("SEND_MESSAGE", { roomId: room, text: "still here" });
  assert.equal((await expectFrame(client, "NEW_MESSAGE")).payload.text, "still here");
});

test("a frame over the 16 KiB limit is refused, and the connection goes on", async () => {
  const room = "big";
  const { client } = await member(room, "frank");
  client.send("SEND_MESSAGE", { roomId: room, text: "y".repeat(17 * 1024) });
  const error = await expectFrame(client, "ERROR");
  assert.equal(error.payload.code, "RESOURCE_EXHAUSTED");
  assert.equal(error.payload.details.limit, 16 * 1024);
  client.send("SEND_MESSAGE", { roomId: room, text: "small again" });
  assert.equal((await expectFrame(client, "NEW_MESSAGE")).payload.text, "small again");
});

test("heartbeats are answered with the server's clock, and unknown types per PROTOCOL.md", async () => {
  const client = await connect("beats");
  const before = Date.now();
  client.send("__heartbeat");
  const ack = await expectFrame(client, "__heartbeat_ack");
  assert.ok(ack.meta.ts >= before - 60_000 && ack.meta.ts <= Date.now() + 60_000, JSON.stringify(ack));
  client.send("NO_SUCH_TYPE", {}, { correlationId: "c-1" });
  const error = await expectFrame(client, "RPC_ERROR");
  assert.equal(error.meta.correlationId, "c-1");
  assert.equal(error.payload.code, "UNIMPLEMENTED");
});

test("rooms whose names hash to different shards reach different objects", async () => {
  const first = "north";
  let second = "south";
  for (let n = 1; shardOf(second) === shardOf(first); n++) second = `south-${n}`;

  const [a, b, again] = await Promise.all([connect(first), connect(second), connect(first)]);
  assert.equal(a.headers["x-wskit-shard"], shardOf(first));
  assert.equal(b.headers["x-wskit-shard"], shardOf(second));
  assert.notEqual(a.headers["x-wskit-shard"], b.headers["x-wskit-shard"]);
  assert.equal(again.headers["x-wskit-shard"], a.headers["x-wskit-shard"]);
});

test("the upgrade response carries the connection's UUIDv7 as x-client-id", async () => {
  const [a, b] = await Promise.all([connect("ids"), connect("ids")]);
  const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.match(a.headers["x-client-id"], uuidV7);
  assert.match(b.headers["x-client-id"], uuidV7);
  assert.notEqual(a.headers["x-client-id"], b.headers["x-client-id"]);
});

test("the Worker answers 404 off /ws/:room and 426 to a request that is no upgrade", async () => {
  const http = base.replace(/^ws/, "http");
  for (const path of ["/", "/ws", "/ws/", "/ws/a/b", "/ws/no%20spaces"]) {
    const response = await fetch(`${http}${path}`);
    assert.equal(response.status, 404, path);
    await response.arrayBuffer();
  }
  const response = await fetch(`${http}/ws/lobby`);
  assert.equal(response.status, 426);
  await response.arrayBuffer();
});
