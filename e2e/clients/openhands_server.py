#!/usr/bin/python3
"""A fake OpenHands server for the agentbridge end-to-end suite.

Written from docs/protocols/openhands-socketio.md (OpenHands' V0
conversation socket), on the library OpenHands itself runs on:
python-socketio (Debian's python3-socketio, with python3-engineio and
python3-aiohttp; run with /usr/bin/python3). It is not OpenHands: it keeps
conversations in memory and its "agent" answers every message with
"OpenHands heard: <content>".

    openhands_server.py [--key KEY]

It listens on 127.0.0.1 on a free port, prints "READY http://127.0.0.1:PORT/"
and serves until its standard input closes or it gets SIGTERM.

What it does, as the reference says OpenHands does:
  - Socket.IO at /socket.io/; connect refuses a missing conversation_id
    ("No conversation_id in query params") and, with --key, a wrong or
    missing session_api_key ("invalid_session_api_key");
  - in the connect handler, before the connect ack, it replays the
    conversation's events after latest_event_id, holding back the
    agent_state_changed events and sending only the last one after the
    others;
  - after the ack, a new conversation's agent state goes
    awaiting_user_input (the agent loop started), unless a message came
    first;
  - oh_user_action (or oh_action) "message" with args.content: the event
    is stored and broadcast with source "user" (an action carrying "id" is
    refused with {"error":true,"message":"Event already has an ID"}), then
    agent_state_changed running, a think action, a run action and its
    observation (cause: the action's id) when the content says "tool",
    the agent's message action with llm_metrics (cumulative prompt and
    completion tokens: the words of each message and reply), then
    awaiting_user_input; content "fail" ends in agent_state_changed error
    with a reason, content "slow" answers in 20 agent messages 100ms apart;
  - change_agent_state "stopped" cancels the agent's turn and sends
    agent_state_changed stopped.

Every event it emits is printed ("> " + JSON) and every action it gets
("< " + JSON), for the test's log.
"""

import asyncio
import datetime
import inspect
import json
import sys
import urllib.parse

import socketio
from aiohttp import web

KEY = None
if len(sys.argv) == 3 and sys.argv[1] == "--key":
    KEY = sys.argv[2]
elif len(sys.argv) != 1:
    sys.exit(__doc__)

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", max_http_buffer_size=4 * 1024 * 1024)
app = web.Application()
sio.attach(app)


class Conversation:
    def __init__(self, cid):
        self.cid = cid
        self.events = []
        self.prompt = 0
        self.completion = 0
        self.task = None
        self.started = False

    def room(self):
        return "room:" + self.cid


conversations = {}
sessions = {}  # sid -> conversation id


def now():
    return datetime.datetime.now().isoformat()


def log(*args):
    print(*args, flush=True)


async def add_event(conv, event):
    """Stores the event with the next id and sends it to the room."""
    event = dict(event)
    event["id"] = len(conv.events)
    event["timestamp"] = now()
    conv.events.append(event)
    # The live filter sends environment events with source "agent"; the
    # replay keeps what was stored.
    live = dict(event)
    if live["source"] == "environment":
        live["source"] = "agent"
    log(">", json.dumps(live))
    await sio.emit("oh_event", live, room=conv.room())
    return event["id"]


def state(agent_state, reason=""):
    return {"source": "environment", "message": "", "observation": "agent_state_changed", "content": "",
            "extras": {"agent_state": agent_state, "reason": reason}}


@sio.event
async def connect(sid, environ, auth=None):
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    cid = query.get("conversation_id", [None])[0]
    if not cid:
        raise socketio.exceptions.ConnectionRefusedError("No conversation_id in query params")
    if KEY is not None and query.get("session_api_key", [None])[0] != KEY:
        raise socketio.exceptions.ConnectionRefusedError("invalid_session_api_key")
    try:
        latest = int(query.get("latest_event_id", ["-1"])[0])
    except ValueError:
        latest = -1
    conv = conversations.setdefault(cid, Conversation(cid))
    # The replay, from inside the connect handler: before the ack. Events
    # the agent adds while it is sent (each emit yields) are sent too, and
    # the socket joins the room with no yield after the last check (Debian's
    # python-socketio 5.7 joins synchronously): no event is missed or sent
    # twice.
    held = None
    i = latest + 1
    while True:
        while i < len(conv.events):
            event = conv.events[i]
            i += 1
            if event.get("observation") == "agent_state_changed":
                held = event
                continue
            await sio.emit("oh_event", event, to=sid)
        if held is None:
            break
        last, held = held, None
        await sio.emit("oh_event", last, to=sid)
    sessions[sid] = cid
    entered = sio.enter_room(sid, conv.room())  # a coroutine in python-socketio 5.8 and later
    if inspect.isawaitable(entered):
        await entered
    log("connect", sid, cid, "latest_event_id", latest, "replayed", i - (latest + 1))
    if not conv.started:
        conv.started = True
        asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(loop_started(conv)))


