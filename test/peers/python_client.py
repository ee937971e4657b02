#!/usr/bin/python3
"""Client side of the scripted interop exchange, on Python's `websockets`.

    /usr/bin/python3 test/peers/python_client.py ws://127.0.0.1:PORT/path

Runs connection A (text echo, 100,000-byte binary echo, ping/pong, client
close 4000 "bye") and connection B (sends "close-me", expects the server to
close with 4001 "server bye"), then prints one JSON line:

    {"protocol": "wsport-test", "text": true, "binary": true, "ping": true,
     "closeA": [4000, "bye"], "closeB": [4001, "server bye"]}

A check that fails is reported as false (or as the close code seen) and the
script goes on, exiting 0: the JSON is the verdict. It exits non-zero, with
the reason on stderr, only when a connection cannot be opened at all.
Every wait is bounded (TIMEOUT seconds) so a silent server cannot hang it.
"""

import argparse
import asyncio
import json
import sys

import websockets

TIMEOUT = 10.0
SUBPROTOCOLS = ["wsport-test", "other-proto"]
TEXT = "hello ✓"
BINARY = bytes(i % 256 for i in range(100_000))


def log(msg):
    # Diagnostics go to stderr so stdout stays exactly one JSON line.
    print(f"python_client: {msg}", file=sys.stderr, flush=True)


async def step(name, awaitable):
    """Await with the timeout; None (and a note on stderr) on any failure."""
    try:
        return await asyncio.wait_for(awaitable, TIMEOUT)
    except Exception as e:  # noqa: BLE001 - any failure is just a failed check
        log(f"{name}: {type(e).__name__}: {e}")
        return None


async def open_connection(url, args):
    # Raising here (not returning None) is deliberate: a connection that
    # cannot be opened is an error exit, not a failed check.
    return await websockets.connect(
        url,
        subprotocols=SUBPROTOCOLS,
        max_size=args.max_size,
        compression=None if args.no_compression else "deflate",
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,  # only the scripted ping, no keepalive ones
    )


def close_of(ws):
    # close_code is None while open and 1006 if no close frame came back.
    return [ws.close_code if ws.close_code is not None else 1006, ws.close_reason or ""]


async def until_closed(ws):
    # Drain anything the server sends before its close frame (a broken
    # server might echo "close-me"); recv() raises once the close is done.
    try:
        while True:
            message = await ws.recv()
            log(f"connection B: unexpected message before close: {message!r}")
    except websockets.ConnectionClosed:
        pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--max-size", type=int, default=16 * 1024 * 1024)
    parser.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()

    result = {}

    # Connection A: the client drives everything and closes.
    ws = await open_connection(args.url, args)
    result["protocol"] = ws.subprotocol or ""

    await step("text send", ws.send(TEXT))
    echoed = await step("text echo", ws.recv())
    result["text"] = isinstance(echoed, str) and echoed == TEXT

    await step("binary send", ws.send(BINARY))
    echoed = await step("binary echo", ws.recv())
    result["binary"] = isinstance(echoed, bytes) and echoed == BINARY

    # ping() resolves its waiter only on a pong carrying the same payload,
    # so a pong that arrives in time is itself the payload check.
    waiter = await step("ping send", ws.ping(b"ping!"))
    result["ping"] = waiter is not None and await step("pong", waiter) is not None

    await step("close A", ws.close(4000, "bye"))
    result["closeA"] = close_of(ws)

    # Connection B: the server closes.
    ws = await open_connection(args.url, args)
    await step("close-me send", ws.send("close-me"))
    await step("close B", until_closed(ws))
    if ws.close_code is None:  # the server never closed: don't leave it open
        await step("close B fallback", ws.close())
    result["closeB"] = close_of(ws)

    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001
        log(f"could not run the exchange: {type(e).__name__}: {e}")
        sys.exit(2)
