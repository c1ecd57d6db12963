// The reconnect delay: exponential ceilings and full jitter, with an injected random.

import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffCeiling, backoffDelay, RECONNECT_DEFAULTS } from "../dist/index.js";

test("ceilings double from 300 ms up to the 10 s cap", () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffCeiling(attempt, RECONNECT_DEFAULTS));
  assert.deepEqual(ceilings, [300, 600, 1200, 2400, 4800, 9600, 10_000, 10_000]);
  assert.equal(backoffCeiling(5000, RECONNECT_DEFAULTS), 10_000);
});

test("full jitter spans zero to the ceiling, inclusive", () => {
  assert.equal(backoffDelay(2, RECONNECT_DEFAULTS, () => 0), 0);
  assert.equal(backoffDelay(2, RECONNECT_DEFAULTS, () => 0.5), 600);
  assert.equal(backoffDelay(2, RECONNECT_DEFAULTS, () => 0.999_999_9), 1200);
  const options = { ...RECONNECT_DEFAULTS, initialDelayMs: 100, maxDelayMs: 250 };
  assert.equal(backoffDelay(3, options, () => 0.999_999_9), 250);
});

test("Math.random by default, always within the ceiling", () => {
  const delays = Array.from({ length: 200 }, () => backoffDelay(1, RECONNECT_DEFAULTS));
  assert.ok(delays.every((delay) => Number.isInteger(delay) && delay >= 0 && delay <= 600));
  assert.ok(new Set(delays).size > 1, "the delay varies");
});
