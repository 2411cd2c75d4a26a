"""``hub bench fibre``: the hub's ICMP probing beside fping doing the same, and the time from a fibre link
going down to the node judged down.

**Part A (CPU).** ``--nodes`` loopback addresses (127.0.x.y, all distinct) are each pinged once a second
for ``--seconds``: first by the hub's own ``IcmpPinger`` paced by its ``ProbeScheduler``, every result fed
to a ``NodeJudge`` per node, exactly as the adapter does; then, in the same run, by fping (Debian's, C)
at the same rate: one packet every millisecond, each target every 1,000 ms, same timeout and payload.
The hub's figure is this process's CPU (user + system) over its window; fping's is its own process's,
read from ``wait4``. Both count the kernel's work for the echo replies on loopback in their system time,
so the ratio compares the programs, not the kernel. As root, both run inside a network namespace made
for the run, so that nobody else's ICMP on the host reaches either raw socket.

**Part B (link down).** A node in its own network namespace, joined to a head-end namespace by a veth
pair, probed once a second with ``down_after`` 3; the node's end of the link is taken down inside its
namespace at a random point of the interval, and the time until the node is judged down is measured,
over ``--link-trials`` trials; the link comes back and is seen up again between trials. Needs root.

Timing uses ``time.monotonic``; the pinger and scheduler only see the reactor's clock.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hub.bench import cpu_seconds, percentile

#: Echo payload of both sides: ping's and fping's default.
PAYLOAD_BYTES = 56
TIMEOUT_S = 0.8
TICK_S = 0.01
_CLONE_NEWNET = 0x40000000


def add_arguments(parser: Any) -> None:
    parser.add_argument("--nodes", type=int, default=1000, help="targets, each pinged once a second (default 1000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per side (default 30)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between probes of a target (default 1)")
    parser.add_argument("--link-trials", type=int, default=3, help="link-down trials in part B (default 3)")
    parser.add_argument("--no-fping", action="store_true", help="measure the hub only")
    parser.add_argument("--no-link-down", action="store_true", help="skip part B")


# --- network namespaces ----------------------------------------------------------------------------------


def namespaces_usable() -> str | None:
    """Why this process cannot make network namespaces, or None when it can."""
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs the ip command (Debian package iproute2)"
    return None


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


_namespace_numbers = iter(range(1, 1 << 30))


class Namespace:
    """A network namespace made with ``ip netns add`` (loopback up), removed by ``close``.

    Named ``hubprobe-<pid>-<n>``: unique to this process, and telling whose it is if one is left behind.
    """

    def __init__(self, *, ping_group_range: tuple[int, int] | None = None) -> None:
        self.name = f"hubprobe-{os.getpid()}-{next(_namespace_numbers)}"
        _run("ip", "netns", "add", self.name)
        try:
            self.ip("link", "set", "lo", "up")
            if ping_group_range is not None:
                self.sysctl("net.ipv4.ping_group_range", f"{ping_group_range[0]} {ping_group_range[1]}")
        except Exception:
            self.close()
            raise

    def ip(self, *argv: str) -> str:
        return _run("ip", "-n", self.name, *argv)

    def sysctl(self, key: str, value: str) -> None:
        _run("ip", "netns", "exec", self.name, "sysctl", "-qw", f"{key}={value}")

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec`` execs it: same process)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def socket(self, family: int, kind: int, protocol: int) -> socket.socket:
        """A socket that lives in this namespace, made from a thread that enters it (a network namespace is
        per thread; the socket keeps its namespace for life, whichever thread uses it)."""
        made: dict[str, Any] = {}

        def enter_and_make() -> None:
            try:
                descriptor = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    libc = ctypes.CDLL(None, use_errno=True)
                    if libc.setns(descriptor, _CLONE_NEWNET) != 0:
                        code = ctypes.get_errno()
                        raise OSError(code, f"setns {self.name}: {os.strerror(code)}")
                finally:
                    os.close(descriptor)
                made["socket"] = socket.socket(family, kind, protocol)
            except OSError as error:
                made["error"] = error

        thread = threading.Thread(target=enter_and_make, name=f"setns-{self.name}")
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        return made["socket"]

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20, check=False)


def veth(a: Namespace, a_name: str, a_address: str, b: Namespace, b_name: str, b_address: str) -> None:
    """A veth pair from ``a`` to ``b``, both ends up with their ``address/prefix``."""
    a.ip("link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", b.name)
    a.ip("addr", "add", a_address, "dev", a_name)
    b.ip("addr", "add", b_address, "dev", b_name)
    a.ip("link", "set", a_name, "up")
    b.ip("link", "set", b_name, "up")


@contextlib.contextmanager
def namespaces(count: int, **settings: Any) -> Iterator[list[Namespace]]:
    """``count`` namespaces for the time of a ``with``; all removed after, whatever happened."""
    made: list[Namespace] = []
    try:
        for _ in range(count):
            made.append(Namespace(**settings))
        yield made
    finally:
        for namespace in made:
            namespace.close()
