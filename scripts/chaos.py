#!/usr/bin/env python3
"""Chaos suite and soak test behind scripts/chaos (which installs what is missing and builds
`workqueue` first; run that, not this, from a fresh clone).

Every fault runs real `workqueue work` processes against real redis-servers that this driver
starts on free 127.0.0.1 ports in its temp dir, with the suite's C plugin as the handler
(scripts/chaos-plugin.c: prints `Working on <item>` when it starts an item and returns the item
as its result, so `NAME:results` holds a completion record (item, result = the item) for every
recorded completion).
Only the Python standard library is used (a small RESP client below); every process it starts
dies with it (PR_SET_PDEATHSIG) and is killed when it exits; it connects nowhere but 127.0.0.1.

The invariant checked after every fault: every item has a recorded completion (its result in
NAME:results; the expected poison item of fault 8 in NAME:dead instead), and NAME,
NAME:processing, NAME:leases, NAME:lease-items and NAME:retry are empty.
"""
import argparse
import ctypes
import datetime
import hashlib
import json
import os
import random
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"  # the only address this script ever connects to
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PLUGIN_SOURCE = os.path.join(HERE, "chaos-plugin.c")
WALLCLOCK_SOURCE = os.path.join(HERE, "chaos-wallclock.c")
PLUGIN_INCLUDE = os.path.join(ROOT, "Sources", "CWorkQueuePlugin", "include")

# ---------------------------------------------------------------------------------------------
# Processes: each child gets SIGKILL from the kernel if this driver dies (PR_SET_PDEATHSIG) and
# is killed by kill_children() when the driver exits.

_children = []
_children_lock = threading.Lock()
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    # No core files from the aborting workers of fault 8.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def spawn(argv, **kwargs):
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs)
    with _children_lock:
        _children.append(proc)
    return proc


def kill_children():
    with _children_lock:
        procs = list(_children)
        _children.clear()
    for proc in procs:
        try:
            if proc.poll() is None:
                proc.kill()
        except OSError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, ChildProcessError):
            pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def now():
    return time.monotonic()


# ---------------------------------------------------------------------------------------------
# A small RESP2 client (no third-party package needed).


class RespError(Exception):
    pass


class Resp:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def close(self):
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, str):
                arg = arg.encode()
            elif isinstance(arg, (int, float)):
                arg = str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        return b"".join(out)

    def read(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.reader.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.read() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(args))
        reply = self.read()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        replies = [self.read() for _ in commands]
        for reply in replies:
            if isinstance(reply, RespError):
                raise reply
        return replies


# ---------------------------------------------------------------------------------------------
# redis-server


# The longest a script call of ours may hold Redis (issue 17: bounded Redis time per call).
SLOW_SCRIPT_US = 50_000


def truncated_result_ok(item, result):
    """A handler's result as Redis stores it: the item itself, or for an item over 4 KiB its
    first bytes and the marker `…[truncated, N bytes in all]` (StoredText.bounded)."""
    if result == item:
        return True
    return (result is not None and len(item) > 4096 and result.startswith(item[:1024])
            and f"[truncated, {len(item)} bytes in all]".encode() in result)


class RedisServer:
    """A redis-server of the suite's own, in a directory of its own under the temp dir, on a
    port that stays the same across restarts (AOF files survive them when appendonly)."""

    def __init__(self, tmp, name, appendonly=False, fsync="everysec", extra=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.fsync = fsync
        self.extra = list(extra)
        self.proc = None
        self.log = os.path.join(self.dir, "redis.log")

    def start(self, timeout=15.0):
        argv = ["redis-server", "--bind", HOST, "--port", str(self.port), "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", self.fsync, "--logfile", self.log, "--daemonize", "no",
                "--protected-mode", "yes",
                # Calls over 10 ms are logged: check() reports the slowest script call and
                # fails a fault whose scripts ran over SLOW_SCRIPT_US.
                "--slowlog-log-slower-than", "10000", "--slowlog-max-len", "1024"] + self.extra
        self.proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # SLOWLOG times a call by the wall clock: a redis-server waiting for a CPU behind the
        # workers (2 cores, 4+ busy processes) logs a 5 ms script as 90. Ahead of them, the
        # 50 ms bound measures what the script does. Needs root (as CI runs); otherwise the
        # bound is measured at the default priority.
        try:
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, -10)
        except OSError:
            pass
        deadline = now() + timeout
        error = None
        while now() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                c = Resp(self.port, timeout=2)
                try:
                    c.call("PING")  # LOADING while the AOF is read
                    return now()
                finally:
                    c.close()
            except (OSError, ConnectionError, RespError) as e:
                error = e
                time.sleep(0.01)
        raise RuntimeError(f"redis-server on port {self.port} did not start: {error}; see {self.log}")

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self):
        return Resp(self.port)

    def call(self, *args):
        c = Resp(self.port)
        try:
            return c.call(*args)
        finally:
            c.close()


# ---------------------------------------------------------------------------------------------
# A pausable TCP proxy: forwards 127.0.0.1:port to the Redis port; pause() stops forwarding in
# both directions (and holds new connections unconnected) without closing any socket, as a
# network partition does; resume() lets everything through again.


