// An AIChatAgent Worker for the agentbridge end-to-end suite
// (../../agents_backend_test.go): the real Cloudflare Agents SDK server
// (@cloudflare/ai-chat's AIChatAgent behind agents' routeAgentRequest),
// whose model is the AI SDK's mock language model, so replies are
// deterministic and need no network.
//
// The model answers the conversation's last user message with
// REPLY_PREFIX + its text, streamed word by word (each word with its
// trailing space a text-delta, CHUNK_DELAY_MS apart). The Durable Object
// binding is ChatAgent, so the socket is /agents/chat-agent/<name>.
import { AIChatAgent } from "@cloudflare/ai-chat";
import { routeAgentRequest } from "agents";
import { convertToModelMessages, simulateReadableStream, streamText } from "ai";
import { MockLanguageModelV4 } from "ai/test";

const REPLY_PREFIX = "Worker heard: ";
const CHUNK_DELAY_MS = 10;

// lastUserText: the text parts of the prompt's last user message, joined.
function lastUserText(prompt) {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const m = prompt[i];
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    return m.content
      .filter((p) => p.type === "text")
      .map((p) => p.text)
      .join("");
  }
  return "";
}

// mockModel: a MockLanguageModelV4 (ai 7's spec) streaming the reply.
function mockModel() {
  return new MockLanguageModelV4({
    provider: "agentbridge-e2e",
    modelId: "echo-words",
    doStream: async ({ prompt }) => {
      const heard = lastUserText(prompt);
      const reply = REPLY_PREFIX + heard;
      const words = reply.match(/\S+\s*/g) ?? [];
      const chunks = [
        { type: "stream-start", warnings: [] },
        { type: "text-start", id: "t0" },
        ...words.map((w) => ({ type: "text-delta", id: "t0", delta: w })),
        { type: "text-end", id: "t0" },
        {
          type: "finish",
          finishReason: { unified: "stop", raw: "stop" },
          usage: {
            inputTokens: { total: heard.split(/\s+/).filter(Boolean).length, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
            outputTokens: { total: words.length, text: words.length, reasoning: 0 },
          },
        },
      ];
      return { stream: simulateReadableStream({ chunks, chunkDelayInMs: CHUNK_DELAY_MS }) };
    },
  });
}

export class ChatAgent extends AIChatAgent {
  async onChatMessage(onFinish, options) {
    const result = streamText({
      model: mockModel(),
      messages: await convertToModelMessages(this.messages),
      onFinish,
      abortSignal: options?.abortSignal,
    });
    return result.toUIMessageStreamResponse();
  }
}

export default {
  async fetch(request, env) {
    return (await routeAgentRequest(request, env)) ?? new Response("not found\n", { status: 404 });
  },
};
