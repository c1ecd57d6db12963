// Type-checks: the chat protocol types every call of the client.
import { createClient, RpcError, type WsKitClient } from "@wskit/client";
import type { ChatProtocol, NewMessage } from "../../../../examples/chat/generated/chat";

const client: WsKitClient<ChatProtocol> = createClient<ChatProtocol>({ url: "/ws" });

client.send("JOIN_ROOM", { roomId: "general" });
client.send("SEND_MESSAGE", { roomId: "general", text: "hello" });

client.on("NEW_MESSAGE", (message) => {
  const text: string = message.text;
  const sentAt: number = message.sentAt;
  void [text, sentAt];
});

export async function history(): Promise<NewMessage[]> {
  try {
    const answer = await client.request("GET_HISTORY", { roomId: "general", limit: 20 }, { timeoutMs: 5_000 });
    const roomId: string = answer.roomId;
    void roomId;
    return answer.messages;
  } catch (error) {
    if (error instanceof RpcError && error.retryable) return [];
    throw error;
  }
}

// Untyped, the client takes any type and payload.
const untyped = createClient({ url: "ws://127.0.0.1:3000/ws" });
untyped.send("ANYTHING", { at: "all" });
untyped.send("PING");
export const anything: Promise<unknown> = untyped.request("WHATEVER", { id: 1 });
