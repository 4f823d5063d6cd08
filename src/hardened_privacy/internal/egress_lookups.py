"""Run name lookups on reusable daemon threads, each bounded by a deadline.

The system resolver has no timeout of its own, so the guard never calls it
on the request's thread. Starting a thread for every request costs more
than the lookup itself; this pool keeps finished workers waiting for the
next lookup instead. A lookup that outlives its deadline keeps its worker
until the resolver returns, and the next lookup starts another worker
rather than wait for it. Idle workers stop after a while, and a forked
child starts with an empty pool.
"""

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

IDLE_SECONDS = 30.0


class Lookup:
    """One call waiting for a worker; :meth:`wait` returns or raises its result."""

    __slots__ = ("_call", "_done", "_error", "_result")

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._done = threading.Event()
        self._result: Any = None
        self._error: Exception | None = None

    def run(self) -> None:
        try:
            self._result = self._call()
        except Exception as exc:
            self._error = exc
        self._done.set()

    def wait(self, seconds: float) -> tuple[bool, Any]:
        """``(True, result)`` once the call returned, ``(False, None)`` on timeout.

        An exception the call raised is raised here.
        """
        if not self._done.wait(seconds):
            return False, None
        if self._error is not None:
            raise self._error
        return True, self._result


class LookupPool:
    """Daemon worker threads fed from one queue; grows when all are busy."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._jobs: queue.SimpleQueue[Lookup] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self.workers = 0

    def submit(self, call: Callable[[], Any]) -> Lookup:
        lookup = Lookup(call)
        with self._lock:
            start = self._idle == 0
            if start:
                self.workers += 1
            else:
                self._idle -= 1
        self._jobs.put(lookup)
        if start:
            threading.Thread(
                target=self._work, name="hardened-egress-dns", daemon=True
            ).start()
        return lookup

    def _work(self) -> None:
        while True:
            try:
                lookup = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle:
                        self._idle -= 1
                        self.workers -= 1
                        return
                continue
            lookup.run()
            with self._lock:
                self._idle += 1


_pool = LookupPool()


def pool() -> LookupPool:
    """The process's pool."""
    return _pool


def _forget_workers() -> None:
    global _pool
    _pool = LookupPool()


os.register_at_fork(after_in_child=_forget_workers)
