#!/usr/bin/env node
// Cloudflare Agents SDK client (agents/client, AgentClient) against
// agentbridge, exactly like the Agents "Using WebSockets" doc:
//
//   node agents_client.mjs HOST:PORT
//
// AgentClient builds ws://HOST:PORT/agents/dialogue-agent/insight-seeker
// (partysocket picks ws:// for 127.0.0.1:PORT). Node 20 has no global
// WebSocket, so the `ws` package's is passed as the WebSocket option.
// Exits 0 when the reply is right, 1 with a "FAIL: ..." line otherwise.
import { AgentClient } from "agents/client";
import WebSocket from "ws";
import { readFileSync } from "node:fs";

const TIMEOUT_MS = 20000;
const host = process.argv[2];

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}

if (!host) fail("usage: agents_client.mjs HOST:PORT");
const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;
console.log(`agents ${version("agents")}, partysocket ${version("partysocket")}, ws ${version("ws")}, node ${process.version}`);
const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS}ms`), TIMEOUT_MS);

const connection = new AgentClient({
  agent: "dialogue-agent",
  name: "insight-seeker",
  host,
  WebSocket,
  maxRetries: 0, // a refused or dropped connection fails the test, not a retry loop
});

const message = JSON.stringify({
  type: "inquiry",
  content: "What patterns do you see?",
});
const want = `You said: ${message}`;

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

let replied = false;
connection.addEventListener("message", (event) => {
  console.log("Received:", event.data);
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

// Sent before open: partysocket buffers it and sends on connect, as in the doc.
connection.send(message);
