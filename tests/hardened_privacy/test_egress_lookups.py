import os
import threading
import time

import pytest

from hardened_privacy.internal import egress_lookups
from hardened_privacy.internal.egress_lookups import LookupPool


def test_lookup_returns_the_calls_result_and_reuses_the_worker():
    pool = LookupPool()
    threads = set()

    def call():
        threads.add(threading.get_ident())
        return ["192.0.2.1"]

    results = [pool.submit(call).wait(5) for _ in range(20)]

    assert results == [(True, ["192.0.2.1"])] * 20
    assert pool.workers == 1
    assert len(threads) == 1
    assert threading.get_ident() not in threads


def test_lookup_raises_what_the_call_raised():
    pool = LookupPool()

    def call():
        raise OSError("no such name")

    with pytest.raises(OSError, match="no such name"):
        pool.submit(call).wait(5)
    assert pool.submit(lambda: ["192.0.2.1"]).wait(5) == (True, ["192.0.2.1"])
    assert pool.workers == 1


def test_hung_lookup_times_out_and_does_not_hold_up_the_next():
    pool = LookupPool()
    release = threading.Event()

    def hung():
        release.wait(10)
        return ["192.0.2.1"]

    started = time.monotonic()
    assert pool.submit(hung).wait(0.1) == (False, None)
    assert pool.submit(lambda: ["192.0.2.2"]).wait(5) == (True, ["192.0.2.2"])
    release.set()

    assert time.monotonic() - started < 2
    assert pool.workers == 2


def test_idle_workers_stop():
    pool = LookupPool(idle_seconds=0.05)
    assert pool.submit(lambda: []).wait(5) == (True, [])
    deadline = time.monotonic() + 5
    while pool.workers and time.monotonic() < deadline:
        time.sleep(0.01)

    assert pool.workers == 0
    assert pool.submit(lambda: ["192.0.2.3"]).wait(5) == (True, ["192.0.2.3"])
    assert pool.workers == 1


def test_forked_child_starts_its_own_workers():
    egress_lookups.pool().submit(lambda: []).wait(5)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            finished, found = egress_lookups.pool().submit(lambda: ["ok"]).wait(2)
            os.write(writing, b"yes" if finished and found == ["ok"] else b"no")
        finally:
            os._exit(0)
    os.close(writing)
    answer = os.read(reading, 16)
    os.close(reading)
    os.waitpid(child, 0)

    assert answer == b"yes"
