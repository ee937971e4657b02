#!/usr/bin/python3
"""An RFC 8441 client written by hand on Debian's python3-h2 (not wsport's
code): it opens WebSockets as extended CONNECT streams and frames RFC 6455
itself, including the hostile cases. Usage:

    /usr/bin/python3 python_h2_client.py PORT MODE

MODE: good | noproto | badver | early | flood. Prints one JSON object with
what it saw on its last line. Every wait is bounded."""

import json
import os
import socket
import ssl
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from hyperframe.frame import DataFrame

PORT, MODE = int(sys.argv[1]), sys.argv[2]
WAIT = 10.0


def frame(opcode, payload):
    """A masked client frame (RFC 6455 5.2); payloads under 126 bytes only."""
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_frames(data):
    """Unmasked server frames: [(opcode, payload)], and the bytes left over."""
    out = []
    while len(data) >= 2:
        length, at = data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                break
            length, at = struct.unpack(">H", data[2:4])[0], 4
        elif length == 127:
            if len(data) < 10:
                break
            length, at = struct.unpack(">Q", data[2:10])[0], 10
        if len(data) < at + length:
            break
        out.append((data[0] & 0x0F, data[at:at + length]))
        data = data[at + length:]
    return out, data


class Client:
    def __init__(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT)), server_hostname="localhost")
        self.alpn = self.sock.selected_alpn_protocol()
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.events = []
        self.data = {}
        self.eof = False

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, until, timeout=WAIT):
        """Reads until until(self) is true, the connection ends, or the timeout."""
        end = time.time() + timeout
        while not until(self) and not self.eof and time.time() < end:
            self.sock.settimeout(max(0.01, end - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.eof = True
                break
            try:
                events = self.conn.receive_data(chunk)
            except h2.exceptions.ProtocolError as error:
                self.events.append(("local-protocol-error", str(error)))
                break
            for event in events:
                if isinstance(event, h2.events.DataReceived):
                    self.data[event.stream_id] = self.data.get(event.stream_id, b"") + event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                self.events.append(event)
            self.flush()
        return until(self)

    def of(self, kind, stream_id=None):
        return [e for e in self.events if isinstance(e, kind) and (stream_id is None or getattr(e, "stream_id", None) == stream_id)]

    def connect(self, stream_id, path="/", protocol=True, version="13", extra=()):
        fields = [(":method", "CONNECT")]
        if protocol:
            fields.append((":protocol", "websocket"))
        fields += [(":scheme", "https"), (":path", path), (":authority", "127.0.0.1:%d" % PORT), ("sec-websocket-version", version)]
        fields += list(extra)
        self.conn.send_headers(stream_id, fields)
        self.flush()

    def status(self, stream_id):
        responses = self.of(h2.events.ResponseReceived, stream_id)
        return int(dict(responses[0].headers)[b":status"]) if responses else None

    def headers(self, stream_id):
        responses = self.of(h2.events.ResponseReceived, stream_id)
        return {k.decode(): v.decode() for k, v in responses[0].headers} if responses else {}

    def reset_code(self, stream_id):
        resets = self.of(h2.events.StreamReset, stream_id)
        return int(resets[0].error_code) if resets else None

    def goaway(self):
        ends = self.of(h2.events.ConnectionTerminated)
        return int(ends[0].error_code) if ends else None

    def frames(self, stream_id):
        return parse_frames(self.data.get(stream_id, b""))[0]


def echo_round(client, stream_id, text):
    """Sends a text frame and waits for its echo; True if it came back."""
    before = len(client.frames(stream_id))
    client.conn.send_data(stream_id, frame(0x1, text.encode()))
    client.flush()
    client.pump(lambda c: len(c.frames(stream_id)) > before)
    frames = client.frames(stream_id)
    return len(frames) > before and frames[before] == (0x1, text.encode())


result = {"mode": MODE}
client = Client()
result["alpn"] = client.alpn

if MODE == "early":
    # The CONNECT goes out with the preface, before the server's SETTINGS were read.
    client.connect(1)
    result["sentBeforeSettings"] = client.conn.remote_settings.enable_connect_protocol != 1
    client.pump(lambda c: c.status(1) is not None)
    result["status"] = client.status(1)
    if result["status"] == 200:
        result["echo"] = echo_round(client, 1, "early bird")
else:
    client.pump(lambda c: bool(c.of(h2.events.RemoteSettingsChanged)))
    result["enableConnectProtocol"] = client.conn.remote_settings.enable_connect_protocol

if MODE == "good":
    client.connect(1, extra=[("sec-websocket-protocol", "echo, other")])
    client.pump(lambda c: c.status(1) is not None)
    result["status"] = client.status(1)
    result["protocol"] = client.headers(1).get("sec-websocket-protocol")
    result["echo"] = echo_round(client, 1, "hello from python-h2")
    client.conn.send_data(1, frame(0x8, struct.pack(">H", 4000) + b"python bye"))
    client.flush()
    client.pump(lambda c: bool(c.of(h2.events.StreamEnded, 1)))
    closes = [p for op, p in client.frames(1) if op == 0x8]
    result["closeEcho"] = [struct.unpack(">H", closes[0][:2])[0], closes[0][2:].decode()] if closes else None
    result["serverEnded"] = bool(client.of(h2.events.StreamEnded, 1))
    client.conn.end_stream(1)
    client.flush()
elif MODE == "noproto":
    # CONNECT with :scheme and :path but no :protocol: malformed (RFC 9113 8.5).
    client.conn.config.validate_outbound_headers = False
    client.connect(1, protocol=False)
    client.pump(lambda c: c.status(1) is not None or c.reset_code(1) is not None or c.goaway() is not None)
    result["status"], result["reset"], result["goaway"] = client.status(1), client.reset_code(1), client.goaway()
elif MODE == "badver":
    client.connect(1, version="8")
    client.pump(lambda c: bool(c.of(h2.events.StreamEnded, 1)) or c.reset_code(1) is not None)
    result["status"] = client.status(1)
    result["versionHeader"] = client.headers(1).get("sec-websocket-version")
    result["body"] = client.data.get(1, b"").decode()
elif MODE == "flood":
    # Stream 1: a WebSocket that echoes; stream 3: one the server never reads (path /stall).
    client.connect(1)
    client.connect(3, path="/stall")
    client.pump(lambda c: c.status(1) is not None and c.status(3) is not None)
    result["status"] = [client.status(1), client.status(3)]
    result["echoBefore"] = echo_round(client, 1, "before the flood")
    # Fill stream 3's window exactly (legal), while the server keeps granting more.
    sent = 0
    for _ in range(8):
        window = client.conn.local_flow_control_window(3)
        if window == 0:
            break
        while window > 0:
            n = min(window, client.conn.max_outbound_frame_size)
            client.conn.send_data(3, b"\x00" * n)
            sent += n
            window -= n
        client.flush()
        client.pump(lambda c: False, timeout=0.5)
    result["sentWithinWindow"] = sent
    result["windowLeft"] = client.conn.local_flow_control_window(3)
    # Then past it: h2 refuses to, so a DATA frame is built by hand.
    overrun = DataFrame(3)
    overrun.data = b"\x01" * 4096
    client.sock.sendall(overrun.serialize())
    client.pump(lambda c: c.reset_code(3) is not None or c.goaway() is not None)
    result["reset"], result["goaway"] = client.reset_code(3), client.goaway()
    if result["goaway"] is None:
        result["echoAfter"] = echo_round(client, 1, "after the flood")

print(json.dumps(result))
