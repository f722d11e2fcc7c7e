#!/usr/bin/env python3
"""Benchmark driver behind scripts/bench (which installs what is missing and builds the release
`workqueue` first; run that, not this, from a fresh clone).

Starts its own redis-server on a free 127.0.0.1 port in a temp dir (no persistence), then
measures, in one run and side by side, the Kubernetes tutorial's Python worker
(scripts/bench-tutorial-worker.py) and `workqueue work --handler noop` with 1, 2 and 4 processes
at default flags and at the "best flags". Every process it starts is killed when it exits; it
connects nowhere but 127.0.0.1.
"""
import argparse
import ctypes
import hashlib
import json
import os
import platform
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TUTORIAL = os.path.join(HERE, "bench-tutorial-worker.py")
DELAY_PROXY = os.path.join(HERE, "bench-delay-proxy.py")
HOST = "127.0.0.1"  # the only address this script ever connects to
DEFAULT_BEST_FLAGS = "--concurrency 8"

# ---------------------------------------------------------------------------------------------
# Processes: every child is recorded here and killed at exit; each also gets SIGKILL from the
# kernel if this driver dies without cleaning up (PR_SET_PDEATHSIG).

_children = []
_libc = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    pass


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, **kwargs):
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs)
    _children.append(proc)
    return proc


def kill_children():
    for proc in _children:
        if proc.returncode is None:
            try:
                proc.kill()
            except OSError:
                pass
    for proc in _children:
        if proc.returncode is None:
            try:
                # wait4 may already have reaped it; then there is nothing left to wait for.
                os.waitpid(proc.pid, 0)
            except ChildProcessError:
                pass
            proc.returncode = -9
    _children.clear()


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


class Exited:
    def __init__(self, pid, status, rusage, at):
        self.pid = pid
        self.code = os.waitstatus_to_exitcode(status)
        self.rusage = rusage
        self.at = at  # time.perf_counter() when the exit was seen

    @property
    def cpu(self):
        return self.rusage.ru_utime + self.rusage.ru_stime

    @property
    def maxrss_mb(self):
        # ru_maxrss of a child that this (large) Python process forked also counts the memory
        # of the fork before its exec, so the peak comes from the worker's own VmHWM, read
        # from /proc while it runs; ru_maxrss only when no sample was taken.
        if self.hwm_kb:
            return self.hwm_kb / 1024.0
        return self.rusage.ru_maxrss / 1024.0  # Linux: KiB

    hwm_kb = 0
    anon_kb = 0  # the largest RssAnon sampled: heap and stacks, the worker's own memory


def vm_status_kb(pid):
    """(VmHWM, RssAnon) of a process in KiB: its peak resident set, and the anonymous part of
    its resident set now (the rest is file-backed: code and read-only data of the binary and
    the Swift libraries, shared by every process that maps the same files); 0 when unreadable."""
    hwm = anon = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return hwm, anon


