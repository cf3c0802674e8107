#!/usr/bin/env node
// Cloudflare Agents SDK client (agents/client, AgentClient) against
// agentbridge, exactly like the Agents "Using WebSockets" doc:
//
//   node agents_client.mjs HOST:PORT
//   node agents_client.mjs HOST:PORT ready AGENT NAME PREFIX
//
// AgentClient builds ws://HOST:PORT/agents/dialogue-agent/insight-seeker
// (partysocket picks ws:// for 127.0.0.1:PORT). Node 20 has no global
// WebSocket, so the `ws` package's is passed as the WebSocket option.
//
// The first form is for a plain route: every frame received must be the
// reply "You said: <the doc's JSON inquiry>".
// "ready" is for an `agents` route at /agents/AGENT/NAME: AgentClient's
// `ready` must resolve (on the server's cf_agent_identity, whose name and
// agent must be NAME and AGENT), a cf_agent_mcp_servers frame must arrive,
// and then the inquiry, sent as app JSON (not an SDK envelope), must be
// answered with one text frame PREFIX + inquiry, as a plain route answers.
// Exits 0 when the reply is right, 1 with a "FAIL: ..." line otherwise.
import { AgentClient } from "agents/client";
import WebSocket from "ws";
import { readFileSync } from "node:fs";

const TIMEOUT_MS = 20000;
const [host, mode = "plain", agentArg, nameArg, prefix = "You said: "] = process.argv.slice(2);

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}

if (!host || (mode !== "plain" && mode !== "ready") || (mode === "ready" && (!agentArg || !nameArg))) {
  fail("usage: agents_client.mjs HOST:PORT [ready AGENT NAME [PREFIX]]");
}
const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;
console.log(`agents ${version("agents")}, partysocket ${version("partysocket")}, ws ${version("ws")}, node ${process.version}`);
const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS}ms`), TIMEOUT_MS);

const agentName = mode === "ready" ? agentArg : "dialogue-agent";
const instance = mode === "ready" ? nameArg : "insight-seeker";
const connection = new AgentClient({
  agent: agentName,
  name: instance,
  host,
  WebSocket,
  maxRetries: 0, // a refused or dropped connection fails the test, not a retry loop
});

const message = JSON.stringify({
  type: "inquiry",
  content: "What patterns do you see?",
});
const want = `${prefix}${message}`;

connection.addEventListener("open", () => console.log(`open ${connection.url}`));
// partysocket dispatches "close" before "error" when a handshake is refused
// (e.g. "Unexpected server response: 404"), so failures wait a tick to
// report both.
let lastError = "";
const failSoon = (msg) => setTimeout(() => fail(`${msg}${lastError ? `; error: ${lastError}` : ""} (url ${connection.url})`), 20);
connection.addEventListener("error", (event) => {
  lastError = event.message || (event.error && event.error.message) || event.type;
  if (!replied) failSoon("socket error");
});
connection.addEventListener("close", (event) => {
  if (!replied) failSoon(`closed before the reply: ${event.code} ${event.reason}`);
});

// The SDK's own envelopes (identity, state, MCP servers) in "ready" mode.
const protocolFrames = [];
function sdkEnvelope(data) {
  if (mode !== "ready" || typeof data !== "string") return null;
  try {
    const f = JSON.parse(data);
    return f && typeof f.type === "string" && (f.type.startsWith("cf_agent_") || f.type === "rpc") ? f : null;
  } catch {
    return null;
  }
}

let replied = false;
connection.addEventListener("message", (event) => {
  console.log("Received:", event.data);
  const envelope = sdkEnvelope(event.data);
  if (envelope) {
    protocolFrames.push(envelope);
    return;
  }
  if (event.data !== want) fail(`reply: got ${JSON.stringify(event.data)}, want ${JSON.stringify(want)}`);
  replied = true;
  connection.addEventListener("close", (e) => {
    clearTimeout(timer);
    console.log(`closed ${e.code}`);
    console.log("PASS: agents");
    process.exit(0);
  });
  connection.close(1000, "done");
});

if (mode === "plain") {
  // Sent before open: partysocket buffers it and sends on connect, as in the doc.
  connection.send(message);
} else {
  await connection.ready;
  console.log(`ready: identified=${connection.identified} agent=${connection.agent} name=${connection.name}`);
  if (!connection.identified) fail("ready resolved but identified is false");
  if (connection.agent !== agentName || connection.name !== instance) {
    fail(`identity: got agent ${JSON.stringify(connection.agent)} name ${JSON.stringify(connection.name)}, want ${JSON.stringify(agentName)} ${JSON.stringify(instance)}`);
  }
  const deadline = Date.now() + 5000;
  while (!protocolFrames.some((f) => f.type === "cf_agent_mcp_servers")) {
    if (Date.now() > deadline) fail(`no cf_agent_mcp_servers frame within 5s of ready; SDK frames: ${JSON.stringify(protocolFrames)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const types = protocolFrames.map((f) => f.type);
  if (types[0] !== "cf_agent_identity") fail(`the first SDK frame is ${types[0]}, want cf_agent_identity (frames: ${JSON.stringify(types)})`);
  const mcp = protocolFrames.find((f) => f.type === "cf_agent_mcp_servers").mcp;
  if (!mcp || typeof mcp.servers !== "object" || mcp.servers === null || Object.keys(mcp.servers).length !== 0) {
    fail(`cf_agent_mcp_servers: want an empty server set, got ${JSON.stringify(mcp)}`);
  }
  console.log(`SDK frames on connect: ${JSON.stringify(types)}`);
  connection.send(message);
}
