#!/usr/bin/python3
"""permessage-deflate client on Python's `websockets`, for the interop tests.

    /usr/bin/python3 test/peers/python_deflate_client.py ws://127.0.0.1:PORT/path [options]

Connects (subprotocol "wsport-deflate", compression on), sends a fixed list
of messages one at a time and checks each echo (same type, same bytes), then
sends a burst of messages without waiting and checks their echoes in order,
closes with 1000 and prints one JSON line:

    {"request_extensions": "...", "response_extensions": "...",
     "negotiated": "PerMessageDeflate(...)", "compressed_in": n,
     "compressed_out": n, "results": [{"name": ..., "ok": true}, ...],
     "sent": [{"type": "text"|"binary", "length": n, "sha256": "..."}, ...],
     "close": [code, reason]}

Messages (deterministic): text and binary of 10 B, 2 KiB, 100 KiB and 1 MiB,
compressible and random, with one compressible text sent three times so
context takeover matters. A failed check is reported as "ok": false and the
script goes on; it exits non-zero only when it cannot connect at all. Every
wait is bounded by TIMEOUT seconds.
"""

import argparse
import asyncio
import json
import random
import sys

import websockets
from websockets.extensions import permessage_deflate as pmd

from python_deflate_common import count_compressed_frames, digest

TIMEOUT = 30.0
SUBPROTOCOLS = ["wsport-deflate"]


def log(msg):
    print(f"python_deflate_client: {msg}", file=sys.stderr, flush=True)




def compressible_text(n, tag):
    line = f"{tag}: " + "=" * 40 + " the quick brown fox jumps over the lazy dog\n"
    return (line * (n // len(line) + 1))[:n]


def random_text(n, seed):
    # Code points of 1, 2, 3 and 4 UTF-8 bytes, then ASCII to exactly n bytes.
    rng = random.Random(seed)
    ranges = [(0x20, 0x7E), (0xA0, 0x7FF), (0x800, 0xD7FF), (0x10000, 0x10FFFF)]
    out, size = [], 0
    while size < n - 4:
        lo, hi = rng.choice(ranges)
        ch = chr(rng.randint(lo, hi))
        out.append(ch)
        size += len(ch.encode("utf-8"))
    while size < n:
        out.append(chr(rng.randint(0x41, 0x5A)))
        size += 1
    return "".join(out)


def compressible_bytes(n):
    return bytes(((i >> 5) % 37) * 7 & 0xFF for i in range(n))


def random_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def messages():
    again = compressible_text(2048, "again")
    return [
        ("text 10 B", "ten bytes!"),
        ("binary 10 B random", random_bytes(10, 1)),
        ("text 2 KiB compressible", again),
        ("binary 2 KiB random", random_bytes(2048, 2)),
        ("text 2 KiB compressible, second time", again),
        ("text 100 KiB compressible", compressible_text(100 * 1024, "text")),
        ("text 100 KiB random UTF-8", random_text(100 * 1024, 3)),
        ("binary 100 KiB compressible", compressible_bytes(100 * 1024)),
        ("binary 100 KiB random", random_bytes(100 * 1024, 4)),
        ("binary 1 MiB compressible", compressible_bytes(1024 * 1024)),
        ("binary 1 MiB random", random_bytes(1024 * 1024, 5)),
        ("text 1 MiB compressible", compressible_text(1024 * 1024, "mebi")),
        ("text 2 KiB compressible, third time", again),
    ]


def burst():
    return [(f"burst {i}", compressible_text(1500 + 100 * i, f"burst {i}") if i % 2 == 0 else random_bytes(1500 + 100 * i, 10 + i))
            for i in range(8)]


def window(value):
    if value == "bare":
        return True
    if value == "none":
        return None
    return int(value)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--max-size", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits", type=window, default=True)
    args = parser.parse_args()

    count_compressed_frames()
    factory = pmd.ClientPerMessageDeflateFactory(
        server_no_context_takeover=args.server_no_context_takeover,
        client_no_context_takeover=args.client_no_context_takeover,
        server_max_window_bits=args.server_max_window_bits,
        client_max_window_bits=args.client_max_window_bits,
        compress_settings={"memLevel": 5},
    )
    ws = await websockets.connect(
        args.url,
        subprotocols=SUBPROTOCOLS,
        max_size=args.max_size,
        compression=None,
        extensions=[factory],
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
    )

    results, sent = [], []

    async def check(name, message, echoed):
        ok = type(echoed) is type(message) and echoed == message
        if not ok:
            log(f"{name}: echo mismatch ({type(echoed).__name__}, {len(echoed) if echoed is not None else None} vs {len(message)})")
        results.append({"name": name, "ok": ok})

    for name, message in messages():
        try:
            await asyncio.wait_for(ws.send(message), TIMEOUT)
            sent.append(digest(message))
            echoed = await asyncio.wait_for(ws.recv(), TIMEOUT)
        except Exception as e:  # noqa: BLE001 - a failed check, reported
            log(f"{name}: {type(e).__name__}: {e}")
            echoed = None
        await check(name, message, echoed)

    for name, message in burst():
        try:
            await asyncio.wait_for(ws.send(message), TIMEOUT)
            sent.append(digest(message))
        except Exception as e:  # noqa: BLE001
            log(f"{name} send: {type(e).__name__}: {e}")
    for name, message in burst():
        try:
            echoed = await asyncio.wait_for(ws.recv(), TIMEOUT)
        except Exception as e:  # noqa: BLE001
            log(f"{name}: {type(e).__name__}: {e}")
            echoed = None
        await check(name, message, echoed)

    deflate = [e for e in ws.extensions if isinstance(e, pmd.PerMessageDeflate)]
    ext = deflate[0] if deflate else None
    try:
        await asyncio.wait_for(ws.close(1000, "done"), TIMEOUT)
    except Exception as e:  # noqa: BLE001
        log(f"close: {type(e).__name__}: {e}")

    print(json.dumps({
        "request_extensions": ws.request_headers.get("Sec-WebSocket-Extensions", ""),
        "response_extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
        "negotiated": repr(ext) if ext else "",
        "compressed_in": getattr(ext, "compressed_in", 0),
        "compressed_out": getattr(ext, "compressed_out", 0),
        "results": results,
        "sent": sent,
        "close": [ws.close_code if ws.close_code is not None else 1006, ws.close_reason or ""],
    }), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001
        log(f"could not run: {type(e).__name__}: {e}")
        sys.exit(2)
