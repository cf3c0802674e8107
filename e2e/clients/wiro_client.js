#!/usr/bin/env node
// Wiro agent client for the agentbridge end-to-end suite, following the
// Node.js example of Wiro's "Agent WebSocket" document, with the third-party
// `ws` package: open the socket at <base>; send a message with POST
// <base>/UserAgent/Message/Send (x-api-key; Node 20's global fetch); send
// {"type":"agent_info","agenttoken"} on the socket and handle
// agent_subscribed, agent_start, agent_output (message.raw holds the whole
// text so far) and agent_end, then close.
//
//   node wiro_client.js flow    HTTPBASE KEY   send, subscribe, stream to agent_end
//   node wiro_client.js session HTTPBASE KEY   two sends with one sessionkey
//   node wiro_client.js late    HTTPBASE KEY   subscribe after agent_end
//   node wiro_client.js midstream HTTPBASE KEY subscribe during the thinking and
//                                              the answer (a slow thinking agent)
//   node wiro_client.js badkey  HTTPBASE KEY   a wrong x-api-key: HTTP 401
//   node wiro_client.js cancel  HTTPBASE KEY   cancel a slow reply: agent_cancel
//   node wiro_client.js reply   HTTPBASE KEY PREFIX [THINKS]
//                                              send, subscribe, stream to agent_end
//                                              from an agent that answers PREFIX +
//                                              the message: without thinking (e2e/worker),
//                                              or, with THINKS "thinks", with some
//
// HTTPBASE is http://127.0.0.1:PORT/<route>; the socket is ws://.../<route>.
// The flow, session and late modes expect a demo agent with thinking on
// (raw "<think>...</think>You said: <message>"), midstream a slow one with
// thinking, cancel a slow one.
// Exits 0 when every check holds, 1 with a "FAIL: ..." line otherwise.
"use strict";

const WebSocket = require("ws");

const TIMEOUT_MS = 20000;

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}

const show = (v) => JSON.stringify(v);

function expect(what, got, want) {
  if (got !== want) fail(`${what}: got ${show(got)}, want ${show(want)}`);
}

// POST <base><path> with the API key; returns { status, body }.
async function post(base, path, key, payload) {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "x-api-key": key, "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  console.log(`POST ${path} ${show(payload)} -> ${res.status} ${text}`);
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    fail(`POST ${path}: the body is not JSON: ${show(text)}`);
  }
  return { status: res.status, body };
}

// The document's Step 1: returns the agenttoken.
async function sendMessage(base, key, message, sessionkey) {
  const { status, body } = await post(base, "/UserAgent/Message/Send", key, {
    useragentguid: "your-useragent-guid",
    message,
    sessionkey,
  });
  expect("send: HTTP status", status, 200);
  expect("send: result", body.result, true);
  if (!Array.isArray(body.errors) || body.errors.length !== 0) fail(`send: errors must be []: ${show(body)}`);
  if (typeof body.messageguid !== "string" || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(body.messageguid)) {
    fail(`send: messageguid must be a UUID: ${show(body)}`);
  }
  if (typeof body.agenttoken !== "string" || !/^[A-Za-z0-9]{30}$/.test(body.agenttoken)) {
    fail(`send: agenttoken must be 30 characters of [A-Za-z0-9]: ${show(body)}`);
  }
  expect("send: status", body.status, "agent_queue");
  return body.agenttoken;
}

function wsURL(base) {
  return base.replace(/^http/, "ws");
}