def proc_cpu(pid):
    """utime + stime of a running process (all its threads) in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reap(proc, block):
    """wait4 on one child; returns Exited or None (not yet, when not blocking)."""
    pid, status, rusage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    at = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Exited(pid, status, rusage, at)


def wait_all(procs, timeout):
    """Waits for every process, each exit timed when it happens (pidfd + poll, no spinning);
    kills them all and raises when the deadline passes first."""
    deadline = time.perf_counter() + timeout
    results = {}
    pending = list(procs)
    hwm = {}
    anon = {}
    fds = {}
    try:
        for proc in pending:
            try:
                fds[os.pidfd_open(proc.pid)] = proc
            except (AttributeError, OSError):
                fds = None
                break
        while pending:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"workers still running after {timeout:.0f} s: {[p.args for p in pending]}")
            if fds is not None:
                poller = select.poll()
                for fd, proc in fds.items():
                    if proc in pending:
                        poller.register(fd, select.POLLIN)
                poller.poll(max(1, int(min(left, 0.01) * 1000)))
            else:
                time.sleep(0.001)
            for proc in pending:
                peak, resident_anon = vm_status_kb(proc.pid)
                hwm[proc.pid] = max(hwm.get(proc.pid, 0), peak)
                anon[proc.pid] = max(anon.get(proc.pid, 0), resident_anon)
            for proc in list(pending):
                ex = reap(proc, block=False)
                if ex is not None:
                    ex.hwm_kb = hwm.get(proc.pid, 0)
                    ex.anon_kb = anon.get(proc.pid, 0)
                    results[proc.pid] = ex
                    pending.remove(proc)
    finally:
        if fds:
            for fd in fds:
                os.close(fd)
    return [results[p.pid] for p in procs]


# ---------------------------------------------------------------------------------------------
# Redis


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_redis(tmp, extra=()):
    """redis-server on a free port; `extra` is a function of nothing returning more flags
    (called once per attempt, so that a TLS port it picks is fresh too)."""
    last_error = None
    for _ in range(5):
        port = free_port()
        log = os.path.join(tmp, f"redis-{port}.log")
        proc = spawn(["redis-server", "--bind", HOST, "--port", str(port), "--dir", tmp,
                      "--save", "", "--appendonly", "no", "--logfile", log, "--daemonize", "no"]
                     + (list(extra()) if extra else []),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host=HOST, port=port)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                return proc, port, client
            except redis.ConnectionError as error:
                last_error = error
                time.sleep(0.02)
        proc.kill()
        proc.wait()
        try:
            with open(log) as f:
                last_error = f.read()[-2000:]
        except OSError:
            pass
    raise RuntimeError(f"redis-server did not start: {last_error}")


def push_items(client, queue, items, chunk=1000, per_pipeline=20):
    pipe = client.pipeline(transaction=False)
    queued = 0
    for start in range(0, len(items), chunk):
        pipe.rpush(queue, *items[start:start + chunk])
        queued += 1
        if queued == per_pipeline:
            pipe.execute()
            queued = 0
    if queued:
        pipe.execute()


def shard_names(queue, shards):
    """The queues of `workqueue --shards M`: the queue itself for 1, else {NAME:0} ... {NAME:M-1}."""
    return [queue] if shards == 1 else [f"{{{queue}:{i}}}" for i in range(shards)]


def redis_cpu(client):
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


class OTLPSink:
    """An OTLP/HTTP receiver on 127.0.0.1 that accepts every export (200, an empty protobuf
    reply) and counts the requests and bytes: the far end of `--tracing`, so that the workers
    export as they would to a collector. Runs in a daemon thread until the script exits."""

    def __init__(self):
        import http.server
        sink = self
        self.requests = 0
        self.bytes = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.requests += 1
                sink.bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.endpoint = f"http://{HOST}:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def make_items(n, width=None):
    width = width or max(6, len(str(n)))
    return [f"item-{i:0{width}d}" for i in range(1, n + 1)]



# ---------------------------------------------------------------------------------------------
# Latency: a delaying proxy and a TLS port (scripts/bench latency)


def start_delay_proxy(target_port, delay_ms):
    """scripts/bench-delay-proxy.py in front of 127.0.0.1:target_port, adding `delay_ms` in
    each direction; returns (process, port)."""
    proc = spawn([sys.executable, DELAY_PROXY, "--target-port", str(target_port), "--delay-ms", str(delay_ms)],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready, _, _ = select.select([proc.stdout], [], [], 10.0)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("listening on "):
        raise RuntimeError(f"the delaying proxy did not start (said {line!r})")
    return proc, int(line.rsplit(":", 1)[1])


def make_tls_files(tmp):
    """A throwaway CA and a server certificate for 127.0.0.1 (EC P-256, openssl); returns the
    paths (ca, cert, key), or None without openssl."""
    if shutil.which("openssl") is None:
        return None
    d = os.path.join(tmp, "tls")
    os.makedirs(d, exist_ok=True)
    ca, ca_key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    cert, key, csr, ext = (os.path.join(d, n) for n in ("server.crt", "server.key", "server.csr", "server.ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in (["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=bench CA"],
                 ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=bench redis"],
                 ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
                  "-days", "2", "-extfile", ext]):
        subprocess.run(["openssl", *argv], check=True, capture_output=True, timeout=60)
    return ca, cert, key

# ---------------------------------------------------------------------------------------------
# The workers


class Bench:
    def __init__(self, args, port, client, tmp):
        self.args = args
        self.port = port
        self.url = f"redis://{HOST}:{port}"
        self.client = client
        self.tmp = tmp
        # The children see neither the caller's REDIS_* nor WORKQUEUE_* settings: "default
        # flags" means the defaults, and the only Redis is ours.
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WORKQUEUE_", "REDIS_"))}
        self.stderr_log = open(os.path.join(tmp, "workers.stderr"), "ab")

    def tutorial_argv(self, queue):
        return [sys.executable, TUTORIAL, "--queue", queue, "--host", HOST, "--port", str(self.port)]

    def ours_argv(self, queue, flags, handler="noop", options=(), url=None):
        argv = [self.args.bin, "work", "--queue", queue, "--redis", url or self.url,
                "--handler", handler, "--log-level", "error"]
        for option in options:
            argv += ["--option", option]
        return argv + list(flags)

    def start(self, argv, env=None):
        return spawn(argv, stdout=subprocess.DEVNULL, stderr=self.stderr_log, env={**self.env, **(env or {})})

    def check_exits(self, exits, what):
        bad = [e.code for e in exits if e.code != 0]
        if bad:
            raise RuntimeError(f"{what}: worker exit status {bad}; see {self.stderr_log.name}")

    # -- throughput ----------------------------------------------------------------------

    def throughput(self, config, items):
        """One run of one configuration: the queue filled beforehand, then the processes
        spawned and waited for. Returns the run's measurements."""
        queue = "bench"
        n = len(items)
        self.client.flushall()
        shards = shard_names(queue, config.get("shards", 1))
        # As `push --shards M` spreads them: item by item, round-robin.
        for index, name in enumerate(shards):
            push_items(self.client, name, items[index::len(shards)])
        argv = (self.tutorial_argv(queue) if config["kind"] == "tutorial"
                else self.ours_argv(queue, config["flags"], url=config.get("url")))
        cpu0 = redis_cpu(self.client)
        t0 = time.perf_counter()
        procs = [self.start(argv, config.get("env")) for _ in range(config["procs"])]
        exits = wait_all(procs, timeout=max(120.0, n / 100.0))
        t1 = max(e.at for e in exits)
        cpu1 = redis_cpu(self.client)
        self.check_exits(exits, config["name"])
        left = sum(self.client.llen(name) + self.client.llen(name + ":processing") for name in shards)
        if left:
            raise RuntimeError(f"{config['name']}: {left} items left in the queue after the workers exited")
        if config["kind"] == "ours":
            completed = sum(int(self.client.get(name + ":completed") or 0) for name in shards)
            if completed != n:
                raise RuntimeError(f"{config['name']}: {completed} items completed, expected {n}")
        wall = t1 - t0
        return {
            "wall_s": wall,
            "items_per_s": n / wall,
            "redis_cpu_us_per_item": (cpu1 - cpu0) * 1e6 / n,
            "worker_cpu_us_per_item": sum(e.cpu for e in exits) * 1e6 / n,
            "worker_peak_rss_mb": max(e.maxrss_mb for e in exits),
            "worker_peak_anon_mb": max(e.anon_kb for e in exits) / 1024.0,
        }

    # -- the peer: Sidekiq's no-op job (issue 30 item 3) ---------------------------------------

    SIDEKIQ_JOB = """# The bench's peer: Sidekiq's no-op job, written by scripts/bench.py.
require "sidekiq"
# Like ours at --log-level error: no line per job (Sidekiq logs a start and a done line per job at INFO).
Sidekiq.logger.level = Logger::WARN

class NoopJob
  include Sidekiq::Worker

  def perform(*)
  end
end
"""

    def sidekiq_payloads(self, n):
        """n jobs of NoopJob in Sidekiq's own format (what `NoopJob.perform_async` pushes)."""
        now = time.time()
        return [json.dumps({"retry": True, "queue": "default", "class": "NoopJob", "args": [],
                            "jid": f"{i:024x}", "created_at": now, "enqueued_at": now},
                           separators=(",", ":")) for i in range(n)]

    def sidekiq(self, payloads, concurrency):
        """One run of Sidekiq's no-op job: the jobs are pushed to `queue:default` first (LPUSH
        of JSON payloads, pipelined, as Sidekiq's client pushes them), then one `sidekiq -c C`
        process is started. It is timed from its first take (the first drop of LLEN, polled
        every ms: its Ruby start-up of about a second is left out) until `queue:default` is
        empty; its CPU (/proc/PID/stat, utime + stime) and Redis's over the same span. Sidekiq
        does not exit when drained: it gets SIGTERM 0.2 s later (the jobs still in its hands
        finish), and its `stat:processed` (flushed at exit) plus what its shutdown put back in
        `queue:default` (a job fetched but not started) must count every job."""
        n = len(payloads)
        self.client.flushall()
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd("queues", "default")
        for start in range(0, n, 1000):
            pipe.lpush("queue:default", *payloads[start:start + 1000])
            if (start // 1000) % 20 == 19:
                pipe.execute()
        pipe.execute()
        job = os.path.join(self.tmp, "noop_job.rb")
        with open(job, "w") as f:
            f.write(self.SIDEKIQ_JOB)
        env = dict(self.env, REDIS_URL=self.url)
        argv = [self.args.sidekiq, "-r", job, "-c", str(concurrency), "-q", "default", "-e", "production"]
        proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=self.stderr_log, env=env)
        try:
            deadline = time.perf_counter() + 60
            while self.client.llen("queue:default") == n:
                if proc.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"sidekiq took no job (exit {proc.poll()}); see {self.stderr_log.name}")
                time.sleep(0.001)
            t0, cpu0, rcpu0 = time.perf_counter(), proc_cpu(proc.pid), redis_cpu(self.client)
            deadline = t0 + max(120.0, n / 100.0)
            while self.client.llen("queue:default") > 0:
                if proc.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"sidekiq did not drain {n} jobs (exit {proc.poll()}); see {self.stderr_log.name}")
                time.sleep(0.002)
            t1, cpu1, rcpu1 = time.perf_counter(), proc_cpu(proc.pid), redis_cpu(self.client)
            hwm, anon = vm_status_kb(proc.pid)
            # Up to -c jobs may still be in its hands: let them finish before the SIGTERM.
            time.sleep(0.2)
            proc.terminate()
            exited = wait_all([proc], timeout=30)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if exited.code != 0:
            raise RuntimeError(f"sidekiq exited with {exited.code}; see {self.stderr_log.name}")
        processed = int(self.client.get("stat:processed") or 0)
        failed = int(self.client.get("stat:failed") or 0)
        # A job fetched but not started when the SIGTERM came goes back to the queue (Sidekiq's
        # shutdown requeues it): counted, not lost.
        requeued = int(self.client.llen("queue:default") or 0)
        if processed + requeued != n or failed:
            raise RuntimeError(f"sidekiq: {processed} jobs processed, {requeued} requeued at shutdown and {failed} failed, "
                               f"expected {n} in all and 0 failed")
        wall = t1 - t0
        return {
            "wall_s": wall,
            "items_per_s": n / wall,
            "redis_cpu_us_per_item": (rcpu1 - rcpu0) * 1e6 / n,
            "worker_cpu_us_per_item": (cpu1 - cpu0) * 1e6 / n,
            "worker_peak_rss_mb": hwm / 1024.0,
            "worker_peak_anon_mb": anon / 1024.0,
        }

    # -- Redis cost per item (issue 30 item 1) -----------------------------------------------

    FLOOR_SCRIPT = """
    local moved = 0
    for _ = 1, tonumber(ARGV[1]) do
        local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'LEFT')
        if not item then break end
        redis.call('LREM', KEYS[2], 1, item)
        moved = moved + 1
    end
    return moved
    """

    def floor(self, items, batch=100):
        """Redis CPU per item of the bare commands a take and a completion need: one script
        call per `batch` items doing only LMOVE and LREM for each."""
        self.client.flushall()
        push_items(self.client, "floor", items)
        script = self.client.register_script(self.FLOOR_SCRIPT)
        cpu0 = redis_cpu(self.client)
        moved = 0
        while True:
            done = int(script(keys=["floor", "floor:processing"], args=[batch]))
            moved += done
            if done < batch:
                break
        cpu1 = redis_cpu(self.client)
        if moved != len(items):
            raise RuntimeError(f"floor: moved {moved} of {len(items)} items")
        return {"redis_cpu_us_per_item": (cpu1 - cpu0) * 1e6 / len(items)}

    @staticmethod
    def in_flight(client, queue="bench"):
        """Items taken and not settled: the larger of LLEN NAME:processing and HLEN
        NAME:lease-items (earlier versions put an entry in processing for each lease of ours, so
        the two are equal; since issue 30 our leases leave none there, and processing holds the
        tutorial workers' items alone)."""
        return max(int(client.llen(queue + ":processing")), int(client.hlen(queue + ":lease-items")))

    def cost(self, procs, items):
        """One throughput run of `procs` default-flag workers, with the most items in flight
        seen (``in_flight``, sampled every 5 ms from a second connection)."""
        deepest = [0]
        stop = threading.Event()
        sampler_client = redis.Redis(host=HOST, port=self.port)

        def sample():
            while not stop.is_set():
                try:
                    deepest[0] = max(deepest[0], self.in_flight(sampler_client))
                except redis.RedisError:
                    pass
                stop.wait(0.005)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            m = self.throughput({"name": f"workqueue x{procs}", "kind": "ours", "procs": procs, "flags": []}, items)
        finally:
            stop.set()
            thread.join()
            sampler_client.close()
        m["deepest_processing"] = deepest[0]
        return m

    def cost_held(self, items, held, holders=10, tutorial=False):
        """Redis CPU per item of one fast default-flag worker draining `items` while `held`
        items are held by `holders` slow workers of ours (printer, delay 3600, concurrency
        held/holders, one item per slot), or with `tutorial` by rediswq.py workers (each item
        moved with RPOPLPUSH NAME NAME:processing and its NAME:leased_by_session:<sha224> key
        set for an hour, as rediswq.py's lease() does). The fast worker cannot exit (the queue
        is not drained while items are held): measured until NAME:completed counts `items`,
        then every worker is killed."""
        self.client.flushall()
        held_items = [f"held-{i}" for i in range(held)]
        push_items(self.client, "bench", held_items)
        procs = []
        if tutorial:
            pipe = self.client.pipeline(transaction=False)
            for i, item in enumerate(held_items):
                pipe.rpoplpush("bench", "bench:processing")
                pipe.set("bench:leased_by_session:" + hashlib.sha224(item.encode()).hexdigest(), f"tutorial-{i % holders}",
                         ex=3600)
                if i % 1000 == 999:
                    pipe.execute()
            pipe.execute()
        else:
            per = max(1, held // holders)
            slow = self.ours_argv("bench", ["--concurrency", str(per), "--prefetch", "1"], handler="printer",
                                  options=["delay=3600"])
            procs = [self.start(slow) for _ in range(holders)]
        try:
            deadline = time.monotonic() + 60
            while self.in_flight(self.client) < held:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"held case: only {self.in_flight(self.client)} of {held} items held after 60 s")
                time.sleep(0.05)
            push_items(self.client, "bench", items)
            cpu0 = redis_cpu(self.client)
            t0 = time.perf_counter()
            fast = self.start(self.ours_argv("bench", []))
            procs.append(fast)
            deadline = time.monotonic() + max(120.0, len(items) / 100.0)
            while int(self.client.get("bench:completed") or 0) < len(items):
                if time.monotonic() > deadline or fast.poll() is not None:
                    raise RuntimeError(f"held case: {int(self.client.get('bench:completed') or 0)} of {len(items)} completed")
                time.sleep(0.005)
            wall = time.perf_counter() - t0
            cpu1 = redis_cpu(self.client)
            return {"items_per_s": len(items) / wall, "redis_cpu_us_per_item": (cpu1 - cpu0) * 1e6 / len(items),
                    "held": self.in_flight(self.client)}
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            for proc in procs:
                proc.wait()

    # -- fleet-wide rate limit ---------------------------------------------------------------

    def rate_limit(self, limit, procs, seconds):
        """`procs` workers with `--rate-limit LIMIT` (noop handler) on a queue that never runs
        dry, for `seconds` after a 2 s warm-up; NAME:completed sampled every 0.25 s. Returns the
        measured rate over the window and the largest count in any 1 s window."""
        queue = "ratebench"
        count, unit = limit.split("/")
        per_second = float(count) / (60.0 if unit.startswith("m") else 1.0)
        n = int(per_second * (seconds + 10)) + 1000
        self.client.flushall()
        push_items(self.client, queue, make_items(n))
        argv = self.ours_argv(queue, ["--rate-limit", limit])
        procs_ = [self.start(argv) for _ in range(procs)]
        samples = []
        try:
            end = time.perf_counter() + seconds + 2.0
            while time.perf_counter() < end:
                samples.append((time.perf_counter(), int(self.client.get(queue + ":completed") or 0)))
                time.sleep(0.25)
        finally:
            for proc in procs_:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            wait_all(procs_, timeout=30.0)
        t0 = samples[0][0]
        window = [(t, c) for t, c in samples if t - t0 >= 2.0]
        (ta, ca), (tb, cb) = window[0], window[-1]
        rate = (cb - ca) / (tb - ta)
        peak = 0
        for i, (t, c) in enumerate(window):
            later = [c2 for t2, c2 in window[i:] if t2 - t <= 1.0]
            peak = max(peak, later[-1] - c)
        left = self.client.llen(queue) + self.client.llen(queue + ":processing")
        return {"limit": limit, "limit_per_s": per_second, "procs": procs, "window_s": tb - ta,
                "items": cb - ca, "measured_per_s": rate, "ratio": rate / per_second,
                "peak_1s_window": peak, "left_in_queue": left}

    def push_line(self, sizes_mib):
        """`workqueue push --file F` of one line of each size (MiB) plus a newline: the wall
        time and the pusher's peak RSS (the issue-27 goal: 64 MiB well under a second)."""
        rows = []
        for mib in sizes_mib:
            path = os.path.join(self.tmp, f"line-{mib}.txt")
            with open(path, "wb") as f:
                f.write(b"x" * (mib << 20) + b"\n")
            self.client.flushall()
            started = time.perf_counter()
            proc = self.start([self.args.bin, "push", "--redis", self.url, "--queue", "pushbench", "--file", path])
            [done] = wait_all([proc], timeout=600.0)
            seconds = time.perf_counter() - started
            os.unlink(path)
            if done.code != 0:
                raise SystemExit(f"push of a {mib} MiB line exited {done.code}")
            if self.client.llen("pushbench") != 1:
                raise SystemExit(f"push of a {mib} MiB line did not push one item")
            rows.append({"mib": mib, "seconds": seconds, "mib_per_s": mib / seconds, "peak_rss_mb": done.maxrss_mb})
            self.client.flushall()
        return rows

    # -- spawn to first lease --------------------------------------------------------------

    def first_lease(self, argv, items):
        """ms from spawning the worker to the first drop of LLEN NAME, polled tightly from a
        separate connection; the worker then drains the rest and must exit 0."""
        queue = "bench"
        self.client.flushall()
        push_items(self.client, queue, items)
        n = len(items)
        poll = redis.Redis(host=HOST, port=self.port)
        poll.ping()
        t0 = time.perf_counter()
        proc = self.start(argv)
        deadline = t0 + 15
        seen = None
        early = None
        while True:
            length = poll.llen(queue)
            now = time.perf_counter()
            if length < n:
                seen = now
                break
            if now > deadline:
                break
            early = reap(proc, block=False)
            if early is not None:
                break
        poll.close()
        exits = [early] if early is not None else wait_all([proc], timeout=60)
        self.check_exits(exits, "first lease")
        if seen is None:
            raise RuntimeError(f"{argv[:3]}: no item leased within 15 s")
        return (seen - t0) * 1000.0

    # -- exit delay after drain ------------------------------------------------------------

    def exit_delay(self, idle_argv):
        """One slow item (printer, delay=1): a holder worker takes it, then the idle worker is
        started and waits. Returns ms from the item's completion (NAME:completed turning 1,
        polled tightly) to each process's exit, and the max."""
        queue = "slow"
        self.client.flushall()
        self.client.rpush(queue, "slow-item")
        holder = self.start(self.ours_argv(queue, [], handler="printer", options=["delay=1"]))
        deadline = time.perf_counter() + 15
        while self.client.llen(queue) != 0:
            if time.perf_counter() > deadline or holder_exit(holder):
                raise RuntimeError("exit delay: the holder did not lease the item within 15 s")
            time.sleep(0.0005)
        idle = self.start(idle_argv)
        procs = [holder, idle]
        poll = redis.Redis(host=HOST, port=self.port)
        exits = {}
        completed_at = None
        deadline = time.perf_counter() + 30
        # Until the completion: spin on GET and on a non-blocking wait4 of both.
        while completed_at is None:
            value = poll.get(queue + ":completed")
            now = time.perf_counter()
            if value is not None and int(value) >= 1:
                completed_at = now
            for proc in procs:
                if proc.pid not in exits:
                    ex = reap(proc, block=False)
                    if ex is not None:
                        exits[proc.pid] = ex
            if now > deadline:
                raise RuntimeError("exit delay: the slow item was not completed within 30 s")
        poll.close()
        rest = [p for p in procs if p.pid not in exits]
        for ex in wait_all(rest, timeout=30):
            exits[ex.pid] = ex
        ordered = [exits[p.pid] for p in procs]
        self.check_exits(ordered, "exit delay")
        delays = [(e.at - completed_at) * 1000.0 for e in ordered]
        return {"holder_ms": delays[0], "idle_ms": delays[1], "max_ms": max(delays)}

    # -- RSS over a long drain ---------------------------------------------------------------

    def rss_drain(self, m, flags):
        queue = "rss"
        self.client.flushall()
        width = max(7, len(str(m)))
        log(f"rss: pushing {m} items in chunks of 100,000")
        for start in range(0, m, 100_000):
            end = min(m, start + 100_000)
            push_items(self.client, queue, [f"item-{i:0{width}d}" for i in range(start + 1, end + 1)])
        argv = self.ours_argv(queue, flags)
        poll = redis.Redis(host=HOST, port=self.port)
        log(f"rss: one worker draining {m} items: {shlex.join(argv[1:])}")
        t0 = time.perf_counter()
        proc = self.start(argv)
        samples = []  # (seconds, completed items, VmRSS MB)
        deadline = t0 + max(600.0, m / 200.0)
        next_sample = t0 + 0.5  # the first sample after exec, not of the forked driver
        ex = None
        last_report = t0
        while ex is None:
            now = time.perf_counter()
            if now >= next_sample:
                rss = vm_rss_mb(proc.pid)
                done = int(poll.get(queue + ":completed") or 0)
                if rss is not None:
                    samples.append((now - t0, done, rss))
                next_sample += 0.5
                if now - last_report >= 10:
                    log(f"rss: {done}/{m} items, VmRSS {rss} MB")
                    last_report = now
            if now > deadline:
                raise RuntimeError(f"rss: worker still running after {deadline - t0:.0f} s")
            exits = wait_all_until(proc, next_sample)
            if exits is not None:
                ex = exits
        poll.close()
        self.check_exits([ex], "rss")
        wall = ex.at - t0
        tail = samples[len(samples) // 10:]
        slope = None
        if len(tail) >= 3:
            xs = [s[1] for s in tail]
            ys = [s[2] for s in tail]
            mx, my = statistics.fmean(xs), statistics.fmean(ys)
            sxx = sum((x - mx) ** 2 for x in xs)
            if sxx > 0:
                slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 100_000
        return {
            "items": m,
            "flags": flags,
            "wall_s": wall,
            "items_per_s": m / wall,
            "samples": len(samples),
            "peak_vmrss_mb": max((s[2] for s in samples), default=None),
            "ru_maxrss_mb": ex.maxrss_mb,
            "first_vmrss_mb": samples[0][2] if samples else None,
            "last_vmrss_mb": samples[-1][2] if samples else None,
            "slope_mb_per_100k_items": slope,
            "series": [[round(t, 2), d, r] for t, d, r in samples],
        }


def holder_exit(proc):
    ex = reap(proc, block=False)
    if ex is not None:
        log(f"the holder exited early with status {ex.code}")
    return ex is not None


def wait_all_until(proc, until):
    """Blocks until proc exits or `until` (perf_counter) passes; returns Exited or None."""
    left = until - time.perf_counter()
    if left > 0:
        try:
            fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                poller.poll(max(1, int(left * 1000)))
            finally:
                os.close(fd)
        else:
            time.sleep(min(left, 0.01))
    return reap(proc, block=False)


def vm_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Reporting


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_facts(args):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    swift = command_output(["swift", "--version"]).splitlines()
    commit = command_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Examples", "Package.swift"])
    try:
        import hiredis  # noqa: F401
        parser = "hiredis"
    except ImportError:
        parser = "pure Python"
    return {
        "nproc": usable,
        "cpu_model": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "redis_server": command_output(["redis-server", "--version"]),
        "swift": next((l for l in swift if "Swift version" in l), swift[0] if swift else "unknown"),
        "python": platform.python_version(),
        "redis_py": f"{redis.__version__} ({parser} parser)",
        "workqueue_commit": commit + (" (Sources modified)" if dirty and dirty != "unknown" else "")
        + ("" if os.path.realpath(args.bin).startswith(os.path.realpath(ROOT) + os.sep)
           else " (the checkout's commit; --bin is a binary from elsewhere)"),
        "workqueue_bin": args.bin,
        "sidekiq": command_output([args.sidekiq, "-V"]).split("\n")[-1].strip() if args.sidekiq else None,
    }


def median(values):
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def table(headers, rows, align):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    def line(cells):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(cells, widths, align))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Throughput, CPU, memory and latency of `workqueue work --handler noop` "
                    "against the Kubernetes tutorial's Python worker, on a private redis-server.")
    parser.add_argument("items_positional", nargs="?", type=int, metavar="ITEMS",
                        help="items per throughput run (same as --items)")
    parser.add_argument("--items", type=int, default=None, help="items per throughput run (default 20000)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each configuration; the table shows medians (default 3)")
    parser.add_argument("--procs", default="1,2,4", help="process counts for our worker (default 1,2,4)")
    parser.add_argument("--shards", default="1",
                        help="shard counts for our worker (`work --shards M`, items pushed round-robin to {bench:i}); "
                             "comma-separated, default 1")
    parser.add_argument("--tutorial-procs", default="1",
                        help="process counts for the tutorial worker (default 1; the ratio column is always to 1 process)")
    parser.add_argument("--best-flags", default=os.environ.get("BEST_FLAGS", DEFAULT_BEST_FLAGS),
                        help=f"`work` flags of the 'best flags' rows (env BEST_FLAGS; default {DEFAULT_BEST_FLAGS!r})")
    parser.add_argument("--extra-flags", action="append", default=[], metavar="FLAGS",
                        help="`work` flags of one more row per process count, measured in the same round robin "
                             "(repeatable; e.g. --extra-flags '--heartbeat-seconds 0' to measure a feature's cost)")
    parser.add_argument("--tracing", action="store_true",
                        help="also run the default flags with tracing on: OTEL_* variables sending OTLP/HTTP "
                             "to a sink this script runs on 127.0.0.1 (docs/tracing.md)")
    parser.add_argument("--latency-runs", type=int, default=5, help="spawns for 'spawn to first lease' (default 5)")
    parser.add_argument("--latency-items", type=int, default=1000, help="queue length for 'spawn to first lease' (default 1000)")
    parser.add_argument("--exit-runs", type=int, default=3, help="repetitions of each 'exit delay after drain' case (default 3)")
    parser.add_argument("--skip-latency", action="store_true", help="only the throughput table")
    parser.add_argument("--rss-items", type=int, default=0, metavar="M",
                        help="also: one worker drains M items while its VmRSS is sampled every 0.5 s")
    parser.add_argument("--rss-flags", default=None, help="`work` flags for --rss-items (default: the best flags)")
    parser.add_argument("--rss-only", action="store_true", help="with --rss-items: skip everything else")
    parser.add_argument("--rate-only", action="store_true",
                        help="only the rate-limit run (`scripts/bench rate`): --rate-procs workers with --rate-limit "
                             "for --rate-seconds; prints the measured rate against the limit")
    parser.add_argument("--rate-limit", default="200/s", help="the limit of the rate run (default 200/s)")
    parser.add_argument("--rate-procs", type=int, default=4, help="worker processes of the rate run (default 4)")
    parser.add_argument("--rate-seconds", type=int, default=30, help="measured seconds of the rate run (default 30)")
    parser.add_argument("--cost-only", action="store_true",
                        help="only Redis CPU per item: the floor (a script doing only LMOVE + LREM per item) and our "
                             "default-flag worker at --cost-procs processes, each as a ratio to the floor, with the "
                             "most items in flight seen")
    parser.add_argument("--cost-procs", default="1,4,16", help="process counts of --cost-only (default 1,4,16)")
    parser.add_argument("--cost-held", type=int, default=10000,
                        help="--cost-only also drains the items with one worker while this many entries of "
                             "NAME:processing are held by 10 slow workers (default 10000; 0: skip)")
    parser.add_argument("--latency-only", action="store_true",
                        help="only latency tolerance (`scripts/bench latency`): one worker process directly on loopback, "
                             "through a delaying proxy at 0 ms and --latency-ms each way, and over TLS; items/s and "
                             "the ratio to loopback (default 100000 items)")
    parser.add_argument("--latency-ms", type=float, default=1.0,
                        help="delay the proxy adds in each direction, ms (default 1: a 2 ms round trip)")
    parser.add_argument("--latency-flags", default="",
                        help="`work` flags of the latency runs (default: none, the default flags)")
    parser.add_argument("--base-bin", default=None, metavar="PATH",
                        help="--cost-only also runs every case with this workqueue binary (e.g. the previous "
                             "main's release build), alternating with --bin run after run, in the same table")
    parser.add_argument("--cost-held-tutorial", type=int, default=0,
                        help="--cost-only also drains the items with one worker while this many items are held by "
                             "rediswq.py-style workers (in NAME:processing, lease keys alive): the mixed fleet "
                             "(default 0: skip)")
    parser.add_argument("--push-only", action="store_true",
                        help="only the push run (`scripts/bench push`): `push --file` of one line of each --push-mib size")
    parser.add_argument("--push-mib", default="8,32,64,128",
                        help="line sizes in MiB of the push run (default 8,32,64,128)")
    parser.add_argument("--sidekiq", default=shutil.which("sidekiq"), metavar="PATH",
                        help="the peer: Sidekiq's executable (default: sidekiq on PATH; Debian: apt-get install ruby-sidekiq)")
    parser.add_argument("--no-sidekiq", action="store_true", help="leave the Sidekiq peer out")
    parser.add_argument("--sidekiq-concurrency", type=int, default=10, help="sidekiq -c of the peer (default 10)")
    parser.add_argument("--json", default=os.path.join(ROOT, ".build", "bench-results.json"),
                        help="where to write the results as JSON (default .build/bench-results.json)")
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "release", "workqueue"),
                        help="the workqueue executable (scripts/bench passes the one it built)")
    parser.add_argument("--tmpdir", default=None,
                        help="directory for Redis and logs, removed at exit (scripts/bench passes one it also removes)")
    args = parser.parse_args(argv)
    if args.items is None:
        args.items = args.items_positional or (100000 if args.latency_only else 20000)
    if not 0 <= args.latency_ms <= 1000:
        parser.error("--latency-ms goes from 0 to 1000")
    if args.items < 1 or args.runs < 1:
        parser.error("--items and --runs must be positive")
    if args.latency_items < 2:
        parser.error("--latency-items must be at least 2")
    try:
        args.procs = [int(x) for x in args.procs.split(",") if x]
        args.shards = [int(x) for x in args.shards.split(",") if x]
        args.tutorial_procs = [int(x) for x in args.tutorial_procs.split(",") if x]
    except ValueError:
        parser.error("--procs, --tutorial-procs and --shards take comma-separated integers")
    if not args.shards or any(m < 1 or m > 1024 for m in args.shards):
        parser.error("--shards takes comma-separated shard counts from 1 to 1024")
    if 1 not in args.tutorial_procs:
        args.tutorial_procs.insert(0, 1)
    try:
        args.push_mib = [int(x) for x in args.push_mib.split(",") if x]
    except ValueError:
        parser.error("--push-mib takes comma-separated sizes in MiB")
    if any(m < 1 or m > 255 for m in args.push_mib):
        parser.error("--push-mib sizes go from 1 to 255 (a worker takes at most 256 MiB)")
    args.best_flags_list = shlex.split(args.best_flags)
    args.sidekiq_missing = ""
    if args.no_sidekiq:
        args.sidekiq = None
        args.sidekiq_missing = "Sidekiq peer left out (--no-sidekiq)"
    elif not args.sidekiq or not os.access(args.sidekiq, os.X_OK):
        args.sidekiq = None
        args.sidekiq_missing = ("Sidekiq peer left out: no sidekiq executable found (Debian: apt-get install ruby-sidekiq, "
                                "or --sidekiq PATH); the 'vs Sidekiq' column stays empty")
    if args.sidekiq_concurrency < 1:
        parser.error("--sidekiq-concurrency must be positive")
    args.rss_flags_list = shlex.split(args.rss_flags) if args.rss_flags is not None else args.best_flags_list
    if not os.access(args.bin, os.X_OK):
        parser.error(f"no workqueue executable at {args.bin} (run scripts/bench, which builds it)")
    return args