async def loop_started(conv):
    """The agent loop's first state, unless a turn began first.

    OpenHands starts the loop before it handles a message, so the loop's
    awaiting_user_input never lands inside a turn; on a loaded machine this
    server's first turn can finish, and a second begin, inside the 50ms.
    """
    if conv.task is None:
        await add_event(conv, state("awaiting_user_input"))


@sio.event
async def disconnect(sid):
    sessions.pop(sid, None)
    log("disconnect", sid)


async def user_action(sid, data):
    log("<", json.dumps(data))
    conv = conversations.get(sessions.get(sid))
    if conv is None:
        return
    if not isinstance(data, dict) or "action" not in data:
        await sio.emit("oh_event", {"error": True, "message": "Unknown event type"}, to=sid)
        return
    if "id" in data:
        await sio.emit("oh_event", {"error": True, "message": "Event already has an ID"}, to=sid)
        return
    action, args = data["action"], data.get("args", {})
    if action == "message":
        content = args["content"]
        await add_event(conv, {"source": "user", "message": content, "action": "message",
                               "args": {"content": content, "image_urls": args.get("image_urls", []),
                                        "file_urls": args.get("file_urls", []), "wait_for_response": False,
                                        "security_risk": -1}})
        conv.task = asyncio.ensure_future(agent_turn(conv, content))
    elif action == "change_agent_state" and args.get("agent_state") == "stopped":
        if conv.task is not None and not conv.task.done():
            conv.task.cancel()
        await add_event(conv, state("stopped"))
    else:
        await sio.emit("oh_event", {"error": True, "message": "unsupported action " + str(action)}, to=sid)


sio.on("oh_user_action", user_action)
sio.on("oh_action", user_action)


async def agent_turn(conv, content):
    await add_event(conv, state("running"))
    await asyncio.sleep(0.01)
    if content == "fail":
        await add_event(conv, state("error", "LLM authentication failed"))
        return
    await add_event(conv, {"source": "agent", "message": "I am thinking...", "action": "think",
                           "args": {"thought": "The user said: " + content}})
    if "tool" in content:
        run_id = await add_event(conv, {"source": "agent", "message": "Running command: echo hi", "action": "run",
                                        "args": {"command": "echo hi", "is_input": False, "thought": "",
                                                 "blocking": False, "hidden": False, "security_risk": -1}})
        await add_event(conv, {"source": "environment", "message": "Command finished", "observation": "run",
                               "cause": run_id, "content": "hi\n",
                               "extras": {"command": "echo hi", "metadata": {"exit_code": 0}}, "success": True})
    reply = "OpenHands heard: " + content
    if content == "slow":
        for i in range(20):
            await asyncio.sleep(0.1)
            await add_event(conv, {"source": "agent", "message": "part %d" % i, "action": "message",
                                   "args": {"content": "part %d" % i, "wait_for_response": False}})
    conv.prompt += len(content.split())
    conv.completion += len(reply.split())
    await add_event(conv, {"source": "agent", "message": reply, "action": "message",
                           "llm_metrics": {"accumulated_cost": 0.0, "max_budget_per_task": None,
                                           "accumulated_token_usage": {
                                               "model": "fake", "prompt_tokens": conv.prompt,
                                               "completion_tokens": conv.completion, "cache_read_tokens": 0,
                                               "cache_write_tokens": 0, "context_window": 0,
                                               "per_turn_token": 0, "response_id": ""},
                                           "costs": [], "response_latencies": [], "token_usages": []},
                           "args": {"content": reply, "file_urls": None, "image_urls": None,
                                    "wait_for_response": True, "security_risk": -1}})
    await add_event(conv, state("awaiting_user_input"))


async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    log("READY http://127.0.0.1:%d/" % port)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.read1(4096) and not stdin_closed.done():
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    await stdin_closed
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
