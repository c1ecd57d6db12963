/**
 * The chat router's messages (`router.rs` beside this file) as TypeScript types, for the
 * typed client (`clients/typescript`): written by hand to mirror router.rs until the
 * generated file replaces this one. Keep every type here, so that the swap is one file.
 */

/** Someone in a room; `id` is the connection id (names need not be unique). */
export interface Member {
  id: string;
  name: string;
}

/** A message said in a room; `sentAt` is when the server received it, in ms since the epoch. */
export interface NewMessage {
  roomId: string;
  from: Member;
  text: string;
  sentAt: number;
}

export interface ChatProtocol {
  /** What a client may send: type -> payload type (`undefined` for a message without payload). */
  client: {
    SET_NAME: { name: string };
    JOIN_ROOM: { roomId: string };
    LEAVE_ROOM: { roomId: string };
    SEND_MESSAGE: { roomId: string; text: string };
    GET_HISTORY: { roomId: string; limit: number };
  };
  /** What the server may send: type -> payload type. */
  server: {
    WELCOME: { clientId: string; name: string };
    ROOM_STATE: { roomId: string; members: Member[]; history: NewMessage[] };
    MEMBER_JOINED: { roomId: string; member: Member };
    MEMBER_LEFT: { roomId: string; member: Member };
    NEW_MESSAGE: NewMessage;
    HISTORY: { roomId: string; messages: NewMessage[] };
  };
  /** RPC requests: request type -> response type (a key of `server`). */
  rpc: { GET_HISTORY: "HISTORY" };
}