class StallProxy:
    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def pause(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def close(self):
        self.closed = True
        self.flowing.set()
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        self.flowing.wait()  # a partition: the connection hangs until the stall ends
        try:
            upstream = socket.create_connection((HOST, self.upstream), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        with self.lock:
            self.sockets += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while not self.closed:
                self.flowing.wait()
                ready, _, _ = select.select([source], [], [], 0.05)
                if not ready:
                    continue
                self.flowing.wait()  # data read just before a pause waits with the rest
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                sink.sendall(data)
        except (OSError, ValueError):  # ValueError: closed by close() meanwhile
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Workers


class Worker:
    """One `workqueue work` process: its stdout is read line by line on a thread of its own and
    every `Working on <item>` is recorded with the time and this worker's id; another thread
    waits for its exit and records when it happened."""

    def __init__(self, run, argv, env, label):
        self.run = run
        self.id = len(run.workers)
        self.label = label
        self.stderr_path = os.path.join(run.dir, f"worker-{self.id}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.started_at = now()
        self.proc = spawn(argv, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.code = None
        self.exited_at = None
        self.killed_at = None  # when the suite sent SIGKILL (or a fault killed it)
        self.term_at = None
        self.session = None  # from its `Worker with sessionID:` line
        self.free_since = None  # first poll since it last held a lease in Redis that found none
        self.aborted_at = None  # when it started the item it aborted on (fault 8)
        self.done = threading.Event()
        run.workers.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            t = now()
            if line.startswith(b"Working on "):
                item = line[11:].rstrip(b"\n")
                self.run.record_start(item, t, self.id)
            elif line.startswith(b"Worker with sessionID: "):
                self.session = line[23:].strip()
        self.proc.stdout.close()

    def _wait(self):
        code = self.proc.wait()
        self.exited_at = now()
        self.reader.join(timeout=5)
        self.code = code
        self.stderr.close()
        self.done.set()

    def alive(self):
        return not self.done.is_set()

    def signal(self, sig):
        if self.alive():
            t = now()
            if sig == signal.SIGKILL:
                self.killed_at = t
            elif sig == signal.SIGTERM:
                self.term_at = t
            try:
                self.proc.send_signal(sig)
            except OSError:
                pass
            return t
        return None

    def wait(self, timeout):
        if not self.done.wait(timeout):
            raise Failure(f"worker {self.id} ({self.label}) still running after {timeout:.0f} s")
        return self.code

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    @property
    def clean(self):
        return self.code == 0

    @property
    def died_at(self):
        """When a fault stopped it: the SIGKILL, the abort, or the exit with a status other
        than 0. (An aborting Swift process prints its backtrace before it exits, about 2 s,
        with every thread stopped: it dies for the queue at the abort.)"""
        if self.killed_at is not None:
            return self.killed_at
        if self.aborted_at is not None:
            return self.aborted_at
        if self.code not in (None, 0):
            return self.exited_at
        return None


class Failure(Exception):
    pass


def log_clock_skew(worker):
    """Seconds between the `time` of the worker's first JSON log line and the real wall clock
    when it was started, or None."""
    for line in worker.stderr_text().splitlines():
        if line.startswith("{"):
            try:
                stamp = json.loads(line)["time"]
                t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
                t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
            except (ValueError, KeyError):
                return None
            return t - worker.wall_start
    return None


def sha224(item):
    return hashlib.sha224(item).hexdigest()


class Run:
    """One fault: its queue, items, workers, what was injected and what was seen."""

    def __init__(self, suite, number, name, items):
        self.suite = suite
        self.number = number
        self.name = name
        self.queue = f"chaos{number}"
        self.dir = os.path.join(suite.tmp, f"fault-{number}")
        os.makedirs(self.dir, exist_ok=True)
        self.items = [f"{self.queue}-item-{i:06d}".encode() for i in range(items)]
        self.workers = []
        self.starts = {}  # item -> [(time, worker id)]
        self.lock = threading.Lock()
        self.faults = 0
        self.recover = None  # seconds
        self.recover_what = ""
        self.details = []
        self.problems = []
        self.expect_dead = []
        self.strict_duplicates = False  # duplicates only in processes a fault stopped
        self.watching = False
        self.t0 = now()

    def record_start(self, item, t, worker):
        with self.lock:
            self.starts.setdefault(item, []).append((t, worker))

    def fail(self, message):
        self.problems.append(message)

    def push(self, server, items=None):
        c = server.client()
        try:
            items = self.items if items is None else items
            commands = [["RPUSH", self.queue] + items[i:i + 1000] for i in range(0, len(items), 1000)]
            c.pipeline(commands)
        finally:
            c.close()

    def completed(self, server):
        return int(server.call("GET", self.queue + ":completed") or 0)

    def wait_progress(self, server, since, workers, timeout=20.0):
        """Seconds from `since` until NAME:completed grows past its value now (read over a
        direct connection), or None when it did not within the timeout or the workers ended."""
        base = self.completed(server)
        deadline = now() + timeout
        while now() < deadline and any(w.alive() for w in workers):
            if self.completed(server) > base:
                return now() - since
            time.sleep(0.005)
        return None

    def watch_leases(self, server):
        """Polls NAME:leases every 20 ms on a connection of its own and notes, for each worker,
        the first poll since it last held a lease (tokens `<session>:<n>`) that found none of
        its leases left: once it is dead, its items were recovered (or released) by then."""
        self.watching = True

        def loop():
            c = None
            while self.watching:
                try:
                    if c is None:
                        c = server.client()
                    members = c.call("ZRANGE", self.queue + ":leases", 0, -1)
                except (OSError, ConnectionError, RespError):
                    c = None
                    time.sleep(0.05)
                    continue
                t = now()
                holders = {m.rsplit(b":", 1)[0] for m in members}
                for w in list(self.workers):
                    if w.session is None:
                        continue
                    if w.session in holders:
                        w.free_since = None
                    elif w.free_since is None:
                        w.free_since = t
                time.sleep(0.02)
            if c is not None:
                c.close()

        self.watcher = threading.Thread(target=loop, daemon=True)
        self.watcher.start()

    def stop_watching(self):
        self.watching = False
        self.watcher.join(timeout=5)

    def lease_recovery(self):
        """Seconds from each fault-stopped worker's death to its last lease gone (max), and
        how many such workers there were."""
        dead = [w for w in self.workers if w.died_at is not None and w.session is not None]
        delays = [max(0.0, w.free_since - w.died_at) for w in dead if w.free_since is not None]
        missing = [w.id for w in dead if w.free_since is None]
        return (max(delays) if delays else None), missing

    def restart_delays(self, worker):
        """For a worker stopped by a fault at time t: the delay from t to the next start of each
        item it had started that was started again later (its interrupted items)."""
        t = worker.killed_at or worker.exited_at
        if t is None:
            return []
        delays = []
        with self.lock:
            for item, ss in self.starts.items():
                if any(w == worker.id for _, w in ss):
                    later = [s for s, _ in ss if s > t]
                    if later:
                        delays.append(min(later) - t)
        return delays


# ---------------------------------------------------------------------------------------------
# The suite


class Suite:
    def __init__(self, args):
        self.args = args
        self.tmp = args.tmpdir
        self.bin = args.bin
        self.long = args.mode == "long"
        self.plugin = self.build_plugin()
        self.wallclock = self.build_wallclock()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WORKQUEUE_", "REDIS_", "FAKETIME", "LD_PRELOAD"))}
        self.rng = random.Random(args.seed)

    def build_plugin(self):
        out = os.path.join(self.tmp, "libchaos.so")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I", PLUGIN_INCLUDE,
                        PLUGIN_SOURCE, "-o", out], check=True)
        os.chmod(out, 0o755)
        return out

    def build_wallclock(self):
        out = os.path.join(self.tmp, "libwallshift.so")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", WALLCLOCK_SOURCE,
                        "-o", out, "-ldl"], check=True)
        return out

    def pick(self, short, long):
        return long if self.long else short

    # -- workers ----------------------------------------------------------------------------

    def worker_argv(self, run, port, lease=2.0, grace=2.0, budget=15.0, concurrency=2,
                    options=(), extra=()):
        argv = [self.bin, "work", "--queue", run.queue, "--redis", f"redis://{HOST}:{port}",
                "--plugin", self.plugin, "--lease-seconds", str(lease),
                "--recovery-seconds", "0.5", "--grace-seconds", str(grace),
                "--backend-retry-seconds", str(budget), "--connect-timeout", "10",
                "--retry-base-seconds", "0.1", "--retry-max-seconds", "0.5",
                "--concurrency", str(concurrency), "--results-max", "10000000",
                "--log-level", "warning"]
        for option in options:
            argv += ["--option", option]
        return argv + list(extra)

    def start_worker(self, run, argv, label="worker", env_extra=None):
        env = dict(self.env)
        if env_extra:
            env.update(env_extra)
        return Worker(run, argv, env, label)

    def supervise(self, run, count, argv, timeout, injector=None, label="worker",
                  env_extra=None, restart_delay=0.05):
        """restartPolicy: OnFailure: `count` slots, each restarted whenever its process exits
        non-zero, done once it exits 0. `injector(run, slots)` runs every 20 ms."""
        slots = [self.start_worker(run, argv, label, env_extra) for _ in range(count)]
        done = [False] * count
        deadline = now() + timeout
        restart_at = [None] * count
        while not all(done):
            if now() > deadline:
                raise Failure(f"not drained within {timeout:.0f} s "
                              f"(restartPolicy OnFailure, {len(run.workers)} processes started)")
            if injector is not None:
                injector(run, slots)
            for i, w in enumerate(slots):
                if done[i] or w.alive():
                    continue
                if w.code == 0:
                    done[i] = True
                elif restart_at[i] is None:
                    restart_at[i] = now() + restart_delay
                elif now() >= restart_at[i]:
                    restart_at[i] = None
                    slots[i] = self.start_worker(run, argv, label, env_extra)
            time.sleep(0.02)
        return slots

    def settle_recovery(self, run, died="death"):
        """Recover = from each fault-stopped worker's death to its last lease gone from Redis
        (max): the items it held were back in pending (or dead, or released) by then. Also
        notes how long its interrupted items took to start again (queue wait included: recovery
        appends them to the tail of pending)."""
        run.stop_watching()
        run.recover, missing = run.lease_recovery()
        run.recover_what = f"{died} -> its leases recovered (max)"
        if missing:
            run.fail(f"leases of stopped workers {missing} were never recovered")
        restarts = [d for w in run.workers if w.died_at is not None for d in run.restart_delays(w)]
        if restarts:
            run.details.append(f"interrupted items started again within {max(restarts):.2f} s")

    # -- the invariant ---------------------------------------------------------------------

    def drain_with_new_workers(self, run, argv, when=""):
        """Starts two workers with `argv` and fails the run unless both exit 0 (bounded)."""
        for w in [self.start_worker(run, argv) for _ in range(2)]:
            code = w.wait(self.pick(60, 300))
            if code != 0:
                run.fail(f"worker {w.id} exited {code}{when} (expected 0)")

    def check(self, run, server):
        c = server.client()
        try:
            q = run.queue
            left = {
                "pending": c.call("LLEN", q),
                "processing": c.call("LLEN", q + ":processing"),
                "leases": c.call("ZCARD", q + ":leases"),
                "lease-items": c.call("HLEN", q + ":lease-items"),
                "scheduled retries": c.call("ZCARD", q + ":retry"),
            }
            for what, n in left.items():
                if n:
                    run.fail(f"{n} left in {what}")
            dead = c.call("LRANGE", q + ":dead", 0, -1)
            if sorted(dead) != sorted(run.expect_dead):
                run.fail(f"dead letters {[d.decode(errors='replace') for d in dead][:5]}"
                         f" (expected {[d.decode() for d in run.expect_dead]})")
            expected = [i for i in run.items if i not in run.expect_dead]
            # The completion records (a stream): the latest result of each item, read in pages.
            recorded = {}
            after = "-"
            while True:
                page = c.call("XRANGE", q + ":results", after, "+", "COUNT", 1000)
                for entry_id, fields in page:
                    record = dict(zip(fields[0::2], fields[1::2]))
                    recorded[record.get(b"item")] = record.get(b"result")
                if len(page) < 1000:
                    break
                after = "(" + page[-1][0].decode()
            lost = [x for x in expected if not truncated_result_ok(x, recorded.get(x))]
            scripts = [entry for entry in c.call("SLOWLOG", "GET", 1024)
                       if len(entry) > 3 and entry[3] and entry[3][0].upper() in (b"EVALSHA", b"EVAL")]
        finally:
            c.close()
        slow = [entry for entry in scripts if entry[2] > SLOW_SCRIPT_US]
        if scripts:
            run.details.append(f"slowest script call {max(e[2] for e in scripts) / 1000:.1f} ms "
                               f"({len(scripts)} over 10 ms)")
        if slow:
            worst = max(entry[2] for entry in slow)
            run.fail(f"{len(slow)} script call(s) held Redis over {SLOW_SCRIPT_US // 1000} ms (longest {worst / 1000:.1f} ms)")
            for entry in sorted(slow, key=lambda e: -e[2])[:5]:
                args = entry[3]
                run.details.append(f"{entry[2] / 1000:.1f} ms: {args[0].decode()} {args[1][:12].decode(errors='replace')}"
                                   f" with {len(args) - 2} arguments, {sum(len(a) for a in args)} bytes")
        with run.lock:
            starts = dict(run.starts)
        never = [x for x in run.items if x not in starts]
        lost_set = set(lost) | set(x for x in never if x not in run.expect_dead)
        run.lost = len(lost_set)
        if lost_set:
            run.fail(f"{len(lost_set)} lost, e.g. {sorted(lost_set)[0].decode(errors='replace')}")
        run.duplicates = sum(1 for ss in starts.values() if len(ss) > 1)
        if run.strict_duplicates:
            by_id = {w.id: w for w in run.workers}
            unexplained = []
            for item, ss in starts.items():
                for _, wid in sorted(ss)[:-1]:
                    if by_id[wid].clean:
                        unexplained.append(item)
                        break
            if unexplained:
                run.fail(f"{len(unexplained)} items handled again after a worker that exited 0 "
                         f"had started them, e.g. {unexplained[0].decode(errors='replace')}")

    # -- the faults ------------------------------------------------------------------------

    def fault_kill_storm(self, run):
        """Several workers SIGKILLed at random times and restarted (restartPolicy: OnFailure)
        until the queue is drained. Recover: from a kill to the restart of the killed
        process's interrupted items (max)."""
        kills = self.pick(10, 60)
        server = RedisServer(self.tmp, "r1")
        server.start()
        run.watch_leases(server)
        run.push(server)
        run.strict_duplicates = True
        argv = self.worker_argv(run, server.port, options=["delay_ms=20"])
        state = {"next": now() + 0.5}

        def injector(run, slots):
            if run.faults >= kills or now() < state["next"]:
                return
            alive = [w for w in slots if w.alive() and now() - w.started_at > 0.2]
            if not alive:
                return
            self.rng.choice(alive).signal(signal.SIGKILL)
            run.faults += 1
            state["next"] = now() + self.rng.uniform(0.15, 0.6)

        self.supervise(run, 3, argv, timeout=self.pick(90, 400), injector=injector)
        self.check(run, server)
        self.settle_recovery(run, "kill")
        run.details.append(f"{len(run.workers)} processes, kills at random 0.15-0.6 s apart")
        if run.faults < kills:
            run.details.append(f"queue drained after {run.faults} of {kills} kills")
        server.kill()

    def fault_redis_restart(self, run):
        """Redis (appendonly yes, appendfsync everysec) SIGKILLed and restarted on the same
        port while workers run; the workers ride it out (budget 15 s). Recover: from Redis
        accepting again to the next completion recorded in it (max)."""
        restarts = self.pick(3, 10)
        server = RedisServer(self.tmp, "r2", appendonly=True, fsync="everysec")
        server.start()
        run.push(server)
        argv = self.worker_argv(run, server.port, options=["delay_ms=20"])
        workers = [self.start_worker(run, argv) for _ in range(2)]
        delays = []
        for _ in range(restarts):
            time.sleep(self.rng.uniform(0.3, 0.8))
            if not any(w.alive() for w in workers):
                break
            server.kill(signal.SIGKILL)
            run.faults += 1
            time.sleep(0.3)
            up = server.start()
            delay = run.wait_progress(server, up, workers)
            if delay is not None:
                delays.append(delay)
        for w in workers:
            code = w.wait(self.pick(60, 300))
            if code != 0:
                run.fail(f"worker {w.id} exited {code} (expected 0): {w.stderr_text()[-300:]}")
        self.check(run, server)
        run.recover = max(delays) if delays else None
        run.recover_what = "Redis up -> next completion (max)"
        run.details.append("kill -9 of redis-server, 0.3 s down, AOF everysec")
        server.kill()

    def fault_redis_down(self, run):
        """Redis down for longer than --backend-retry-seconds (2 s): every worker exits 1
        within the budget (plus 2 s of slack for a loaded machine), nothing lost; Redis back (AOF), new workers
        drain it. Recover: from Redis back to the queue drained."""
        budget = 2.0
        server = RedisServer(self.tmp, "r3", appendonly=True, fsync="always")
        server.start()
        run.push(server)
        argv = self.worker_argv(run, server.port, budget=budget, options=["delay_ms=50"])
        workers = [self.start_worker(run, argv) for _ in range(2)]
        time.sleep(0.6)
        down_at = now()
        server.kill(signal.SIGKILL)
        run.faults += 1
        exits = []
        for w in workers:
            code = w.wait(budget + 30)
            exits.append(w.exited_at - down_at)
            if code != 1:
                run.fail(f"worker {w.id} exited {code} with Redis down (expected 1)")
            elif "Error:" not in w.stderr_text():
                run.fail(f"worker {w.id} exited 1 without an Error: line on stderr")
        # What counts: the workers gave up (exit 1) in bounded time, not hanging on.
        limit = budget + 2.0
        if max(exits) > limit:
            run.fail(f"a worker took {max(exits):.1f} s to exit 1 (budget {budget} s, limit {limit} s)")
        time.sleep(max(0.0, budget + 0.5 - (now() - down_at)))
        up = server.start()
        argv2 = self.worker_argv(run, server.port, options=["delay_ms=50"])
        self.drain_with_new_workers(run, argv2, " after Redis came back")
        drained = max(w.exited_at for w in run.workers)
        self.check(run, server)
        run.recover = drained - up
        run.recover_what = "Redis back -> drained by new workers"
        run.details.append(f"down {up - down_at:.1f} s > budget {budget:.0f} s; "
                           f"workers exited 1 after {min(exits):.2f}-{max(exits):.2f} s")
        server.kill()

    def fault_stall(self, run):
        """The workers reach Redis through a pausable TCP proxy; forwarding stops for a while
        (sockets stay open) a few times, shorter than --backend-retry-seconds (15 s) and than
        the lease (5 s): every worker survives and exits 0 (buffered items keep running during
        the stall). Recover: from the end of a stall to the next completion recorded in Redis
        (max)."""
        stalls = self.pick(2, 5)
        length = self.pick(2.0, 4.0)
        server = RedisServer(self.tmp, "r4")
        server.start()
        run.push(server)
        proxy = StallProxy(server.port)
        argv = self.worker_argv(run, proxy.port, lease=5.0, options=["delay_ms=20"])
        workers = [self.start_worker(run, argv) for _ in range(2)]
        delays = []
        try:
            for _ in range(stalls):
                time.sleep(self.rng.uniform(0.3, 0.7))
                if not all(w.alive() for w in workers):
                    break
                proxy.pause()
                run.faults += 1
                time.sleep(length)
                proxy.resume()
                delay = run.wait_progress(server, now(), workers)
                if delay is not None:
                    delays.append(delay)
            for w in workers:
                code = w.wait(self.pick(60, 300))
                if code != 0:
                    run.fail(f"worker {w.id} exited {code} (expected 0): {w.stderr_text()[-300:]}")
        finally:
            proxy.close()
        self.check(run, server)
        run.recover = max(delays) if delays else None
        run.recover_what = "stall end -> next completion (max)"
        run.details.append(f"{length:.1f} s stalls (lease 5 s, budget 15 s)")
        server.kill()

    def fault_term_kill(self, run):
        """SIGTERM, then SIGKILL 0.05-0.5 s later (a pod whose terminationGracePeriodSeconds
        is shorter than the worker's grace), repeatedly, with restarts. Recover: from the
        SIGKILL to the restart of the process's interrupted items (max)."""
        rounds = self.pick(6, 30)
        server = RedisServer(self.tmp, "r5")
        server.start()
        run.watch_leases(server)
        run.push(server)
        run.strict_duplicates = True
        argv = self.worker_argv(run, server.port, grace=5.0, concurrency=4, options=["delay_ms=600"])
        state = {"next": now() + 0.5, "pending": []}

        def injector(run, slots):
            t = now()
            for w, at in list(state["pending"]):
                if t >= at:
                    w.signal(signal.SIGKILL)
                    state["pending"].remove((w, at))
            if run.faults >= rounds or t < state["next"]:
                return
            alive = [w for w in slots if w.alive() and w.term_at is None and t - w.started_at > 0.3]
            if not alive:
                return
            w = self.rng.choice(alive)
            w.signal(signal.SIGTERM)
            state["pending"].append((w, t + self.rng.uniform(0.05, 0.5)))
            run.faults += 1
            state["next"] = t + self.rng.uniform(0.3, 0.8)

        # A process stopped by SIGTERM within its grace exits 143: OnFailure restarts it too.
        self.supervise(run, 2, argv, timeout=self.pick(90, 400), injector=injector)
        self.check(run, server)
        self.settle_recovery(run, "SIGKILL")
        killed = sum(1 for w in run.workers if w.killed_at and w.code == -signal.SIGKILL)
        run.details.append(f"{killed} of {run.faults} SIGTERMed processes were still there for the SIGKILL")
        server.kill()

    def fault_term_in_stall(self, run):
        """SIGTERM while Redis is stalled (proxy paused, items in flight): each worker must
        exit within --grace-seconds + 1 s; their items stay leased and come back through
        recovery once the stall ends. Recover: from the stall's end to the queue drained."""
        grace = 2.0
        server = RedisServer(self.tmp, "r6")
        server.start()
        run.push(server)
        proxy = StallProxy(server.port)
        argv = self.worker_argv(run, proxy.port, grace=grace, options=["delay_ms=300"])
        workers = [self.start_worker(run, argv) for _ in range(2)]
        exits = []
        try:
            time.sleep(1.0)
            proxy.pause()
            time.sleep(0.5)
            for w in workers:
                w.signal(signal.SIGTERM)
                run.faults += 1
            for w in workers:
                code = w.wait(grace + 30)
                exits.append(w.exited_at - w.term_at)
                if code != 143:
                    run.fail(f"worker {w.id} exited {code} after SIGTERM (expected 143)")
            if max(exits) > grace + 1.0:
                run.fail(f"exit {max(exits):.2f} s after SIGTERM > grace {grace:.0f} s + 1 s")
            time.sleep(0.5)
            proxy.resume()
            resumed = now()
        finally:
            proxy.close()
        argv2 = self.worker_argv(run, server.port, grace=grace, options=["delay_ms=20"])
        self.drain_with_new_workers(run, argv2)
        drained = max(w.exited_at for w in run.workers)
        self.check(run, server)
        run.recover = drained - resumed
        run.recover_what = "stall end -> drained by new workers"
        run.exit_after_term = max(exits)
        run.details.append(f"exit after SIGTERM {min(exits):.2f}-{max(exits):.2f} s "
                           f"(limit grace {grace:.0f} + 1 = {grace + 1:.0f} s)")
        server.kill()

    def fault_ignore_cancel(self, run):
        """A handler that ignores cancellation (the plugin's ignore_cancel=1, one item taking
        60 s) and SIGTERM while it runs: the worker exits 143 within grace + 1 s, the item is
        not settled and comes back through recovery to a new worker. Recover: from that exit
        to the item started again."""
        grace = 1.0
        server = RedisServer(self.tmp, "r7")
        server.start()
        run.watch_leases(server)
        slow = f"{run.queue}-slow".encode()
        run.items = [slow] + run.items
        run.push(server)
        run.strict_duplicates = True
        options = ["delay_ms=20", "ignore_cancel=1", f"slow={slow.decode()}", "slow_ms=60000"]
        argv = self.worker_argv(run, server.port, grace=grace, options=options)
        w = self.start_worker(run, argv, label="ignores cancellation")
        deadline = now() + 20
        while slow not in run.starts and now() < deadline and w.alive():
            time.sleep(0.01)
        if slow not in run.starts:
            raise Failure("the slow item was never started")
        time.sleep(0.3)
        w.signal(signal.SIGTERM)
        run.faults += 1
        code = w.wait(grace + 30)
        exit_after = w.exited_at - w.term_at
        if code != 143:
            run.fail(f"worker exited {code} after SIGTERM (expected 143)")
        if exit_after > grace + 1.0:
            run.fail(f"exit {exit_after:.2f} s after SIGTERM > grace {grace:.0f} s + 1 s")
        argv2 = self.worker_argv(run, server.port, options=["delay_ms=20"])
        self.drain_with_new_workers(run, argv2)
        self.check(run, server)
        again = [s for s, wid in run.starts.get(slow, []) if wid != w.id]
        if not again:
            run.fail("the slow item was not handled again")
        self.settle_recovery(run, "exit")
        run.exit_after_term = exit_after
        run.details.append(f"exit after SIGTERM {exit_after:.2f} s (limit {grace + 1:.0f} s)")
        server.kill()

    def fault_poison(self, run):
        """A plugin that aborts the process on one poison item, with restarts
        (restartPolicy: OnFailure) and --max-attempts 3: the poison item ends in NAME:dead
        after its attempts run out, everything else completes. Recover: from an abort to the
        restart of the aborted process's items (max)."""
        server = RedisServer(self.tmp, "r8")
        server.start()
        run.watch_leases(server)
        poison = f"{run.queue}-poison".encode()
        half = len(run.items) // 3
        run.items = run.items[:half] + [poison] + run.items[half:]
        run.expect_dead = [poison]
        run.strict_duplicates = True
        run.push(server)
        # One item per process (--concurrency 1 --prefetch 1): an abort then abandons only the
        # item that caused it. With more items held, the innocent ones are abandoned with it and
        # get an attempt counted each time: they can be dead-lettered with the poison item
        # (docs/chaos.md).
        argv = self.worker_argv(run, server.port, concurrency=1,
                                options=["delay_ms=20", f"poison={poison.decode()}"],
                                extra=["--max-attempts", "3", "--prefetch", "1"])
        self.supervise(run, 2, argv, timeout=self.pick(90, 300))
        aborted = [w for w in run.workers if w.code == -signal.SIGABRT]
        run.faults = len(aborted)
        for w in aborted:
            starts = [t for t, wid in run.starts.get(poison, []) if wid == w.id]
            w.aborted_at = max(starts) if starts else None
        bad = [w.code for w in run.workers if w.code not in (0, -signal.SIGABRT)]
        if bad:
            run.fail(f"unexpected exit statuses {bad}")
        self.check(run, server)
        self.settle_recovery(run, "abort")
        run.details.append(f"{len(aborted)} aborts (SIGABRT), poison item dead-lettered after 3 attempts")
        server.kill()

    def fault_eviction(self, run):
        """Redis with maxmemory-policy allkeys-lru: `work --require-noeviction` refuses (exit
        78, EX_CONFIG) and touches nothing (every key compared before and after); a plain
        `work` warns on stderr at start and drains the queue. Recover: none (the time to the
        refusal is printed)."""
        server = RedisServer(self.tmp, "r9", extra=["--maxmemory", "256mb",
                                                     "--maxmemory-policy", "allkeys-lru"])
        server.start()
        run.push(server)

        def snapshot():
            c = server.client()
            try:
                keys = sorted(c.call("KEYS", "*"))
                return [(k, c.call("TYPE", k), c.call("DUMP", k)) for k in keys]
            finally:
                c.close()

        before = snapshot()
        argv = self.worker_argv(run, server.port, options=["delay_ms=5"], extra=["--require-noeviction"])
        w = self.start_worker(run, argv, label="--require-noeviction")
        code = w.wait(30)
        run.faults += 1
        refused_after = w.exited_at - w.started_at
        text = w.stderr_text()
        if code != 78:
            run.fail(f"--require-noeviction exited {code} (expected 78)")
        if "maxmemory-policy" not in text:
            run.fail("the refusal does not name maxmemory-policy")
        if snapshot() != before:
            run.fail("--require-noeviction changed keys in Redis")
        if run.starts:
            run.fail("--require-noeviction handled items")
        argv2 = self.worker_argv(run, server.port, options=["delay_ms=5"])
        w2 = self.start_worker(run, argv2, label="warns")
        code = w2.wait(self.pick(60, 300))
        run.faults += 1
        warned = "allkeys-lru" in w2.stderr_text()
        if code != 0:
            run.fail(f"worker without --require-noeviction exited {code} (expected 0)")
        if not warned:
            run.fail("no warning about the evicting policy on stderr")
        self.check(run, server)
        run.recover = None
        run.recover_what = "-"
        run.details.append(f"refused with 78 in {refused_after:.2f} s, keys unchanged; "
                           f"the plain worker {'warned' if warned else 'did not warn'} and drained")
        server.kill()

    def fault_clock(self, run):
        """Workers whose wall clock is wrong, only the wall clock (CLOCK_REALTIME,
        gettimeofday, time; the monotonic clocks real, as on a host with a bad NTP setting):
        one an hour ahead and one an hour behind, through the suite's LD_PRELOAD shim
        (scripts/chaos-wallclock.c; why not libfaketime: docs/chaos.md). Slow items
        (3 s, longer than the 2 s lease) need renewals; the +1 h worker is SIGKILLed and
        restarted with the same clock. Leases hold and recovery works, since every deadline
        comes from Redis TIME: an item handled again must have been started by the killed
        process, and its leases are recovered within lease + recovery interval (+3 s slack),
        not an hour late. Recover: from the kill to its last lease gone (max)."""
        server = RedisServer(self.tmp, "r10")
        server.start()
        run.watch_leases(server)
        slow = [f"{run.queue}-slow-{i}".encode() for i in range(4)]
        run.items = slow + run.items
        run.push(server)
        run.strict_duplicates = True
        options = ["delay_ms=30", f"slow={run.queue}-slow", "slow_ms=3000"]
        argv = self.worker_argv(run, server.port, lease=2.0, options=options)
        # The worker's JSON log lines carry its own wall clock: they show the skew.
        logged = argv + ["--log-format", "json", "--log-level", "debug"]
        ahead_env = {"LD_PRELOAD": self.wallclock, "WALLSHIFT_SECONDS": "3600"}
        behind_env = {"LD_PRELOAD": self.wallclock, "WALLSHIFT_SECONDS": "-3600"}
        ahead = self.start_worker(run, logged, label="clock +1h", env_extra=ahead_env)
        ahead.wall_start = time.time()
        behind = self.start_worker(run, logged, label="clock -1h", env_extra=behind_env)
        behind.wall_start = time.time()
        time.sleep(1.0)
        ahead.signal(signal.SIGKILL)
        run.faults += 1
        restarted = self.start_worker(run, argv, label="clock +1h restarted", env_extra=ahead_env)
        for w in (behind, restarted):
            code = w.wait(self.pick(60, 300))
            if code != 0:
                run.fail(f"worker {w.id} ({w.label}) exited {code} (expected 0): {w.stderr_text()[-300:]}")
        ahead.wait(10)
        self.check(run, server)
        skews = []
        for w, expected, name in ((ahead, 3600, "+1h"), (behind, -3600, "-1h")):
            skew = log_clock_skew(w)
            if skew is None or abs(skew - expected) > 120:
                run.fail(f"worker {w.id} ({w.label}) did not run with its clock {expected:+d} s off (logged {skew})")
            else:
                skews.append(f"{name} worker logs {skew:+.0f} s")
        self.settle_recovery(run, "kill")
        # Deadlines taken from the +1 h worker's clock would hold its leases for an hour.
        if run.recover is not None and run.recover > 2.0 + 0.5 + 3.0:
            run.fail(f"the killed worker's leases took {run.recover:.1f} s to be recovered (lease 2 s)")
        run.details.append("; ".join(skews) + "; monotonic clocks real")
        server.kill()

    def fault_several_producers(self, run):
        """Several producers at once (issue 17): an operator's hold (`open`: the hold named
        operator), two `push --keep-open -` producers streaming from their stdin at random paces
        and ending at random times, and plain `push --file` runs meanwhile, with 2 workers
        draining as the items arrive. No producer's end may end another's hold: the workers must
        still run once both streaming pushes ended and every item is done, and exit 0 only after
        `close` ends the operator's hold, the last one. Invariant, and no hold left (NAME:holds,
        NAME:open). Recover: from that close to the last worker's exit."""
        server = RedisServer(self.tmp, "r12")
        server.start()
        redis_url = f"redis://{HOST}:{server.port}"
        items = list(run.items)
        self.rng.shuffle(items)
        quarter = len(items) // 4
        streams = [items[:quarter], items[quarter:2 * quarter]]
        plain = [items[2 * quarter:3 * quarter], items[3 * quarter:]]

        def tool(*args):
            return [self.bin, *args, "--queue", run.queue, "--redis", redis_url, "--log-level", "warning"]

        def run_tool(*args):
            out = subprocess.run(tool(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=60, preexec_fn=_die_with_parent)
            if out.returncode != 0:
                raise Failure(f"`{' '.join(args)}` exited {out.returncode}: {out.stderr.decode(errors='replace')[-300:]}")
            return out.stdout.decode(errors="replace")

        run_tool("open", "--ttl-seconds", "120")
        argv = self.worker_argv(run, server.port, options=["delay_ms=5"])
        workers = [self.start_worker(run, argv) for _ in range(2)]
        producers = []
        for i, lines in enumerate(streams):
            out = open(os.path.join(run.dir, f"producer-{i}.out"), "wb")
            err = open(os.path.join(run.dir, f"producer-{i}.stderr"), "wb")
            proc = spawn(tool("push", "--keep-open", "--ttl-seconds", "3", "-"), stdin=subprocess.PIPE,
                         stdout=out, stderr=err, env=self.env)
            producers.append((proc, lines, out, err))

        def feed(proc, lines, seed):
            rng = random.Random(seed)
            at = 0
            try:
                while at < len(lines):
                    n = rng.randint(1, 20)
                    proc.stdin.write(b"".join(x + b"\n" for x in lines[at:at + n]))
                    proc.stdin.flush()
                    at += n
                    time.sleep(rng.uniform(0.01, 0.08))
                time.sleep(rng.uniform(0.0, 1.5))  # the producers end at different times
            finally:
                proc.stdin.close()

        feeders = [threading.Thread(target=feed, args=(proc, lines, self.rng.random()), daemon=True)
                   for proc, lines, _, _ in producers]
        for t in feeders:
            t.start()
        for chunk in plain:
            time.sleep(self.rng.uniform(0.1, 0.6))
            path = os.path.join(run.dir, f"plain-{len(chunk)}-{self.rng.randrange(1 << 30)}.txt")
            with open(path, "wb") as f:
                f.write(b"".join(x + b"\n" for x in chunk))
            run_tool("push", "--file", path)
        for t in feeders:
            t.join(timeout=120)
        for i, (proc, lines, out, err) in enumerate(producers):
            code = proc.wait(timeout=60)
            out.close()
            err.close()
            run.faults += 1
            if code != 0:
                run.fail(f"push --keep-open {i} exited {code} (expected 0)")
        holds = sorted(m.decode() for m in server.call("ZRANGE", run.queue + ":holds", 0, -1))
        if holds != ["operator"]:
            run.fail(f"holds after both streaming pushes ended: {holds} (expected only operator)")
        deadline = now() + self.pick(60, 300)
        while run.completed(server) < len(items) and now() < deadline and all(w.alive() for w in workers):
            time.sleep(0.02)
        time.sleep(0.5)  # well past the workers' 50 ms polls
        early = [w.id for w in workers if not w.alive()]
        if early:
            run.fail(f"workers {early} exited while the operator's hold was still open")
        closed = now()
        run_tool("close")
        for w in workers:
            code = w.wait(self.pick(30, 60))
            if code != 0:
                run.fail(f"worker {w.id} exited {code} (expected 0): {w.stderr_text()[-300:]}")
        self.check(run, server)
        left = [k for k in (":holds", ":open") if server.call("EXISTS", run.queue + k)]
        if left:
            run.fail(f"producer keys left: {[run.queue + k for k in left]}")
        exits = [w.exited_at for w in workers if w.exited_at is not None]
        run.recover = max(exits) - closed if exits else None
        run.recover_what = "close of the last hold -> last worker exit 0"
        run.details.append(f"operator hold + 2 push --keep-open (stdin, random pace) + {len(plain)} plain pushes, 2 workers")
        server.kill()

    def fault_big_items(self, run):
        """Items of 1-4 MiB: two workers take many (16 slots each, handlers of 2 s, the default
        adaptive buffer), are killed with -9 holding them, and two fresh workers with default
        flags recover and drain the queue. Every reply is bounded by bytes, so neither the takes
        nor the recovery of 100 MiB of leases wedge. Recover: from the kill to the last lease of
        the killed workers gone."""
        rng = random.Random(self.rng.random())
        run.items = [f"{run.queue}-big-{i:04d}-".encode() + bytes([97 + i % 26]) * rng.randint(1 << 20, 4 << 20)
                     for i in range(len(run.items))]
        server = RedisServer(self.tmp, "r11")
        server.start()
        run.watch_leases(server)
        run.push(server)
        holders = [self.start_worker(run, self.worker_argv(run, server.port, lease=2.0, concurrency=16,
                                                           options=["delay_ms=2000"]))
                   for _ in range(2)]
        deadline = now() + 20
        c = server.client()
        try:
            while now() < deadline and int(c.call("HLEN", run.queue + ":lease-items")) < min(24, len(run.items)):
                time.sleep(0.05)
            held = int(c.call("HLEN", run.queue + ":lease-items"))
            held_bytes = sum(len(x) for x in c.call("HVALS", run.queue + ":lease-items"))
        finally:
            c.close()
        for w in holders:
            w.signal(signal.SIGKILL)
            run.faults += 1
        run.details.append(f"{len(run.items)} items of 1-4 MiB; 2 workers killed -9 holding {held} "
                           f"({held_bytes / (1 << 20):.0f} MiB)")
        self.drain_with_new_workers(run, self.worker_argv(run, server.port), " after the kill")
        self.check(run, server)
        self.settle_recovery(run, "kill -9")
        server.kill()

    def fault_cancel_resume_race(self, run):
        """A cancel and a `resume --restore` racing workers (issue 26): the queue is cancelled
        with every item moved aside, `resume --restore` starts 0.2 s after a worker, and
        another worker starts every 0.1 s while it runs (late Job pods, 6 at most; a worker
        that finds the queue still cancelled sweeps and exits 4). The restore must count each item once, and once the
        resume and those workers are done nothing may be left in NAME:cancelled, the queue must
        not be marked cancelled, and no restore hold may be left; 2 new workers then drain it
        (exit 0) with every item done. Recover: from the resume's start to the queue drained."""
        # Items of 1 KiB: a restore page stops at about 1 MiB, so the restore takes pages
        # enough (60 short, 200 long) for the workers' sweeps to meet it.
        run.items = [f"{run.queue}-item-{i:06d}-".encode() + b"x" * 1000 for i in range(len(run.items))]
        server = RedisServer(self.tmp, "r13")
        server.start()
        redis_url = f"redis://{HOST}:{server.port}"
        run.push(server)

        def tool(*args):
            return [self.bin, *args, "--queue", run.queue, "--redis", redis_url, "--log-level", "warning"]

        out = subprocess.run(tool("cancel"), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=120, preexec_fn=_die_with_parent)
        if out.returncode != 0:
            raise Failure(f"`cancel` exited {out.returncode}: {out.stderr.decode(errors='replace')[-300:]}")
        aside = int(server.call("LLEN", run.queue + ":cancelled"))
        if aside != len(run.items):
            run.fail(f"cancel moved {aside} of {len(run.items)} items aside")
        argv = self.worker_argv(run, server.port, options=["delay_ms=1"], concurrency=4)
        early = [self.start_worker(run, argv, label="started before the resume")]
        time.sleep(0.2)
        run.faults += 1
        started = now()
        resume = spawn(tool("resume", "--restore"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        # Late pods: one every 0.1 s while the resume runs (6 at most).
        late = []
        while resume.poll() is None and len(late) < 6:
            time.sleep(0.1)
            late.append(self.start_worker(run, argv, label="late pod"))
        try:
            stdout, stderr = resume.communicate(timeout=self.pick(120, 600))
        except subprocess.TimeoutExpired:
            resume.kill()
            raise Failure("`resume --restore` did not end")
        if resume.returncode != 0:
            raise Failure(f"`resume --restore` exited {resume.returncode}: {stderr.decode(errors='replace')[-300:]}")
        said = stdout.decode(errors="replace").splitlines()
        expected = f"Restored {len(run.items)} items of {run.queue} to pending"
        if not said or said[0] != expected:
            run.fail(f"resume said {said[:1]} (expected {expected!r})")
        codes = [w.wait(self.pick(120, 600)) for w in early + late]
        run.details.append(f"workers around the resume exited {codes} (0: drained, 4: found it cancelled)")
        left = int(server.call("LLEN", run.queue + ":cancelled"))
        if left:
            run.fail(f"{left} items left in {run.queue}:cancelled after the resume")
        if server.call("HEXISTS", run.queue + ":control", "cancelled"):
            run.fail("the queue is still marked cancelled after the resume")
        holds = [m.decode() for m in server.call("ZRANGE", run.queue + ":holds", 0, -1)]
        if holds:
            run.fail(f"holds left after the resume: {holds}")
        self.drain_with_new_workers(run, argv, " after the resume")
        self.check(run, server)
        run.recover = now() - started
        run.recover_what = "resume --restore started -> queue drained"
        server.kill()

    def fault_dashboard_huge_dead(self, run):
        """Huge dead letters under the web dashboard (issue 26, defect 1): a 256 MiB dead
        letter with its preview record (as the take writes it for an item over the size
        limit), a 64 MiB one of an older version (no record) at the head, and 20 small ones;
        six clients fetch `/api/dead` at several starts and `/api/snapshot` in a loop for 15 s
        while a seventh times PING every 20 ms. Redis must answer every PING within 50 ms and
        run no script call over 50 ms (SLOWLOG, the read-only calls included). Recover: the
        slowest PING."""
        import urllib.request
        server = RedisServer(self.tmp, "r14")
        server.start()
        q = run.queue
        huge_size = 256 << 20 if not os.environ.get("CHAOS_HUGE_MIB") else int(os.environ["CHAOS_HUGE_MIB"]) << 20
        c = server.client()
        try:
            c.call("RPUSH", q + ":dead", b"o" * (64 << 20))
            huge = b"h" * huge_size
            c.call("RPUSH", q + ":dead", huge)
            c.call("RPUSH", q + ":dead-previews", f"{huge_size}::".encode() + huge[:240])
            del huge
            for i in range(20):
                item = f"{q}-small-{i:02d}".encode()
                c.call("RPUSH", q + ":dead", item)
                c.call("RPUSH", q + ":dead-previews", f"{len(item)}:{sha224(item)}:".encode() + item)
            c.call("SLOWLOG", "RESET")
        finally:
            c.close()
        run.items = []
        port = free_port()
        dashboard = spawn([self.bin, "dashboard", "--queue", q, "--redis", f"redis://{HOST}:{server.port}",
                           "--port", str(port), "--interval", "1", "--log-level", "warning"],
                          env=dict(self.env), stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(run.dir, "dashboard.err"), "wb"))
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = now() + 20
            while True:
                try:
                    urllib.request.urlopen(base + "/api/snapshot", timeout=5).read()
                    break
                except OSError:
                    if now() > deadline or dashboard.poll() is not None:
                        raise Failure("the dashboard did not start")
                    time.sleep(0.1)
            stop = now() + 15
            counts = {"requests": 0, "errors": 0}
            lock = threading.Lock()

            def viewer(k):
                paths = [f"/api/dead?queue={q}&start={k % 3}", "/api/snapshot", f"/api/dead?queue={q}&start=0"]
                i = 0
                while now() < stop:
                    try:
                        body = urllib.request.urlopen(base + paths[i % len(paths)], timeout=10).read()
                        ok = len(body) < (1 << 20)
                    except OSError:
                        ok = False
                    with lock:
                        counts["requests"] += 1
                        counts["errors"] += 0 if ok else 1
                    i += 1

            threads = [threading.Thread(target=viewer, args=(k,), daemon=True) for k in range(6)]
            for t in threads:
                t.start()
            pings = []
            p = server.client()
            try:
                while now() < stop:
                    t0 = now()
                    p.call("PING")
                    pings.append(now() - t0)
                    time.sleep(0.02)
            finally:
                p.close()
            for t in threads:
                t.join(timeout=20)
            c = server.client()
            try:
                scripts = [entry for entry in c.call("SLOWLOG", "GET", 1024)
                           if len(entry) > 3 and entry[3]
                           and entry[3][0].upper() in (b"EVALSHA", b"EVAL", b"EVALSHA_RO", b"EVAL_RO")]
            finally:
                c.close()
        finally:
            dashboard.kill()
            dashboard.wait(timeout=10)
            server.kill()
        run.faults = 1
        run.lost = 0
        run.duplicates = 0
        worst = max(pings) if pings else None
        run.recover = worst
        run.recover_what = "slowest PING"
        run.details.append(f"dead letters of {huge_size >> 20} MiB (recorded) and 64 MiB (older, no record), 20 small; "
                           f"{counts['requests']} dashboard requests by 6 clients in 15 s ({counts['errors']} failed or over 1 MiB); "
                           f"{len(pings)} PINGs, slowest {worst * 1000:.1f} ms" if worst is not None else "no PING")
        if counts["errors"]:
            run.fail(f"{counts['errors']} dashboard requests failed or returned over 1 MiB")
        if worst is None or worst > 0.05:
            run.fail(f"PING took {worst * 1000:.1f} ms (bound 50 ms)" if worst is not None else "no PING answered")
        slow = [e for e in scripts if e[2] > SLOW_SCRIPT_US]
        if scripts:
            run.details.append(f"slowest script call {max(e[2] for e in scripts) / 1000:.1f} ms ({len(scripts)} over 10 ms)")
        if slow:
            run.fail(f"{len(slow)} script call(s) held Redis over {SLOW_SCRIPT_US // 1000} ms "
                     f"(longest {max(e[2] for e in slow) / 1000:.1f} ms)")

    FAULTS = [
        (1, "kill -9 storm, restarts", "fault_kill_storm", 600, 4000),
        (2, "Redis restarts (AOF)", "fault_redis_restart", 400, 3000),
        (3, "Redis down > budget", "fault_redis_down", 200, 1000),
        (4, "network stall < budget", "fault_stall", 300, 2000),
        (5, "SIGTERM then SIGKILL", "fault_term_kill", 60, 400),
        (6, "SIGTERM during stall", "fault_term_in_stall", 60, 200),
        (7, "handler ignores cancel", "fault_ignore_cancel", 100, 1000),
        (8, "poison item aborts", "fault_poison", 200, 1500),
        (9, "evicting maxmemory", "fault_eviction", 100, 1000),
        (10, "wrong clock (+-1 h)", "fault_clock", 200, 1500),
        (11, "big items (1-4 MiB), kill -9", "fault_big_items", 60, 200),
        (12, "several producers", "fault_several_producers", 400, 3000),
        (13, "cancel / resume --restore race", "fault_cancel_resume_race", 60_000, 200_000),
        (14, "huge dead letters under the dashboard", "fault_dashboard_huge_dead", 0, 0),
    ]

    def run_all(self):
        rows = []
        only = set(self.args.only or [])
        for number, name, method, short_items, long_items in self.FAULTS:
            if only and number not in only:
                continue
            run = Run(self, number, name, self.pick(short_items, long_items))
            run.lost = None
            run.duplicates = None
            t0 = now()
            try:
                getattr(self, method)(run)
            except Failure as e:
                run.fail(str(e))
            except Exception as e:  # a broken suite is a failure too, with its reason
                run.fail(f"{type(e).__name__}: {e}")
            finally:
                run.watching = False
                for w in run.workers:
                    if w.alive():
                        w.signal(signal.SIGKILL)
            run.wall = now() - t0
            row = {
                "fault": number,
                "name": name,
                "items": len(run.items),
                "faults_injected": run.faults,
                "processes": len(run.workers),
                "duplicates": run.duplicates,
                "lost": run.lost,
                "recover_s": None if run.recover is None else round(run.recover, 3),
                "recover_what": run.recover_what,
                "wall_s": round(run.wall, 2),
                "pass": not run.problems,
                "problems": run.problems,
                "details": run.details,
            }
            if hasattr(run, "exit_after_term"):
                row["exit_after_sigterm_s"] = round(run.exit_after_term, 3)
            rows.append(row)
            status = "pass" if row["pass"] else "FAIL"
            print(f"[{status}] {number:2d} {name}: {row['items']} items, {run.faults} faults, "
                  f"{row['duplicates']} duplicates, {row['lost']} lost, {row['wall_s']:.1f} s"
                  + "".join(f"\n       {d}" for d in run.details)
                  + "".join(f"\n       problem: {p}" for p in run.problems), flush=True)
            if run.problems:
                print(f"       logs: {run.dir}", flush=True)
        return rows


def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def print_table(rows, mode, wall):
    print()
    print(f"chaos suite, {mode} mode, {wall:.0f} s")
    header = ["#", "fault", "items", "faults", "duplicates", "lost", "recover s", "recover = time from", "result"]
    table = [[str(r["fault"]), r["name"], str(r["items"]), str(r["faults_injected"]),
              fmt(r["duplicates"], "{}"), fmt(r["lost"], "{}"), fmt(r["recover_s"]),
              r["recover_what"], "pass" if r["pass"] else "FAIL"] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)] if table else []
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(t, widths)) + " |")
    passed = sum(1 for r in rows if r["pass"])
    print(f"\n{passed} passed, {len(rows) - passed} failed")


