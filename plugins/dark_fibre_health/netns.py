"""Linux network namespaces, as the fibre simulator and the fibre tests use them: the ``ip`` command run,
the namespaces and root links listed, what a dead run left behind swept away, and sockets made inside a
namespace for the reactor to adopt.

Everything made is named ``<prefix>-<pid>-...`` (namespaces) or carries that name as its alias (veth ends
in the root namespace), ``pid`` being the process that made it. ``sweep(prefix)`` removes what a process
that is no longer running left behind, and never what a live one (another test run, another hub) uses.

Needs Linux, root (or ``CAP_SYS_ADMIN`` and ``CAP_NET_ADMIN``) and iproute2; ``why_not_usable()`` says what
is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "NetnsError",
    "command",
    "in_namespace",
    "kill_namespace_processes",
    "namespaces",
    "pid_alive",
    "root_links",
    "sweep",
    "why_not_usable",
]

_CLONE_NEWNET = 0x40000000
#: The Debian package of each command the namespace code may need.
PACKAGES = {"ip": "iproute2", "nft": "nftables", "ping": "iputils-ping", "snmpd": "snmpd", "snmpget": "snmp",
            "snmpwalk": "snmp", "sysctl": "procps"}

T = TypeVar("T")


class NetnsError(RuntimeError):
    """A command building or changing a namespace failed; says which and what it printed."""


def why_not_usable(*tools: str) -> str | None:
    """Why network namespaces cannot be made here (not Linux, not root, a command missing), or None."""
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "building network namespaces and veth pairs needs root"
    for tool in ("ip", *tools):
        if shutil.which(tool) is None:
            return f"the {tool} command is not installed (Debian package {PACKAGES.get(tool, tool)})"
    return None


def command(argv: Sequence[str], *, input: str | None = None, check: bool = True,
            timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion; a failure raises ``NetnsError`` with its output when ``check``."""
    done = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def namespaces() -> list[str]:
    """The names of the network namespaces ``ip netns`` knows."""
    return [line.split()[0] for line in command(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]


def root_links() -> list[dict[str, Any]]:
    """The root namespace's links as ``ip -j link`` gives them."""
    return json.loads(command(["ip", "-j", "-d", "link", "show"]).stdout or "[]")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str, prefix: str) -> int | None:
    match = re.match(rf"^{re.escape(prefix)}-(\d+)-", name)
    return int(match.group(1)) if match else None


def kill_namespace_processes(namespace: str) -> None:
    """End every process still inside ``namespace`` (only namespaces this code made: nobody else's)."""
    listed = command(["ip", "netns", "pids", namespace], check=False)
    for pid in (int(word) for word in listed.stdout.split() if word.isdigit()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def sweep(prefix: str) -> list[str]:
    """Remove the namespaces and root veth ends named ``<prefix>-<pid>-...`` whose process ``pid`` has died,
    and any process still in them; returns what it removed. A run still going keeps everything."""
    def stale(name: str) -> bool:
        owner = _owner_pid(name, prefix)
        return owner is not None and owner != os.getpid() and not pid_alive(owner)

    removed: list[str] = []
    for link in root_links():
        alias = link.get("ifalias", "")
        if alias and stale(alias):
            command(["ip", "link", "del", link["ifname"]], check=False)
            removed.append(link["ifname"])
    for namespace in namespaces():
        if stale(namespace):
            kill_namespace_processes(namespace)
            command(["ip", "netns", "del", namespace], check=False)
            removed.append(namespace)
    return removed


def in_namespace(namespace: str, work: Callable[[], T]) -> T:
    """``work()`` run inside ``namespace``, its result returned (its exception raised).

    A network namespace belongs to a thread, so ``work`` runs on a short-lived thread that enters the
    namespace (``setns``) and ends there; the caller's thread never leaves its own. A socket made by
    ``work`` lives in the namespace for good, whichever thread uses it after: hand its descriptor to the
    reactor (``adoptDatagramPort``, ``adoptStreamPort``). Files under ``/proc/sys/net`` opened by ``work``
    are the namespace's."""
    outcome: dict[str, Any] = {}

    def enter_and_work() -> None:
        try:
            descriptor = os.open(f"/run/netns/{namespace}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(descriptor, _CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise NetnsError(f"cannot enter network namespace {namespace}: {os.strerror(code)}")
            finally:
                os.close(descriptor)
            outcome["result"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=enter_and_work, name=f"netns-{namespace}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def bound_socket(kind: int, address: str, port: int, *, backlog: int | None = None) -> socket.socket:
    """An IPv4 socket of ``kind`` bound to ``address:port``, non-blocking, listening when ``backlog`` is
    given (made in whatever namespace the calling thread is in: call it inside ``in_namespace``)."""
    made = socket.socket(socket.AF_INET, kind)
    try:
        made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        made.bind((address, port))
        if backlog is not None:
            made.listen(backlog)
        made.setblocking(False)
    except BaseException:
        made.close()
        raise
    return made
