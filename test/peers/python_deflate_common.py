"""What the permessage-deflate peers share: counting compressed messages and
describing what was received (imported by python_deflate_client.py and
python_deflate_server.py, which Python finds in their own directory)."""

import hashlib

import websockets
from websockets.extensions import permessage_deflate as pmd


def count_compressed_frames():
    """Wraps websockets' PerMessageDeflate so each instance counts compressed messages."""
    decode, encode = pmd.PerMessageDeflate.decode, pmd.PerMessageDeflate.encode

    def counting_decode(self, frame, *, max_size=None):
        if frame.opcode in (websockets.frames.OP_TEXT, websockets.frames.OP_BINARY) and frame.rsv1:
            self.compressed_in = getattr(self, "compressed_in", 0) + 1
        return decode(self, frame, max_size=max_size)

    def counting_encode(self, frame):
        out = encode(self, frame)
        if out.opcode in (websockets.frames.OP_TEXT, websockets.frames.OP_BINARY) and out.rsv1:
            self.compressed_out = getattr(self, "compressed_out", 0) + 1
        return out

    pmd.PerMessageDeflate.decode = counting_decode
    pmd.PerMessageDeflate.encode = counting_encode


def digest(message):
    data = message.encode("utf-8") if isinstance(message, str) else message
    return {"type": "text" if isinstance(message, str) else "binary", "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
