#!/usr/bin/env python3
"""A TCP proxy that adds propagation delay: the test bed's servers at a real round-trip time.

On the test bed every round trip costs nothing; a copy between two ECR regions pays 70-90 ms
for each. This proxy puts a route's round-trip time back, at the TCP level, so that what goes
through it is never parsed: TLS, HTTP/1.1 and HTTP/2 pass untouched. Python stdlib only.

    delay_proxy.py --route NAME=UPSTREAM_HOST:PORT:RTT_MS [--route ...] [--ports-file FILE]
    delay_proxy.py --self-test

Each route listens on 127.0.0.1, on a free port, and connects each client to its upstream.
Every chunk read (up to 256 KiB) from either side is delivered to the other RTT/2 after it was
read, in order: a request and its answer pay one RTT. Reading goes on while chunks wait (a
queue and a writer per direction, each writer sleeping until its next chunk is due), so there
is no bandwidth cap; only the bytes in flight are bounded (64 MiB a direction, then reading
stops until the writer catches up: the sender's TCP window closes). An end of stream (EOF,
half-close) is passed on after the same delay, and a reset as a reset.

A new connection also pays its TCP handshake: the client's first bytes reach the upstream no
earlier than one RTT after the connection was accepted (a client's SYN, SYN-ACK, then data),
so a client that opens a connection per request pays for it, as on a real network. Turn this
off with --no-handshake-delay. The upstream itself is local: connecting to it costs nothing.

Once every route listens, --ports-file FILE gets one `NAME PORT` line per route (written
whole, then renamed into place); the proxy runs until SIGTERM or SIGINT, then prints what
each route carried to stderr and exits 0. TCP_NODELAY is set on both sides.

--self-test starts an echo server and a sink behind a 50 ms route and checks: the round trip
on an open connection is 50 +- 15 ms, the first one (with the handshake) 100 +- 20 ms, 64 MiB
pass intact in well under 64 round trips, and a half-close reaches the far side and back.
"""
import argparse
import asyncio
import collections
import contextlib
import hashlib
import os
import signal
import socket
import statistics
import sys
import time

CHUNK = 256 * 1024
IN_FLIGHT = 64 << 20  # bytes queued in one direction before reading stops


def log(message):
    print(f"delay_proxy: {message}", file=sys.stderr, flush=True)


