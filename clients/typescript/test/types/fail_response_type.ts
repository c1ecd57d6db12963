import { createClient } from "@wskit/client";
import type { ChatProtocol } from "../../../../examples/chat/generated/chat";

const client = createClient<ChatProtocol>({ url: "/ws" });
export async function count(): Promise<number> {
  const answer = await client.request("GET_HISTORY", { roomId: "general", limit: 20 });
  return answer.members.length;
}
