#!/usr/bin/env python3
"""Cold-start harness for bench/cold-start: a tiny Lambda Runtime API and a timer.

For each subject (a function binary, or a command such as `python -m awslambdaric ...`) and
each run, it starts the process with a clean environment that points
AWS_LAMBDA_RUNTIME_API at this server, and records:

  init   exec -> the first `GET /2018-06-01/runtime/invocation/next` (what Lambda bills as
         Init Duration, minus the sandbox's own start);
  first  exec -> the first response POSTed for the event handed out on that GET (a cold
         invocation: init, plus the first use of every client, against the local test bed);
  init cpu  the CPU time of all the process's threads at that first GET (sum_exec_runtime from
         /proc/PID/task/*/schedstat, read while the process waits for its event: the event is
         held back HOLD_MS for that, and HOLD_MS is taken off `first`). Much less sensitive to
         the machine's load than wall time;
  cpu    the process's user + system CPU time up to the response (wait4 rusage);
  rss    peak resident set size: VmHWM from /proc/PID/status read right after the response
         arrives and before the process is killed (wait4's ru_maxrss is recorded too).

Runs are interleaved (round r runs every subject once, in turn), after one warm-up round that
is not counted (page cache, .pyc files). The server is a single-threaded selector loop: the
timestamps are taken when a request has been read completely, with no thread hand-off.

Only the standard library is used. Output: a Markdown table on stdout, raw figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import sys
import time
import uuid

PREFIX = "/2018-06-01/runtime"
TIMEOUT_S = 60.0
HOLD_MS = 3.0


# ------------------------------------------------------------------------ Runtime API server


class Conn:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.out = b""


class Run:
    """One process's life: what it asked and reported, with timestamps (perf_counter_ns)."""

    def __init__(self, event: bytes, function_arn: str):
        self.event = event
        self.function_arn = function_arn
        self.t_next: int | None = None
        self.next_conn: Conn | None = None
        self.sent = False
        self.init_cpu_ns: int | None = None
        self.t_result: int | None = None
        self.result_kind: str | None = None  # "response" | "error" | "init-error"
        self.result_body = b""
        self.request_id = str(uuid.uuid4())


class Server:
    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.conns: list[Conn] = []
        self.run: Run | None = None

    @property
    def address(self) -> str:
        host, port = self.listener.getsockname()
        return f"{host}:{port}"

    def close_connections(self):
        for conn in self.conns:
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.sock.close()
        self.conns = []

    def poll(self, timeout: float):
        for key, _ in self.sel.select(timeout):
            if key.data is None:
                try:
                    sock, _ = self.listener.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = Conn(sock)
                self.conns.append(conn)
                self.sel.register(sock, selectors.EVENT_READ, conn)
                continue
            conn = key.data
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(conn.sock)
                conn.sock.close()
                self.conns.remove(conn)
                continue
            conn.buf += data
            while True:
                request = parse_request(conn)
                if request is None:
                    break
                self.handle(conn, *request)

    def handle(self, conn: Conn, method: str, path: str, body: bytes):
        now = time.perf_counter_ns()
        run = self.run
        path = path[len(PREFIX):] if path.startswith(PREFIX) else path
        if method == "GET" and path == "/invocation/next":
            if run is None or run.t_next is not None:
                # A second `next` (after the response): leave it pending; the process is killed.
                return
            run.t_next = now
            run.next_conn = conn
            return
        self.report(conn, method, path, body, now)

    def send_event(self):
        """Answers the held `next` with the event."""
        run = self.run
        run.sent = True
        conn = run.next_conn
        deadline_ms = int((time.time() + 60) * 1000)
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(run.event)}\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {run.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {run.function_arn}\r\n"
            "Lambda-Runtime-Trace-Id: Root=1-6740f3a1-5c1e4f7b2a9d8e6f3b2c1d0e;"
            "Parent=53995c3f42cd8ad8;Sampled=0\r\n\r\n"
        )
        send_all(conn.sock, head.encode() + run.event)

    def report(self, conn: Conn, method: str, path: str, body: bytes, now: int):
        run = self.run
        kind = None
        if method == "POST" and path == "/init/error":
            kind = "init-error"
        elif method == "POST" and path.startswith("/invocation/"):
            kind = path.rsplit("/", 1)[-1]
        if kind in ("response", "error", "init-error") and run is not None and run.t_result is None:
            run.t_result = now
            run.result_kind = kind
            run.result_body = body
        status = b"202 Accepted" if kind else b"404 Not Found"
        payload = b'{"status":"OK"}' if kind else b'{"errorType":"NotFound"}'
        send_all(
            conn.sock,
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode() + b"\r\n\r\n" + payload,
        )


def send_all(sock: socket.socket, data: bytes):
    sock.setblocking(True)
    try:
        sock.sendall(data)
    finally:
        sock.setblocking(False)