def latency_section(args, tmp, facts, results):
    """scripts/bench latency: one default-flag worker process (plus --latency-flags) on the
    same queue length, directly on loopback, through the delaying proxy at 0 ms and at
    --latency-ms each way, and over TLS (directly and through the proxy); items/s and each
    round's ratio to the direct loopback run of the same round, medians of --runs."""
    tls = make_tls_files(tmp)
    tls_port = [None]

    def tls_flags():
        if not tls:
            return []
        tls_port[0] = free_port()
        return ["--tls-port", str(tls_port[0]), "--tls-cert-file", tls[1], "--tls-key-file", tls[2],
                "--tls-ca-cert-file", tls[0], "--tls-auth-clients", "no"]

    redis_proc, port, client = start_redis(tmp, tls_flags)
    log(f"latency: redis-server (pid {redis_proc.pid}) on {HOST}:{port}" + (f", TLS on {tls_port[0]}" if tls else ""))
    bench = Bench(args, port, client, tmp)
    ms = args.latency_ms
    _, zero = start_delay_proxy(port, 0)
    _, slow = start_delay_proxy(port, ms)
    flags = shlex.split(args.latency_flags)
    shown = " ".join(flags) or "default flags"
    configs = [
        {"name": "loopback", "url": f"redis://{HOST}:{port}"},
        {"name": "through the proxy, 0 ms", "url": f"redis://{HOST}:{zero}"},
        {"name": f"through the proxy, {ms:g} ms each way", "url": f"redis://{HOST}:{slow}"},
    ]
    if tls:
        _, tls_slow = start_delay_proxy(tls_port[0], ms)
        tls_flags_ = ["--tls-ca-file", tls[0]]
        configs += [
            {"name": "TLS, loopback", "url": f"rediss://{HOST}:{tls_port[0]}", "tls": tls_flags_},
            {"name": f"TLS through the proxy, {ms:g} ms each way", "url": f"rediss://{HOST}:{tls_slow}", "tls": tls_flags_},
        ]
    else:
        log("latency: no openssl, so no TLS rows")
    for config in configs:
        config.update({"kind": "ours", "procs": 1, "flags": flags + config.get("tls", [])})
    items = make_items(args.items)
    runs = {i: [] for i in range(len(configs))}
    for r in range(args.runs):
        for i, config in enumerate(configs):
            m = bench.throughput(config, items)
            runs[i].append(m)
            log(f"run {r + 1}/{args.runs}: {config['name']}: {m['items_per_s']:,.0f} items/s ({m['wall_s']:.2f} s)")
    rows, json_rows = [], []
    for i, config in enumerate(configs):
        ms_ = runs[i]
        row = {"config": config["name"], "url": config["url"], "flags": config["flags"],
               "items_per_s": median([m["items_per_s"] for m in ms_]),
               "items_per_s_min": min(m["items_per_s"] for m in ms_),
               "items_per_s_max": max(m["items_per_s"] for m in ms_),
               "ratio_to_loopback": median([m["items_per_s"] / d["items_per_s"] for m, d in zip(ms_, runs[0])]),
               "worker_cpu_us_per_item": median([m["worker_cpu_us_per_item"] for m in ms_]),
               "runs": ms_}
        json_rows.append(row)
        rows.append([config["name"], fmt(row["items_per_s"]), f"{fmt(row['items_per_s_min'])}-{fmt(row['items_per_s_max'])}",
                     f"{row['ratio_to_loopback']:.2f}x", fmt(row["worker_cpu_us_per_item"], 1)])
    results["latency"] = {"delay_ms_each_way": ms, "flags": flags, "rows": json_rows}
    return ["", f"latency tolerance: one worker process ({shown}), {args.items:,} items per run, medians of {args.runs} runs; "
                f"the proxy (scripts/bench-delay-proxy.py) delays each direction by the given time, so "
                f"{ms:g} ms each way is a {2 * ms:g} ms round trip; 'vs loopback' = median of each round's ratio to the "
                f"loopback run",
            table(["connection", "items/s", "min-max", "vs loopback", "worker CPU us/item"], rows, "lrrrr")]


