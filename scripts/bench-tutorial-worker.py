#!/usr/bin/env python3
"""The Kubernetes tutorial's worker ("Fine parallel processing using a work queue"), as
worker.py over rediswq.py runs it, with the work (time.sleep(10)) removed, for scripts/bench.

Per loop, exactly the tutorial's Redis commands:

    empty():   LLEN NAME, and only if that is 0, LLEN NAME:processing
               (rediswq.py's `self._main_qsize() == 0 and self._processing_qsize() == 0`:
               two separate commands, no transaction, Python's `and` short-circuits)
    lease():   BRPOPLPUSH NAME NAME:processing 2     (lease_secs=10, block=True, timeout=2)
               SETEX NAME:leased_by_session:<sha224 hex of the item> 10 <session uuid>
    (process:  nothing)
    complete(): LREM NAME:processing 0 item
               DEL NAME:leased_by_session:<sha224 hex>

It prints the tutorial's start and end lines ("Worker with sessionID: ...",
"Initial queue state: empty=...", "Queue empty, exiting") and "Waiting for work" when a lease
times out, but not the per-item "Working on ..." line unless --verbose is given: the benchmark
compares the queue protocol's cost, and our `noop` handler prints nothing per item either.
"""
import argparse
import hashlib
import sys
import uuid
import warnings

import redis

# redis-py 5+ marks setex deprecated; rediswq.py calls it, so do we, without the warning.
warnings.filterwarnings("ignore", category=DeprecationWarning)


class RedisWQ:
    """rediswq.py, trimmed to what worker.py uses; the same keys and commands."""

    def __init__(self, name, **redis_kwargs):
        self._db = redis.StrictRedis(**redis_kwargs)
        self._session = str(uuid.uuid4())
        self._main_q_key = name
        self._processing_q_key = name + ":processing"
        self._lease_key_prefix = name + ":leased_by_session:"

    def sessionID(self):
        return self._session

    def _main_qsize(self):
        return self._db.llen(self._main_q_key)

    def _processing_qsize(self):
        return self._db.llen(self._processing_q_key)

    def empty(self):
        return self._main_qsize() == 0 and self._processing_qsize() == 0

    def _itemkey(self, item):
        return hashlib.sha224(item).hexdigest()

    def lease(self, lease_secs=60, block=True, timeout=None):
        if block:
            item = self._db.brpoplpush(self._main_q_key, self._processing_q_key, timeout=timeout)
        else:
            item = self._db.rpoplpush(self._main_q_key, self._processing_q_key)
        if item:
            itemkey = self._itemkey(item)
            self._db.setex(self._lease_key_prefix + itemkey, lease_secs, self._session)
        return item

    def complete(self, value):
        self._db.lrem(self._processing_q_key, 0, value)
        itemkey = self._itemkey(value)
        self._db.delete(self._lease_key_prefix + itemkey)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", default="job2")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--verbose", action="store_true", help='print "Working on ITEM" per item, as the tutorial does')
    args = parser.parse_args()

    q = RedisWQ(name=args.queue, host=args.host, port=args.port)
    print("Worker with sessionID: " + q.sessionID())
    print("Initial queue state: empty=" + str(q.empty()))
    while not q.empty():
        item = q.lease(lease_secs=10, block=True, timeout=2)
        if item is not None:
            if args.verbose:
                print("Working on " + item.decode("utf-8", "backslashreplace"))
            # The tutorial's time.sleep(10): no work here.
            q.complete(item)
        else:
            print("Waiting for work")
    print("Queue empty, exiting")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