// The document's Node.js example with its checks: open the socket, then
// (getTokens: the sends) subscribe to each token with agent_info and follow
// the events to agent_end (or agent_cancel when onOutput cancels). The
// socket is opened before the sends, so a subscription reaches the proxy
// while the reply is still queued or thinking. Resolves with what was seen
// per token, in order, once the socket closed.
//
// Each agent_output's raw must extend the raw before it. With fromDebug, the
// first one must also extend agent_subscribed's debugoutput (the text so far
// when subscribing mid-reply), as a client replacing its display would
// expect.
function subscribe(base, getTokens, { onOutput, onSubscribed, fromDebug = false } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsURL(base), { handshakeTimeout: 5000 });
    const state = new Map(); // token -> what was seen
    const order = []; // "token:type", across tokens
    let tokens = [];

    let allKnown = false; // getTokens has returned
    const allEnded = () => allKnown && tokens.every((t) => state.get(t).ended);
    const add = (token) => {
      if (state.has(token)) return;
      tokens.push(token);
      state.set(token, { token, types: [], raws: [], subscribed: null, end: null, cancel: null, ended: false, prevRaw: "" });
      ws.send(JSON.stringify({ type: "agent_info", agenttoken: token }));
    };

    ws.on("open", async () => {
      // getTokens may subscribe to each token as soon as it has it (add).
      for (const token of await getTokens(add)) add(token);
      allKnown = true;
      if (allEnded()) ws.close();
    });

    ws.on("message", (data, isBinary) => {
      if (isBinary) fail(`expected text frames, got ${data.length} binary bytes`);
      const msg = JSON.parse(data.toString());
      console.log("Event:", msg.type, data.toString());
      const seen = state.get(msg.agenttoken);
      if (!seen) fail(`an event for a token not subscribed to: ${data}`);
      if (seen.ended) fail(`an event after the reply ended: ${data}`);
      if (seen.types.length === 0) expect("first event", msg.type, "agent_subscribed");
      seen.types.push(msg.type);
      order.push(`${tokens.indexOf(msg.agenttoken)}:${msg.type}`);
      switch (msg.type) {
        case "agent_subscribed": {
          if (seen.subscribed) fail("a second agent_subscribed");
          const statuses = ["agent_queue", "agent_start", "agent_output", "agent_end", "agent_error", "agent_cancel"];
          if (!statuses.includes(msg.status)) fail(`agent_subscribed: status ${show(msg.status)} is not one of ${show(statuses)}`);
          if (typeof msg.debugoutput !== "string") fail(`agent_subscribed: debugoutput must be a string: ${data}`);
          expect("agent_subscribed: result", msg.result, true);
          seen.subscribed = msg;
          if (onSubscribed) onSubscribed(msg);
          if (fromDebug) seen.prevRaw = msg.debugoutput;
          if (["agent_end", "agent_error", "agent_cancel"].includes(msg.status)) {
            // A late subscriber: nothing more will come for this token.
            seen.ended = true;
            if (allEnded()) setTimeout(() => ws.close(), 200);
          }
          break;
        }
        case "agent_start":
          expect("agent_start: message", msg.message, "");
          expect("agent_start: result", msg.result, true);
          break;
        case "agent_output":
        case "agent_end": {
          const m = msg.message;
          if (!m || typeof m !== "object") fail(`${msg.type}: message must be an object: ${data}`);
          expect(`${msg.type}: message.type`, m.type, "progressGenerate");
          expect(`${msg.type}: message.task`, m.task, "Generate");
          expect(`${msg.type}: message.speedType`, m.speedType, "words/s");
          if (typeof m.speed !== "string" || !/^\d+(\.\d+)?$/.test(m.speed)) fail(`${msg.type}: speed ${show(m.speed)}`);
          if (typeof m.elapsedTime !== "string" || !/^\d+(\.\d+)?s$/.test(m.elapsedTime)) fail(`${msg.type}: elapsedTime ${show(m.elapsedTime)}`);
          if (!Number.isInteger(m.tokenCount) || !Number.isInteger(m.wordCount)) fail(`${msg.type}: tokenCount/wordCount: ${data}`);
          if (typeof m.raw !== "string") fail(`${msg.type}: raw must be a string: ${data}`);
          if (!Array.isArray(m.thinking) || !Array.isArray(m.answer)) fail(`${msg.type}: thinking/answer must be arrays: ${data}`);
          if (typeof m.isThinking !== "boolean") fail(`${msg.type}: isThinking must be a boolean: ${data}`);
          expect(`${msg.type}: result`, msg.result, true);
          // Each raw holds the whole text so far: it extends the previous one.
          if (!m.raw.startsWith(seen.prevRaw)) {
            const prev = seen.raws.length === 0 ? "agent_subscribed's debugoutput" : "the previous raw";
            fail(`${msg.type}: raw ${show(m.raw)} does not extend ${prev} ${show(seen.prevRaw)}`);
          }
          seen.prevRaw = m.raw;
          seen.raws.push(m.raw);
          const answer = m.answer.join("");
          const thinking = m.thinking.join("");
          if (m.isThinking) {
            if (thinking === "" || answer !== "") fail(`${msg.type}: while thinking, thinking must hold text and answer none: ${data}`);
            expect(`${msg.type}: raw while thinking`, m.raw, `<think>${thinking}`);
          } else {
            const want = thinking ? `<think>${thinking}</think>${answer}` : answer;
            expect(`${msg.type}: raw`, m.raw, want);
          }
          expect(`${msg.type}: wordCount`, m.wordCount, answer.split(/\s+/).filter(Boolean).length);
          if (msg.type === "agent_output") {
            console.log("Streaming:", m.raw);
            if (onOutput) onOutput(msg);
          } else {
            console.log("Final:", m.raw);
            expect("agent_end: isThinking", m.isThinking, false);
            seen.end = msg;
            seen.ended = true;
            if (allEnded()) ws.close();
          }
          break;
        }
        case "agent_cancel":
          expect("agent_cancel: result", msg.result, false);
          if (typeof msg.message !== "string" || msg.message === "") fail(`agent_cancel: message must be a non-empty string: ${data}`);
          seen.cancel = msg;
          seen.ended = true;
          if (allEnded()) ws.close();
          break;
        case "agent_error":
          fail(`agent_error: ${data}`);
          break;
        default:
          fail(`unexpected event type ${show(msg.type)}: ${data}`);
      }
    });

    ws.on("unexpected-response", (_req, res) => fail(`socket: unexpected HTTP ${res.statusCode}`));
    ws.on("error", (err) => fail(`socket error: ${err.message}`));
    ws.on("close", (code) => {
      console.log(`Disconnected ${code}`);
      if (tokens.length === 0 || !allEnded()) fail(`the socket closed (${code}) before the replies ended`);
      resolve({ replies: tokens.map((t) => state.get(t)), order });
    });
  });
}

