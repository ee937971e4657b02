"""Python's http.client (the standard library of Debian's python3) against
a wsport server, for test/http_interop_test.ts: several requests over one
kept-alive HTTPConnection (a GET, a POST with a body, a chunked upload, a
streamed chunked answer read in parts, a HEAD, a 404), printed as JSON.

Usage: python3 http_client.py PORT
"""

import http.client
import json
import sys


def main() -> None:
    port = int(sys.argv[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = {}

    conn.request("GET", "/hello")
    r = conn.getresponse()
    out["get"] = [r.status, r.read().decode(), r.getheader("Content-Length")]

    conn.request("POST", "/echo", body=b"x" * 100000, headers={"Content-Type": "application/octet-stream"})
    r = conn.getresponse()
    out["post"] = [r.status, r.read().decode()]

    def parts():
        for i in range(5):
            yield b"part %d;" % i

    conn.request("PUT", "/echo", body=parts(), encode_chunked=True)
    r = conn.getresponse()
    out["chunked_upload"] = [r.status, r.read().decode()]

    conn.request("GET", "/stream")
    r = conn.getresponse()
    pieces = []
    while True:
        piece = r.read1(65536)
        if not piece:
            break
        pieces.append(piece.decode())
    out["stream"] = [r.status, r.getheader("Transfer-Encoding"), "".join(pieces)]

    conn.request("HEAD", "/hello")
    r = conn.getresponse()
    out["head"] = [r.status, r.read().decode(), r.getheader("Content-Length")]

    conn.request("GET", "/missing")
    r = conn.getresponse()
    out["missing"] = [r.status, len(r.read())]

    # The same socket all along: http.client reconnects silently otherwise, so compare.
    out["socket"] = conn.sock.getsockname()[1] if conn.sock else None
    conn.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
