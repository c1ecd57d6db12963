// @ts-check
// The chat page's script: the typed wskit client (`@wskit/client`, served at /client/ from
// clients/typescript/dist) with the chat protocol generated from router.rs (generated/chat.ts). Type-checked by
// clients/typescript/test/types.test.mjs.

import { createClient } from "@wskit/client";

/** @typedef {import("./generated/chat").ChatProtocol} ChatProtocol */
/** @typedef {import("./generated/chat").NewMessage} NewMessage */
/** @typedef {import("@wskit/client").WsKitError} WsKitError */
/** @typedef {import("@wskit/client").SessionEvent} SessionEvent */
/**
 * A line of a room: a message, or an event such as a join.
 * @typedef {{ from: { id: string; name: string }; text: string; at: number } | { event: string }} Line
 */
/** @typedef {{ members: Map<string, string>; lines: Line[]; unread: number }} Room */

const LINES_PER_ROOM = 200; // lines kept per room in the page
const HISTORY_LIMIT = 50; // what a room keeps on the server (HISTORY_PER_ROOM in router.rs)
const TEXT_LIMIT = 500; // SEND_MESSAGE's text limit (router.rs)
const SAVED = "wskit-chat"; // the localStorage key of the name and the rooms

// Where the server's validation issues point (`details.issues[].path`) -> the input.
/** @type {Record<string, string>} */
const FIELDS = {
  "payload.name": "name-input",
  "payload.roomId": "room-input",
  "payload.text": "message-input",
};

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

// With `resume`, a reconnect within the server's resume window takes the session back: the
// messages sent to this tab meanwhile are replayed, in order, and simply appear.
/** @type {import("@wskit/client").WsKitClient<ChatProtocol>} */
const client = createClient({ url: "/ws", resume: true, reconnect: { initialDelayMs: 300, maxDelayMs: 5_000 } });

const state = {
  /** @type {{ clientId: string; name: string } | null} */
  me: null,
  /** @type {Map<string, Room>} */
  rooms: new Map(),
  /** @type {string | null} the room shown */
  active: null,
  /** @type {string | null} the room just asked for, shown once its ROOM_STATE arrives */
  joining: null,
  /** @type {string | null} the input the last thing the user sent came from */
  lastField: null,
  /**
   * The rooms shown when the socket was lost, until their ROOM_STATE after the reconnect,
   * each with how many of its messages arrived since (replayed, when the session resumed).
   * @type {Map<string, number>}
   */
  rejoining: new Map(),
  /** @type {SessionEvent | null} what became of the session on the current socket */
  session: null,
};

// ---- Remembered across reloads ----

/** @returns {{ name?: string; rooms?: string[]; active?: string | null }} */
function loadSaved() {
  try {
    return JSON.parse(localStorage.getItem(SAVED) ?? "{}");
  } catch {
    return {};
  }
}

function save() {
  const saved = { name: state.me?.name, rooms: [...state.rooms.keys()], active: state.active };
  try {
    localStorage.setItem(SAVED, JSON.stringify(saved));
  } catch {
    // Storage full or disabled: the page still works, it just forgets on reload.
  }
}

// ---- Connection ----

client.onState((now, info) => {
  const status = $("status");
  status.className = `status ${now === "open" ? "open" : "closed"}`;
  status.textContent =
    now === "open"
      ? "connected"
      : now === "reconnecting" && info.delayMs !== undefined
        ? `reconnecting in ${(info.delayMs / 1000).toFixed(1)} s`
        : now;
  if (now === "reconnecting") {
    state.session = null;
    for (const roomId of state.rooms.keys()) {
      if (!state.rejoining.has(roomId)) state.rejoining.set(roomId, 0);
    }
  }
  if (now === "open") {
    // The server knows nothing of a new connection: tell it who we are again; the
    // WELCOME handler then rejoins our rooms.
    const name = state.me?.name ?? loadSaved().name;
    if (name) client.send("SET_NAME", { name });
  }
  renderComposer();
});

client.onSession((event) => {
  state.session = event;
  // Refused: a new session, and what was sent meanwhile is lost; each room's ROOM_STATE
  // (the rooms are rejoined on WELCOME) then fetches the history it missed.
  if (event.status === "refused") console.info(`the session could not be resumed (${event.reason}); resyncing`);
});

// ---- Frames from the server ----

client.on("WELCOME", (welcome) => {
  state.me = { clientId: welcome.clientId, name: welcome.name };
  $("me").textContent = `You are ${welcome.name}`;
  $("login").hidden = true;
  $("chat").hidden = false;
  clearErrors();
  const saved = loadSaved();
  const rooms = state.rooms.size ? [...state.rooms.keys()] : (saved.rooms ?? []);
  if (!state.active && saved.active && rooms.includes(saved.active)) state.active = saved.active;
  for (const roomId of rooms) client.send("JOIN_ROOM", { roomId });
  if (!rooms.length) input("room-input").focus();
  save();
});