class Route:
    def __init__(self, text: str):
        name, sep, rest = text.partition("=")
        parts = rest.rsplit(":", 2)
        if not sep or not name or len(parts) != 3 or not parts[0]:
            raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT:RTT_MS, got {text!r}")
        self.name, self.host = name, parts[0]
        try:
            self.port, rtt_ms = int(parts[1]), float(parts[2])
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: PORT and RTT_MS must be numbers") from None
        if rtt_ms < 0:
            raise argparse.ArgumentTypeError(f"{text!r}: RTT_MS must not be negative")
        self.rtt = rtt_ms / 1000
        self.handshake = True
        self.connections = 0
        self.up = 0    # bytes client -> upstream
        self.down = 0  # bytes upstream -> client
        self.server = None
        self.tasks = set()

    def __str__(self):
        return f"{self.name}={self.host}:{self.port}:{self.rtt * 1000:g}"


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Direction:
    """One direction of one connection: the chunks read, each with the time it is due."""

    RESET = object()  # the reader's side failed: reset the writer's side when this is due
    EOF = object()

    def __init__(self, delay: float, not_before: float):
        self.delay, self.not_before = delay, not_before
        self.items = collections.deque()  # (due, chunk | EOF | RESET)
        self.arrived = asyncio.Event()
        self.queued = 0
        self.room = asyncio.Event()
        self.room.set()
        self.bytes = 0

    async def read(self, reader):
        """Reads until EOF or an error, queueing each chunk with its due time; stops reading
        while IN_FLIGHT bytes wait."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = Direction.RESET
            if not data:
                data = Direction.EOF
            self.items.append((max(loop.time(), self.not_before) + self.delay, data))
            self.arrived.set()
            if data is Direction.RESET or data is Direction.EOF:
                return
            self.queued += len(data)
            if self.queued >= IN_FLIGHT:
                self.room.clear()
                await self.room.wait()

    async def write(self, writer):
        """Delivers each chunk when it is due (all those due at once, then one drain); EOF
        as a half-close, an error as a reset. Returns True after the EOF, False after a reset."""
        loop = asyncio.get_running_loop()
        while True:
            if not self.items:
                self.arrived.clear()
                await self.arrived.wait()
                continue
            head = self.items[0][0]
            wait = head - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            limit = max(head, loop.time())
            batch, end = [], None
            while self.items and self.items[0][0] <= limit:
                _, data = self.items.popleft()
                if data is Direction.EOF or data is Direction.RESET:
                    end = data
                    break
                batch.append(data)
            if batch:
                size = sum(map(len, batch))
                writer.writelines(batch)
                self.bytes += size
                self.queued -= size
                if self.queued < IN_FLIGHT:
                    self.room.set()
                await writer.drain()
            if end is Direction.EOF:
                if writer.can_write_eof():
                    writer.write_eof()
                return True
            if end is Direction.RESET:
                writer.transport.abort()
                return False


async def serve(route: Route, client_reader, client_writer):
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    route.connections += 1
    nodelay(client_writer)
    try:
        up_reader, up_writer = await asyncio.open_connection(route.host, route.port, limit=CHUNK)
    except OSError as err:
        log(f"{route.name}: cannot reach {route.host}:{route.port}: {err}")
        client_writer.transport.abort()
        return
    nodelay(up_writer)
    delay = route.rtt / 2
    handshake = route.rtt if route.handshake else 0.0
    up = Direction(delay, accepted + handshake)
    down = Direction(delay, 0.0)
    tasks = [asyncio.create_task(up.read(client_reader)),
             asyncio.create_task(down.read(up_reader))]
    writers = [asyncio.create_task(up.write(up_writer)),
               asyncio.create_task(down.write(client_writer))]
    clean = False
    try:
        # Both directions delivered their EOF: a clean close. A reset, or a writer that
        # failed (the far side went away), aborts both sides.
        pending = set(writers)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.exception() is not None or t.result() is False for t in done):
                break
        else:
            clean = True
    except asyncio.CancelledError:
        pass
    finally:
        for task in tasks + writers:
            task.cancel()
        await asyncio.gather(*tasks, *writers, return_exceptions=True)
        route.up += up.bytes
        route.down += down.bytes
        for writer in (client_writer, up_writer):
            if clean:
                writer.close()
            else:
                writer.transport.abort()
        for writer in (client_writer, up_writer):
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def start(route: Route):
    async def handle(reader, writer):
        task = asyncio.current_task()
        route.tasks.add(task)
        try:
            await serve(route, reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # stopping: the connection goes with the proxy
        finally:
            route.tasks.discard(task)

    route.server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=CHUNK)
    return route.server.sockets[0].getsockname()[1]


async def stop(routes):
    for route in routes:
        route.server.close()
        for task in list(route.tasks):
            task.cancel()
    for route in routes:
        await asyncio.gather(*route.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await route.server.wait_closed()


async def run(routes, ports_file):
    ports = [await start(route) for route in routes]
    lines = "".join(f"{route.name} {port}\n" for route, port in zip(routes, ports))
    if ports_file:
        with open(ports_file + ".tmp", "w") as f:
            f.write(lines)
        os.replace(ports_file + ".tmp", ports_file)
    for route, port in zip(routes, ports):
        log(f"{route.name}: 127.0.0.1:{port} -> {route.host}:{route.port}, "
            f"RTT {route.rtt * 1000:g} ms")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await stop(routes)
    for route in routes:
        log(f"{route.name}: {route.connections} connection(s), {route.up} bytes up, "
            f"{route.down} bytes down")


# ------------------------------------------------------------------------------ self-test
async def self_test(handshake: bool):
    rtt_ms = 50.0
    rtt = rtt_ms / 1000

    async def echo(reader, writer):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        writer.write(b"<eof seen>")  # the half-close arrived; answer after it, then close
        await writer.drain()
        writer.close()

    async def sink(reader, writer):
        digest, size = hashlib.sha256(), 0
        while data := await reader.read(CHUNK):
            digest.update(data)
            size += len(data)
        writer.write(f"{size} {digest.hexdigest()}".encode())
        await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(h, "127.0.0.1", 0) for h in (echo, sink)]
    routes = []
    for name, server in zip(("echo", "sink"), servers):
        route = Route(f"{name}=127.0.0.1:{server.sockets[0].getsockname()[1]}:{rtt_ms}")
        route.handshake = handshake
        routes.append(route)
    echo_port, sink_port = [await start(route) for route in routes]
    failures = []

    def check(what, value, low, high, unit="ms"):
        ok = low <= value <= high
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {value:.1f} {unit} (want {low:g}..{high:g})")
        if not ok:
            failures.append(what)

    # Round trips on one connection: the first pays the handshake too.
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", echo_port)
    times = []
    for i in range(8):
        t0 = time.monotonic() if i else started
        writer.write(b"ping %d" % i)
        await writer.drain()
        got = await reader.readexactly(len(b"ping %d" % i))
        assert got == b"ping %d" % i, got
        times.append((time.monotonic() - t0) * 1000)
    first = 2 * rtt_ms if handshake else rtt_ms
    check("first round trip (connect + ping)", times[0], first - 20, first + 20)
    check("round trip, open connection (median of 7)", statistics.median(times[1:]),
          rtt_ms - 15, rtt_ms + 15)
    # Half-close: our EOF reaches the echo server after RTT/2; its answer comes back after
    # another RTT/2, then its EOF.
    t0 = time.monotonic()
    writer.write_eof()
    tail = await reader.read()
    check("half-close there and answer back", (time.monotonic() - t0) * 1000,
          rtt_ms - 15, rtt_ms + 15)
    if tail != b"<eof seen>":
        failures.append("half-close")
        print(f"  FAIL half-close: got {tail!r}")
    writer.close()

    # 64 MiB, in order and intact, while each chunk waits 25 ms.
    size = 64 << 20
    reader, writer = await asyncio.open_connection("127.0.0.1", sink_port)
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    t0 = time.monotonic()
    for i in range(size // len(block)):
        piece = block[i % 7:] + block[:i % 7]  # every MiB different, so order shows
        digest.update(piece)
        writer.write(piece)
        await writer.drain()
    writer.write_eof()
    answer = (await reader.read()).decode()
    seconds = time.monotonic() - t0
    writer.close()
    if answer != f"{size} {digest.hexdigest()}":
        failures.append("64 MiB intact")
        print(f"  FAIL 64 MiB intact: the sink got {answer!r}")
    else:
        print("  ok   64 MiB arrived intact and in order")
    check("64 MiB, in round trips", seconds / rtt, 0, 16, unit="RTT")
    print(f"       ({seconds:.2f} s: {size / 2**20 / seconds:.0f} MiB/s through the proxy)")

    await stop(routes)
    for server in servers:
        server.close()
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--route", type=Route, action="append", default=[],
                    metavar="NAME=HOST:PORT:RTT_MS", help="a listener (repeatable)")
    ap.add_argument("--ports-file", metavar="FILE",
                    help="write `NAME PORT` lines here once every route listens")
    ap.add_argument("--no-handshake-delay", action="store_true",
                    help="a new connection does not pay one RTT for its TCP handshake")
    ap.add_argument("--self-test", action="store_true",
                    help="check the proxy against a local echo server and sink, then exit")
    args = ap.parse_args()
    if args.self_test:
        ok = asyncio.run(self_test(not args.no_handshake_delay))
        print("self-test:", "passed" if ok else "FAILED")
        sys.exit(0 if ok else 1)
    if not args.route:
        ap.error("give at least one --route (or --self-test)")
    names = [route.name for route in args.route]
    if len(set(names)) != len(names):
        ap.error("route names must be distinct")
    for route in args.route:
        route.handshake = not args.no_handshake_delay
    asyncio.run(run(args.route, args.ports_file))


if __name__ == "__main__":
    main()
