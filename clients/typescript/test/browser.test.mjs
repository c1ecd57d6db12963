// The chat page (examples/chat) in headless Chromium, as a user meets it: two people chat,
// the server restarts under them, they send what the server refuses, use a phone-sized
// window, reload the page, and a tab loses its connection for a while (its session resumed,
// or refused). Skipped when Chromium is missing, unless
// WSKIT_REQUIRE_CHROMIUM=1 (as in CI), which fails instead.

import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { exampleBinary, freePort, ROOT, ServerProcess } from "./peer.mjs";
import { TcpProxy } from "./proxy.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const REQUIRED = process.env.WSKIT_REQUIRE_CHROMIUM === "1";
const missing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}; set CHROMIUM or install it`;
if (missing && REQUIRED) throw new Error(`WSKIT_REQUIRE_CHROMIUM=1, but ${missing}`);

/** Where screenshots go, for a person to look at. */
const SCREENSHOTS = `${ROOT}clients/typescript/test-results`;

/** How long a wait for something on a page may take. */
const WAIT = { timeout: 10_000 };

describe("the chat page", { skip: missing }, () => {
  let server;
  let browser;
  let base;

  before(async () => {
    const { chromium } = await import("playwright-core");
    server = await new ServerProcess(exampleBinary("chat"), { port: await freePort(), printsAddress: false }).start();
    base = `http://127.0.0.1:${server.port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.kill();
  });

  /** A new person (own storage) on the page, at `viewport`, loaded from `url`. */
  async function visit(viewport = { width: 1100, height: 760 }, url = base) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on("pageerror", (error) => assert.fail(`the page threw: ${error}`));
    await page.goto(url);
    return page;
  }

  /** Chooses `name` and joins `room`. */
  async function enter(page, name, room) {
    await page.fill("#name-input", name);
    await page.press("#name-input", "Enter");
    await page.locator("#me", { hasText: `You are ${name}` }).waitFor(WAIT);
    await page.fill("#room-input", room);
    await page.press("#room-input", "Enter");
    await page.locator("#room-title", { hasText: `# ${room}` }).waitFor(WAIT);
  }

  /** Sends `text` from the composer. */
  async function say(page, text) {
    await page.fill("#message-input", text);
    await page.click("#send");
  }

  /** How often `text` appears in what the page shows. */
  async function shown(page, text) {
    const body = await page.locator("body").innerText();
    return body.split(text).length - 1;
  }

  /** The status as the user sees it: its text and whether the dot is green. */
  function status(page) {
    return page.evaluate(() => {
      const status = document.getElementById("status");
      return { text: status.textContent, green: status.classList.contains("open") };
    });
  }

  let alice;
  let bob;

  test("two people chat", async () => {
    alice = await visit();
    bob = await visit();
    await enter(alice, "alice", "general");
    await enter(bob, "bob", "general");
    await say(alice, "hi bob");
    await bob.locator("#messages li", { hasText: "hi bob" }).waitFor(WAIT);
    await alice.locator("#messages li", { hasText: "hi bob" }).waitFor(WAIT);
  });

  test("a server restart: the status agrees, the history stays with a note, typed text is kept", async () => {
    await server.kill();
    await alice.waitForFunction(() => document.getElementById("status").textContent !== "connected", null, WAIT);
    await alice.fill("#message-input", "typed during the outage");
    assert.equal(await alice.locator("#send").isDisabled(), true, "no sending while disconnected");
    assert.equal((await status(alice)).green, false);

    await server.start();
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.getElementById("status").textContent === "connected", null, WAIT);
      await page.locator("#messages li.event", { hasText: "Reconnected" }).waitFor(WAIT);
      assert.deepEqual(await status(page), { text: "connected", green: true });
      assert.equal(await page.locator("#error").isHidden(), true, "no error banner next to a green dot");
      assert.equal(await shown(page, "hi bob"), 1, "the history is still shown, once");
    }
    assert.equal(await alice.inputValue("#message-input"), "typed during the outage");
    await alice.click("#send");
    await bob.locator("#messages li", { hasText: "typed during the outage" }).waitFor(WAIT);
    assert.equal(await alice.inputValue("#message-input"), "");
  });

  test("a message over the limit is refused in words, once, and its text is kept", async () => {
    const long = "x".repeat(20_000);
    await say(alice, long);
    await alice.locator("#message-input-hint", { hasText: "at most 500 characters" }).waitFor(WAIT);
    assert.equal(await alice.inputValue("#message-input"), long);
    assert.equal(await shown(alice, "at most 500 characters"), 1);

    // A room name that long makes a frame over the server's 16 KiB limit.
    await alice.fill("#room-input", "r".repeat(20_000));
    await alice.press("#room-input", "Enter");
    const hint = alice.locator("#room-input-hint", { hasText: "too long to send" });
    await hint.waitFor(WAIT);
    assert.match(await hint.innerText(), /\(20 KB; at most 16 KB\)/);
    assert.equal(await shown(alice, "too long to send"), 1);
    assert.equal(await shown(alice, "bytes; the limit is"), 0, "no wire wording");
    assert.equal(await alice.locator("#error").isHidden(), true);
    assert.equal((await alice.inputValue("#room-input")).length, 20_000);
  });

  test("a validation error shows once, under its field, with the text kept", async () => {
    await alice.fill("#room-input", "");
    await say(alice, "   ");
    await alice.locator("#message-input-hint", { hasText: "Must not be blank" }).waitFor(WAIT);
    assert.equal(await shown(alice, "ust not be blank"), 1);
    assert.equal(await alice.locator("#error").isHidden(), true);
    assert.equal(await alice.inputValue("#message-input"), "   ");
  });

  test("a 390 px wide window keeps the messages readable", async () => {
    const phone = await visit({ width: 390, height: 844 });
    await enter(phone, "carol", "general");
    await say(phone, "hello from a phone, with a sentence long enough to wrap onto a second line");
    await phone.locator("#messages li", { hasText: "hello from a phone" }).waitFor(WAIT);
    await phone.screenshot({ path: `${SCREENSHOTS}/chat-390.png`, fullPage: true });
    const width = await phone.locator("#messages").evaluate((list) => list.getBoundingClientRect().width);
    assert.ok(width >= 300, `the message column is ${width} px wide`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.equal(overflow, 0, "nothing sticks out sideways");
  });

  test("a reload keeps the name and the rooms", async () => {
    await alice.fill("#room-input", "random");
    await alice.press("#room-input", "Enter");
    await alice.locator("#room-title", { hasText: "# random" }).waitFor(WAIT);
    await alice.reload();
    await alice.locator("#me", { hasText: "You are alice" }).waitFor(WAIT);
    await alice.locator("#room-list li", { hasText: "# general" }).waitFor(WAIT);
    await alice.locator("#room-list li", { hasText: "# random" }).waitFor(WAIT);
    await alice.locator("#room-title", { hasText: "# random" }).waitFor(WAIT);
    assert.equal(await alice.locator("#login").isHidden(), true, "no name asked again");
    await alice.locator("#room-list li", { hasText: "# general" }).click();
    await alice.locator("#messages li", { hasText: "typed during the outage" }).waitFor(WAIT);
  });

  test("a tab that lost its connection shows what was said meanwhile, once each, in order", async () => {
    // Dana's tab reaches the server through a proxy that the test cuts: no close frame, as
    // when a laptop sleeps or a network drops.
    const proxy = await TcpProxy.start(server.port);
    const dana = await visit(undefined, `http://127.0.0.1:${proxy.port}/`);
    const erin = await visit();
    try {
      await enter(dana, "dana", "resume");
      await enter(erin, "erin", "resume");
      await say(erin, "before the outage");
      await dana.locator("#messages li", { hasText: "before the outage" }).waitFor(WAIT);

      proxy.cut();
      await dana.waitForFunction(() => document.getElementById("status").textContent !== "connected", null, WAIT);
      const missed = ["missed one", "missed two", "missed three"];
      for (const text of missed) {
        await say(erin, text);
        await erin.locator("#messages li", { hasText: text }).waitFor(WAIT);
      }
      proxy.restore();
      // Resumed: the messages were replayed, not fetched again.
      await dana.locator("#messages li.event", { hasText: "The 3 messages above arrived while you were away." }).waitFor(WAIT);
      assert.deepEqual(await status(dana), { text: "connected", green: true });
      await say(erin, "after the outage");
      await dana.locator("#messages li", { hasText: "after the outage" }).waitFor(WAIT);
      const said = await dana
        .locator("#messages li:not(.event)")
        .evaluateAll((lines) => lines.map((line) => line.lastElementChild.textContent));
      assert.deepEqual(said, ["before the outage", ...missed, "after the outage"]);
      assert.equal(await shown(dana, "missed message"), 0, "no history fetched after a resume");
      assert.equal(await shown(dana, "dana left"), 0, "her own lost connection is not news to her");
      await dana.screenshot({ path: `${SCREENSHOTS}/chat-resumed.png` });
    } finally {
      // Closed first: a tab left reconnecting could reach a later proxy on the same port.
      await Promise.all([dana, erin].map((page) => page.context().close()));
      await proxy.close();
    }
  });

  test("a tab whose session could not be resumed fetches what it missed", async () => {
    const proxy = await TcpProxy.start(server.port);
    const fay = await visit(undefined, `http://127.0.0.1:${proxy.port}/`);
    const gus = await visit();
    try {
      await enter(fay, "fay", "refused");
      await enter(gus, "gus", "refused");
      await say(gus, "before the outage");
      await fay.locator("#messages li", { hasText: "before the outage" }).waitFor(WAIT);

      proxy.cut();
      const resuming = proxy.nextRequest("wskit-resume=");
      await fay.waitForFunction(() => document.getElementById("status").textContent !== "connected", null, WAIT);
      const missed = ["missed one", "missed two", "missed three"];
      for (const text of missed) {
        await say(gus, text);
        await gus.locator("#messages li", { hasText: text }).waitFor(WAIT);
      }
      // Before Fay's tab gets through, another connection resumes its session (as a copy
      // of the tab would) and ends it: the tab's own resume is refused, what was missed
      // went elsewhere.
      const [, ask] = /wskit-resume=([0-9a-f]{32}:\d+)/.exec(await resuming);
      const other = new WebSocket(`ws://127.0.0.1:${server.port}/ws?wskit-resume=${ask}`);
      const [first] = await once(other, "message", { signal: AbortSignal.timeout(WAIT.timeout) });
      assert.equal(JSON.parse(first.data).payload.resumed, true, first.data);
      other.close(1000);
      await once(other, "close", { signal: AbortSignal.timeout(WAIT.timeout) });
      proxy.restore();

      await fay.locator("#messages li.event", { hasText: "3 missed messages loaded" }).waitFor(WAIT);
      assert.deepEqual(await status(fay), { text: "connected", green: true });
      await say(gus, "after the outage");
      await fay.locator("#messages li", { hasText: "after the outage" }).waitFor(WAIT);
      const said = await fay
        .locator("#messages li:not(.event)")
        .evaluateAll((lines) => lines.map((line) => line.lastElementChild.textContent));
      assert.deepEqual(said, ["before the outage", ...missed, "after the outage"]);
      await fay.screenshot({ path: `${SCREENSHOTS}/chat-refused.png` });
    } finally {
      await Promise.all([fay, gus].map((page) => page.context().close()));
      await proxy.close();
    }
  });
});
