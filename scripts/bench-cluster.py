#!/usr/bin/env python3
"""Cluster benchmark behind `scripts/bench --cluster` (run that: it installs what is missing and
builds the release `workqueue` first).

Starts a Redis Cluster of its own: 3 masters, no replicas, on free 127.0.0.1 ports (and their
bus ports) in a temp dir, no persistence, created with `redis-cli --cluster create`. Then drains
ITEMS no-op items with `workqueue work --handler noop --cluster`, in two layouts, round robin,
R runs each:

  standalone all items in `{bench}` on a plain redis-server (no cluster), P worker processes:
             the same work without cluster routing, for comparison
  1 queue    all items in `{bench}` (one slot: one master serves everything), P worker processes
  3 queues   ITEMS/3 items in each of 3 hash-tagged queues whose slots are on the 3 different
             masters, P/3 worker processes per queue (independent queues: what `--shards 3`
             spreads over, done by hand)
  3 shards   one queue pushed and worked with `--shards 3`: its shards {NAME:0..2} on the 3 masters
             (a NAME picked so), all P worker processes on every shard

and prints the aggregate items/s (items / wall time from the first spawn to the last exit), the
workers' CPU per item (user + system, wait4 rusage) and each master's Redis CPU per item (growth of used_cpu_sys + used_cpu_user, INFO cpu). On a
machine with fewer cores than masters + workers the aggregate cannot scale; the per-master CPU
shows where the load goes. Every process it starts is killed when it exits.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

HOST = "127.0.0.1"
children = []


def spawn(argv, **kwargs):
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(argv, **kwargs)
    children.append(proc)
    return proc


def kill_children():
    for proc in children:
        if proc.poll() is None:
            proc.kill()
    for proc in children:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def is_free(port):
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def free_ports(count):
    ports = []
    for _ in range(10000):
        port = 10000 + int.from_bytes(os.urandom(2), "big") % 10000  # port + 10000 (cluster bus) stays below the ephemeral range
        if port not in ports and is_free(port) and is_free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free port pairs")


def start_cluster(tmp, masters):
    ports = free_ports(masters)
    for port in ports:
        directory = os.path.join(tmp, str(port))
        os.makedirs(directory)
        spawn(["redis-server", "--bind", HOST, "--port", str(port), "--dir", directory, "--save", "",
               "--appendonly", "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
               "--cluster-node-timeout", "5000"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients = [redis.Redis(host=HOST, port=p) for p in ports]
    for client in clients:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.025)
    subprocess.run(["redis-cli", "--cluster", "create"] + [f"{HOST}:{p}" for p in ports]
                   + ["--cluster-replicas", "0", "--cluster-yes"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    deadline = time.time() + 30
    while time.time() < deadline:
        if all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients):
            return ports, clients
        time.sleep(0.1)
    raise RuntimeError("the cluster did not reach cluster_state:ok")


def slot_owner(clients, ports, key):
    slot = clients[0].execute_command("CLUSTER", "KEYSLOT", key)
    for line in clients[0].execute_command("CLUSTER", "NODES").decode().splitlines():
        fields = line.split()
        port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
        for part in fields[8:]:
            bounds = [int(x) for x in part.split("-")] if part[0] != "[" else []
            if bounds and bounds[0] <= slot <= bounds[-1]:
                return port
    raise RuntimeError(f"no owner for {key}")


def cpu(client):
    info = client.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("items", nargs="?", type=int, default=60000)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=3, help="worker processes in all (default 3)")
    parser.add_argument("--flags", default="", help="extra `work` flags")
    parser.add_argument("--json", default=".build/bench-cluster-results.json")
    parser.add_argument("--tmpdir")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = args.tmpdir or tempfile.mkdtemp(prefix="workqueue-bench-cluster-")
    try:
        ports, clients = start_cluster(tmp, 3)
        by_port = dict(zip(ports, clients))
        url = "redis://" + ",".join(f"{HOST}:{p}" for p in ports)
        # Three queue names whose slots are on three different masters.
        spread = {}
        for i in range(1000):
            name = "{bench%d}" % i
            spread.setdefault(slot_owner(clients, ports, name), name)
            if len(spread) == 3:
                break
        # A sharded queue whose three shards {NAME:i} are on three different masters.
        sharded = None
        for i in range(1000):
            if len({slot_owner(clients, ports, "{shard%d:%d}" % (i, k)) for k in range(3)}) == 3:
                sharded = "shard%d" % i
                break
        layouts = {"standalone": ["{bench}"], "1 queue": ["{bench}"], "3 queues": [spread[p] for p in ports],
                   "3 shards": [sharded]}
        cluster_env = dict(os.environ, REDIS_URL=url, WORKQUEUE_LOG_LEVEL="error")
        single_port = free_ports(1)[0]
        single_dir = os.path.join(tmp, "standalone")
        os.makedirs(single_dir)
        spawn(["redis-server", "--bind", HOST, "--port", str(single_port), "--dir", single_dir, "--save", "",
               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        single = redis.Redis(host=HOST, port=single_port)
        for _ in range(200):
            try:
                single.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.025)
        single_env = dict(os.environ, REDIS_URL=f"redis://{HOST}:{single_port}", WORKQUEUE_LOG_LEVEL="error")
        items_path = os.path.join(tmp, "items.txt")

        def run(layout, queues):
            standalone = layout == "standalone"
            env = single_env if standalone else cluster_env
            nodes = {single_port: single} if standalone else by_port
            for client in nodes.values():
                client.flushall()
            shards = 3 if layout == "3 shards" else 1
            sharding = ["--shards", str(shards)] if shards > 1 else []
            per_queue = args.items // len(queues)
            with open(items_path, "w") as f:
                f.write("".join(f"item-{i}\n" for i in range(per_queue)))
            for queue in queues:
                subprocess.run([args.bin, "push", "--queue", queue, "--file", items_path] + sharding, env=env, check=True,
                               stdout=subprocess.DEVNULL, timeout=300)
            before = {p: cpu(c) for p, c in nodes.items()}
            start = time.perf_counter()
            procs = []
            for index in range(args.processes):
                queue = queues[index % len(queues)]
                procs.append(spawn([args.bin, "work", "--queue", queue, "--handler", "noop"] + sharding + args.flags.split(),
                                   env=env, stdout=subprocess.DEVNULL))
            worker_cpu = 0.0
            for proc in procs:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                if proc.returncode != 0:
                    raise RuntimeError(f"a worker exited {proc.returncode}")
                worker_cpu += usage.ru_utime + usage.ru_stime
            wall = time.perf_counter() - start
            total = per_queue * len(queues)
            used = {p: (cpu(c) - before[p]) for p, c in nodes.items()}
            keys = ["{%s:%d}" % (q, k) for q in queues for k in range(shards)] if shards > 1 else queues
            for queue in keys:
                owner = single if standalone else by_port[slot_owner(clients, ports, queue)]
                if owner.llen(queue) or owner.llen(queue + ":processing"):
                    raise RuntimeError(f"items left in {queue}")
            return {"items_per_s": total / wall, "wall_s": wall, "worker_cpu_us_per_item": worker_cpu * 1e6 / total,
                    "redis_cpu_us_per_item": {str(p): used[p] * 1e6 / total for p in nodes},
                    "redis_busy": {str(p): used[p] / wall for p in nodes}}

        results = {name: [] for name in layouts}
        for _ in range(args.runs):
            for name, queues in layouts.items():
                results[name].append(run(name, queues))

        print(f"Redis Cluster, 3 masters on {HOST}, {os.cpu_count()} CPUs; {args.items} no-op items, "
              f"{args.processes} worker processes, medians of {args.runs} runs")
        print("Redis CPU per node: us per item, and (in brackets) the share of the wall time it was busy")
        print(f"{'layout':<10} {'items/s':>9} {'worker us/item':>15}  "
              + "  ".join(f"{'master ' + str(p):>18}" for p in ports) + f"  {'standalone':>18}")
        summary = {}
        for name, runs in results.items():
            rate = statistics.median(r["items_per_s"] for r in runs)
            worker = statistics.median(r["worker_cpu_us_per_item"] for r in runs)
            nodes = list(runs[0]["redis_cpu_us_per_item"])
            per_node = {n: statistics.median(r["redis_cpu_us_per_item"][n] for r in runs) for n in nodes}
            busy = {n: statistics.median(r["redis_busy"][n] for r in runs) for n in nodes}
            summary[name] = {"items_per_s": rate, "worker_cpu_us_per_item": worker, "redis_cpu_us_per_item": per_node,
                             "redis_busy": busy, "queues": layouts[name], "runs": runs}
            columns = [str(p) for p in ports] + [str(single_port)]
            cells = "  ".join(f"{per_node[c]:>10.2f} ({busy[c] * 100:>3.0f}%)" if c in per_node else f"{'-':>18}" for c in columns)
            print(f"{name:<10} {rate:>9,.0f} {worker:>15.2f}  {cells}")
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"items": args.items, "processes": args.processes, "masters": ports, "results": summary}, f, indent=2)
        print(f"JSON: {args.json}")
    finally:
        kill_children()
        if not args.tmpdir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
