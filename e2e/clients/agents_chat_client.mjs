#!/usr/bin/env node
// Cloudflare Agents SDK chat client (agents/chat/react useAgentChat, on
// agents/react useAgent) against agentbridge, rendered with React 19 in
// Node by react-test-renderer, as a browser app renders it:
//
//   node agents_chat_client.mjs chat   HOST:PORT AGENT NAME TEXT
//   node agents_chat_client.mjs cancel HOST:PORT AGENT NAME TEXT [AFTER]
//   node agents_chat_client.mjs reload HOST:PORT AGENT NAME TEXT
//   node agents_chat_client.mjs tabs   HOST:PORT AGENT NAME TEXT
//
// chat: sends TEXT with sendMessage, waits for the assistant message to
// finish streaming (status back to "ready").
// cancel: sends TEXT, calls the hook's stop() once the assistant text has
// started, waits for the server's terminal frame for that request, then
// (with AFTER) sends AFTER on the same socket and waits for its reply.
// reload: sends TEXT, and once the assistant text has started unmounts the
// component and closes its socket, as a reloading tab does; then renders a
// new one on the same agent and name (a new socket and _pk), which loads
// the history and resumes the reply through the SDK's stream-resume
// handshake; waits for it to hold the whole reply and be "ready". Frames
// are counted from the second socket on.
// tabs: renders two components on the same agent and name, sends TEXT from
// the first, and waits for both to hold the whole reply (the second from
// the frames the server writes to every socket of the name). The summary's
// "tab2" has the second one's messages and status.
//
// The last line is "SUMMARY <json>": the hook's final status and error,
// the transcript as the hook holds it (role and joined text parts), the
// assistant text, the frames seen per request id (UIMessageChunk types,
// terminal frame with outcome and messageIds, error frames), the other
// frames received and every frame sent, and what the hook's GET of
// .../get-messages got. The Go test checks the content; this script exits
// 1 with "FAIL: ..." only when the flow itself does not complete (timeout,
// no socket, the hook never returns to "ready").
//
// Node 20 has no global WebSocket: `ws`'s class is passed as useAgent's
// WebSocket option (a subclass that records what is sent); partysocket
// picks ws:// for 127.0.0.1:PORT and adds ?_pk=<uuid>. maxRetries: 0 stops
// reconnects, so a dropped socket is a failure, not a retry loop.
import React, { Suspense, createElement as h } from "react";
import TestRenderer from "react-test-renderer";
import { useAgent } from "agents/react";
import { useAgentChat } from "agents/chat/react";
import WebSocket from "ws";
import { readFileSync } from "node:fs";

const TIMEOUT_MS = 25000;
const [mode, host, agentName, instance, text, after] = process.argv.slice(2);

function fail(msg) {
  console.log(`FAIL: ${mode}: ${msg}`);
  console.log(`SUMMARY ${JSON.stringify(summary())}`);
  process.exit(1);
}

if (!["chat", "cancel", "reload", "tabs"].includes(mode) || !host || !agentName || !instance || !text) {
  console.log("FAIL: usage: agents_chat_client.mjs chat|cancel|reload|tabs HOST:PORT AGENT NAME TEXT [AFTER]");
  process.exit(1);
}
const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;
console.log(
  `agents ${version("agents")}, ai ${version("ai")}, @ai-sdk/react ${version("@ai-sdk/react")}, ` +
    `react ${version("react")}, react-test-renderer ${version("react-test-renderer")}, ws ${version("ws")}, node ${process.version}`,
);

// React outside a test runner's act(): updates are scheduled as in a browser.
globalThis.IS_REACT_ACT_ENVIRONMENT = false;
// react-test-renderer 19 warns once that it is deprecated; not our concern.
const origError = console.error;
console.error = (...args) => {
  if (typeof args[0] === "string" && args[0].includes("react-test-renderer is deprecated")) return;
  origError(...args);
};
const warnings = [];
const origWarn = console.warn;
console.warn = (...args) => {
  warnings.push(args.map(String).join(" "));
  origWarn(...args);
};

// What the hook's initial-messages fetch got.
const fetches = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  const rec = { url, at: Date.now() % 100000 };
  fetches.push(rec);
  try {
    const res = await realFetch(input, init);
    rec.status = res.status;
    rec.contentType = res.headers.get("content-type");
    rec.body = (await res.clone().text()).slice(0, 300);
    return res;
  } catch (err) {
    rec.error = String(err && err.cause ? `${err.message}: ${err.cause.message || err.cause}` : err);
    throw err;
  }
};

