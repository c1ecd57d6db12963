import { createClient } from "@wskit/client";
import type { ChatProtocol } from "../../../../examples/chat/generated/chat";

const client = createClient<ChatProtocol>({ url: "/ws" });
export const answer = client.request("SEND_MESSAGE", { roomId: "general", text: "hi" });