# ---------------------------------------------------------------------------------------------
# Soak


def proc_status(pid):
    rss = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024.0
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    return rss, fds


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def soak(args):
    """1,000,000 items (pushed before the workers start) through two `workqueue work
    --handler noop` processes; each worker's VmRSS and open fd count sampled every
    --sample-seconds against the items completed so far (NAME:completed). Slopes by least
    squares over the steady state (10% to 95% of the items)."""
    n = args.soak_items
    server = RedisServer(args.tmpdir, "soak")
    server.start()
    queue = "soak"
    c = server.client()
    try:
        batch = []
        for start in range(0, n, 1000):
            batch.append(["RPUSH", queue] + [f"soak-{i:07d}" for i in range(start, min(n, start + 1000))])
            if len(batch) == 50:
                c.pipeline(batch)
                batch = []
        if batch:
            c.pipeline(batch)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKQUEUE_", "REDIS_"))}
        argv = [args.bin, "work", "--queue", queue, "--redis", f"redis://{HOST}:{server.port}",
                "--handler", "noop", "--log-level", "error"] + args.soak_flags.split()
        t0 = now()
        procs = [spawn(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.tmpdir, f"soak-{i}.stderr"), "wb"),
                       env=env) for i in range(2)]
        samples = {p.pid: [] for p in procs}
        deadline = t0 + args.soak_timeout
        while any(p.poll() is None for p in procs):
            if now() > deadline:
                raise Failure(f"soak not done within {args.soak_timeout:.0f} s")
            completed = int(c.call("GET", queue + ":completed") or 0)
            t = now() - t0
            for p in procs:
                if p.poll() is None:
                    st = proc_status(p.pid)
                    if st is not None:
                        samples[p.pid].append((t, completed, st[0], st[1]))
            time.sleep(args.sample_seconds)
        wall = now() - t0
        codes = [p.wait() for p in procs]
        completed = int(c.call("GET", queue + ":completed") or 0)
        left = c.call("LLEN", queue) + c.call("LLEN", queue + ":processing") + c.call("ZCARD", queue + ":leases")
    finally:
        c.close()
        server.kill()
    problems = []
    if codes != [0, 0]:
        problems.append(f"exit statuses {codes}")
    if completed != n or left:
        problems.append(f"{completed} of {n} completed, {left} left")
    report = {"items": n, "wall_s": round(wall, 1), "items_per_s": round(n / wall), "workers": [],
              "flags": args.soak_flags, "sample_seconds": args.sample_seconds,
              "rss_threshold_mb_per_100k": args.rss_threshold}
    print(f"\nsoak: {n:,} items through 2 workers (noop{(' ' + args.soak_flags) if args.soak_flags else ''}) "
          f"in {wall:.1f} s, {n / wall:,.0f} items/s; samples every {args.sample_seconds:g} s")
    print("first/last: the steady state's (10% to 95% of the items), slopes by least squares over it; max: all samples")
    print("| worker | samples | RSS first/last/max MB | RSS slope MB/100k items | fds first/last/max | fd slope /100k items |")
    print("|---|---|---|---|---|---|")
    for i, p in enumerate(procs):
        ss = samples[p.pid]
        # Steady state: from 10% to 95% of the items (start-up and the wind-down excluded: an
        # idle worker waiting for the last items may hold one more connection, by design).
        steady = [s for s in ss if n * 0.1 <= s[1] < n * 0.95] or ss
        if len(steady) < 3:
            problems.append(f"worker {i}: only {len(steady)} samples after warm-up")
        xs = [s[1] / 100000.0 for s in steady]
        rss = [s[2] for s in steady]
        fds = [s[3] for s in steady]
        rs, fs = slope(xs, rss), slope(xs, fds)
        # first/last: the steady state's; max: of all samples.
        w = {"samples": len(ss), "steady_samples": len(steady),
             "rss_mb": {"first": round(rss[0], 2), "last": round(rss[-1], 2), "max": round(max(s[2] for s in ss), 2)},
             "rss_slope_mb_per_100k": round(rs, 4),
             "fds": {"first": fds[0], "last": fds[-1], "max": max(s[3] for s in ss)},
             "fd_slope_per_100k": round(fs, 4)} if ss else {"samples": 0}
        report["workers"].append(w)
        if not ss:
            problems.append(f"worker {i}: no samples")
            continue
        print(f"| {i} | {len(ss)} | {w['rss_mb']['first']:.1f} / {w['rss_mb']['last']:.1f} / {w['rss_mb']['max']:.1f} "
              f"| {rs:+.3f} | {w['fds']['first']} / {w['fds']['last']} / {w['fds']['max']} | {fs:+.3f} |")
        if rs > args.rss_threshold:
            problems.append(f"worker {i}: RSS grows {rs:.3f} MB per 100k items (threshold {args.rss_threshold})")
        # fds: after warm-up the count may not rise above what it was when the warm-up ended.
        if max(fds) > fds[0] or fs > 0.05:
            problems.append(f"worker {i}: open fds grow ({fds[0]} -> max {max(fds)}, slope {fs:+.3f} per 100k)")
    report["pass"] = not problems
    report["problems"] = problems
    for problem in problems:
        print(f"problem: {problem}")
    print("soak: " + ("pass" if not problems else "FAIL"))
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the workqueue executable")
    parser.add_argument("--tmpdir", required=True)
    parser.add_argument("--mode", choices=["short", "long", "soak"], default="short")
    parser.add_argument("--only", type=int, action="append", help="run only this fault (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--soak-items", type=int, default=1_000_000)
    parser.add_argument("--soak-flags", default="", help="extra flags for the soak workers")
    parser.add_argument("--sample-seconds", type=float, default=1.0)
    parser.add_argument("--soak-timeout", type=float, default=1800.0)
    parser.add_argument("--rss-threshold", type=float, default=0.5,
                        help="soak fails if a worker's RSS grows faster, MB per 100k items")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(SystemExit(128 + s)))
    try:
        t0 = now()
        if args.mode == "soak":
            report = soak(args)
            ok = report["pass"]
            result = {"soak": report}
        else:
            print(f"chaos suite: {args.mode} mode, workqueue {args.bin}, seed {args.seed}", flush=True)
            suite = Suite(args)
            rows = suite.run_all()
            wall = now() - t0
            print_table(rows, args.mode, wall)
            ok = all(r["pass"] for r in rows) and bool(rows)
            result = {"mode": args.mode, "seed": args.seed, "wall_s": round(wall, 1), "faults": rows}
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0 if ok else 1
    except Failure as e:
        print(f"chaos: {e}", file=sys.stderr)
        return 1
    finally:
        kill_children()


if __name__ == "__main__":
    sys.exit(main())