client.on("ROOM_STATE", (room) => {
  const known = state.rooms.get(room.roomId);
  const shown = roomOf(room.roomId);
  shown.members = new Map(room.members.map((member) => [member.id, member.name]));
  const arrived = state.rejoining.get(room.roomId);
  state.rejoining.delete(room.roomId);
  if (!known || arrived === undefined) {
    shown.lines = room.history.map(messageLine);
  } else if (state.session?.status === "resumed") {
    // Nothing was lost: the messages sent meanwhile were replayed, and are shown already.
    const note = arrived
      ? `Reconnected. The ${arrived === 1 ? "message" : `${arrived} messages`} above arrived while you were away.`
      : "Reconnected. Nothing was missed.";
    addLine(room.roomId, { event: note });
  } else {
    void reloadHistory(room.roomId);
  }
  if (state.joining === room.roomId || !state.active) {
    state.active = room.roomId;
    state.joining = null;
    input("room-input").value = "";
  }
  if (state.active === room.roomId) shown.unread = 0;
  save();
  render();
});

client.on("MEMBER_JOINED", (joined) => {
  roomOf(joined.roomId).members.set(joined.member.id, joined.member.name);
  addLine(joined.roomId, { event: `${joined.member.name} joined` });
});

client.on("MEMBER_LEFT", (left) => {
  roomOf(left.roomId).members.delete(left.member.id);
  // This tab's own lost connection leaving, replayed by a resumed session: it is back.
  if (left.member.id === state.me?.clientId) return;
  addLine(left.roomId, { event: `${left.member.name} left` });
});

client.on("NEW_MESSAGE", (message) => {
  const arrived = state.rejoining.get(message.roomId);
  if (arrived !== undefined) state.rejoining.set(message.roomId, arrived + 1);
  addLine(message.roomId, messageLine(message));
});

client.onError(showError);

/**
 * After a reconnect: asks the server for the room's history and adds what this page missed,
 * with a note, instead of replacing what is shown.
 * @param {string} roomId
 */
async function reloadHistory(roomId) {
  let note;
  try {
    const { messages } = await client.request("GET_HISTORY", { roomId, limit: HISTORY_LIMIT }, { timeoutMs: 10_000 });
    const room = state.rooms.get(roomId);
    if (!room) return;
    const shown = new Set(room.lines.map(lineKey));
    const missed = messages.map(messageLine).filter((line) => !shown.has(lineKey(line)));
    room.lines.push(...missed);
    const newest = (/** @type {Line} */ line) => ("at" in line ? line.at : 0);
    room.lines.sort((a, b) => newest(a) - newest(b));
    note =
      messages.length === 0 && room.lines.some((line) => "from" in line)
        ? "Reconnected. The server has no history of this room (it restarted); the messages above are from before."
        : `Reconnected. ${missed.length ? `${missed.length} missed message${missed.length === 1 ? "" : "s"} loaded.` : "Nothing was missed."}`;
  } catch (error) {
    note = `Reconnected, but the history could not be loaded (${/** @type {Error} */ (error).message}).`;
  }
  addLine(roomId, { event: note });
}

/** @param {string} roomId */
function roomOf(roomId) {
  let room = state.rooms.get(roomId);
  if (!room) state.rooms.set(roomId, (room = { members: new Map(), lines: [], unread: 0 }));
  return room;
}

/** @param {NewMessage} message @returns {Line} */
function messageLine(message) {
  return { from: message.from, text: message.text, at: message.sentAt };
}

/** @param {Line} line */
function lineKey(line) {
  return "event" in line ? `event:${line.event}` : `${line.at}:${line.from.id}:${line.text}`;
}

/** @param {string} roomId @param {Line} line */
function addLine(roomId, line) {
  const room = state.rooms.get(roomId);
  if (!room) return; // a frame for a room we just left
  room.lines.push(line);
  if (room.lines.length > LINES_PER_ROOM) room.lines.shift();
  if (roomId !== state.active && "from" in line) room.unread++;
  render();
}

// ---- Errors: each shown once, under its input when it is about one, else in the banner ----

/** @param {WsKitError} error */
function showError(error) {
  const issues = error.issues;
  const observed = error.details?.observed;
  const limit = error.details?.limit;
  if (error.code === "RESOURCE_EXHAUSTED" && typeof observed === "number" && typeof limit === "number") {
    const kb = (/** @type {number} */ bytes) => `${Math.ceil(bytes / 1024)} KB`;
    return showHint(
      state.lastField ?? "message-input",
      `That is too long to send (${kb(observed)}; at most ${kb(limit)}). Shorten it and send again.`,
    );
  }
  const unplaced = issues.filter((issue) => !(issue.path in FIELDS));
  for (const issue of issues) {
    if (issue.path in FIELDS) showHint(FIELDS[issue.path], sentence(issue.message));
  }
  if (issues.length && !unplaced.length) return;
  $("error-message").textContent = issues.length ? "The server refused that:" : sentence(error.message);
  $("error-issues").replaceChildren(...unplaced.map((issue) => element("li", {}, `${issue.path}: ${issue.message}`)));
  $("error").hidden = false;
}

