"""What the agentbridge end-to-end Python clients share: failure reporting,
the HTTP status of a refused handshake across websockets versions, and the
command-line runner. Imported from the clients' own directory."""

import asyncio
import sys

import websockets
import websockets.exceptions as wse


class Mismatch(Exception):
    """A check that did not hold; the runner reports it as FAIL."""


def log(*args):
    print(*args, flush=True)


def expect(what, got, want):
    if got != want:
        raise Mismatch(f"{what}: got {got!r}, want {want!r}")


def status_of(exc):
    """The HTTP status of a refused handshake, or None."""
    if isinstance(exc, getattr(wse, "InvalidStatusCode", ())):  # websockets <= 13 legacy client
        return exc.status_code
    if isinstance(exc, getattr(wse, "InvalidStatus", ())):  # websockets >= 11 new client
        return exc.response.status_code
    return None


def run(doc, argv, modes, timeout):
    """Runs `argv[0] MODE URL [ARGS...]`: modes maps a mode's name to a
    function of (url, args) returning its coroutine, which gets timeout
    seconds. Returns the exit status: 0 when every check held, 1 with a
    "FAIL: ..." line otherwise, 2 for a bad command line."""
    if len(argv) < 3:
        print(doc, file=sys.stderr)
        return 2
    mode, url, rest = argv[1], argv[2], argv[3:]
    log(f"websockets {websockets.__version__}, mode {mode}, url {url}")
    if mode not in modes:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    try:
        asyncio.run(asyncio.wait_for(modes[mode](url, rest), timeout))
    except Mismatch as exc:
        log(f"FAIL: {mode}: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - report anything else clearly
        log(f"FAIL: {mode}: unexpected {type(exc).__name__}: {exc}")
        return 1
    log(f"PASS: {mode}")
    return 0