// thinkingOf: the demo agent's thinking before its answer to message.
const thinkingOf = (message) => `The user wrote ${message.split(" ").length} words; I will echo them. `;

// checkAnswered: a whole reply to message from the thinking demo agent.
//
// The demo agent takes 5ms a word, so on a loaded machine a subscription may
// land in the middle of the reply, or after it: the outputs are counted only
// when it landed before the reply started to stream.
function checkAnswered(seen, message) {
  const want = `You said: ${message}`;
  if (seen.subscribed.status === "agent_end") {
    expect("agent_subscribed after the end: debugoutput", seen.subscribed.debugoutput, `<think>${thinkingOf(message)}</think>${want}`);
    console.log(`ok answered ${show(want)}: subscribed after the end`);
    return;
  }
  if (!seen.end) fail(`no agent_end; events ${show(seen.types)}`);
  const m = seen.end.message;
  expect("agent_end: answer", m.answer.join(""), want);
  expect("agent_end: thinking", m.thinking.join(""), thinkingOf(message));
  expect("agent_end: raw", m.raw, `<think>${m.thinking.join("")}</think>${want}`);
  expect("agent_end: wordCount", m.wordCount, want.split(" ").length);
  const thinkingOutputs = seen.raws.filter((r) => !r.includes("</think>")).length;
  const answerOutputs = seen.raws.length - 1 - thinkingOutputs; // minus agent_end
  // Subscribed before the reply streamed: every thinking output was seen.
  const fromStart = ["agent_queue", "agent_start"].includes(seen.subscribed.status);
  if (fromStart && (thinkingOutputs < 2 || answerOutputs < 2)) {
    fail(`expected several thinking and answer outputs, got ${thinkingOutputs} and ${answerOutputs}: ${show(seen.raws)}`);
  }
  const lifecycle = seen.types.filter((t) => t !== "agent_output").join(",");
  if (lifecycle !== "agent_subscribed,agent_start,agent_end" && lifecycle !== "agent_subscribed,agent_end") {
    fail(`events: ${show(seen.types)}`);
  }
  console.log(`ok answered ${show(want)}: subscribed as ${seen.subscribed.status}, ${thinkingOutputs} thinking and ${answerOutputs} answer outputs`);
}

async function modeFlow(base, key) {
  // The doc's message, made longer so the reply streams for a while.
  const message =
    "Explain quantum computing in simple terms: what a qubit is, what superposition and entanglement mean, " +
    "how a quantum computer is built and programmed, and which problems it may one day solve faster than a laptop";
  const { replies } = await subscribe(base, async () => [await sendMessage(base, key, message, "user-42")]);
  checkAnswered(replies[0], message);
}

