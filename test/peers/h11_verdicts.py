"""Feeds byte streams to Python's h11 (Debian's python3-h11) as an HTTP/1.1
server would, and prints what it made of each, for the differential test
(test/http_differential_test.ts), which feeds the same streams to wsport's
HttpServerProtocol and compares.

Input (stdin): a JSON list of base64-encoded byte streams.
Output (stdout): a JSON list, one verdict per stream:
  {"requests": [{"method", "target", "body": hex}...], "error": bool}
Every request is answered 200 with a small body as soon as it is complete,
then the connection goes on to the next (h11's start_next_cycle), so that
pipelined requests are read the way wsport reads them. The stream is fed
whole, then EOF; "error" is whether h11 rejected anything.
"""

import base64
import json
import sys

import h11


def verdict(data: bytes) -> dict:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")  # EOF
    requests = []
    current = None
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return {"requests": requests, "error": True}
        if event is h11.NEED_DATA or event is h11.PAUSED:
            break
        if isinstance(event, h11.ConnectionClosed):
            break
        if isinstance(event, h11.Request):
            current = {
                "method": event.method.decode("latin-1"),
                "target": event.target.decode("latin-1"),
                "body": "",
            }
        elif isinstance(event, h11.Data):
            current["body"] += bytes(event.data).hex()
        elif isinstance(event, h11.EndOfMessage):
            requests.append(current)
            current = None
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "2")]))
            conn.send(h11.Data(data=b"ok"))
            conn.send(h11.EndOfMessage())
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                break
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                break
    # A request cut short by EOF is an error for a server: it cannot be answered.
    return {"requests": requests, "error": current is not None}


def main() -> None:
    streams = json.load(sys.stdin)
    out = [verdict(base64.b64decode(s)) for s in streams]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