/**
 * Shows `message` under input `id`, and gives the input back the text just sent from it.
 * @param {string} id @param {string} message
 */
function showHint(id, message) {
  const field = input(id);
  $(`${id}-hint`).textContent = message;
  field.classList.add("invalid");
  if (id === "name-input") $("login").hidden = false;
  if (id === "message-input" && !field.value) field.value = sentText;
}

/** @param {string} text */
function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

function clearErrors() {
  $("error").hidden = true;
  for (const id of Object.values(FIELDS)) {
    input(id).classList.remove("invalid");
    $(`${id}-hint`).textContent = "";
  }
}

$("error-close").onclick = clearErrors;
for (const id of Object.values(FIELDS)) input(id).addEventListener("input", clearErrors);

// ---- What the user does ----

/** The text last sent from the composer, given back if the server refuses it. */
let sentText = "";

$("login").onsubmit = (event) => {
  event.preventDefault();
  clearErrors();
  state.lastField = "name-input";
  client.send("SET_NAME", { name: input("name-input").value });
};

$("join-form").onsubmit = (event) => {
  event.preventDefault();
  clearErrors();
  state.lastField = "room-input";
  state.joining = input("room-input").value.trim();
  client.send("JOIN_ROOM", { roomId: state.joining });
};

$("composer").onsubmit = (event) => {
  event.preventDefault();
  if (!client.isConnected || !state.active) return; // the text stays in the input
  clearErrors();
  const text = input("message-input").value;
  const length = [...text].length;
  if (length > TEXT_LIMIT) {
    return showHint("message-input", `Messages can be at most ${TEXT_LIMIT} characters; this one has ${length}.`);
  }
  state.lastField = "message-input";
  sentText = text;
  client.send("SEND_MESSAGE", { roomId: state.active, text });
  input("message-input").value = "";
};

$("leave").onclick = () => {
  if (!state.active) return;
  client.send("LEAVE_ROOM", { roomId: state.active });
  state.rooms.delete(state.active);
  state.rejoining.delete(state.active);
  state.active = state.rooms.keys().next().value ?? null;
  save();
  render();
};

/** @param {string} roomId */
function select(roomId) {
  state.active = roomId;
  roomOf(roomId).unread = 0;
  save();
  render();
  input("message-input").focus();
}

// ---- Rendering (user text only ever goes through textContent) ----

/**
 * @param {string} tag @param {Record<string, unknown>} attributes @param {(Node | string)[]} children
 */
function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attributes);
  node.append(...children);
  return node;
}

/** The composer: usable only while connected; typed text always stays. */
function renderComposer() {
  const open = client.isConnected;
  /** @type {HTMLButtonElement} */ ($("send")).disabled = !open;
  $("composer-note").textContent = open ? "" : "Not connected: your text stays here; send it once reconnected.";
}

function render() {
  $("room-list").replaceChildren(
    ...[...state.rooms].map(([roomId, room]) =>
      element(
        "li",
        { className: roomId === state.active ? "active" : "", onclick: () => select(roomId) },
        element("span", {}, `# ${roomId}`),
        room.unread ? element("span", { className: "badge" }, String(room.unread)) : "",
      ),
    ),
  );

  const room = state.active === null ? undefined : state.rooms.get(state.active);
  $("no-room").hidden = !!room;
  $("room-header").hidden = $("room-body").hidden = $("composer").hidden = !room;
  if (!room) return;

  $("room-title").textContent = `# ${state.active}`;
  $("member-count").textContent = `${room.members.size} here`;
  $("member-list").replaceChildren(
    ...[...room.members]
      .sort(([, a], [, b]) => a.localeCompare(b))
      .map(([id, name]) => element("li", {}, id === state.me?.clientId ? `${name} (you)` : name)),
  );

  const messages = $("messages");
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  messages.replaceChildren(...room.lines.map(renderLine));
  if (atBottom) messages.scrollTop = messages.scrollHeight;
}

/** @param {Line} line */
function renderLine(line) {
  if ("event" in line) return element("li", { className: "event" }, line.event);
  const time = new Date(line.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return element(
    "li",
    { className: line.from.id === state.me?.clientId ? "mine" : "" },
    element("time", {}, time),
    element("span", { className: "who" }, line.from.name),
    element("span", {}, line.text),
  );
}

// A remembered name skips the login form; the rooms are rejoined on WELCOME.
const saved = loadSaved();
if (saved.name) {
  input("name-input").value = saved.name;
  $("login").hidden = true;
  $("me").textContent = `You are ${saved.name}`;
}
renderComposer();
void client.connect();
