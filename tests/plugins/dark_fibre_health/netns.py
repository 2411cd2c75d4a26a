"""A small fibre network made of Linux network namespaces, for end-to-end tests of the fibre adapter.

The test process stays in the root namespace and is the head end. Each node is a namespace that routes
for what is behind it, joined to its upstream (another node, or the head end) by a veth pair: the veth
end inside the node is its ``uplink`` and carries the node's management address, the address the hub
probes. The cameras of a node are addresses in one camera namespace behind it (``cams`` on the node,
``uplink`` in the camera namespace). Nodes, their uplinks and cameras are real hosts to the kernel: a
node's link taken down (``ip link set uplink down`` inside its namespace) cuts it and everything behind
it off; an nftables rule in its namespace drops a share of the ICMP it receives (this kernel has no netem).

Everything made here is named ``hubfib-<pid>-<tag>-...`` (namespaces) or ``hf<tag><n>`` with the alias
``hubfib-<pid>-<tag>`` (veth ends in the root namespace), so that ``sweep()`` removes what a test run that
died left behind without touching what a live run is using. Addresses come from a /24 of 10.199.0.0/16
that nothing in the root namespace uses yet (links in its lower half as /30s, camera subnets in its upper
half as /28s).

Needs root, iproute2 and, for loss, nftables; ``why_not_usable()`` says what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import attrs

from plugins.dark_fibre_health import netns
from plugins.dark_fibre_health.netns import (  # the harness's own names for them, as before
    NetnsError,
    command,
    kill_namespace_processes,
    namespaces,
    root_links,
)

PREFIX = "hubfib"
#: Each network's addresses are one /24 of this /16.
ADDRESS_BASE = "10.199"
LOSS_TABLE = "hubfib_loss"
UPLINK = "uplink"
CAMERAS = "cams"
#: Serialises the choice of address block between test processes running at the same time.
LOCK_FILE = Path("/run/lock/hubfib-netns.lock")
_NODE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
MAX_LINKS = 32         # /30s in the lower half of the /24
MAX_CAMERA_NODES = 8   # /28s in the upper half
MAX_CAMERAS = 13       # hosts in a /28, less the node's own address


def why_not_usable(*tools: str) -> str | None:
    """Why namespace tests cannot run here (not Linux, not root, a tool missing), or None when they can."""
    reason = netns.why_not_usable(*tools)
    return f"{reason} (CI runs these tests as root)" if reason and "root" in reason else reason


@attrs.frozen
class NodeSpec:
    """A node of the test network: its ``upstream`` node (None: joined to the head end) and how many
    camera addresses sit behind it."""

    name: str = attrs.field()
    upstream: str | None = None
    cameras: int = attrs.field(default=0)

    @name.validator
    def _short(self, attribute: Any, value: str) -> None:
        # Its downstream interface on the upstream node is "dn-<name>", and interface names hold 15 bytes.
        if not _NODE_NAME.match(value):
            raise ValueError(f"node name {value!r}: lower-case letters, digits and '-', at most 12")

    @cameras.validator
    def _fits(self, attribute: Any, value: int) -> None:
        if not 0 <= value <= MAX_CAMERAS:
            raise ValueError(f"node {self.name}: 0 to {MAX_CAMERAS} cameras")


@attrs.frozen
class PingSummary:
    sent: int
    received: int

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0


def ping(address: str, *, count: int = 1, interval_s: float = 0.2, wait_s: float = 1.0,
         namespace: str | None = None) -> PingSummary:
    """Ping ``address`` with the system ping (iputils), from the root namespace unless ``namespace``."""
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", f"{interval_s:g}", "-W", f"{wait_s:g}", address]
    if namespace is not None:
        argv = ["ip", "netns", "exec", namespace, *argv]
    done = command(argv, check=False, timeout=count * interval_s + wait_s + 10)
    match = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", done.stdout)
    if match is None:
        raise NetnsError(f"ping {address}: no summary in {done.stdout!r} {done.stderr!r}")
    return PingSummary(sent=int(match.group(1)), received=int(match.group(2)))


def reachable(address: str, *, attempts: int = 3, wait_s: float = 0.5) -> bool:
    """True when one of ``attempts`` pings of ``address`` is answered."""
    return any(ping(address, wait_s=wait_s).received for _ in range(attempts))


def answering(addresses: Sequence[str], *, count: int = 2, interval_s: float = 0.1,
              wait_s: float = 0.5) -> dict[str, bool]:
    """Which of ``addresses`` answer at least one of ``count`` pings, all pinged at once."""
    pings = {address: subprocess.Popen(
        ["ping", "-n", "-q", "-c", str(count), "-i", f"{interval_s:g}", "-W", f"{wait_s:g}", address],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) for address in addresses}
    # iputils ping exits 0 when it had a reply, 1 when it had none, 2 on other errors.
    return {address: process.wait(timeout=count * interval_s + wait_s + 10) == 0
            for address, process in pings.items()}


def sweep(prefix: str = PREFIX) -> list[str]:
    """Remove the namespaces and root veth ends a test run that is no longer running left behind (names
    made by this harness, ``prefix``, whose creating process has died), and the processes still in them;
    returns what it removed. A run still going keeps everything."""
    return netns.sweep(prefix)


@contextlib.contextmanager
def _allocation_lock() -> Iterator[None]:
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_block() -> int:
    """A third octet ``b`` such that nothing in the root namespace has an address or route in 10.199.b.0/24."""
    used_text = command(["ip", "-4", "-o", "addr", "show"]).stdout + command(
        ["ip", "-4", "route", "show", "table", "all"]).stdout
    used = {int(octet) for octet in re.findall(rf"\b{re.escape(ADDRESS_BASE)}\.(\d+)\.", used_text)}
    free = [block for block in range(1, 255) if block not in used]
    if not free:
        raise NetnsError(f"every /24 of {ADDRESS_BASE}.0.0/16 is in use in the root namespace")
    return random.choice(free)


class Process:
    """A process the harness started inside a namespace; ended when the network is torn down."""

    def __init__(self, namespace: str, argv: Sequence[str], popen: subprocess.Popen[str]) -> None:
        self.namespace = namespace
        self.argv = tuple(argv)
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL if it is still there after ``timeout_s``; its exit status."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout_s)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        return self.popen.returncode

    def readline(self, timeout_s: float) -> str:
        """The next line it prints on stdout (started with ``stdout=PIPE``), or "" if none within ``timeout_s``."""
        assert self.popen.stdout is not None, "started without stdout=subprocess.PIPE"
        readable, _, _ = select.select([self.popen.stdout], [], [], timeout_s)
        return self.popen.stdout.readline() if readable else ""

    def __repr__(self) -> str:
        return f"<Process {self.pid} in {self.namespace}: {' '.join(self.argv)}>"


class FibreNetwork:
    """Nodes as namespaces in a forest under the head end (the root namespace), cameras behind them.

    Build with ``build()`` (or use it as a context manager); ``destroy()`` removes everything and is safe
    to call on a half-built network, and twice.
    """

    def __init__(self, nodes: Sequence[NodeSpec], *, prefix: str = PREFIX) -> None:
        self.prefix = prefix
        self.tag = f"{random.getrandbits(24):06x}"
        self.owner = f"{prefix}-{os.getpid()}-{self.tag}"
        self.nodes: dict[str, NodeSpec] = {}
        for node in nodes:
            if node.name in self.nodes:
                raise ValueError(f"node {node.name} given twice")
            self.nodes[node.name] = node
        for node in self.nodes.values():
            if node.upstream is not None and node.upstream not in self.nodes:
                raise ValueError(f"node {node.name}: upstream {node.upstream} is not a node")
        self.order = self._parents_first()
        if len(self.order) > MAX_LINKS:
            raise ValueError(f"at most {MAX_LINKS} nodes")
        if sum(1 for node in self.nodes.values() if node.cameras) > MAX_CAMERA_NODES:
            raise ValueError(f"at most {MAX_CAMERA_NODES} nodes with cameras")
        self.block: int | None = None
        self.processes: list[Process] = []
        self._made_namespaces: list[str] = []
        self._made_links: list[str] = []
        self._camera_index: dict[str, int] = {}

    # --- names and addresses ---------------------------------------------------------------------------

    def _parents_first(self) -> list[str]:
        order: list[str] = []
        placed: set[str] = set()
        pending = list(self.nodes)
        while pending:
            ready = [name for name in pending if self.nodes[name].upstream in (None, *placed)]
            if not ready:
                raise ValueError(f"nodes {sorted(pending)} are in a loop")
            for name in ready:
                order.append(name)
                placed.add(name)
                pending.remove(name)
        return order

    def namespace(self, node: str) -> str:
        """The namespace that is node ``node``."""
        self._known(node)
        return f"{self.owner}-{node}"

    def camera_namespace(self, node: str) -> str:
        """The namespace holding the cameras behind ``node``."""
        self._known(node)
        return f"{self.owner}-{node}-cams"

    def _index(self, node: str) -> int:
        return self.order.index(node)

    def _net(self, offset: int) -> str:
        assert self.block is not None, "build() the network first"
        return f"{ADDRESS_BASE}.{self.block}.{offset}"

    def address(self, node: str) -> str:
        """Node ``node``'s management address: its end of the link to its upstream."""
        return self._net(4 * self._index(node) + 2)

    def upstream_address(self, node: str) -> str:
        """The address on the upstream side (the head end, or the upstream node) of ``node``'s link."""
        return self._net(4 * self._index(node) + 1)

    def link_subnet(self, node: str) -> str:
        return f"{self._net(4 * self._index(node))}/30"

    def camera_subnet(self, node: str) -> str | None:
        if node not in self._camera_index:
            return None
        return f"{self._net(128 + 16 * self._camera_index[node])}/28"

    def camera_gateway(self, node: str) -> str:
        """The node's address on its camera side."""
        return self._net(128 + 16 * self._camera_index[node] + 1)

    def camera_addresses(self, node: str) -> tuple[str, ...]:
        """The addresses of the cameras behind ``node`` (in its camera namespace)."""
        self._known(node)
        if node not in self._camera_index:
            return ()
        first = 128 + 16 * self._camera_index[node] + 2
        return tuple(self._net(first + n) for n in range(self.nodes[node].cameras))

    def children(self, node: str) -> list[str]:
        return [name for name in self.order if self.nodes[name].upstream == node]

    def behind(self, node: str) -> list[str]:
        """``node`` and every node downstream of it, parents first."""
        found = [node]
        for name in self.order:
            if self.nodes[name].upstream in found:
                found.append(name)
        return found

    def root_interface(self, node: str) -> str:
        """The head end's interface to top-level node ``node``."""
        return f"hf{self.tag}{self._index(node)}"

    def downlink(self, node: str) -> str:
        """The name of the interface on ``node``'s upstream that faces ``node``."""
        return f"dn-{node}"

    def _known(self, node: str) -> None:
        if node not in self.nodes:
            raise KeyError(f"no node {node!r} (nodes: {', '.join(self.nodes)})")

    # --- building and tearing down ---------------------------------------------------------------------

    def build(self) -> Self:
        self._camera_index = {name: n for n, name in
                              enumerate(name for name in self.order if self.nodes[name].cameras)}
        try:
            with _allocation_lock():
                self.block = _free_block()
                for name in self.order:
                    self._build_node(name)
        except BaseException:
            self.destroy()
            raise
        return self

    def _ip(self, namespace: str | None, *args: str) -> None:
        command(["ip", *(["-n", namespace] if namespace else []), *args])

    def _add_namespace(self, namespace: str) -> None:
        self._ip(None, "netns", "add", namespace)
        self._made_namespaces.append(namespace)
        self._ip(namespace, "link", "set", "lo", "up")

    def _build_node(self, name: str) -> None:
        node = self.nodes[name]
        namespace = self.namespace(name)
        self._add_namespace(namespace)
        self.sysctl(namespace, "net.ipv4.ip_forward", "1")
        if node.upstream is None:
            outside, upstream_ns = self.root_interface(name), None
            self._ip(None, "link", "add", outside, "type", "veth", "peer", "name", UPLINK, "netns", namespace)
            self._made_links.append(outside)
            self._ip(None, "link", "set", outside, "alias", self.owner)
        else:
            outside, upstream_ns = self.downlink(name), self.namespace(node.upstream)
            self._ip(upstream_ns, "link", "add", outside, "type", "veth", "peer", "name", UPLINK, "netns", namespace)
        self._ip(upstream_ns, "addr", "add", f"{self.upstream_address(name)}/30", "dev", outside)
        self._ip(upstream_ns, "link", "set", outside, "up")
        self._ip(namespace, "addr", "add", f"{self.address(name)}/30", "dev", UPLINK)
        self._ip(namespace, "link", "set", UPLINK, "up")
        self._ip(namespace, "route", "add", "default", "via", self.upstream_address(name))
        # The upstream side is on the link; everything further up routes it down the chain.
        self._route_towards(name, self.link_subnet(name), connected_upstream=True)
        if node.cameras:
            self._build_cameras(name)

    def _route_towards(self, node: str, subnet: str, *, connected_upstream: bool) -> None:
        """Routes to ``subnet`` (at or behind ``node``) on every node above ``node`` and on the head end."""
        hop, above, first = node, self.nodes[node].upstream, True
        while True:
            if not (first and connected_upstream):
                self._ip(self.namespace(above) if above else None, "route", "add", subnet, "via", self.address(hop))
            if above is None:
                return
            hop, above, first = above, self.nodes[above].upstream, False

    def _build_cameras(self, name: str) -> None:
        cameras = self.camera_namespace(name)
        self._add_namespace(cameras)
        self._ip(self.namespace(name), "link", "add", CAMERAS, "type", "veth", "peer", "name", UPLINK,
                 "netns", cameras)
        self._ip(self.namespace(name), "addr", "add", f"{self.camera_gateway(name)}/28", "dev", CAMERAS)
        self._ip(self.namespace(name), "link", "set", CAMERAS, "up")
        for address in self.camera_addresses(name):
            self._ip(cameras, "addr", "add", f"{address}/28", "dev", UPLINK)
        self._ip(cameras, "link", "set", UPLINK, "up")
        self._ip(cameras, "route", "add", "default", "via", self.camera_gateway(name))
        self._route_towards(name, self.camera_subnet(name), connected_upstream=False)  # type: ignore[arg-type]

    def destroy(self) -> list[str]:
        """Stop the processes started here and remove every namespace and veth made; the errors, if any
        (everything is attempted whatever fails)."""
        errors: list[str] = []
        for process in self.processes:
            try:
                process.stop(timeout_s=3.0)
            except Exception as error:  # noqa: BLE001 (tear-down goes on whatever one step does)
                errors.append(f"{process!r}: {error}")
        self.processes.clear()
        for namespace in self._made_namespaces:
            kill_namespace_processes(namespace)
        # Deleting the root end takes the pair (and its routes) with it at once; a namespace's own veths
        # go when it is deleted.
        for link in self._made_links:
            done = command(["ip", "link", "del", link], check=False)
            if done.returncode != 0 and "Cannot find device" not in done.stderr:
                errors.append(f"ip link del {link}: {done.stderr.strip()}")
        for namespace in reversed(self._made_namespaces):
            done = command(["ip", "netns", "del", namespace], check=False)
            if done.returncode != 0 and "No such file" not in done.stderr:
                errors.append(f"ip netns del {namespace}: {done.stderr.strip()}")
        self._made_links.clear()
        self._made_namespaces.clear()
        return errors

    def leftovers(self) -> list[str]:
        """Namespaces and root links of this network that still exist (empty once destroyed)."""
        found = [name for name in namespaces() if name.startswith(self.owner)]
        found += [link["ifname"] for link in root_links()
                  if link.get("ifalias") == self.owner or link["ifname"].startswith(f"hf{self.tag}")]
        return found

    def __enter__(self) -> Self:
        return self.build()

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()

    # --- faults --------------------------------------------------------------------------------------------

    def set_link(self, node: str, interface: str, up: bool) -> None:
        """``ip link set INTERFACE up|down`` inside ``node``'s namespace."""
        self._ip(self.namespace(node), "link", "set", interface, "up" if up else "down")

    def link_down(self, node: str) -> None:
        """Take ``node``'s upstream-facing interface down: the node and everything behind it are cut off."""
        self.set_link(node, UPLINK, up=False)

    def link_up(self, node: str) -> None:
        self.set_link(node, UPLINK, up=True)

    def add_loss(self, node: str, percent: int, *, forwarded: bool = False) -> None:
        """Drop about ``percent`` % of the ICMP ``node`` receives (nftables ``numgen random``); with
        ``forwarded``, also of the ICMP it routes (to nodes and cameras behind it). Replaces earlier loss."""
        if not 0 <= percent <= 100:
            raise ValueError("percent is 0 to 100")
        self.clear_loss(node)
        if percent == 0:
            return
        share = "" if percent == 100 else f"numgen random mod 100 < {percent} "
        # Forwarded: only packets heading away from the head end, so a ping through the node crosses the
        # rule once (as a ping to the node does), not once each way.
        rules = [("input", f"meta l4proto icmp {share}drop")]
        if forwarded:
            rules.append(("forward", f'oifname != "{UPLINK}" meta l4proto icmp {share}drop'))
        body = "\n".join(
            f"  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n    {rule}\n  }}"
            for hook, rule in rules
        )
        command(["ip", "netns", "exec", self.namespace(node), "nft", "-f", "-"],
                input=f"table inet {LOSS_TABLE} {{\n{body}\n}}\n")

    def clear_loss(self, node: str) -> None:
        command(["ip", "netns", "exec", self.namespace(node), "nft", "delete", "table", "inet", LOSS_TABLE],
                check=False)

    # --- inside a namespace -----------------------------------------------------------------------------

    def sysctl(self, namespace: str, key: str, value: str) -> None:
        """Set a (per network namespace) sysctl inside ``namespace``."""
        path = Path("/proc/sys") / key.replace(".", "/")
        command(["ip", "netns", "exec", namespace, "sh", "-c", 'echo "$1" > "$2"', "sh", value, str(path)])

    def read_sysctl(self, namespace: str, key: str) -> str:
        path = Path("/proc/sys") / key.replace(".", "/")
        return command(["ip", "netns", "exec", namespace, "cat", str(path)]).stdout.strip()

    def ping_group_range(self, namespace: str, low: int, high: int) -> None:
        """Which groups may open unprivileged ICMP datagram sockets in ``namespace`` ("1 0": none)."""
        self.sysctl(namespace, "net.ipv4.ping_group_range", f"{low} {high}")

    def exec(self, namespace: str, argv: Sequence[str], **options: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``namespace`` to completion."""
        return command(["ip", "netns", "exec", namespace, *argv], **options)

    def run(self, namespace: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: str | Path | None = None, stdout: Any = subprocess.DEVNULL,
            stderr: Any = subprocess.DEVNULL) -> Process:
        """Start ``argv`` inside ``namespace`` (``ip netns exec`` execs it: same pid); stopped by ``destroy()``."""
        if namespace not in self._made_namespaces:
            raise KeyError(f"{namespace} is not a namespace of this network")
        popen = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *argv], env=dict(env) if env is not None else None, cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, text=True,
        )
        process = Process(namespace, argv, popen)
        self.processes.append(process)
        return process

    def ifindex(self, namespace: str, interface: str) -> int:
        """The kernel's index of ``interface`` inside ``namespace`` (what IF-MIB's ifIndex is there)."""
        links = json.loads(command(["ip", "-n", namespace, "-j", "link", "show", interface]).stdout)
        return int(links[0]["ifindex"])

    def operstate(self, namespace: str, interface: str) -> str:
        links = json.loads(command(["ip", "-n", namespace, "-j", "link", "show", interface]).stdout)
        return str(links[0]["operstate"])


def wait_for(condition: Any, what: str, *, timeout_s: float = 5.0, every_s: float = 0.05) -> Any:
    """Call ``condition`` until it returns something truthy (returned) or fail saying ``what`` (blocking:
    for code that does not run on the reactor)."""
    give_up = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= give_up:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(every_s)


# --- net-snmp's snmpd inside a node ----------------------------------------------------------------------

#: JUNIPER-DOM-MIB jnxDomCurrentEntry (1.3.6.1.4.1.2636.3.60.1.1.1.1), indexed by ifIndex.
JNX_DOM_ENTRY = "1.3.6.1.4.1.2636.3.60.1.1.1.1"
JNX_DOM_RX_POWER = 5  # jnxDomCurrentRxLaserPower, 0.01 dBm
#: The other columns the pass_persist script serves, as a real optic reports them: snmpsim-data 1.0.1
#: juniper-mx960-16-1r6-7-a.snmprec, ifIndex 620 (xe-0/2/0). Units 0.01 dBm for power (rx high alarm
#: 1.00, low alarm -15.04, high warning 0.00, low warning -12.14), 0.001 mA bias, degrees C.
JNX_DOM_COLUMNS: Mapping[int, int] = {
    6: 6817, 7: -289, 8: 23,                              # bias, tx power, temperature
    9: 100, 10: -1504, 11: 0, 12: -1214,                  # rx high/low alarm, high/low warning
    13: 9949, 14: 1024, 15: 8954, 16: 2953,               # bias thresholds
    17: 100, 18: -801, 19: 0, 20: -749,                   # tx power thresholds
    21: 78, 22: -13, 23: 73, 24: -8,                      # temperature thresholds
}
JNX_RX_LOW_ALARM_DBM = JNX_DOM_COLUMNS[10] / 100
JNX_RX_LOW_WARNING_DBM = JNX_DOM_COLUMNS[12] / 100

_PASS_PERSIST_SCRIPT = r"""#!@PYTHON@
# net-snmp `pass_persist` script made by tests/plugins/dark_fibre_health/netns.py: one row of JUNIPER-DOM-MIB's
# jnxDomCurrentTable, whose receive power (0.01 dBm) is read from RX_FILE (dBm) at every request. snmpd
# starts it once and writes "PING", "get\nOID", "getnext\nOID" or "set\nOID\nTYPE VALUE" on its stdin.
import sys

