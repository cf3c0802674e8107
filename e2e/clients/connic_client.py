#!/usr/bin/python3
"""Connic WebSocket connector client for the agentbridge end-to-end suite.

Follows the Python example of Connic's WebSocket connector document: the
third-party `websockets` library (Debian's python3-websockets; run with
/usr/bin/python3), {"secret": ...} as the first frame, {"type":"connected"},
then messages and streamed replies (ack, stream_start, stream_chunk...,
stream_end with full_response and token_usage).

    connic_client.py first-frame URL SECRET   the doc's example, then a
                                              {"type":"message","id":"msg-001"}
    connic_client.py header      URL SECRET   X-Connic-Secret header, two bare
                                              messages with distinct ids
    connic_client.py query       URL          (URL holds ?X-Connic-Secret=...)
    connic_client.py bad-header  URL SECRET   a wrong header secret: HTTP 401
    connic_client.py bad-secret  URL SECRET   a wrong first-frame secret: error
                                              "unauthorized", then close 1008
    connic_client.py bad-json    URL SECRET   an error frame, then a normal reply
    connic_client.py whole       URL SECRET   streaming off: ack, one "response"
    connic_client.py echo        URL SECRET [PREFIX]
                                              to a plain echo backend: "echo: ...",
                                              or to another echoing backend: PREFIX...
    connic_client.py metered     URL SECRET PREFIX
                                              to a backend that answers PREFIX + text
                                              whole (one chunk or more) and counts
                                              words as tokens (e2e's fake OpenHands)

Works with websockets 10.x (legacy client: extra_headers, InvalidStatusCode)
and newer releases (additional_headers, InvalidStatus). Exits 0 when every
check holds, 1 with a "FAIL: ..." line otherwise.
"""

import asyncio
import inspect
import json
import re
import sys

import websockets
import websockets.exceptions as wse

from e2ecommon import Mismatch, expect, log, run, status_of

TIMEOUT = 20  # seconds, for each whole mode
RECV_TIMEOUT = 10


def header_kwarg():
    """The connect() keyword for request headers in this websockets version."""
    params = inspect.signature(websockets.connect).parameters
    return "additional_headers" if "additional_headers" in params else "extra_headers"


def connect(url, secret_header=None):
    kw = {"open_timeout": 5}
    if secret_header is not None:
        kw[header_kwarg()] = {"X-Connic-Secret": secret_header}
    return websockets.connect(url, **kw)


async def recv_json(ws):
    msg = await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
    log("<", msg)
    if not isinstance(msg, str):
        raise Mismatch(f"expected a text frame, got binary {msg!r}")
    try:
        data = json.loads(msg)
    except ValueError:
        raise Mismatch(f"not JSON: {msg!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise Mismatch(f"expected an object with a string \"type\": {msg!r}")
    return data


async def send_json(ws, obj):
    text = json.dumps(obj)
    log(">", text)
    await ws.send(text)