async function modeSession(base, key) {
  // Both sends go to the sessionkey's one conversation, answered in order;
  // one socket subscribes to both tokens.
  const messages = [
    "first message of the session, long enough to stream for a little while at the demo pace",
    "second message with the same sessionkey, answered after the first one by the same conversation",
  ];
  const { replies, order } = await subscribe(base, async (add) => {
    const tokens = [];
    for (const message of messages) {
      tokens.push(await sendMessage(base, key, message, "user-7"));
      add(tokens[tokens.length - 1]);
    }
    if (tokens[0] === tokens[1]) fail(`two sends got the same agenttoken ${tokens[0]}`);
    return tokens;
  });
  for (let i = 0; i < messages.length; i++) checkAnswered(replies[i], messages[i]);
  const firstEnd = order.indexOf("0:agent_end");
  const secondOutput = order.findIndex((e) => e === "1:agent_start" || e === "1:agent_output");
  if (firstEnd >= 0 && secondOutput >= 0 && !(firstEnd < secondOutput)) fail(`the second reply started before the first ended: ${show(order)}`);
  console.log("ok answered in order");
}

async function modeLate(base, key) {
  const message = "subscribe again when it is done";
  let token;
  const first = await subscribe(base, async () => [(token = await sendMessage(base, key, message, "user-late"))]);
  checkAnswered(first.replies[0], message);
  const late = (await subscribe(base, async () => [token])).replies[0];
  expect("late: events", late.types.join(","), "agent_subscribed");
  expect("late: agent_subscribed status", late.subscribed.status, "agent_end");
  expect("late: agent_subscribed debugoutput", late.subscribed.debugoutput, first.replies[0].end.message.raw);
  console.log(`ok late subscriber: ${show(late.subscribed.debugoutput)}`);
}

async function modeMidstream(base, key) {
  // A slow thinking agent: while socket A follows the reply from the start,
  // socket B subscribes during the thinking and socket C during the answer.
  // Each gets agent_subscribed with status agent_output and debugoutput
  // holding the text so far, the same raw form agent_output uses, so the
  // outputs after it extend it.
  const message = "watch me mid stream";
  let token;
  const joins = [];
  const join = (what, rawNow) => {
    console.log(`joining during the ${what} after ${show(rawNow)}`);
    joins.push(
      subscribe(base, async () => [token], {
        fromDebug: true,
        onSubscribed: (msg) => {
          expect(`${what} join: agent_subscribed status`, msg.status, "agent_output");
          if (!msg.debugoutput.startsWith(rawNow)) {
            fail(`${what} join: debugoutput ${show(msg.debugoutput)} does not hold the text so far ${show(rawNow)}, in agent_output's raw form`);
          }
        },
      }).then(({ replies }) => replies[0]),
    );
  };
  const { replies } = await subscribe(base, async () => [(token = await sendMessage(base, key, message, "user-mid"))], {
    onOutput: (msg) => {
      const m = msg.message;
      if (m.isThinking && joins.length === 0 && m.thinking.join("").split(" ").length >= 3) join("thinking", m.raw);
      if (!m.isThinking && m.answer.join("").split(" ").length >= 3 && joins.length === 1) join("answer", m.raw);
    },
  });
  checkAnswered(replies[0], message);
  if (joins.length !== 2) fail(`joined ${joins.length} times, want 2`);
  for (const r of await Promise.all(joins)) {
    expect("joined: agent_end raw", r.end && r.end.message.raw, replies[0].end.message.raw);
    console.log(`ok joined with ${show(r.subscribed.debugoutput)}`);
  }
}

async function modeBadKey(base, key) {
  const { status, body } = await post(base, "/UserAgent/Message/Send", key, {
    useragentguid: "your-useragent-guid",
    message: "Explain quantum computing in simple terms",
    sessionkey: "user-42",
  });
  expect("HTTP status", status, 401);
  expect("result", body.result, false);
  if (!Array.isArray(body.errors) || body.errors.length === 0 || !body.errors.every((e) => typeof e === "string" && e)) {
    fail(`errors must be a non-empty list of strings: ${show(body)}`);
  }
  if ("agenttoken" in body) fail(`a refused send has an agenttoken: ${show(body)}`);
  console.log(`ok refused: ${show(body.errors)}`);
}