const sent = [];
class RecordingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    // Registered before partysocket's own listeners: nothing is missed.
    this.addEventListener("message", (e) => onFrame(e.data));
    this.addEventListener("close", (e) => {
      closed = { code: e.code, reason: e.reason };
    });
  }
  send(data, ...rest) {
    sent.push(String(data));
    return super.send(data, ...rest);
  }
}

// Frames received, grouped: chat responses per request id, others in order.
const turns = new Map(); // id -> {chunks: [types], deltas, text, terminal, errors: [], afterTerminal: 0}
const other = [];
let socketUrl = "";
let closed = null;
function onFrame(data) {
  let f;
  try {
    f = JSON.parse(data);
  } catch {
    other.push({ raw: String(data).slice(0, 200) });
    return;
  }
  if (f.type !== "cf_agent_use_chat_response") {
    other.push(f.type ? { type: f.type, ...pick(f) } : { json: String(data).slice(0, 200) });
    return;
  }
  let t = turns.get(f.id);
  if (!t) {
    t = { chunks: [], deltas: 0, text: "", terminal: null, errors: [], afterTerminal: 0 };
    turns.set(f.id, t);
  }
  if (t.terminal) t.afterTerminal++;
  if (f.error) t.errors.push(f.body);
  else if (f.body && f.body.trim()) {
    try {
      const c = JSON.parse(f.body);
      t.chunks.push(c.type);
      if (c.type === "text-delta") {
        t.deltas++;
        t.text += c.delta;
      }
    } catch {
      t.chunks.push(`unparsable: ${f.body.slice(0, 80)}`);
    }
  }
  if (f.done) t.terminal = { outcome: f.outcome ?? null, messageIds: f.messageIds ?? null, body: f.body };
}
function pick(f) {
  const o = {};
  for (const k of ["name", "agent", "stateFollows", "id", "probeId", "reason", "error"]) if (k in f) o[k] = f[k];
  if (f.mcp) o.mcp = f.mcp;
  if (Array.isArray(f.messages)) o.messages = f.messages.length;
  return o;
}

let latest = null; // {agent, chat} from the last render of the current tab
const tabs = {}; // tab name -> {agent, chat} from its last render
let current = "a";
let renderError = null;

function partsText(m) {
  return (m.parts || [])
    .filter((p) => p.type === "text")
    .map((p) => p.text)
    .join("");
}

function summary() {
  const chat = latest && latest.chat;
  const messages = chat && Array.isArray(chat.messages) ? chat.messages.map((m) => ({ id: m.id, role: m.role, text: partsText(m) })) : [];
  const assistant = messages.filter((m) => m.role === "assistant");
  return {
    mode,
    url: socketUrl,
    status: chat ? chat.status : null,
    error: chat && chat.error ? String(chat.error.message || chat.error) : renderError,
    messages,
    text: assistant.length ? assistant[assistant.length - 1].text : null,
    turns: Object.fromEntries(turns),
    other,
    sent: sent.map((s) => {
      try {
        const f = JSON.parse(s);
        return f.type === "cf_agent_use_chat_request" ? { type: f.type, id: f.id, body: JSON.parse(f.init.body) } : f;
      } catch {
        return s;
      }
    }),
    getMessages: fetches,
    warnings,
    closed,
    ...extra,
  };
}
const extra = {};

class Boundary extends React.Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }
  static getDerivedStateFromError(error) {
    return { error };
  }
  componentDidCatch(error) {
    renderError = String(error && error.stack ? error.stack : error);
  }
  render() {
    return this.state.error ? null : this.props.children;
  }
}

function Chat({ tab = "a" }) {
  const agent = useAgent({
    agent: agentName,
    name: instance,
    host,
    WebSocket: RecordingWebSocket,
    maxRetries: 0,
  });
  const chat = useAgentChat({ agent });
  tabs[tab] = { agent, chat };
  if (tab === current) latest = tabs[tab];
  return null;
}

const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS}ms`), TIMEOUT_MS);

async function waitFor(what, cond, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    if (renderError) fail(`the component threw while ${what}: ${renderError}`);
    if (cond()) return;
    if (Date.now() > end) fail(`${what}: not within ${ms}ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const mount = (tab) => TestRenderer.create(h(Boundary, null, h(Suspense, { fallback: null }, h(Chat, { tab }))));