def check_connected(data):
    expect("first event type", data["type"], "connected")
    for field in ("connector_run_id", "session_id"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise Mismatch(f"connected: {field} must be a non-empty string: {data!r}")
    agents = data.get("agents")
    if not isinstance(agents, list) or not agents or not all(isinstance(a, str) and a for a in agents):
        raise Mismatch(f"connected: agents must be a non-empty list of names: {data!r}")
    log(f"ok connected: run {data['connector_run_id']}, agents {agents}")
    return agents


async def authenticate(ws, secret):
    """The doc's first frame, then the connected event."""
    await send_json(ws, {"secret": secret})
    return check_connected(await recv_json(ws))


def check_usage(what, usage, prompt, candidates):
    if not isinstance(usage, dict):
        raise Mismatch(f"{what}: token_usage must be an object: {usage!r}")
    for field in ("prompt_tokens", "candidates_tokens"):
        if not isinstance(usage.get(field), int) or isinstance(usage.get(field), bool):
            raise Mismatch(f"{what}: token_usage.{field} must be an integer: {usage!r}")
    expect(f"{what}: token_usage.prompt_tokens", usage["prompt_tokens"], prompt)
    expect(f"{what}: token_usage.candidates_tokens", usage["candidates_tokens"], candidates)


def words(s):
    return len(s.split())


async def expect_ack(ws, number):
    """The ack for the next message; returns its id."""
    ack = await recv_json(ws)
    expect("event after a message", ack["type"], "ack")
    expect("ack message_number", ack.get("message_number"), number)
    if not isinstance(ack.get("id"), str) or not ack["id"]:
        raise Mismatch(f"ack without an id: {ack!r}")
    return ack["id"]


async def streamed_reply(ws, msg_id, want, usage=None, min_chunks=2):
    """stream_start, stream_chunk... and stream_end for msg_id, as the doc's
    loop reads them; checks the ids, that the chunks join to full_response,
    and token_usage (usage: (prompt, candidates), or None for the demo's
    word counts)."""
    start = await recv_json(ws)
    expect("event after ack", start["type"], "stream_start")
    expect("stream_start id", start.get("id"), msg_id)
    agent = start.get("agent")
    if not isinstance(agent, str) or not agent:
        raise Mismatch(f"stream_start without an agent: {start!r}")
    chunks = []
    while True:
        data = await recv_json(ws)
        expect(f"{data['type']} id", data.get("id"), msg_id)
        if data["type"] == "stream_chunk":
            if not isinstance(data.get("chunk"), str):
                raise Mismatch(f"stream_chunk without a string chunk: {data!r}")
            expect("stream_chunk agent", data.get("agent"), agent)
            chunks.append(data["chunk"])
        elif data["type"] == "stream_end":
            break
        else:
            raise Mismatch(f"unexpected event during the stream: {data!r}")
    expect("stream_end agent", data.get("agent"), agent)
    full = data.get("full_response")
    expect("stream_end full_response", full, want)
    expect("joined chunks", "".join(chunks), full)
    if len(chunks) < min_chunks:
        raise Mismatch(f"expected at least {min_chunks} chunks, got {chunks!r}")
    if usage is None:
        usage = (None, words(want))
    prompt, candidates = usage
    if prompt is None:
        prompt = words(want[len("You said: "):])
    check_usage("stream_end", data.get("token_usage"), prompt, candidates)
    log(f"ok stream {msg_id}: {len(chunks)} chunks, {full!r}, tokens {data['token_usage']}")
    return data


async def mode_first_frame(url, secret):
    # The document's Python example, with its checks.
    async with websockets.connect(url) as ws:
        # Authenticate
        await send_json(ws, {"secret": secret})
        response = await recv_json(ws)
        log(f"Connected: {response}")
        agents = check_connected(response)

        # Send message (the bare form): the proxy names it msg-<n>.
        await send_json(ws, {"message": "Hello!"})
        bare_id = await expect_ack(ws, 1)
        if not re.fullmatch(r"msg-\d+", bare_id):
            raise Mismatch(f"generated id: got {bare_id!r}, want msg-<n>")
        # Receive streaming response, as the example's loop does.
        chunks = []
        while True:
            msg = await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
            log("<", msg)
            data = json.loads(msg)
            expect(f"{data['type']} id", data.get("id"), bare_id)
            if data["type"] == "stream_chunk":
                print(data["chunk"], end="", flush=True)
                chunks.append(data["chunk"])
            elif data["type"] == "stream_end":
                print(f"\nDone! Tokens: {data['token_usage']}", flush=True)
                break
            elif data["type"] != "stream_start":
                raise Mismatch(f"expected stream_start, stream_chunk or stream_end (streaming is on by default), got {data!r}")
        expect("full_response", data.get("full_response"), "You said: Hello!")
        expect("joined chunks", "".join(chunks), data["full_response"])
        check_usage("stream_end", data.get("token_usage"), 1, 3)
        if data.get("agent") not in agents:
            raise Mismatch(f"stream_end agent {data.get('agent')!r} is not one of {agents!r}")

        # The document's full message form, with id and context.
        text = "What is the weather like today?"
        await send_json(ws, {"type": "message", "id": "msg-001",
                             "payload": {"message": text, "context": {"location": "New York"}}})
        expect("ack id", await expect_ack(ws, 2), "msg-001")
        await streamed_reply(ws, "msg-001", "You said: " + text)
    expect("close code after our close", ws.close_code, 1000)


async def two_bare_messages(ws):
    ids = []
    for n, text in enumerate(["first bare message", "and a second one"], start=1):
        await send_json(ws, {"message": text})
        msg_id = await expect_ack(ws, n)
        if not re.fullmatch(r"msg-\d+", msg_id):
            raise Mismatch(f"generated id: got {msg_id!r}, want msg-<n>")
        await streamed_reply(ws, msg_id, "You said: " + text)
        ids.append(msg_id)
    if ids[0] == ids[1]:
        raise Mismatch(f"two bare messages got the same id {ids[0]!r}")
    log(f"ok distinct generated ids {ids}")


async def mode_header(url, secret):
    async with connect(url, secret_header=secret) as ws:
        # Authenticated by the header: connected comes without a secret frame.
        check_connected(await recv_json(ws))
        await two_bare_messages(ws)


async def mode_query(url):
    async with connect(url) as ws:
        check_connected(await recv_json(ws))
        await two_bare_messages(ws)


async def mode_bad_header(url, secret):
    try:
        async with connect(url, secret_header=secret) as ws:
            await ws.close()
    except Exception as exc:  # noqa: BLE001 - classified below
        got = status_of(exc)
        if got is None:
            raise Mismatch(f"expected InvalidStatus/InvalidStatusCode 401, got {type(exc).__name__}: {exc}")
        expect(f"HTTP status ({type(exc).__name__})", got, 401)
        log(f"ok refused before the upgrade: {type(exc).__name__} {got}")
        return
    raise Mismatch("expected the handshake to be refused with 401, but it was accepted")


async def mode_bad_secret(url, secret):
    async with connect(url) as ws:
        await send_json(ws, {"secret": secret})
        data = await recv_json(ws)
        expect("event after a wrong secret", data["type"], "error")
        expect("error code", data.get("code"), "unauthorized")
        if not isinstance(data.get("message"), str) or not data["message"]:
            raise Mismatch(f"error without a message: {data!r}")
        try:
            extra = await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
            raise Mismatch(f"expected a close 1008, got another message {extra!r}")
        except wse.ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), RECV_TIMEOUT)
        expect("close code", ws.close_code, 1008)
        log(f"ok close {ws.close_code} {ws.close_reason!r}")


