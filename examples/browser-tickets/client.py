#!/usr/bin/python3
"""Does what index.html does, from a terminal: POST /ticket to the
backend-for-frontend, open the socket at the url it answers with the
page's Origin, send a message and print the streamed reply. Then it
checks that the ticket is used up: a second connection with it gets 401.

    /usr/bin/python3 client.py [BFF] [MESSAGE]

BFF defaults to http://127.0.0.1:8000 (bff.py). Needs `websockets`
(Debian: apt-get install python3-websockets). Exits 1 on any failure.
"""

import asyncio
import json
import sys
import urllib.request

import websockets


def refused_status(exc):
    """The HTTP status of a refused handshake, across websockets versions."""
    if hasattr(exc, "status_code"):  # websockets <= 13
        return exc.status_code
    return getattr(getattr(exc, "response", None), "status_code", None)


async def main(bff, message):
    req = urllib.request.Request(bff.rstrip("/") + "/ticket", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=5) as r:
        url = json.load(r)["url"]
    print("ticket url:", url.split("?")[0] + "?ticket=...")
    async with websockets.connect(url, origin=bff.rstrip("/"), open_timeout=5) as ws:
        await ws.send(message)
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if frame == "[END]":
                print()
                break
            print(frame, end="", flush=True)
    try:
        async with websockets.connect(url, origin=bff.rstrip("/"), open_timeout=5):
            sys.exit("a used ticket was accepted again")
    except websockets.exceptions.InvalidHandshake as exc:
        print("the same ticket again: HTTP", refused_status(exc))
        if refused_status(exc) != 401:
            sys.exit("want 401")


if __name__ == "__main__":
    bff = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    message = sys.argv[2] if len(sys.argv) > 2 else "hello from a browser"
    asyncio.run(asyncio.wait_for(main(bff, message), 30))
