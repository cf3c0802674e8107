#!/usr/bin/python3
"""A tiny backend-for-frontend: serves index.html and, on POST /ticket,
mints a ticket from the proxy with the secret only it holds, for the page
to connect with.

    /usr/bin/python3 bff.py [LISTEN] [PROXY]

LISTEN defaults to 127.0.0.1:8000 (port 0: any free port), PROXY to
http://127.0.0.1:8080. The secret is $TICKET_ISSUER_SECRET, default the
dev value dev-issuer-secret of config.yaml. Standard library only. Prints
"serving http://HOST:PORT" once it listens.
"""

import http.server
import json
import os
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = os.environ.get("TICKET_ISSUER_SECRET", "dev-issuer-secret")


class Handler(http.server.BaseHTTPRequestHandler):
    proxy = "http://127.0.0.1:8080"

    def do_GET(self):
        if self.path not in ("/", "/index.html"):
            return self.answer(404, "text/plain", b"not found\n")
        with open(os.path.join(HERE, "index.html"), "rb") as f:
            self.answer(200, "text/html; charset=utf-8", f.read())

    def do_POST(self):
        if self.path != "/ticket":
            return self.answer(404, "text/plain", b"not found\n")
        # A real BFF checks its own user session (a cookie) here, and that
        # the request comes from its own page (Origin), against CSRF.
        origin = self.headers.get("Origin")
        if origin is not None and origin != "http://" + self.headers.get("Host", ""):
            return self.answer(403, "text/plain", b"wrong origin\n")
        req = urllib.request.Request(
            self.proxy.rstrip("/") + "/auth/tickets", method="POST",
            data=json.dumps({"route": "chat"}).encode(),
            headers={"Authorization": "Bearer " + SECRET, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except OSError as e:
            status, body = 502, json.dumps({"error": str(e)}).encode()
        self.answer(status, "application/json", body)  # {"ticket","expires_at","url"}

    def answer(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("bff: " + (fmt % args) + "\n")


if __name__ == "__main__":
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000").rsplit(":", 1)
    if len(sys.argv) > 2:
        Handler.proxy = sys.argv[2]
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    print(f"serving http://{host}:{srv.server_address[1]}", flush=True)
    srv.serve_forever()