let root = mount("a");

// The hook suspends on its get-messages fetch, then useAgent's socket opens.
await waitFor("rendering useAgentChat (get-messages, then the socket)", () => latest && latest.agent.readyState === 1);
const agent = latest.agent;
socketUrl = agent.url;
console.log(`open ${socketUrl}`);

const requestIds = () => sent.filter((s) => s.includes('"cf_agent_use_chat_request"')).map((s) => JSON.parse(s).id);

async function turn(message, { stopWhenStarted = false } = {}) {
  const before = requestIds().length;
  const nMessages = latest.chat.messages.length;
  latest.chat.sendMessage({ text: message });
  await waitFor(`sending ${JSON.stringify(message)}`, () => requestIds().length > before);
  const id = requestIds()[before];
  if (stopWhenStarted) {
    await waitFor("the assistant text starting", () => {
      const last = latest.chat.messages[latest.chat.messages.length - 1];
      return latest.chat.messages.length > nMessages + 1 && last.role === "assistant" && partsText(last).length > 0;
    });
    const last = latest.chat.messages[latest.chat.messages.length - 1];
    extra.textAtStop = partsText(last);
    extra.statusAtStop = latest.chat.status;
    await latest.chat.stop();
    await waitFor(`the terminal frame of the cancelled request ${id}`, () => turns.get(id) && turns.get(id).terminal);
    // Anything for this id after the terminal frame would show up here.
    await new Promise((r) => setTimeout(r, 300));
  } else {
    await waitFor(`the terminal frame of request ${id}`, () => turns.get(id) && turns.get(id).terminal);
  }
  await waitFor("the hook back to ready or error", () => ["ready", "error"].includes(latest.chat.status));
  // Let the throttled (50ms) message updates land.
  await new Promise((r) => setTimeout(r, 120));
  return id;
}

const lastText = (chat) => {
  const ms = chat.messages;
  return ms.length && ms[ms.length - 1].role === "assistant" ? partsText(ms[ms.length - 1]) : "";
};

if (mode === "chat") {
  extra.requestId = await turn(text);
} else if (mode === "reload") {
  const nMessages = latest.chat.messages.length;
  latest.chat.sendMessage({ text });
  await waitFor("the assistant text starting", () => latest.chat.messages.length > nMessages + 1 && lastText(latest.chat).length > 0);
  extra.requestId = requestIds()[0];
  extra.textBeforeReload = lastText(latest.chat);
  const t0 = Date.now();
  root.unmount();
  agent.close();
  await waitFor("the first socket closed", () => closed);
  extra.msClose = Date.now() - t0;
  turns.clear();
  other.length = 0;
  latest = null;
  root = mount("a");
  await waitFor("the new component's socket open", () => latest && latest.agent.readyState === 1 && latest.agent !== agent);
  extra.secondUrl = latest.agent.url;
  extra.msSecondOpen = Date.now() - t0;
  await waitFor(`the resumed reply's terminal frame`, () => turns.get(extra.requestId) && turns.get(extra.requestId).terminal);
  await waitFor("the hook back to ready", () => ["ready", "error"].includes(latest.chat.status));
  await new Promise((r) => setTimeout(r, 120));
} else if (mode === "tabs") {
  const root2 = mount("b");
  await waitFor("the second tab's socket open", () => tabs.b && tabs.b.agent.readyState === 1);
  await new Promise((r) => setTimeout(r, 200)); // both probes answered
  extra.requestId = await turn(text);
  await waitFor("the second tab holding the reply", () => lastText(tabs.b.chat) === lastText(latest.chat) && tabs.b.chat.status === "ready");
  extra.tab2 = {
    status: tabs.b.chat.status,
    messages: tabs.b.chat.messages.map((m) => ({ id: m.id, role: m.role, text: partsText(m) })),
  };
  root2.unmount();
  tabs.b.agent.close();
} else {
  extra.requestId = await turn(text, { stopWhenStarted: true });
  extra.textAfterStop = summary().text;
  if (after) {
    extra.afterRequestId = await turn(after);
  }
}

clearTimeout(timer);
const s = summary();
root.unmount();
latest.agent.close();
console.log(`SUMMARY ${JSON.stringify(s)}`);
process.exit(0);
