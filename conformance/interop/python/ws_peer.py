"""Python `websockets` (asyncio API) as the other end of the interop matrix.

    python ws_peer.py server              echo server; prints "PLAIN <url> FRAG <url>"
    python ws_peer.py client PLAIN FRAG   runs the matrix; "PASS name" / "FAIL name: why"

The protocol (echo, cmd:close, cmd:ping, /frag), the payloads and the case names are
the same as in ../node/common.mjs and crates/tidings-io/examples/interop_peer.rs;
see ../README.md.
"""

import asyncio
import os
import string
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

FRAGMENT = 1000
CASE_TIMEOUT = 30
MAX_SIZE = 64 << 20
# INTEROP_DEFLATE=1: permessage-deflate on, in both roles; otherwise off.
COMPRESSION = "deflate" if os.environ.get("INTEROP_DEFLATE") == "1" else None
# The largest ping payload (RFC 6455 5.5: control frames carry at most 125 bytes).
PING_125 = ("0123456789" + string.ascii_lowercase) * 4
PING_125 = PING_125[:125]
PERIOD = bytes((i * 31 + 7) % 251 for i in range(251))


def binary(n):
    """n bytes, byte i = (31 i + 7) mod 251 (the pattern repeats every 251 bytes)."""
    return (PERIOD * (n // 251 + 1))[:n]


def text(n):
    """n ASCII bytes, a..z repeated."""
    return (string.ascii_lowercase * (n // 26 + 1))[:n]


def pieces(data):
    """FRAGMENT-sized pieces of data (characters for str, bytes for bytes)."""
    return [data[at:at + FRAGMENT] for at in range(0, max(len(data), 1), FRAGMENT)]


def cases():
    out = [("text 0 B", ("echo", "")), ("text unicode", ("echo", "héllo wörld ✓ 😀 ∑"))]
    for name, n in [("125 B", 125), ("64 KiB", 65536), ("16 MiB", 16 << 20)]:
        out.append((f"text {name}", ("echo", text(n))))
    for name, n in [("0 B", 0), ("1 B", 1), ("125 B", 125), ("126 B", 126),
                    ("65535 B", 65535), ("64 KiB", 65536), ("1 MiB", 1 << 20),
                    ("16 MiB", 16 << 20)]:
        out.append((f"binary {name}", ("echo", binary(n))))
    # 2 MiB in FRAGMENT-byte frames is 2098 frames: the peers cap the fragments of
    # one message (ws at 16384, websockets at 4096).
    unicode = "fragmented ✓ 😀 " * 200
    out += [
        ("fragmented text, sent", ("send_fragmented", unicode)),
        ("fragmented binary, sent", ("send_fragmented", binary(100_000))),
        ("fragmented binary 2 MiB, sent", ("send_fragmented", binary(2 << 20))),
        ("fragmented text, received", ("receive_fragmented", unicode)),
        ("fragmented binary, received", ("receive_fragmented", binary(100_000))),
        ("fragmented binary 2 MiB, received", ("receive_fragmented", binary(2 << 20))),
        ("pipelined: 100 messages in order", ("pipelined", 100)),
        ("ping/pong, client pings", ("ping", "p1")),
        ("ping/pong, 125 B payload", ("ping", PING_125)),
        ("ping/pong, server pings", ("server_ping", "p2")),
    ]
    for code, reason in [(1000, ""), (1001, "going away"), (3000, "app"), (4999, "bye ✓"),
                         (4000, "x" * 123)]:
        out.append((f"close {code}, client", ("client_close", (code, reason))))
        out.append((f"close {code}, server", ("server_close", (code, reason))))
    return out


def pipelined(i):
    """Message i of a pipelined case: text m<i> for even i, i binary bytes for odd."""
    return f"m{i}" if i % 2 == 0 else binary(i)


def show(message):
    if isinstance(message, bytes):
        return f"binary of {len(message)} bytes"
    if len(message) <= 64:
        return f"text {message!r}"
    return f"text of {len(message.encode())} bytes"


async def handler(ws):
    try:
        await echo(ws)
    except ConnectionClosed:
        pass  # a close with a code other than 1000/1001 ends `async for` this way


async def echo(ws):
    frag = ws.request.path == "/frag"
    async for message in ws:
        if isinstance(message, str) and message.startswith("cmd:"):
            verb, _, rest = message[4:].partition(" ")
            if verb == "close":
                code, _, reason = rest.partition(" ")
                await ws.close(int(code), reason)
                return
            if verb == "ping":
                waiter = await ws.ping(rest.encode())
                await asyncio.wait_for(waiter, CASE_TIMEOUT)
                await ws.send(f"pong {rest}")
                continue
            await ws.close(1008, "unknown command")
            return
        await ws.send(pieces(message) if frag else message)


async def server():
    async with serve(handler, "127.0.0.1", 0, max_size=MAX_SIZE, compression=COMPRESSION) as srv:
        port = srv.sockets[0].getsockname()[1]
        print(f"PLAIN ws://127.0.0.1:{port}/ FRAG ws://127.0.0.1:{port}/frag", flush=True)
        await srv.serve_forever()


async def run_case(plain, frag, kind, arg):
    url = frag if kind == "receive_fragmented" else plain
    async with connect(url, max_size=MAX_SIZE, close_timeout=10, compression=COMPRESSION) as ws:
        if kind in ("echo", "send_fragmented", "receive_fragmented"):
            await ws.send(pieces(arg) if kind == "send_fragmented" else arg)
            got = await ws.recv()
            if type(got) is not type(arg) or got != arg:
                raise AssertionError(f"sent {show(arg)}, got back {show(got)}")
        elif kind == "pipelined":
            messages = [pipelined(i) for i in range(arg)]
            for message in messages:
                await ws.send(message)
            for i, message in enumerate(messages):
                got = await ws.recv()
                if type(got) is not type(message) or got != message:
                    raise AssertionError(f"message {i}: sent {show(message)}, got back {show(got)}")
        elif kind == "ping":
            waiter = await ws.ping(arg.encode())
            await waiter
        elif kind == "server_ping":
            await ws.send(f"cmd:ping {arg}")
            got = await ws.recv()
            if got != f"pong {arg}":
                raise AssertionError(f"unexpected {show(got)}")
        elif kind == "client_close":
            code, reason = arg
            await ws.close(code, reason)
            got = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None
            if got != code:
                raise AssertionError(f"closed with {code}, the echo had {got}")
        elif kind == "server_close":
            code, reason = arg
            await ws.send(f"cmd:close {code} {reason}")
            try:
                got = await ws.recv()
                raise AssertionError(f"expected a close, got {show(got)}")
            except ConnectionClosed:
                pass
            got = (ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason) if ws.protocol.close_rcvd else None
            if got != (code, reason):
                raise AssertionError(f"expected {(code, reason)!r}, got {got!r}")


async def client(plain, frag):
    failed = 0
    for name, (kind, arg) in cases():
        try:
            await asyncio.wait_for(run_case(plain, frag, kind, arg), CASE_TIMEOUT)
            print(f"PASS {name}", flush=True)
        except Exception as e:  # every failure is one FAIL line, whatever its kind
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    return 0 if failed == 0 else 1


def main():
    if sys.argv[1:2] == ["server"]:
        asyncio.run(server())
        return 0
    if sys.argv[1:2] == ["client"] and len(sys.argv) == 4:
        return asyncio.run(client(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
