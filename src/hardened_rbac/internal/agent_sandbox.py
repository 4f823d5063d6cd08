"""What a tool handler may reach while it runs: nothing it was not granted.

While a handler runs, a process-wide audit hook (``sys.addaudithook``)
refuses process creation (``subprocess``, ``os.system``, ``os.exec*``,
``os.spawn*``, ``os.posix_spawn``, ``os.fork``) and the network (name
lookups, socket connections and datagrams made from Python, ``http.client``
and ``urllib``) unless the call comes through the
handler's ``ToolContext``: ``ctx.run()`` for the commands the tool was
granted and ``ctx.http`` for the hosts it was granted, the latter through
:mod:`hardened_privacy.egress` only. The hook looks at a context variable,
so code outside a tool call is never affected.

A new thread starts with an empty context, so ``install`` also makes the
thread starters (``threading.Thread.start``, ``_thread.start_new_thread``
and ``ThreadPoolExecutor.submit``) carry a copy of the caller's context
into the thread while a guard is set: work a handler moves to another
thread stays guarded, for as long as that thread runs.
"""

from __future__ import annotations

import _thread
import contextvars
import functools
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from hardened_rbac.exceptions import AgentToolCapabilityDenied
from hardened_rbac.internal.agent_registry import Tool

PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.spawn",
        "os.posix_spawn",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
    }
)
NETWORK_EVENTS = frozenset(
    {
        "http.client.connect",
        "urllib.Request",
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
    }
)
WATCHED = PROCESS_EVENTS | NETWORK_EVENTS

RUN_TIMEOUT = 10.0
RUN_OUTPUT_LIMIT = 65536


@dataclass
class _Guard:
    tool: str
    permit_process: bool = False
    permit_network: bool = False


_guard: ContextVar[_Guard | None] = ContextVar(
    "hardened_rbac_agent_guard", default=None
)
_installed = False
_install_lock = threading.Lock()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in WATCHED:
        return
    guard = _guard.get()
    if guard is None:
        return
    if event in PROCESS_EVENTS and not guard.permit_process:
        raise AgentToolCapabilityDenied(
            f"The agent tool {guard.tool!r} may not start processes."
        )
    if event in NETWORK_EVENTS and not guard.permit_network:
        raise AgentToolCapabilityDenied(
            f"The agent tool {guard.tool!r} may not open connections."
        )


def _inheriting(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` bound to a copy of the current context, when guarded."""
    if _guard.get() is None:
        return function
    return functools.partial(contextvars.copy_context().run, function)


def _patch_thread_starters() -> None:
    thread_start = threading.Thread.start
    start_new_thread = _thread.start_new_thread
    pool_submit = ThreadPoolExecutor.submit

    def start(self: threading.Thread) -> None:
        if _guard.get() is not None:
            self.run = _inheriting(self.run)  # type: ignore[method-assign]
        thread_start(self)

    def start_thread(function: Callable[..., Any], *arguments: Any) -> int:
        return start_new_thread(_inheriting(function), *arguments)

    def submit(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        if _guard.get() is None:
            return pool_submit(self, fn, *args, **kwargs)
        work = _inheriting(fn)
        # A worker this submit starts serves later callers too, so it must
        # not keep the guard; the work itself carries it.
        token = _guard.set(None)
        try:
            return pool_submit(self, work, *args, **kwargs)
        finally:
            _guard.reset(token)

    threading.Thread.start = start  # type: ignore[method-assign]
    _thread.start_new_thread = start_thread
    _thread.start_new = start_thread
    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]


def install() -> None:
    """Add the audit hook and the thread starters once per process.

    Audit hooks cannot be removed, and the starters stay in place: outside
    a tool call they pass straight through.
    """
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _patch_thread_starters()
            _installed = True


def in_tool_call() -> bool:
    return _guard.get() is not None


@contextmanager
def guarded(tool: Tool) -> Iterator[None]:
    install()
    token = _guard.set(_Guard(tool.name))
    try:
        yield
    finally:
        _guard.reset(token)


@contextmanager
def _permitting(*, process: bool = False, network: bool = False) -> Iterator[None]:
    current = _guard.get()
    name = current.tool if current is not None else "?"
    token = _guard.set(_Guard(name, permit_process=process, permit_network=network))
    try:
        yield
    finally:
        _guard.reset(token)


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: bytes
    stderr: bytes


class GrantedHttp:
    """The guarded egress client, limited to the hosts the tool was granted."""

    def __init__(self, tool: Tool, actor: object, tenant: object) -> None:
        self._tool = tool
        self._actor = actor
        self._tenant = tenant

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        from hardened_privacy.egress import get_egress_client

        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        if host not in self._tool.network_hosts:
            raise AgentToolCapabilityDenied(
                f"The agent tool {self._tool.name!r} was not granted this host."
            )
        kwargs.setdefault("actor", self._actor)
        kwargs.setdefault("tenant", self._tenant)
        with _permitting(network=True):
            return get_egress_client().request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)


@dataclass
class ToolContext:
    """What a handler receives: who acts, where, and the granted capabilities.

    ``objects`` holds the rows named by ``ObjectRef`` arguments, loaded
    through their policies; ``arguments`` holds the validated values.
    """

    tool: Tool
    user: Any
    tenant: Any
    arguments: Mapping[str, Any]
    objects: Mapping[str, Any] = field(default_factory=dict)

    @property
    def http(self) -> GrantedHttp:
        if not self.tool.network_hosts:
            raise AgentToolCapabilityDenied(
                f"The agent tool {self.tool.name!r} was not granted outbound HTTP."
            )
        return GrantedHttp(self.tool, self.user.pk, self.tenant.pk)

    def run(self, argv: Sequence[str], *, stdin: bytes = b"") -> CommandResult:
        """Run a granted command without a shell, with a bounded time and output."""
        if (
            not argv
            or not all(isinstance(part, str) for part in argv)
            or argv[0] not in self.tool.shell_commands
        ):
            raise AgentToolCapabilityDenied(
                f"The agent tool {self.tool.name!r} was not granted this command."
            )
        with _permitting(process=True):
            completed = subprocess.run(  # noqa: S603
                list(argv),
                input=stdin,
                capture_output=True,
                timeout=RUN_TIMEOUT,
                shell=False,
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                check=False,
            )
        return CommandResult(
            completed.returncode,
            completed.stdout[:RUN_OUTPUT_LIMIT],
            completed.stderr[:RUN_OUTPUT_LIMIT],
        )
