#!/usr/bin/env node
// Plain-dialect client for the agentbridge end-to-end suite, using the
// third-party `ws` package.
//
//   node ws_client.js demo   URL        whole replies: "You said: <text>"
//   node ws_client.js echo   URL        passthrough to the echo backend
//   node ws_client.js status URL CODE   the handshake is refused with CODE
//
// Exits 0 when every check holds, 1 with a "FAIL: ..." line otherwise.
"use strict";

const WebSocket = require("ws");

const TIMEOUT_MS = 20000;

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: 5000 });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => {
      reject(new Error(`unexpected HTTP ${res.statusCode}`));
    });
  });
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    ws.once("message", (data, isBinary) => {
      if (isBinary) reject(new Error(`expected a text frame, got ${data.length} binary bytes`));
      else resolve(data.toString("utf8"));
    });
    ws.once("close", (code, reason) => reject(new Error(`closed ${code} ${reason} while waiting for a message`)));
  });
}

function closed(ws) {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function roundTrips(url, prefix, texts) {
  const ws = await open(url);
  for (const text of texts) {
    const reply = nextMessage(ws);
    ws.send(text);
    const got = await reply;
    const want = prefix + text;
    if (got !== want) fail(`reply: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    console.log(`ok: ${JSON.stringify(got)}`);
  }
  const done = closed(ws);
  ws.close(1000, "bye");
  const { code } = await done;
  if (code !== 1000) fail(`close code: got ${code}, want 1000`);
  console.log(`ok close ${code}`);
}

function refusedWith(url, want) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { handshakeTimeout: 5000 });
    ws.once("open", () => fail(`expected HTTP ${want}, but the handshake was accepted`));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        if (res.statusCode !== want) fail(`status: got ${res.statusCode}, want ${want} (body ${body})`);
        let parsed;
        try {
          parsed = JSON.parse(body);
        } catch (e) {
          fail(`error body is not JSON: ${JSON.stringify(body)}`);
        }
        if (typeof parsed.error !== "string") fail(`error body has no "error" field: ${body}`);
        console.log(`ok status ${res.statusCode} ${body}`);
        resolve();
      });
    });
    ws.once("error", (err) => fail(`expected HTTP ${want}, got error ${err.message}`));
  });
}

async function main() {
  const [mode, url, arg] = process.argv.slice(2);
  console.log(`ws ${JSON.parse(require("fs").readFileSync(require("path").join(__dirname, "node_modules/ws/package.json"), "utf8")).version}, node ${process.version}, mode ${mode}, url ${url}`);
  const timer = setTimeout(() => fail(`${mode}: timed out after ${TIMEOUT_MS}ms`), TIMEOUT_MS);
  switch (mode) {
    case "demo":
      await roundTrips(url, "You said: ", ["hello from node ws", "unicode: héllo wörld ✓"]);
      break;
    case "echo":
      await roundTrips(url, "echo: ", ["through the relay", "again"]);
      break;
    case "status":
      await refusedWith(url, Number(arg));
      break;
    default:
      fail(`unknown mode ${mode}`);
  }
  clearTimeout(timer);
  console.log(`PASS: ${mode}`);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
