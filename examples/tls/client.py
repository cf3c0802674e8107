#!/usr/bin/python3
"""Connects to the proxy over TLS (wss://), verifying its certificate
against CAFILE (the self-signed cert.pem: it is its own authority), checks
/healthz over https:// and streams one reply.

    /usr/bin/python3 client.py [BASE] [CAFILE]

BASE defaults to https://localhost:8443, CAFILE to cert.pem. Needs
`websockets` (Debian: apt-get install python3-websockets). Exits 1 on any
failure.
"""

import asyncio
import ssl
import sys
import urllib.request

import websockets


async def main(base, cafile):
    ctx = ssl.create_default_context(cafile=cafile)  # verifies the chain and the host name
    with urllib.request.urlopen(base.rstrip("/") + "/healthz", context=ctx, timeout=5) as r:
        print("GET /healthz:", r.status, r.read().decode().strip())
    url = base.replace("https", "wss", 1).rstrip("/") + "/chat"
    async with websockets.connect(url, ssl=ctx, open_timeout=5) as ws:
        print("TLS:", ws.transport.get_extra_info("ssl_object").version())
        await ws.send("hello over TLS")
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if frame == "[END]":
                print()
                return
            print(frame, end="", flush=True)


if __name__ == "__main__":
    base = sys.argv[1] if len(sys.argv) > 1 else "https://localhost:8443"
    cafile = sys.argv[2] if len(sys.argv) > 2 else "cert.pem"
    asyncio.run(asyncio.wait_for(main(base, cafile), 30))
