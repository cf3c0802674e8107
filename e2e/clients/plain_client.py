#!/usr/bin/python3
"""Plain-dialect client for the agentbridge end-to-end suite.

Uses the third-party `websockets` library (Debian's python3-websockets; run
with /usr/bin/python3). Works with websockets 10.x (legacy asyncio client,
InvalidStatusCode) and newer releases (InvalidStatus).

    plain_client.py demo     URL          whole replies: "You said: <text>"
    plain_client.py stream   URL MARKER [PREFIX]
                                  chunks until MARKER, joined text (PREFIX
                                  + text, default "You said: ")
    plain_client.py echo     URL [PREFIX] passthrough to the echo backend
                                  ("echo: ", or PREFIX + text)
    plain_client.py status   URL CODE     the handshake is refused with CODE
    plain_client.py shutdown URL MARKER   (MARKER "-" for whole replies) a
                                          slow reply in flight, then close 1001
    plain_client.py refused  URL          a new connection is not accepted

Exits 0 when every check holds, 1 with a "FAIL: ..." line otherwise.
"""

import asyncio
import sys

import websockets
import websockets.exceptions as wse

from e2ecommon import Mismatch, expect, log, run, status_of

TIMEOUT = 20  # seconds, for each whole mode
OPEN_TIMEOUT = 5


def connect(url):
    # ping_interval=None: the suite's own pings are explicit (shutdown mode).
    return websockets.connect(url, open_timeout=OPEN_TIMEOUT, ping_interval=None, max_size=2**22)


async def recv_text(ws):
    msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
    if not isinstance(msg, str):
        raise Mismatch(f"expected a text frame, got binary {msg!r}")
    return msg


async def expect_close(ws, code):
    """Waits for the server's close and checks its code."""
    try:
        extra = await asyncio.wait_for(ws.recv(), TIMEOUT)
        raise Mismatch(f"expected a close {code}, got another message {extra!r}")
    except wse.ConnectionClosed:
        pass
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    expect("close code", ws.close_code, code)


async def mode_demo(url):
    async with connect(url) as ws:
        for text in ["hello from python", "second message on the same socket", "unicode: héllo wörld ✓"]:
            await ws.send(text)
            expect("demo reply", await recv_text(ws), "You said: " + text)
            log("ok demo:", text)
        pong = await ws.ping(b"demo-ping")
        await asyncio.wait_for(pong, TIMEOUT)
        log("ok pong")


async def mode_stream(url, marker, prefix="You said: "):
    text = "streaming replies arrive word by word"
    async with connect(url) as ws:
        for _ in range(2):  # two turns: the marker must end each one
            await ws.send(text)
            chunks = []
            while True:
                m = await recv_text(ws)
                if m == marker:
                    break
                chunks.append(m)
            expect("joined stream reply", "".join(chunks), prefix + text)
            if len(chunks) < 2:
                raise Mismatch(f"expected several chunks, got {chunks!r}")
            log(f"ok stream: {len(chunks)} chunks")


async def mode_echo(url, prefix="echo: "):
    async with connect(url) as ws:
        for text in ["ping through the relay", "a second one"]:
            await ws.send(text)
            expect("echo reply", await recv_text(ws), prefix + text)
            log("ok echo:", text)
        pong = await ws.ping(b"relay-ping")
        await asyncio.wait_for(pong, TIMEOUT)
        log("ok pong through the relay")
    expect("close code after our close", ws.close_code, 1000)


async def mode_status(url, code):
    try:
        async with connect(url) as ws:
            await ws.close()
    except Exception as exc:  # noqa: BLE001 - we classify below
        got = status_of(exc)
        if got is None:
            raise Mismatch(f"expected InvalidStatus/InvalidStatusCode {code}, got {type(exc).__name__}: {exc}")
        expect(f"HTTP status ({type(exc).__name__})", got, code)
        log(f"ok status: {type(exc).__name__} {got}")
        return
    raise Mismatch(f"expected the handshake to be refused with {code}, but it was accepted")


async def mode_shutdown(url, marker):
    # A long message: at the suite's 50ms pace the reply takes seconds.
    text = " ".join(f"word{i}" for i in range(40))
    want = "You said: " + text
    async with connect(url) as ws:
        await ws.send(text)
        # Frames are read in order: once our ping's pong is back, the proxy
        # has read the message, so its reply is in flight.
        pong = await ws.ping()
        await asyncio.wait_for(pong, TIMEOUT)
        log("inflight")
        if marker == "-":
            got = await recv_text(ws)
        else:
            chunks = []
            while True:
                m = await recv_text(ws)
                if m == marker:
                    break
                chunks.append(m)
            got = "".join(chunks)
        expect("reply during shutdown", got, want)
        log("ok reply complete")
        await expect_close(ws, 1001)
        log(f"ok close {ws.close_code} {ws.close_reason!r}")


async def mode_refused(url):
    try:
        async with connect(url) as ws:
            await ws.close()
    except OSError as exc:  # ConnectionRefusedError and friends
        log(f"ok refused: {type(exc).__name__}: {exc}")
        return
    except Exception as exc:  # noqa: BLE001
        got = status_of(exc)
        if got == 503:
            log(f"ok refused: {type(exc).__name__} 503")
            return
        raise Mismatch(f"expected a refused connection, got {type(exc).__name__}: {exc}")
    raise Mismatch("expected a refused connection, but the handshake was accepted")


MODES = {
    "demo": lambda url, rest: mode_demo(url),
    "stream": lambda url, rest: mode_stream(url, *rest[:2]),
    "echo": lambda url, rest: mode_echo(url, *rest[:1]),
    "status": lambda url, rest: mode_status(url, int(rest[0])),
    "shutdown": lambda url, rest: mode_shutdown(url, rest[0]),
    "refused": lambda url, rest: mode_refused(url),
}


if __name__ == "__main__":
    sys.exit(run(__doc__, sys.argv, MODES, TIMEOUT + 5))
