#!/usr/bin/env python3
"""Bytes of the pushes one audience socket gets, for scripts/bench.sh.

    python3 scripts/push-bytes.py PORT [DECISION CHOICE]

Against a cyoa server on 127.0.0.1:PORT whose vote on DECISION (default
what-did-you-build) is open: takes a voter cookie from the audience page,
opens its socket (a WebSocket client in the standard library, no package),
reads the first `state` push, votes CHOICE (default tinder) by the form,
and reads until the `tally` push that follows. Prints one line:

    state <bytes> tally <bytes>

each the WebSocket frame as sent (payload and frame header), not counting
TCP/IP or TLS. Exits 1 when the server does not answer as expected.
"""

import base64
import json
import os
import socket
import sys
import urllib.parse
import urllib.request


def frame(stream):
    """One frame: (opcode, payload, bytes on the wire)."""
    head = stream.read(2)
    if len(head) < 2:
        sys.exit("push-bytes.py: the socket closed")
    length, size = head[1] & 127, 2
    if length == 126:
        length, size = int.from_bytes(stream.read(2), "big"), 4
    elif length == 127:
        length, size = int.from_bytes(stream.read(8), "big"), 10
    return head[0] & 15, stream.read(length), size + length


def main():
    port = int(sys.argv[1])
    decision = sys.argv[2] if len(sys.argv) > 2 else "what-did-you-build"
    choice = sys.argv[3] if len(sys.argv) > 3 else "tinder"
    base = f"http://127.0.0.1:{port}"
    page = urllib.request.urlopen(base + "/", timeout=10)
    cookie = "; ".join(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") or [])
    if not cookie:
        sys.exit("push-bytes.py: the audience page set no cookie")

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {base}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    stream = sock.makefile("rb")
    status = stream.readline()
    if b" 101 " not in status:
        sys.exit(f"push-bytes.py: no WebSocket: {status!r}")
    while stream.readline() not in (b"\r\n", b""):
        pass

    sizes = {}
    vote = urllib.request.Request(
        f"{base}/vote/{decision}",
        data=urllib.parse.urlencode({"choice": choice}).encode(),
        headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Origin": base},
    )
    while "tally" not in sizes:
        opcode, payload, wire = frame(stream)
        if opcode != 1:
            continue
        kind = json.loads(payload).get("type")
        if kind == "state" and "state" not in sizes:
            sizes["state"] = wire
            urllib.request.urlopen(vote, timeout=10)
        elif kind == "tally" and "state" in sizes:
            sizes["tally"] = wire
    print(f"state {sizes['state']} tally {sizes['tally']}")


main()
