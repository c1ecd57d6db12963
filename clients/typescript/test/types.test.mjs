// The typing contract, checked by the TypeScript compiler: a sample using the chat
// protocol type-checks, so does the chat page's script, and each `fail_*.ts` beside it fails with the one error expected.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const TYPES = fileURLToPath(new URL("./types/", import.meta.url));
const TSC = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));

/** Runs tsc on `file` with the settings of `types/tsconfig.json`; its diagnostics. */
async function check(file) {
  const dir = await mkdtemp(join(tmpdir(), "wskit-types-"));
  try {
    const config = join(dir, "tsconfig.json");
    await writeFile(config, JSON.stringify({ extends: join(TYPES, "tsconfig.json"), files: [join(TYPES, file)] }));
    const run = promisify(execFile)(process.execPath, [TSC, "-p", config, "--pretty", "false"]);
    const { stdout } = await run.catch((failure) => failure);
    return stdout.split("\n").filter((line) => line.includes("error TS"));
  } finally {
    await rm(dir, { recursive: true });
  }
}

test("a sample using the chat protocol type-checks", async () => {
  assert.deepEqual(await check("pass.ts"), []);
});

test("the chat page's script type-checks against the chat protocol", async () => {
  assert.deepEqual(await check("../../../../examples/chat/chat.js"), []);
});

const FAILURES = {
  "fail_misspelled_type.ts": [
    "error TS2345",
    `Argument of type '"JION_ROOM"' is not assignable to parameter of type 'ClientType<ChatProtocol>'`,
  ],
  "fail_wrong_field.ts": ["error TS2353", "'room' does not exist in type 'JoinRoom'"],
  "fail_not_a_request.ts": ["error TS2345", `Argument of type '"SEND_MESSAGE"' is not assignable to parameter of type '"GET_HISTORY"'`],
  "fail_response_type.ts": ["error TS2339", "Property 'members' does not exist on type 'History'"],
};

for (const [file, expected] of Object.entries(FAILURES)) {
  test(`${file} fails with one error`, async () => {
    const errors = await check(file);
    assert.equal(errors.length, 1, errors.join("\n"));
    for (const part of expected) assert.ok(errors[0].includes(part), `expected ${part} in:\n${errors[0]}`);
  });
}
