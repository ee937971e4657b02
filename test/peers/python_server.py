#!/usr/bin/python3
"""Server side of the scripted interop exchange, on Python's `websockets`.

Run with Debian's interpreter (the only one that has python3-websockets):

    /usr/bin/python3 test/peers/python_server.py --port 0

It listens on 127.0.0.1, prints exactly one line `PORT <n>` once listening,
then echoes every message with its type (text stays text, binary stays
binary) and answers the text "close-me" by closing with 4001 "server bye".
The subprotocol it chooses is "wsport-test".

It stops on SIGTERM, SIGINT, or when its stdin reaches end of file. The
stdin rule is what keeps it from outliving a test process that died without
calling stop(): the parent's end of the pipe closes with the parent.
Written against websockets 10.4 (Debian bookworm), whose API is the
"legacy" asyncio one.
"""

import argparse
import asyncio
import os
import signal
import sys
import threading

import websockets

SUBPROTOCOL = "wsport-test"


async def exchange(ws):
    try:
        async for message in ws:
            if message == "close-me":
                await ws.close(4001, "server bye")
                return
            # `message` is str for text frames and bytes for binary ones, and
            # send() picks the frame type from that: the type round-trips.
            await ws.send(message)
    except websockets.ConnectionClosed:
        # websockets has already echoed the client's close code and reason
        # (connection A's 4000 "bye"); `async for` only ends quietly for
        # 1000/1001 and raises for other codes, which is no error here.
        pass


def watch_stdin(loop, stop):
    # A thread, not loop.add_reader: stdin may be a file or /dev/null, which
    # epoll refuses, and a blocking read works for every kind of stdin.
    # os.read on the raw fd, not sys.stdin: a daemon thread blocked inside
    # the buffered reader makes interpreter shutdown abort ("could not
    # acquire lock for <stdin>").
    fd = sys.stdin.fileno()

    def run():
        try:
            while os.read(fd, 65536):
                pass
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result("stdin closed"))

    threading.Thread(target=run, daemon=True).start()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--host", default="127.0.0.1")
    # Connection A sends 100,000 bytes; websockets' default limit (1 MiB)
    # would do, but it is set explicitly so the exchange never depends on it.
    parser.add_argument("--max-size", type=int, default=16 * 1024 * 1024)
    # websockets negotiates permessage-deflate when a client offers it, as a
    # real deployment would; this switches that off to test plain frames.
    parser.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()

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
        compression=None if args.no_compression else "deflate",
        # No keepalive pings: the exchange should be exactly the scripted one.
        ping_interval=None,
        close_timeout=5,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