RX_FILE = @RX_FILE@
ROWS = sorted(@ROWS@)  # ((oid as ints), value or None for the receive power)


def value(row):
    if row[1] is not None:
        return str(row[1])
    try:
        with open(RX_FILE) as source:
            text = source.read().strip()
    except OSError:
        return None
    return str(round(float(text) * 100)) if text else None


def answer(oid, found):
    if found is None:
        return "NONE\n"
    return "." + ".".join(map(str, oid)) + "\ninteger\n" + found + "\n"


def main():
    for line in sys.stdin:
        command = line.strip()
        if command == "PING":
            sys.stdout.write("PONG\n")
        elif command in ("get", "getnext", "set"):
            asked = tuple(int(part) for part in sys.stdin.readline().strip().strip(".").split(".") if part)
            if command == "set":
                sys.stdin.readline()
                sys.stdout.write("not-writable\n")
            elif command == "get":
                row = next((row for row in ROWS if row[0] == asked), None)
                sys.stdout.write(answer(asked, None if row is None else value(row)))
            else:
                for row in ROWS:
                    if row[0] > asked and value(row) is not None:
                        sys.stdout.write(answer(row[0], value(row)))
                        break
                else:
                    sys.stdout.write("NONE\n")
        elif not command:
            continue
        else:
            sys.stdout.write("NONE\n")
        sys.stdout.flush()


