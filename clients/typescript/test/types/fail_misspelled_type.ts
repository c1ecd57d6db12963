import { createClient } from "@wskit/client";
import type { ChatProtocol } from "../../../../examples/chat/generated/chat";

const client = createClient<ChatProtocol>({ url: "/ws" });
client.send("JION_ROOM", { roomId: "general" });
