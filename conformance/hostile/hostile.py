#!/usr/bin/env python3
"""Re-runs the hostile cases of issue 14 against a `tidings` binary and prints figures.

    hostile.py BINARY deflate-hold [N [SIZE]]  server RSS with N unfinished compressed messages
    hostile.py BINARY plain-hold [N [SIZE]]    the same, uncompressed (SIZE: inflated bytes)
    hostile.py BINARY empty-flood          empty continuation frames after a FIN=0 frame
    hostile.py BINARY retry-zero           requests per 10 s from `tidings sse` with retry: 0
    hostile.py BINARY stuck-subscriber     time for the demo to drop a client that never reads

Stdlib only; every server listens on 127.0.0.1 on a port the OS picks; every process
started is stopped at the end.
"""
import base64, json, os, re, socket, struct, subprocess, sys, threading, time, zlib


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(binary, *args, stdout=subprocess.PIPE):
    proc = subprocess.Popen([binary, *args], stdout=stdout, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    return proc


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def ws_connect(port, deflate=False):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else ""
    s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{ext}\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("handshake refused")
        head += chunk
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"handshake refused: {head[:80]!r}")
    if deflate and b"permessage-deflate" not in head:
        raise SystemExit("server did not accept permessage-deflate")
    return s


def frame(payload, opcode=2, fin=True, rsv1=False):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if n < 1 << 16 else \
        (int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    return head + key + masked


def closed_with(s, timeout):
    """Reads until the server closes; returns the close code it sent, or None."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    i = data.find(b"\x88")
    if i >= 0 and len(data) >= i + 4:
        return struct.unpack("!H", data[i + 2:i + 4])[0]
    return None


def hold(binary, n, deflate, size):
    port = free_port()
    args = ["echo", "--addr", f"127.0.0.1:{port}"] + (["--deflate"] if deflate else [])
    proc = start(binary, *args)
    try:
        wait_port(port)
        base = rss_kib(proc.pid)
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
            payload = c.compress(b"\0" * size) + c.flush(zlib.Z_SYNC_FLUSH)
        else:
            payload = b"\0" * size
        socks = []
        for _ in range(n):
            s = ws_connect(port, deflate)
            s.sendall(frame(payload, fin=False, rsv1=deflate))
            socks.append(s)
        time.sleep(2)
        held = rss_kib(proc.pid)
        codes = []
        start_wait = time.time()
        for s in socks:
            codes.append(closed_with(s, max(0.1, 45 - (time.time() - start_wait))))
        after = rss_kib(proc.pid)
        return {"case": ("deflate" if deflate else "plain") + "-hold", "connections": n,
                "wire_bytes_each": len(payload), "message_bytes_each": size,
                "rss_kib_idle": base, "rss_kib_held": held, "rss_kib_after": after,
                "close_codes": sorted(set(map(str, codes))),
                "seconds_until_all_closed": round(time.time() - start_wait, 1)}
    finally:
        proc.kill()
        proc.wait()


def empty_flood(binary):
    port = free_port()
    proc = start(binary, "echo", "--addr", f"127.0.0.1:{port}")
    try:
        wait_port(port)
        s = ws_connect(port)
        s.sendall(frame(b"x", fin=False))
        empty = frame(b"", opcode=0, fin=False) * 4096
        sent = 0
        t0 = time.time()
        s.settimeout(0.5)
        ended = None
        while time.time() - t0 < 60:
            try:
                s.sendall(empty)
                sent += 4096
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                ended = time.time() - t0
                break
        return {"case": "empty-flood", "frames_sent": sent,
                "seconds_until_refused": None if ended is None else round(ended, 1)}
    finally:
        proc.kill()
        proc.wait()


def retry_zero(binary, seconds=10):
    count = [0]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    port = srv.getsockname()[1]
    stop = [False]

    def serve():
        srv.settimeout(0.2)
        while not stop[0]:
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            count[0] += 1
            try:
                c.recv(4096)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Connection: close\r\n\r\nretry: 0\nid: 1\ndata: x\n\n")
            except OSError:
                pass
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    proc = start(binary, "sse", f"http://127.0.0.1:{port}/", stdout=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.kill()
    proc.wait()
    stop[0] = True
    t.join()
    return {"case": "retry-zero", "seconds": seconds, "requests": count[0]}


def stuck_subscriber(binary):
    port = free_port()
    proc = start(binary, "demo", "--addr", f"127.0.0.1:{port}", "--tick-ms", "10")
    lines = []

    def read_err():
        for line in proc.stderr:
            lines.append((time.time(), line.rstrip()))

    threading.Thread(target=read_err, daemon=True).start()
    try:
        wait_port(port)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        local = "%s:%d" % s.getsockname()
        s.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        t0 = time.time()
        # A reader that does read, to show the others keep receiving.
        ok = socket.create_connection(("127.0.0.1", port))
        ok.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        ok.settimeout(1)
        got = 0
        dropped = None
        while time.time() - t0 < 90:
            try:
                got += len(ok.recv(65536))
            except socket.timeout:
                pass
            for when, line in lines:
                if line.startswith(local) and "closed" in line:
                    dropped = (round(when - t0, 1), line)
            if dropped:
                break
        return {"case": "stuck-subscriber", "seconds_until_dropped": dropped and dropped[0],
                "server_log": dropped and dropped[1], "other_subscriber_bytes": got}
    finally:
        proc.kill()
        proc.wait()


def main():
    binary, case = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else None
    size = int(sys.argv[4]) if len(sys.argv) > 4 else None
    if case == "deflate-hold":
        out = hold(binary, n or 40, True, size or 60_000_000)
    elif case == "plain-hold":
        out = hold(binary, n or 10, False, size or 900_000)
    elif case == "empty-flood":
        out = empty_flood(binary)
    elif case == "retry-zero":
        out = retry_zero(binary)
    elif case == "stuck-subscriber":
        out = stuck_subscriber(binary)
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
