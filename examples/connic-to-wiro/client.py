#!/usr/bin/python3
"""A Connic client, exactly as it was before its backend moved to Wiro.

    /usr/bin/python3 client.py [BASE] [MESSAGE]

BASE is where the proxy listens (default http://127.0.0.1:8080); the
client connects to BASE's /connic route, authenticates with its first
message ({"secret": ...}, $CONNIC_CLIENT_SECRET or demo-secret), sends
MESSAGE and prints the streamed reply. Needs the `websockets` package
(Debian: apt-get install python3-websockets). Exits 1 when the reply does
not end in a stream_end.
"""

import asyncio
import json
import os
import sys

import websockets


async def chat(base, message):
    url = base.replace("http", "ws", 1).rstrip("/") + "/connic"
    async with websockets.connect(url, open_timeout=5) as ws:
        await ws.send(json.dumps({"secret": os.environ.get("CONNIC_CLIENT_SECRET", "demo-secret")}))
        print("connected:", json.loads(await ws.recv()))
        await ws.send(json.dumps({"type": "message", "id": "msg-1", "payload": {"message": message}}))
        while True:
            data = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if data["type"] == "stream_chunk":
                print(data["chunk"], end="", flush=True)
            elif data["type"] == "stream_end":
                print("\nfull response:", data["full_response"])
                print("tokens:", data["token_usage"])
                return
            elif data["type"] == "error":
                sys.exit(f"error: {data}")


if __name__ == "__main__":
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    message = sys.argv[2] if len(sys.argv) > 2 else "Hello from a Connic client"
    asyncio.run(asyncio.wait_for(chat(base, message), 30))
