#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that delays every byte by a fixed time in each direction, to
measure a worker as if Redis were a network round trip away (scripts/bench latency).

    bench-delay-proxy.py --target-port PORT --delay-ms MS [--listen-port 0]

Prints `listening on 127.0.0.1:<port>` once it accepts connections, then forwards each
connection to 127.0.0.1:PORT until killed. Each chunk is written out MS milliseconds after
the kernel received it (SO_TIMESTAMPNS; not MS after the previous chunk was written: the delay
is a wire's, so pipelined traffic is not serialized behind it), in order, one thread per
connection and direction. Per connection and direction at most
--max-queued-bytes (16 MiB) wait in the proxy; a reader waits while that much is queued.
Listens and connects on 127.0.0.1 only; every connection ends when either side closes.
"""
import argparse
import collections
import select
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
CHUNK = 256 * 1024


# Linux: SO_TIMESTAMPNS (and its control message type) gives the time the kernel received the
# data (CLOCK_REALTIME, a struct timespec), so that a chunk read late still leaves on time.
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("@qq")


class DelayedPipe:
    """One direction of one connection, one thread: reads what arrives, and sends each chunk
    when its delay (counted from the kernel's receive time) has passed."""

    def __init__(self, source, sink, delay_s, max_queued, on_close):
        self.source, self.sink = source, sink
        self.delay_s, self.max_queued = delay_s, max_queued
        self.on_close = on_close
        try:
            source.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.timestamps = True
        except OSError:
            self.timestamps = False
        threading.Thread(target=self.pump, daemon=True).start()

    def received_at(self, ancillary):
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
                seconds, nanoseconds = TIMESPEC.unpack_from(data)
                return seconds + nanoseconds * 1e-9
        return time.time()

    def pump(self):
        queue = collections.deque()
        queued = 0
        eof = False
        poller = select.poll()
        poller.register(self.source, select.POLLIN)
        try:
            while True:
                while queue and queue[0][0] <= time.time():
                    _, data = queue.popleft()
                    queued -= len(data)
                    self.sink.sendall(data)
                if eof and not queue:
                    break
                if not eof and queued < self.max_queued:
                    # Wait for data at most until the next chunk is due (whole ms: poll's unit).
                    timeout = max(0, int((queue[0][0] - time.time()) * 1000)) if queue else 1000
                    if poller.poll(timeout):
                        data, ancillary, _, _ = self.source.recvmsg(CHUNK, 256)
                        if not data:
                            eof = True
                            continue
                        at = self.received_at(ancillary) if self.timestamps else time.time()
                        queue.append((at + self.delay_s, data))
                        queued += len(data)
                        continue
                if queue:
                    # Less than a ms to go (or the queue is full): sleep exactly that long; data
                    # arriving meanwhile keeps its kernel receive time.
                    left = queue[0][0] - time.time()
                    if left > 0:
                        time.sleep(left)
        except OSError:
            pass
        self.on_close()


class Connection:
    def __init__(self, client, target_port, delay_s, max_queued):
        self.client = client
        self.closed = False
        self.lock = threading.Lock()
        self.server = socket.create_connection((HOST, target_port))
        for s in (client, self.server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        DelayedPipe(client, self.server, delay_s, max_queued, self.close)
        DelayedPipe(self.server, client, delay_s, max_queued, self.close)

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def main(argv):
    parser = argparse.ArgumentParser(description="a delaying TCP proxy on 127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True, help="added delay in each direction, ms (0 to 1000)")
    parser.add_argument("--listen-port", type=int, default=0)
    parser.add_argument("--max-queued-bytes", type=int, default=16 << 20)
    args = parser.parse_args(argv)
    if not 0 <= args.delay_ms <= 1000:
        parser.error("--delay-ms goes from 0 to 1000")
    if args.max_queued_bytes < CHUNK:
        parser.error(f"--max-queued-bytes must be at least {CHUNK}")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, args.listen_port))
    listener.listen(128)
    print(f"listening on {HOST}:{listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        try:
            Connection(client, args.target_port, args.delay_ms / 1000.0, args.max_queued_bytes)
        except OSError as error:
            print(f"cannot reach 127.0.0.1:{args.target_port}: {error}", file=sys.stderr, flush=True)
            client.close()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
