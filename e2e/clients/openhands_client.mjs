#!/usr/bin/env node
// OpenHands UI client for the agentbridge end-to-end suite: the real
// socket.io-client (what OpenHands' frontend uses), connected as the
// frontend connects (ws-client-provider.tsx): transports ["websocket"],
// path /socket.io, query {latest_event_id, conversation_id}; and `ws` for
// what socket.io-client cannot be made to do (not answer a ping).
//
//   node openhands_client.mjs chat        HOSTURL PREFIX   two messages; each gets the
//                                                          user's echo, running, think,
//                                                          one agent message PREFIX+text
//                                                          with llm_metrics, awaiting_user_input
//   node openhands_client.mjs cancel      HOSTURL          Stop mid-reply: stopped; the next
//                                                          message is answered in full
//   node openhands_client.mjs unsupported HOSTURL          a run action gets an oh_event error
//   node openhands_client.mjs noconv      HOSTURL          no conversation_id: connect_error
//   node openhands_client.mjs alive       HOSTURL MS       stays connected MS ms: the proxy's
//                                                          pings keep socket.io-client's
//                                                          ping timeout from firing
//   node openhands_client.mjs nopong      WSURL MS         raw Engine.IO that never pongs:
//                                                          closed within MS ms
//   node openhands_client.mjs reply       HOSTURL PREFIX   one message, its reply PREFIX+text
//   node openhands_client.mjs dropped     HOSTURL PREFIX   prints RUNNING once the reply runs,
//                                                          for the test to cut the TCP
//                                                          connection; reconnects as resume
//   node openhands_client.mjs resume      HOSTURL PREFIX   the connection drops mid-reply;
//                                                          socket.io-client reconnects with
//                                                          latest_event_id (as the frontend
//                                                          does) and gets the rest: the reply
//                                                          once, ids increasing, no gap
//
// HOSTURL is http://127.0.0.1:PORT, or with a path: a prefix before
// /socket.io. WSURL is the ws:// URL of an Engine.IO socket. Every event is printed ("<" received,
// ">" sent). Exits 0 when every check holds, 1 with a "FAIL: ..." line
// otherwise.
import { io } from "socket.io-client";
import WebSocket from "ws";

const TIMEOUT_MS = 20000;

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}

function expect(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

// connect opens a socket as OpenHands' frontend does and resolves with it
// and its event queue once connected. A path in base is a prefix before
// /socket.io, as the frontend's for runtime-hosted conversations.
function connect(base, query, reconnection = false) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = io(u.origin, {
      transports: ["websocket"],
      path: u.pathname.replace(/\/$/, "") + "/socket.io",
      query,
      reconnection,
      reconnectionDelay: 100,
      timeout: 5000,
    });
    const q = queue();
    socket.on("oh_event", (e) => {
      console.log("<", JSON.stringify(e));
      q.push(e);
    });
    socket.once("connect", () => resolve({ socket, q }));
    socket.once("connect_error", (err) => reject(err));
  });
}

// queue is a FIFO of events with an awaitable next().
function queue() {
  const items = [];
  const waiters = [];
  return {
    push(e) {
      const w = waiters.shift();
      if (w) w(e);
      else items.push(e);
    },
    next(what) {
      if (items.length > 0) return Promise.resolve(items.shift());
      return new Promise((resolve) => {
        const t = setTimeout(() => fail(`no event within ${TIMEOUT_MS}ms, waiting for ${what}`), TIMEOUT_MS);
        waiters.push((e) => {
          clearTimeout(t);
          resolve(e);
        });
      });
    },
  };
}

function send(socket, action) {
  console.log(">", JSON.stringify(action));
  socket.emit("oh_user_action", action);
}

function message(text) {
  return { action: "message", args: { content: text, image_urls: [], file_urls: [], timestamp: new Date().toISOString() } };
}

// Ids must increase over the whole socket.
let lastID = -Infinity;
function checkID(e) {
  if (typeof e.id !== "number" || !(e.id > lastID)) fail(`event id ${e.id} after ${lastID}: ${JSON.stringify(e)}`);
  lastID = e.id;
  for (const k of ["timestamp", "source", "message"]) {
    if (!(k in e)) fail(`event without ${k} (OpenHands' isOpenHandsEvent needs it): ${JSON.stringify(e)}`);
  }
}

function agentState(e) {
  return e.observation === "agent_state_changed" ? e.extras.agent_state : null;
}