def parse_request(conn: Conn):
    end = conn.buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = conn.buf[:end].decode("latin-1").split("\r\n")
    method, path = head[0].split(" ")[:2]
    length, chunked = 0, False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and value.strip().lower() == "chunked":
            chunked = True
    rest = conn.buf[end + 4:]
    if chunked:
        body, pos = b"", 0
        while True:
            line_end = rest.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(rest[pos:line_end].split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                trailer_end = rest.find(b"\r\n", pos)
                if trailer_end < 0:
                    return None
                conn.buf = rest[trailer_end + 2:]
                return method, path, body
            if len(rest) < pos + size + 2:
                return None
            body += rest[pos:pos + size]
            pos += size + 2
    if len(rest) < length:
        return None
    conn.buf = rest[length:]
    return method, path, rest[:length]


# ------------------------------------------------------------------------------- one run


def cpu_ns(pid: int) -> int | None:
    """CPU time of all the process's live threads, in ns (exact while they sleep)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError):
        return None
    return total


def memory_kib(pid: int) -> dict:
    """VmHWM (peak RSS), and what the RSS is made of now: RssAnon (heap, stacks), RssFile
    (the binary's and libraries' pages that were touched)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key = line.split(":")[0]
                if key in ("VmHWM", "RssAnon", "RssFile"):
                    found[key] = int(line.split()[1])
    except OSError:
        pass
    return found


def run_once(server: Server, subject: dict, base_env: dict, log) -> dict:
    name = subject["name"]
    env = dict(base_env)
    env.update(subject.get("env", {}))
    env["AWS_LAMBDA_RUNTIME_API"] = server.address
    env["AWS_LAMBDA_FUNCTION_NAME"] = name
    server.run = Run(subject["event_bytes"], f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
    argv = subject["argv"]
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
        (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
    ]
    log.write(f"==== {name} ====\n".encode())
    log.flush()
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=file_actions)
    run = server.run
    exited = None
    deadline = time.monotonic() + TIMEOUT_S
    while run.t_result is None:
        server.poll(0.0005 if run.t_next is not None and not run.sent else 0.05)
        if run.t_next is not None and not run.sent:
            if time.perf_counter_ns() >= run.t_next + HOLD_MS * 1e6:
                run.init_cpu_ns = cpu_ns(pid)
                server.send_event()
            continue
        if run.t_result is not None:
            break
        done, status, _ = os.wait4(pid, os.WNOHANG)
        if done:
            exited = status
            break
        if time.monotonic() > deadline:
            break
    memory = memory_kib(pid) if exited is None else {}
    if exited is None:
        os.kill(pid, signal.SIGKILL)
        _, status, rusage = os.wait4(pid, 0)
    else:
        # Exited by itself: wait4 above reaped it, and the rusage is gone with it.
        rusage = None
    server.close_connections()
    server.run = None
    if run.t_result is None or run.result_kind != "response":
        what = (
            f"exited with status {exited}" if exited is not None
            else f"posted {run.result_kind}: {run.result_body[:600]!r}" if run.result_kind
            else f"gave no result within {TIMEOUT_S:.0f} s"
        )
        raise SystemExit(f"cold-start: {name} {what} (its output is in {log.name})")
    return {
        "init_ms": (run.t_next - t0) / 1e6,
        "first_ms": (run.t_result - t0) / 1e6 - HOLD_MS,
        "invoke_ms": (run.t_result - run.t_next) / 1e6 - HOLD_MS,
        "init_cpu_ms": run.init_cpu_ns / 1e6 if run.init_cpu_ns is not None else None,
        "cpu_ms": (rusage.ru_utime + rusage.ru_stime) * 1e3 if rusage else None,
        "hwm_kib": memory.get("VmHWM"),
        "anon_kib": memory.get("RssAnon"),
        "file_kib": memory.get("RssFile"),
        "maxrss_kib": rusage.ru_maxrss if rusage else None,
        "response": run.result_body.decode("utf-8", "replace"),
    }


# ------------------------------------------------------------------------------ statistics


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "p90": pct(values, 90),
        "max": max(values),
    }


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------------------------------ main


