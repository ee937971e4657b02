#!/usr/bin/python3
"""permessage-deflate echo server on Python's `websockets`, for the interop tests.

    /usr/bin/python3 test/peers/python_deflate_server.py --port 0 [options]

Listens on 127.0.0.1 and prints exactly one line `PORT <n>` once listening.
Every message is echoed with its type (text stays text, binary stays binary),
except the text "stats?", which is answered with one JSON text message
describing this connection as Python saw it:

    {"request_extensions": "...", "response_extensions": "...",
     "negotiated": "PerMessageDeflate(...)",
     "compressed_in": n, "compressed_out": n,
     "received": [{"type": "text"|"binary", "length": n, "sha256": "..."}, ...]}

`compressed_in`/`compressed_out` count the data messages whose first frame
had RSV1 set, received and sent (counted inside websockets' own
permessage-deflate extension); `received` lists every message before
"stats?" as websockets inflated it. Compression is websockets' default
(server_max_window_bits=12, client_max_window_bits=12, memLevel 5) unless
options say otherwise.

It stops on SIGTERM, SIGINT, or when its stdin reaches end of file (so it
cannot outlive the test process). Written against websockets 10.4 (Debian
bookworm), whose API is the "legacy" asyncio one.
"""

import argparse
import asyncio
import json
import signal

import websockets
from websockets.extensions import permessage_deflate as pmd

from python_deflate_common import count_compressed_frames, digest
from python_server import watch_stdin

SUBPROTOCOL = "wsport-deflate"




def window(value):
    return True if value == "bare" else int(value)


def describe(ws, received):
    deflate = [e for e in ws.extensions if isinstance(e, pmd.PerMessageDeflate)]
    ext = deflate[0] if deflate else None
    return {
        "request_extensions": ws.request_headers.get("Sec-WebSocket-Extensions", ""),
        "response_extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
        "negotiated": repr(ext) if ext else "",
        "compressed_in": getattr(ext, "compressed_in", 0),
        "compressed_out": getattr(ext, "compressed_out", 0),
        "received": received,
    }


async def exchange(ws):
    received = []
    try:
        async for message in ws:
            if message == "stats?":
                await ws.send(json.dumps(describe(ws, received)))
                continue
            received.append(digest(message))
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass




async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-size", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits", type=window)
    args = parser.parse_args()

    count_compressed_frames()
    custom = (args.server_no_context_takeover or args.client_no_context_takeover
              or args.server_max_window_bits is not None or args.client_max_window_bits is not None)
    extensions = None
    if custom:
        extensions = [pmd.ServerPerMessageDeflateFactory(
            server_no_context_takeover=args.server_no_context_takeover,
            client_no_context_takeover=args.client_no_context_takeover,
            server_max_window_bits=args.server_max_window_bits,
            client_max_window_bits=args.client_max_window_bits,
            compress_settings={"memLevel": 5},
        )]

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: stop.done() or stop.set_result(s.name))
    watch_stdin(loop, stop)

    async with websockets.serve(
        exchange,
        args.host,
        args.port,
        subprotocols=[SUBPROTOCOL],
        max_size=args.max_size,
        compression=None if custom else "deflate",
        extensions=extensions,
        ping_interval=None,
        close_timeout=5,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