// turn reads the events of one reply up to awaiting_user_input and checks
// their order; it returns the agent's message event.
async function turn(q, text, want) {
  const echo = await q.next("the user's echo");
  checkID(echo);
  expect("echo source", echo.source, "user");
  expect("echo action", echo.action, "message");
  expect("echo content", echo.args.content, text);
  const running = await q.next("running");
  checkID(running);
  expect("state after the echo", agentState(running), "running");
  let reply = null;
  let thought = false;
  for (;;) {
    const e = await q.next("the reply");
    checkID(e);
    if (e.action === "think") {
      if (reply) fail("think after the message");
      thought = true;
    } else if (e.action === "message") {
      if (reply) fail(`a second agent message: ${JSON.stringify(e)}`);
      expect("message source", e.source, "agent");
      reply = e;
    } else if (agentState(e) === "awaiting_user_input") {
      break;
    } else {
      fail(`unexpected event in a reply: ${JSON.stringify(e)}`);
    }
  }
  if (!reply) fail("no agent message before awaiting_user_input");
  expect("reply", reply.args.content, want);
  const u = reply.llm_metrics && reply.llm_metrics.accumulated_token_usage;
  if (!u || typeof u.prompt_tokens !== "number" || typeof u.completion_tokens !== "number") {
    fail(`message without llm_metrics.accumulated_token_usage: ${JSON.stringify(reply)}`);
  }
  return { reply, thought };
}

async function modeChat(host, prefix) {
  const { socket, q } = await connect(host, { latest_event_id: -1, conversation_id: "e2e-chat" });
  // The state a new conversation starts in, sent before the connect ack.
  const first = await q.next("the initial state");
  checkID(first);
  expect("initial state", agentState(first), "awaiting_user_input");
  let prev = 0;
  for (const text of ["hello from socket.io-client", "unicode: héllo wörld ✓ \"quoted\""]) {
    send(socket, message(text));
    const { reply, thought } = await turn(q, text, prefix + text);
    if (!thought) fail("no think action: the demo agent thinks first");
    const u = reply.llm_metrics.accumulated_token_usage;
    const total = u.prompt_tokens + u.completion_tokens;
    if (!(total > prev)) fail(`accumulated usage ${total} does not grow past ${prev}`);
    prev = total;
    console.log(`ok turn: ${JSON.stringify(reply.args.content)}, accumulated ${u.prompt_tokens}/${u.completion_tokens}`);
  }
  socket.disconnect();
}

async function modeCancel(host) {
  const { socket, q } = await connect(host, { latest_event_id: -1, conversation_id: "e2e-cancel" });
  expect("initial state", agentState(await q.next("the initial state")), "awaiting_user_input");
  send(socket, message("a long reply to stop"));
  const echo = await q.next("the echo");
  expect("echo", echo.source, "user");
  expect("running", agentState(await q.next("running")), "running");
  send(socket, { action: "change_agent_state", args: { agent_state: "stopped" } });
  for (;;) {
    const e = await q.next("stopped");
    checkID(e);
    if (agentState(e) === "stopped") break;
    if (e.action === "message") fail(`the stopped reply's message came: ${JSON.stringify(e)}`);
  }
  console.log("ok stopped");
  const text = "after the stop";
  send(socket, message(text));
  await turn(q, text, "You said: " + text);
  console.log("ok next turn");
  socket.disconnect();
}

async function modeUnsupported(host) {
  const { socket, q } = await connect(host, { latest_event_id: -1, conversation_id: "e2e-unsupported" });
  expect("initial state", agentState(await q.next("the initial state")), "awaiting_user_input");
  send(socket, { action: "run", args: { command: "ls", hidden: false } });
  const e = await q.next("the error");
  expect("error", e.error, true);
  if (typeof e.message !== "string" || !e.message.includes("run")) fail(`error message ${JSON.stringify(e.message)}`);
  console.log("ok error:", e.message);
  socket.disconnect();
}

async function modeNoConv(host) {
  try {
    const { socket } = await connect(host, { latest_event_id: -1 });
    socket.disconnect();
    fail("connected without a conversation_id");
  } catch (err) {
    expect("connect_error", err.message, "No conversation_id in query params");
    console.log("ok connect_error:", err.message);
  }
}

