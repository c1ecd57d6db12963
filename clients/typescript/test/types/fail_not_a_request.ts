import { createClient } from "@wskit/client";
import type { ChatProtocol } from "../../../../examples/chat/protocol";

const client = createClient<ChatProtocol>({ url: "/ws" });
export const answer = client.request("SEND_MESSAGE", { roomId: "general", text: "hi" });