def main(argv):
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _on_signal)
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (scripts/bench installs it)")
    if args.tmpdir:
        os.makedirs(args.tmpdir, exist_ok=True)
        tmp = args.tmpdir
    else:
        tmp = tempfile.mkdtemp(prefix="workqueue-bench-")
    try:
        return run(args, tmp)
    finally:
        kill_children()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    facts = machine_facts(args)
    if args.latency_only:
        bench = None  # the latency section starts its own redis-server, with a TLS port
    else:
        redis_proc, port, client = start_redis(tmp)
        log(f"redis-server (pid {redis_proc.pid}) on {HOST}:{port}, data dir {tmp}")
        bench = Bench(args, port, client, tmp)
    results = {"machine": facts, "settings": {
        "items": args.items, "runs": args.runs, "best_flags": args.best_flags_list, "shards": args.shards,
        "procs": args.procs, "tutorial_procs": args.tutorial_procs}}

    out = []
    out.append("")  # the machine line, written at the end with the load average then
    out.append(f"         {facts['redis_server']}")
    out.append(f"         {facts['swift']}; Python {facts['python']}, redis-py {facts['redis_py']}")
    out.append(f"         workqueue {facts['workqueue_commit']}: {facts['workqueue_bin']}")

    if args.latency_only:
        out += latency_section(args, tmp, facts, results)
    elif args.push_only:
        rows = bench.push_line(args.push_mib)
        results["push_line"] = rows
        out.append("")
        out.append("workqueue push --file of one line (plus its newline), into the private Redis")
        out.append(table(["line MiB", "seconds", "MiB/s", "peak RSS MB"],
                         [[str(r["mib"]), fmt(r["seconds"], 2), fmt(r["mib_per_s"], 0), fmt(r["peak_rss_mb"], 0)] for r in rows],
                         "rrrr"))
    elif args.cost_only:
        items = make_items(args.items)
        procs_list = [int(p) for p in args.cost_procs.split(",") if p]
        # Each binary's cases, run after run, alternating (base first) so that both see the same machine.
        bins = ([("base", args.base_bin)] if args.base_bin else []) + [("ours", args.bin)]
        floors = []
        costs = {label: {p: [] for p in procs_list} for label, _ in bins}
        helds = {label: [] for label, _ in bins}
        tutorial_helds = {label: [] for label, _ in bins}
        for r in range(args.runs):
            floors.append(bench.floor(items)["redis_cpu_us_per_item"])
            log(f"run {r + 1}/{args.runs}: floor {floors[-1]:.2f} us/item")
            for label, path in bins:
                bench.args.bin = path
                for p in procs_list:
                    m = bench.cost(p, items)
                    costs[label][p].append(m)
                    log(f"run {r + 1}/{args.runs} {label}: x{p}: {m['items_per_s']:,.0f} items/s, "
                        f"Redis {m['redis_cpu_us_per_item']:.2f} us/item, most in flight {m['deepest_processing']}")
                if args.cost_held:
                    m = bench.cost_held(items, args.cost_held)
                    helds[label].append(m)
                    log(f"run {r + 1}/{args.runs} {label}: 1 fast worker beside {m['held']} held: "
                        f"{m['items_per_s']:,.0f} items/s, Redis {m['redis_cpu_us_per_item']:.2f} us/item")
                if args.cost_held_tutorial:
                    m = bench.cost_held(items, args.cost_held_tutorial, tutorial=True)
                    tutorial_helds[label].append(m)
                    log(f"run {r + 1}/{args.runs} {label}: 1 fast worker beside {m['held']} held by tutorial workers: "
                        f"{m['items_per_s']:,.0f} items/s, Redis {m['redis_cpu_us_per_item']:.2f} us/item")
        bench.args.bin = args.bin
        floor_us = median(floors)
        rows = [["floor: LMOVE + LREM per item, one script per 100", "", "", fmt(floor_us, 2), "1.00x", "", "1"]]
        results["redis_cost"] = {"floor_us_per_item": floors, "bins": dict(bins),
                                 "by_bin": {label: {"procs": {str(p): v for p, v in costs[label].items()},
                                                    "held": helds[label], "held_tutorial": tutorial_helds[label]}
                                            for label, _ in bins}}
        for label, _ in bins:
            one = median([m["redis_cpu_us_per_item"] for m in costs[label][procs_list[0]]]) if procs_list else None
            for p in procs_list:
                us = median([m["redis_cpu_us_per_item"] for m in costs[label][p]])
                rows.append([label, f"default flags, {p} process{'es' if p > 1 else ''}",
                             fmt(median([m["items_per_s"] for m in costs[label][p]])), fmt(us, 2), f"{us / floor_us:.2f}x",
                             f"{us / one:.2f}x" if one else "", str(max(m["deepest_processing"] for m in costs[label][p]))])
            for ms, what in [(helds[label], f"1 process beside {args.cost_held:,} held by 10 slow workers of ours"),
                             (tutorial_helds[label], f"1 process beside {args.cost_held_tutorial:,} held by rediswq.py workers")]:
                if ms:
                    us = median([m["redis_cpu_us_per_item"] for m in ms])
                    rows.append([label, what, fmt(median([m["items_per_s"] for m in ms])), fmt(us, 2), f"{us / floor_us:.2f}x",
                                 f"{us / one:.2f}x" if one else "", str(max(m["held"] for m in ms))])
        out.append("")
        out.append(f"Redis CPU per item (INFO cpu, user + sys), {args.items:,} items per run, medians of {args.runs} runs"
                   + (f"; base = {args.base_bin}, ours = {args.bin}" if args.base_bin else ""))
        out.append(table(["binary", "configuration", "items/s", "Redis us/item", "vs floor",
                          f"vs its {procs_list[0] if procs_list else 1} process", "most in flight"], rows, "llrrrrr"))
    elif args.rate_only:
        r = bench.rate_limit(args.rate_limit, args.rate_procs, args.rate_seconds)
        results["rate_limit"] = r
        out.append("")
        out.append(f"fleet-wide rate limit: {r['procs']} workers (noop) with --rate-limit {r['limit']}, measured over "
                   f"{r['window_s']:.1f} s after a 2 s warm-up from NAME:completed")
        out.append(table(["limit /s", "measured /s", "vs limit", "items", "most in any <=1 s window"],
                         [[fmt(r["limit_per_s"], 1), fmt(r["measured_per_s"], 1), f"{(r['ratio'] - 1) * 100:+.1f}%",
                           str(r["items"]), str(r["peak_1s_window"])]], "rrrrr"))
    elif not args.rss_only:
        configs = []
        for p in args.tutorial_procs:
            configs.append({"name": "tutorial worker.py (Python)", "kind": "tutorial", "procs": p, "flags": []})
        for m in args.shards:
            sharding = ["--shards", str(m)] if m > 1 else []
            for p in args.procs:
                configs.append({"name": "workqueue, default flags" + (f" --shards {m}" if m > 1 else ""), "kind": "ours",
                                "procs": p, "flags": sharding, "shards": m})
            for p in args.procs:
                configs.append({"name": "workqueue " + " ".join(args.best_flags_list + sharding), "kind": "ours", "procs": p,
                                "flags": args.best_flags_list + sharding, "shards": m})
        for extra in args.extra_flags:
            flags = shlex.split(extra)
            for p in args.procs:
                configs.append({"name": "workqueue " + " ".join(flags), "kind": "ours", "procs": p, "flags": flags, "shards": 1})
        peer = None
        if args.sidekiq:
            peer = len(configs)
            configs.append({"name": f"Sidekiq no-op job (Ruby), -c {args.sidekiq_concurrency}", "kind": "sidekiq",
                            "procs": 1, "flags": ["-c", str(args.sidekiq_concurrency)]})
            payloads = bench.sidekiq_payloads(args.items)
        else:
            log(args.sidekiq_missing)
        if args.tracing:
            sink = OTLPSink()
            results["settings"]["tracing_sink"] = sink.endpoint
            for p in args.procs:
                configs.append({"name": "workqueue, default flags, tracing on (OTLP/HTTP)", "kind": "ours", "procs": p,
                                "flags": [], "shards": 1, "env": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint}})
        items = make_items(args.items)
        runs = {i: [] for i in range(len(configs))}
        started = time.perf_counter()
        # Round robin, so that drift on a shared machine touches every configuration alike.
        for r in range(args.runs):
            for i, config in enumerate(configs):
                if config["kind"] == "sidekiq":
                    m = bench.sidekiq(payloads, args.sidekiq_concurrency)
                else:
                    m = bench.throughput(config, items)
                runs[i].append(m)
                log(f"run {r + 1}/{args.runs}: {config['name']} x{config['procs']}: "
                    f"{m['items_per_s']:,.0f} items/s ({m['wall_s']:.2f} s)")
        log(f"throughput runs took {time.perf_counter() - started:.0f} s")

        rows = []
        json_rows = []
        for i, config in enumerate(configs):
            ms = runs[i]
            rate = median([m["items_per_s"] for m in ms])
            row = {
                "config": config["name"], "kind": config["kind"], "procs": config["procs"],
                "flags": config["flags"],
                "items_per_s": rate,
                "items_per_s_min": min(m["items_per_s"] for m in ms),
                "items_per_s_max": max(m["items_per_s"] for m in ms),
                # Each run's ratio to the tutorial's run of the same round, then the median.
                "ratio_to_tutorial": median([m["items_per_s"] / t["items_per_s"] for m, t in zip(ms, runs[0])]),
                # The same for Sidekiq's no-op job, the fastest peer (issue 30: goal 8x for 1 process).
                "ratio_to_sidekiq": (median([m["items_per_s"] / k["items_per_s"] for m, k in zip(ms, runs[peer])])
                                     if peer is not None else None),
                "redis_cpu_us_per_item": median([m["redis_cpu_us_per_item"] for m in ms]),
                "worker_cpu_us_per_item": median([m["worker_cpu_us_per_item"] for m in ms]),
                "worker_peak_rss_mb": median([m["worker_peak_rss_mb"] for m in ms]),
                "worker_peak_anon_mb": median([m["worker_peak_anon_mb"] for m in ms]),
                "runs": ms,
            }
            json_rows.append(row)
            rows.append([config["name"], config["procs"], fmt(rate),
                         f"{fmt(row['items_per_s_min'])}-{fmt(row['items_per_s_max'])}",
                         f"{row['ratio_to_tutorial']:.2f}x",
                         "-" if row["ratio_to_sidekiq"] is None else f"{row['ratio_to_sidekiq']:.2f}x",
                         fmt(row["redis_cpu_us_per_item"], 1), fmt(row["worker_cpu_us_per_item"], 1),
                         fmt(row["worker_peak_rss_mb"], 1), fmt(row["worker_peak_anon_mb"], 1)])
        results["throughput"] = json_rows
        out.append("")
        out.append(f"throughput: {args.items:,} items per run, medians of {args.runs} runs "
                   f"(items/s = items / wall time from the first spawn to the last exit; "
                   f"'vs tutorial' = median of each round's ratio to the 1-process tutorial worker)")
        out.append(table(["configuration", "procs", "items/s", "min-max", "vs tutorial", "vs Sidekiq",
                          "redis CPU us/item", "worker CPU us/item", "peak RSS MB", "of it anon MB"],
                         rows, "lrrrrrrrrr"))
        if peer is not None:
            out.append(f"{facts['sidekiq']}: timed from its first take to an empty queue:default (its Ruby start-up "
                       f"left out; ours from the spawn to the exit), CPU of the sidekiq process over that span; "
                       f"its stat:processed counted every job")
            ours = next((row for row in json_rows if row["kind"] == "ours" and row["procs"] == 1 and not row["flags"]), None)
            if ours is not None:
                out.append(f"1 process at default flags: {ours['ratio_to_sidekiq']:.2f}x Sidekiq's items/s (goal 8x); "
                           f"worker CPU per item {ours['worker_cpu_us_per_item']:.2f} us against "
                           f"{json_rows[peer]['worker_cpu_us_per_item']:.2f}, Redis CPU per item "
                           f"{ours['redis_cpu_us_per_item']:.2f} us against {json_rows[peer]['redis_cpu_us_per_item']:.2f}")
        else:
            out.append(args.sidekiq_missing)

        if not args.skip_latency:
            out.append("")
            latency = {}
            lat_items = make_items(args.latency_items)
            lat_configs = [("tutorial worker.py", bench.tutorial_argv("bench")),
                           ("workqueue, default flags", bench.ours_argv("bench", [])),
                           ("workqueue " + " ".join(args.best_flags_list), bench.ours_argv("bench", args.best_flags_list))]
            lat_rows = []
            for name, argv in lat_configs:
                values = [bench.first_lease(argv, lat_items) for _ in range(args.latency_runs)]
                latency[name] = {"median_ms": median(values), "runs_ms": values}
                log(f"spawn to first lease, {name}: {', '.join(f'{v:.1f}' for v in values)} ms")
                lat_rows.append([name, fmt(median(values), 1), fmt(min(values), 1), fmt(max(values), 1)])
            results["spawn_to_first_lease"] = latency
            out.append(f"spawn to first lease: ms from spawning one worker to the first drop of LLEN on a queue of "
                       f"{args.latency_items:,} items, {args.latency_runs} spawns")
            out.append(table(["worker", "median ms", "min", "max"], lat_rows, "lrrr"))

            out.append("")
            exit_cases = [
                ("idle workqueue, default flags", bench.ours_argv("slow", [])),
                ("idle workqueue --concurrency 64", bench.ours_argv("slow", ["--concurrency", "64"])),
                ("idle tutorial worker.py", bench.tutorial_argv("slow")),
            ]
            exit_rows = []
            exit_results = {}
            for name, argv in exit_cases:
                values = [bench.exit_delay(argv) for _ in range(args.exit_runs)]
                exit_results[name] = {"median_max_ms": median([v["max_ms"] for v in values]), "runs": values}
                log(f"exit delay, {name}: " + ", ".join(
                    f"holder {v['holder_ms']:.1f} / idle {v['idle_ms']:.1f}" for v in values) + " ms")
                exit_rows.append([name, fmt(median([v["max_ms"] for v in values]), 1),
                                  fmt(median([v["holder_ms"] for v in values]), 1),
                                  fmt(median([v["idle_ms"] for v in values]), 1)])
            results["exit_delay_after_drain"] = exit_results
            out.append("exit delay after drain: one item (printer, delay=1) held by a workqueue worker at default "
                       f"flags while a second worker idles; ms from the completion to each exit, median of {args.exit_runs}")
            out.append(table(["case", "max ms", "holder ms", "idle ms"], exit_rows, "lrrr"))

    if args.rss_items and not args.rate_only and not args.latency_only:
        rss = bench.rss_drain(args.rss_items, args.rss_flags_list)
        results["rss"] = rss
        out.append("")
        out.append(f"memory over a long drain: one worker ({shlex.join(rss['flags']) or 'default flags'}), "
                   f"{rss['items']:,} items in {rss['wall_s']:.0f} s ({rss['items_per_s']:,.0f} items/s), "
                   f"VmRSS sampled every 0.5 s ({rss['samples']} samples)")
        slope = rss["slope_mb_per_100k_items"]
        out.append(f"  peak VmRSS {fmt(rss['peak_vmrss_mb'], 1)} MB (ru_maxrss {fmt(rss['ru_maxrss_mb'], 1)} MB); "
                   f"first sample {fmt(rss['first_vmrss_mb'], 1)} MB, last {fmt(rss['last_vmrss_mb'], 1)} MB; "
                   f"slope {'-' if slope is None else f'{slope:+.3f}'} MB per 100k items "
                   f"(least squares after the first 10% of samples)")

    facts["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out[0] = (f"machine: {facts['nproc']} CPUs ({facts['cpu_model']}), kernel {facts['kernel']}; load average "
              f"{facts['load_average']} at the start, {facts['load_average_end']} at the end (other work on the "
              f"machine skews the figures)")
    text = "\n".join(out)
    print(text, flush=True)
    path = os.path.abspath(args.json)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
