#!/usr/bin/python3
"""A Connic client that authenticates with a JWT it mints itself.

    JWT_SECRET=agentbridge-example-dev-key-not-a-secret \
        /usr/bin/python3 client.py [BASE] [MESSAGE]

In production your identity provider issues the token; here the client
signs one with HS256 and the dev key in $JWT_SECRET (never a real
secret), for subject "alice", valid 5 minutes, with the issuer and
audience config.yaml requires. It connects to BASE's /connic/chat
(default http://127.0.0.1:8080) with `Authorization: Bearer <token>`,
sends MESSAGE and prints the streamed reply. A token signed with another
key is refused with HTTP 401 before the upgrade; the client checks that
too. Needs only the standard library and `websockets` (Debian:
apt-get install python3-websockets). Exits 1 on any failure.
"""

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import os
import sys
import time

import websockets


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(key, subject, ttl=300):
    """An HS256 JWT: header.payload.signature, each base64url."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": subject, "iss": "https://login.example.com/", "aud": "agentbridge",
              "iat": now, "exp": now + ttl}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def connect(url, token):
    # websockets 14+ calls it additional_headers; 10-13 extra_headers.
    params = inspect.signature(websockets.connect).parameters
    kw = "additional_headers" if "additional_headers" in params else "extra_headers"
    return websockets.connect(url, open_timeout=5, **{kw: {"Authorization": "Bearer " + token}})


def refused_status(exc):
    """The HTTP status of a refused handshake, across websockets versions."""
    if hasattr(exc, "status_code"):  # websockets <= 13
        return exc.status_code
    return getattr(getattr(exc, "response", None), "status_code", None)


async def chat(url, key, message):
    async with connect(url, mint(key, "alice")) as ws:
        print("connected:", json.loads(await ws.recv()))
        await ws.send(json.dumps({"type": "message", "id": "msg-1", "payload": {"message": message}}))
        while True:
            data = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if data["type"] == "stream_chunk":
                print(data["chunk"], end="", flush=True)
            elif data["type"] == "stream_end":
                print("\nfull response:", data["full_response"])
                break
            elif data["type"] == "error":
                sys.exit(f"error: {data}")
    try:
        async with connect(url, mint("some-other-key-" + key, "mallory")):
            sys.exit("a token signed with another key was admitted")
    except websockets.exceptions.InvalidHandshake as exc:
        print("a token signed with another key: HTTP", refused_status(exc))
        if refused_status(exc) != 401:
            sys.exit("want 401")


if __name__ == "__main__":
    key = os.environ.get("JWT_SECRET")
    if not key:
        sys.exit("set JWT_SECRET (the dev key: export JWT_SECRET=agentbridge-example-dev-key-not-a-secret)")
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    message = sys.argv[2] if len(sys.argv) > 2 else "Hello with a JWT"
    url = base.replace("http", "ws", 1).rstrip("/") + "/connic/chat"
    asyncio.run(asyncio.wait_for(chat(url, key, message), 30))