def parse_env_file(path: str) -> dict:
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key] = value
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--env-file", required=True, help="the test bed's DIR/env")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra variable for every subject")
    parser.add_argument("--event", action="append", default=[], metavar="NAME=FILE",
                        help="a sample event, by name")
    parser.add_argument("--subject", action="append", default=[], metavar="JSON",
                        help='{"name", "argv", "event", "env"?, "role"?: floor|function|twin}')
    parser.add_argument("--log", required=True, help="the subjects' stdout and stderr")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args()

    stack = parse_env_file(args.env_file)
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    base_env.update({k: v for k, v in stack.items() if k.startswith(("AWS_", "STEWARD_REGISTRY_"))})
    base_env.update({
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    })
    for item in args.set:
        key, _, value = item.partition("=")
        base_env[key] = value
    events = {}
    for item in args.event:
        name, _, path = item.partition("=")
        with open(path, "rb") as f:
            events[name] = f.read()
    subjects = [json.loads(s) for s in args.subject]
    for s in subjects:
        s["event_bytes"] = events[s["event"]]

    server = Server()
    results: dict[str, list[dict]] = {s["name"]: [] for s in subjects}
    load_before = loadavg()
    started = time.time()
    with open(args.log, "ab") as log:
        for round_no in range(args.warmup + args.runs):
            for subject in subjects:
                sample = run_once(server, subject, base_env, log)
                if round_no >= args.warmup:
                    results[subject["name"]].append(sample)
            print(f"  round {round_no + 1}/{args.warmup + args.runs} (load {loadavg()})",
                  file=sys.stderr)
    load_after = loadavg()

    stats = {}
    for s in subjects:
        runs = results[s["name"]]
        stats[s["name"]] = {
            key: summary([r[key] for r in runs if r[key] is not None])
            for key in ("init_ms", "init_cpu_ms", "first_ms", "invoke_ms", "cpu_ms", "hwm_kib",
                        "anon_kib", "file_kib", "maxrss_kib")
            if any(r[key] is not None for r in runs)
        }
    floor = next((s["name"] for s in subjects if s.get("role") == "floor"), None)
    twin = next((s["name"] for s in subjects if s.get("role") == "twin"), None)

    def med(name, key):
        return stats[name][key]["median"]

    def spread(name, key, fmt="{:.1f}"):
        st = stats[name][key]
        return (f"{fmt.format(st['median'])} ({fmt.format(st['min'])}/"
                f"{fmt.format(st['p90'])}/{fmt.format(st['max'])})")

    print()
    print(f"{args.runs} runs per subject after {args.warmup} warm-up round(s); "
          f"load average {load_before} before, {load_after} after; "
          f"{time.time() - started:.0f} s in all.")
    print("Figures: median (min/p90/max). init = exec -> first GET /invocation/next; "
          "init CPU = CPU time of all threads at that GET; first response = exec -> first "
          "response posted (less the event's hold-back); CPU to response = user+sys CPU to then; "
          "peak RSS = VmHWM right after the response.")
    print()
    print("| subject | init ms | init CPU ms | first response ms | CPU to response ms "
          "| peak RSS MiB | init / floor | init CPU / floor | twin / init | twin / first |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in subjects:
        name = s["name"]
        ratio_floor = ratio_floor_cpu = ""
        if floor and name != floor:
            ratio_floor = f"{med(name, 'init_ms') / med(floor, 'init_ms'):.1f}×"
            ratio_floor_cpu = f"{med(name, 'init_cpu_ms') / med(floor, 'init_cpu_ms'):.1f}×"
        ratio_twin_init = ratio_twin_first = ""
        if twin and name != twin:
            ratio_twin_init = f"{med(twin, 'init_ms') / med(name, 'init_ms'):.0f}×"
            ratio_twin_first = f"{med(twin, 'first_ms') / med(name, 'first_ms'):.0f}×"
        rss = stats[name]["hwm_kib"]
        rss_text = (f"{rss['median'] / 1024:.1f} ({rss['min'] / 1024:.1f}/"
                    f"{rss['p90'] / 1024:.1f}/{rss['max'] / 1024:.1f})")
        print(f"| {name} | {spread(name, 'init_ms', '{:.2f}')} "
              f"| {spread(name, 'init_cpu_ms', '{:.2f}')} | {spread(name, 'first_ms')} "
              f"| {spread(name, 'cpu_ms')} | {rss_text} | {ratio_floor} | {ratio_floor_cpu} "
              f"| {ratio_twin_init} | {ratio_twin_first} |")
    print()
    print("RSS at the response, median MiB: anon (heap, stacks) + file (pages of the binary and "
          "libraries touched)")
    print()
    print("| subject | anon | file |")
    print("|---|---|---|")
    for s in subjects:
        st = stats[s["name"]]
        if "anon_kib" in st and "file_kib" in st:
            print(f"| {s['name']} | {st['anon_kib']['median'] / 1024:.1f} "
                  f"| {st['file_kib']['median'] / 1024:.1f} |")
    print()
    for s in subjects:
        print(f"{s['name']} response: {results[s['name']][-1]['response'][:200]}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "runs": args.runs, "warmup": args.warmup, "load_before": load_before,
                "load_after": load_after, "stats": stats,
                "subjects": [{k: v for k, v in s.items() if k != "event_bytes"} for s in subjects],
                "samples": results,
            }, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