async def mode_bad_json(url, secret):
    async with connect(url) as ws:
        await authenticate(ws, secret)
        for bad in ["this is not JSON {", json.dumps({"type": "message", "payload": "not an object"})]:
            log(">", bad)
            await ws.send(bad)
            data = await recv_json(ws)
            expect("event after a malformed message", data["type"], "error")
            if not isinstance(data.get("code"), str) or not data["code"]:
                raise Mismatch(f"error without a code: {data!r}")
            if not isinstance(data.get("message"), str) or not data["message"]:
                raise Mismatch(f"error without a message: {data!r}")
            log(f"ok error {data['code']}: {data['message']}")
        # Still usable: a good message gets its reply.
        text = "still there?"
        await send_json(ws, {"type": "message", "id": "after-error", "payload": {"message": text}})
        expect("ack id", await expect_ack(ws, 1), "after-error")
        await streamed_reply(ws, "after-error", "You said: " + text)
    expect("close code after our close", ws.close_code, 1000)


async def mode_whole(url, secret):
    async with connect(url) as ws:
        await authenticate(ws, secret)
        for n, (msg_id, text) in enumerate([("msg-001", "What is the weather like today?"), (None, "Hello!")], start=1):
            body = {"type": "message", "payload": {"message": text, "context": {"location": "New York"}}}
            if msg_id:
                body["id"] = msg_id
            await send_json(ws, body)
            got_id = await expect_ack(ws, n)
            if msg_id:
                expect("ack id", got_id, msg_id)
            elif not re.fullmatch(r"msg-\d+", got_id):
                raise Mismatch(f"generated id: got {got_id!r}, want msg-<n>")
            data = await recv_json(ws)
            expect("event after ack (streaming off)", data["type"], "response")
            expect("response id", data.get("id"), got_id)
            if not isinstance(data.get("agent"), str) or not data["agent"]:
                raise Mismatch(f"response without an agent: {data!r}")
            want = "You said: " + text
            expect("response", data.get("response"), want)
            check_usage("response", data.get("token_usage"), words(text), words(want))
            log(f"ok response {got_id}: {data['response']!r}")


async def mode_echo(url, secret, prefix=None):
    # prefix: another echoing backend's (e2e/worker's AIChatAgent), which
    # streams word by word and, like a plain one, reports no token counts.
    min_chunks = 1 if prefix is None else 2
    prefix = "echo: " if prefix is None else prefix
    async with connect(url) as ws:
        await authenticate(ws, secret)
        await send_json(ws, {"message": "Hello!"})
        bare_id = await expect_ack(ws, 1)
        # A plain backend reports no token counts: 0 and 0.
        await streamed_reply(ws, bare_id, prefix + "Hello!", usage=(0, 0), min_chunks=min_chunks)
        text = "What is the weather like today?"
        await send_json(ws, {"type": "message", "id": "msg-001",
                             "payload": {"message": text, "context": {"location": "New York"}}})
        expect("ack id", await expect_ack(ws, 2), "msg-001")
        await streamed_reply(ws, "msg-001", prefix + text, usage=(0, 0), min_chunks=min_chunks)


async def mode_metered(url, secret, prefix):
    async with connect(url) as ws:
        await authenticate(ws, secret)
        for n, text in enumerate(["Hello!", "What is the weather like today?"], 1):
            await send_json(ws, {"type": "message", "id": f"msg-{n:03}", "payload": {"message": text}})
            expect("ack id", await expect_ack(ws, n), f"msg-{n:03}")
            want = prefix + text
            await streamed_reply(ws, f"msg-{n:03}", want, usage=(words(text), words(want)), min_chunks=1)


MODES = {
    "first-frame": lambda url, rest: mode_first_frame(url, rest[0]),
    "header": lambda url, rest: mode_header(url, rest[0]),
    "query": lambda url, rest: mode_query(url),
    "bad-header": lambda url, rest: mode_bad_header(url, rest[0]),
    "bad-secret": lambda url, rest: mode_bad_secret(url, rest[0]),
    "bad-json": lambda url, rest: mode_bad_json(url, rest[0]),
    "whole": lambda url, rest: mode_whole(url, rest[0]),
    "echo": lambda url, rest: mode_echo(url, *rest[:2]),
    "metered": lambda url, rest: mode_metered(url, rest[0], rest[1]),
}


if __name__ == "__main__":
    sys.exit(run(__doc__, sys.argv, MODES, TIMEOUT))