main()
"""


def juniper_dom_pass_script(path: Path, *, ifindex: int, rx_file: Path) -> Path:
    """Write an executable snmpd ``pass_persist`` script at ``path`` serving jnxDomCurrentEntry for
    ``ifindex``, its receive power read from ``rx_file`` (a number of dBm, or nothing) at each request.

    ``pass_persist``, not ``pass``: snmpd asks the script once per varbind and repetition (a GETBULK of 25
    is 25 questions); one process answering on a pipe costs microseconds each, a process started per
    question milliseconds, which on a busy machine outlasts the hub's SNMP timeout."""
    entry = tuple(int(part) for part in JNX_DOM_ENTRY.split("."))
    rows = [(entry + (JNX_DOM_RX_POWER, ifindex), None)]
    rows += [(entry + (column, ifindex), value) for column, value in JNX_DOM_COLUMNS.items()]
    text = (_PASS_PERSIST_SCRIPT.replace("@PYTHON@", sys.executable).replace("@RX_FILE@", repr(str(rx_file)))
            .replace("@ROWS@", repr(rows)))
    path.write_text(text)
    path.chmod(0o755)
    return path


@attrs.define
class SnmpdAgent:
    """net-snmp's snmpd running inside a node's namespace on the node's address: IF-MIB of that namespace's
    real interfaces, and a JUNIPER-DOM-MIB row for ``interface`` whose receive power the test sets."""

    network: FibreNetwork
    node: str
    address: str
    port: int
    community: str
    user: str
    auth_protocol: str      # net-snmp's spelling, e.g. "SHA-256"
    auth_password: str
    priv_protocol: str      # "AES", "AES-192", "AES-256"
    priv_password: str
    interface: str
    ifindex: int
    rx_file: Path
    directory: Path
    process: Process | None = None

    def set_rx(self, dbm: float | None) -> None:
        """The receive power the optic reports from now on (None: the row's value is not served)."""
        temporary = self.rx_file.with_suffix(".new")
        temporary.write_text("" if dbm is None else f"{dbm:.2f}\n")
        temporary.replace(self.rx_file)

    def _credentials(self, version: str) -> list[str]:
        if version == "2c":
            return ["-v2c", "-c", self.community]
        return ["-v3", "-l", "authPriv", "-u", self.user, "-a", self.auth_protocol, "-A", self.auth_password,
                "-x", self.priv_protocol, "-X", self.priv_password]

    def tool(self, tool: str, *oids: str, version: str = "2c", check: bool = True,
             timeout_s: float = 1.0) -> dict[str, str]:
        """Ask with net-snmp's own ``snmpget``/``snmpwalk`` from the head end: ``{numeric oid: value}``."""
        done = command([tool, *self._credentials(version), "-On", "-Oq", "-t", f"{timeout_s:g}", "-r", "1",
                        f"udp:{self.address}:{self.port}", *oids], check=check)
        values: dict[str, str] = {}
        for line in done.stdout.splitlines():
            oid, _, value = line.partition(" ")
            values[oid.lstrip(".")] = value.strip().strip('"')
        return values

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def start_snmpd(network: FibreNetwork, node: str, directory: Path, *, community: str = "fibre-ro-7Qk2",
                user: str = "hubfibre", auth_protocol: str = "SHA-256", auth_password: str = "auth-3xW9-pass",
                priv_protocol: str = "AES", priv_password: str = "priv-8vT4-pass", port: int = 161,
                interface: str = UPLINK, rx_dbm: float | None = -7.5, timeout_s: float = 10.0) -> SnmpdAgent:
    """Start snmpd in ``node``'s namespace, listening on the node's address, configured from nothing but a
    file in ``directory`` (v2c ``community`` read-only, and v3 ``user`` with authPriv); returns when it
    answers."""
    directory.mkdir(parents=True, exist_ok=True)
    namespace = network.namespace(node)
    ifindex = network.ifindex(namespace, interface)
    rx_file = directory / "rx_dbm"
    agent = SnmpdAgent(network=network, node=node, address=network.address(node), port=port,
                       community=community, user=user, auth_protocol=auth_protocol, auth_password=auth_password,
                       priv_protocol=priv_protocol, priv_password=priv_password, interface=interface,
                       ifindex=ifindex, rx_file=rx_file, directory=directory)
    agent.set_rx(rx_dbm)
    script = juniper_dom_pass_script(directory / "jnx-dom.py", ifindex=ifindex, rx_file=rx_file)
    (directory / "persist").mkdir(exist_ok=True)
    config = directory / "snmpd.conf"
    config.write_text("\n".join([
        f"[snmpd] agentAddress udp:{agent.address}:{port}",
        f"[snmpd] rocommunity {community} default",
        f'[snmpd] createUser {user} {auth_protocol} "{auth_password}" {priv_protocol} "{priv_password}"',
        f"[snmpd] rouser {user} priv",
        f"[snmpd] pass_persist .{JNX_DOM_ENTRY} {script}",
        f"[snmp] persistentDir {directory / 'persist'}",
        "[snmpd] dontLogTCPWrappersConnects yes",
        "",
    ]))
    config.chmod(0o600)
    # -C: only this file; -f: stay in the foreground (so the harness can end it); -Lf: log to a file.
    agent.process = network.run(
        namespace, ["snmpd", "-f", "-C", "-c", str(config), "-Lf", str(directory / "snmpd.log"),
                    "-p", str(directory / "snmpd.pid")],
        env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "MIBS": ""},
    )

    def answers() -> bool:
        if not agent.process.running():  # type: ignore[union-attr]
            log = (directory / "snmpd.log").read_text() if (directory / "snmpd.log").exists() else ""
            raise NetnsError(f"snmpd in {node} exited {agent.process.popen.returncode}: {log}")  # type: ignore[union-attr]
        return bool(agent.tool("snmpget", "1.3.6.1.2.1.1.3.0", check=False, timeout_s=0.2))

    wait_for(answers, f"snmpd answering in {node} on {agent.address}:{port}", timeout_s=timeout_s, every_s=0.1)
    return agent