async function modeCancel(base, key) {
  // At the slow agent's 100ms a word this reply takes about 3s.
  const message = Array.from({ length: 25 }, (_, i) => `word${i}`).join(" ");
  let token;
  let cancelled = null;
  const { replies } = await subscribe(base, async () => [(token = await sendMessage(base, key, message, "user-cancel"))], {
    onOutput: (msg) => {
      if (cancelled) return;
      console.log(`cancelling after ${show(msg.message.raw)}`);
      cancelled = post(base, "/UserAgent/Message/Cancel", key, { agenttoken: token });
    },
  });
  const seen = replies[0];
  if (!cancelled) fail("no agent_output before the end: nothing to cancel");
  const { status, body } = await cancelled;
  expect("cancel: HTTP status", status, 200);
  expect("cancel: result", body.result, true);
  if (!Array.isArray(body.errors) || body.errors.length !== 0) fail(`cancel: errors must be []: ${show(body)}`);
  if (!seen.cancel) fail(`no agent_cancel; events ${show(seen.types)}`);
  if (seen.end) fail("agent_end after a cancel");
  console.log(`ok agent_cancel ${show(seen.cancel.message)}`);
  // The reply is over: a late subscriber sees agent_cancel, and a second
  // cancel is refused.
  const late = (await subscribe(base, async () => [token])).replies[0];
  expect("after cancel: agent_subscribed status", late.subscribed.status, "agent_cancel");
  const again = await post(base, "/UserAgent/Message/Cancel", key, { agenttoken: token });
  if (again.status === 200 || again.body.result !== false) fail(`a second cancel was accepted: ${again.status} ${show(again.body)}`);
  console.log(`ok second cancel refused: ${again.status}`);
}

// modeReply: the flow mode against an agent without thinking whose answer
// is prefix + the message (the AIChatAgent Worker of e2e/worker), twice on
// one sessionkey.
async function modeReply(base, key, prefix, thinks) {
  if (prefix === undefined) fail("reply: usage: wiro_client.js reply HTTPBASE KEY PREFIX");
  const messages = ["hello through agentbridge to a real AIChatAgent", "and a second message on the same session"];
  for (const message of messages) {
    const want = prefix + message;
    const seen = (await subscribe(base, async () => [await sendMessage(base, key, message, "worker-session")])).replies[0];
    if (seen.subscribed.status === "agent_end") {
      // A subscription after the end gets the whole raw text: an agent
      // that thinks has its thinking first, in <think> tags.
      let got = seen.subscribed.debugoutput;
      if (thinks === "thinks") {
        const rest = got.replace(/^<think>[\s\S]*?<\/think>/, "");
        if (rest === got) fail(`agent_subscribed after the end: no thinking from an agent that thinks: ${show(got)}`);
        got = rest;
      }
      expect("agent_subscribed after the end: debugoutput", got, want);
      console.log(`ok answered ${show(want)}: subscribed after the end`);
      continue;
    }
    if (!seen.end) fail(`no agent_end; events ${show(seen.types)}`);
    const m = seen.end.message;
    expect("agent_end: answer", m.answer.join(""), want);
    if (thinks === "thinks") {
      const thinking = m.thinking.join("");
      if (thinking === "") fail("agent_end: no thinking from an agent that thinks");
      expect("agent_end: raw", m.raw, `<think>${thinking}</think>${want}`);
    } else {
      expect("agent_end: thinking", m.thinking.join(""), "");
      expect("agent_end: raw", m.raw, want);
    }
    const fromStart = ["agent_queue", "agent_start"].includes(seen.subscribed.status);
    if (fromStart && seen.raws.length < 3) fail(`expected several outputs before agent_end, got ${show(seen.raws)}`);
    console.log(`ok answered ${show(want)}: subscribed as ${seen.subscribed.status}, ${seen.raws.length - 1} outputs`);
  }
}

async function main() {
  const [mode, base, key, extra, extra2] = process.argv.slice(2);
  if (!base || !key) fail("usage: wiro_client.js MODE HTTPBASE KEY");
  console.log(`ws ${require("ws/package.json").version}, node ${process.version}, mode ${mode}, base ${base}`);
  if (typeof fetch !== "function") fail("this Node has no global fetch (Node 18 or newer needed)");
  const timer = setTimeout(() => fail(`${mode}: timed out after ${TIMEOUT_MS}ms`), TIMEOUT_MS);
  // Node loads fetch's implementation on first use (about 200ms): warm it
  // up, so a send is followed by its subscription at once.
  await fetch(new URL("/healthz", base)).then((r) => r.text());
  const modes = { flow: modeFlow, session: modeSession, late: modeLate, midstream: modeMidstream, badkey: modeBadKey, cancel: modeCancel, reply: (b, k) => modeReply(b, k, extra, extra2) };
  if (!modes[mode]) fail(`unknown mode ${mode}`);
  await modes[mode](base, key);
  clearTimeout(timer);
  console.log(`PASS: ${mode}`);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