async function modeAlive(host, ms) {
  const { socket } = await connect(host, { latest_event_id: -1, conversation_id: "e2e-alive" });
  let reason = null;
  socket.on("disconnect", (r) => {
    reason = r;
  });
  await new Promise((r) => setTimeout(r, ms));
  if (reason !== null) fail(`disconnected after less than ${ms}ms: ${reason}`);
  console.log(`ok connected for ${ms}ms`);
  socket.disconnect();
}

async function modeNoPong(wsurl, ms) {
  const ws = new WebSocket(wsurl);
  const start = Date.now();
  let pings = 0;
  const closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("message", (data) => {
    const m = data.toString();
    console.log("<", m);
    if (m.startsWith("0")) ws.send("40");
    if (m === "2") pings++; // and no "3"
  });
  const t = setTimeout(() => fail(`still open after ${ms}ms without a pong`), ms);
  const { code, reason } = await closed;
  clearTimeout(t);
  if (pings < 1) fail(`closed (${code} ${reason}) before any ping`);
  console.log(`ok closed ${code} ${JSON.stringify(reason)} after ${Date.now() - start}ms and ${pings} ping(s)`);
}

async function modeReply(host, prefix) {
  const { socket, q } = await connect(host, { latest_event_id: -1, conversation_id: "e2e-reply-" + Date.now() });
  const first = await q.next("the initial state");
  checkID(first);
  expect("initial state", agentState(first), "awaiting_user_input");
  const text = "hello through socket.io, héllo ✓";
  send(socket, message(text));
  await turn(q, text, prefix + text);
  console.log("ok reply");
  socket.disconnect();
}

// modeDropped is modeResume with the drop made by the test: a TCP
// connection cut (no close frame, no Engine.IO close).
async function modeDropped(host, prefix) {
  return modeResume(host, prefix, true);
}

async function modeResume(host, prefix, external = false) {
  const query = { latest_event_id: -1, conversation_id: "e2e-resume-" + Date.now() };
  const { socket, q } = await connect(host, query, true);
  // The frontend reconnects after the last event it saw.
  socket.io.on("reconnect_attempt", () => {
    socket.io.opts.query = { ...query, latest_event_id: lastID };
  });
  let reconnects = 0;
  socket.io.on("reconnect", () => reconnects++);
  expect("initial state", agentState(await q.next("the initial state")), "awaiting_user_input");
  checkID({ id: 1, timestamp: "", source: "agent", message: "" });
  const words = Array.from({ length: 40 }, (_, i) => "w" + i).join(" ");
  send(socket, message(words));
  const echo = await q.next("the echo");
  checkID(echo);
  const running = await q.next("running");
  checkID(running);
  expect("running", agentState(running), "running");
  // The network drops mid-reply (50ms a word: 2s of reply).
  if (external) console.log("RUNNING");
  else socket.io.engine.close();
  let reply = null;
  for (;;) {
    const e = await q.next("the rest of the reply after the reconnect");
    checkID(e); // increasing: nothing twice
    if (e.action === "message") {
      if (reply) fail(`the reply twice: ${JSON.stringify(e)}`);
      reply = e;
    } else if (agentState(e) === "awaiting_user_input") {
      break;
    }
  }
  if (reconnects < 1) fail("socket.io-client did not reconnect");
  if (!reply) fail("no agent message after the reconnect");
  expect("reply", reply.args.content, prefix + words);
  console.log(`ok resumed after ${reconnects} reconnect(s): ${reply.args.content.length} bytes, last id ${lastID}`);
  socket.disconnect();
}

const [mode, url, arg] = process.argv.slice(2);
const modes = {
  chat: () => modeChat(url, arg),
  cancel: () => modeCancel(url),
  unsupported: () => modeUnsupported(url),
  noconv: () => modeNoConv(url),
  alive: () => modeAlive(url, Number(arg)),
  nopong: () => modeNoPong(url, Number(arg)),
  resume: () => modeResume(url, arg),
  reply: () => modeReply(url, arg),
  dropped: () => modeDropped(url, arg),
};
if (!modes[mode]) {
  console.log(`usage: node openhands_client.mjs ${Object.keys(modes).join("|")} URL [ARG]`);
  process.exit(2);
}
modes[mode]()
  .then(() => {
    console.log(`PASS: ${mode}`);
    process.exit(0);
  })
  .catch((err) => fail(`${mode}: ${err && err.stack ? err.stack : err}`));
