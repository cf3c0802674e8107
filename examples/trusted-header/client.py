#!/usr/bin/python3
"""Plays the authenticating middleware: connects from 127.0.0.1 (a trusted
proxy address in config.yaml) with X-Forwarded-User set, as oauth2-proxy or
nginx's auth_request would after checking the user, and streams a reply.
Then it connects without the header and checks the 401.

    /usr/bin/python3 client.py [BASE] [USER]

BASE defaults to http://127.0.0.1:8080, USER to alice. Needs `websockets`
(Debian: apt-get install python3-websockets). Exits 1 on any failure.
"""

import asyncio
import inspect
import sys

import websockets


def connect(url, headers):
    # websockets 14+ calls it additional_headers; 10-13 extra_headers.
    params = inspect.signature(websockets.connect).parameters
    kw = "additional_headers" if "additional_headers" in params else "extra_headers"
    return websockets.connect(url, open_timeout=5, **{kw: headers})


def refused_status(exc):
    """The HTTP status of a refused handshake, across websockets versions."""
    if hasattr(exc, "status_code"):  # websockets <= 13
        return exc.status_code
    return getattr(getattr(exc, "response", None), "status_code", None)


async def main(url, user):
    async with connect(url, {"X-Forwarded-User": user}) as ws:
        await ws.send("one two three")
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if frame == "[END]":
                print()
                break
            print(frame, end="", flush=True)
    try:
        async with connect(url, {}):
            sys.exit("admitted without X-Forwarded-User")
    except websockets.exceptions.InvalidHandshake as exc:
        print("without the header: HTTP", refused_status(exc))
        if refused_status(exc) != 401:
            sys.exit("want 401")


if __name__ == "__main__":
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    user = sys.argv[2] if len(sys.argv) > 2 else "alice"
    asyncio.run(asyncio.wait_for(main(base.replace("http", "ws", 1).rstrip("/") + "/chat", user), 30))
