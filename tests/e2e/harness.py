"""The end-to-end test's harness: the demo's own config, rewritten to run beside anything else on the machine,
and ``hub demo`` run on it as a real process.

``demo_config`` reads config/demo.toml as it is in the project and changes only what must differ for a test
run: every path in the demo's data folder moves into the test's folder, every port the simulators listen on
(and the adapters' addresses of them) becomes a free one, the fibre ring's namespaces get a subnet nobody on
this machine uses (and namespaces named NETNS_PREFIX-...), the console listens on any free port, and the evening is played ``speed`` times as fast,
once. The rules, the cameras, the members and the script's steps stay as the demo has them. A simulator type
the harness does not know is an error, so a new one in the demo is noticed here rather than left on a fixed
port.

``DemoProcess`` runs ``hub demo`` in a process group of its own, keeps everything it prints (for the test
to wait on, and to attach to a failure), stops it with a signal as an operator would, and kills the group if
it is still there when the test ends, however it ends.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self, TypeVar

import attrs

from hub.bench.system_config import free_block, moved_paths, readdressed, to_toml
from hub.bench.system_config import free_subnet as bench_free_subnet

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / ".venv" / "bin" / "hub"
DEMO_CONFIG = REPO / "config" / "demo.toml"
#: The prefix of the network namespaces the test's fibre ring makes (as root).
NETNS_PREFIX = "e2efibre"

T = TypeVar("T")


# --- Free ports and a free subnet --------------------------------------------------------------------------


def free_port_block(count: int, *, kinds: Iterable[int] = (socket.SOCK_STREAM,)) -> int:
    """The first of ``count`` consecutive loopback ports free for every socket kind in ``kinds`` just now (the
    benchmark's choice: below the kernel's ephemeral range, so outgoing connections do not take them first)."""
    return free_block(count, set(), random.Random(), tuple(kinds))


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of RFC 2544's benchmarking range that no address or route here overlaps, never the demo's own."""
    return bench_free_subnet(random.Random())


# --- The demo's config, rewritten for a test run ----------------------------------------------------------


@attrs.frozen
class DemoSetup:
    """The rewritten config: where it is, the demo's data folder, and what the test needs to know of it."""

    config: Path
    data_dir: Path
    document: dict[str, Any]
    #: Each simulator port of the demo's and the free one standing in for it.
    ports: dict[int, int]
    #: The fibre ring's subnet in namespaces (old, new), if the demo has a ring in namespaces.
    subnets: dict[str, str]
    #: How many times as fast as the demo the evening is played.
    speed: float

    @property
    def scenario(self) -> dict[str, Any]:
        return self.document["scenario"]

    def step_at(self, seconds: float) -> float:
        """When a script step at ``at_s = seconds`` is played, in seconds after the script starts."""
        return seconds / self.speed


def demo_config(folder: Path, *, evening_s: float, source: Path = DEMO_CONFIG) -> DemoSetup:
    """Write a copy of the demo's config into ``folder`` (as ``demo.toml``, its data in ``folder/data``) that
    runs on free ports and plays the evening once, sped up so that its last step comes ``evening_s`` seconds
    after the start."""
    document = tomllib.loads(source.read_text())
    base = source.parent
    old_data = (base / document["hub"]["data_dir"]).resolve()
    new_data = folder / "data"
    document = moved_paths(document, base, old_data, new_data)
    document["hub"]["data_dir"] = str(new_data)
    document.setdefault("web", {})["listen"] = "127.0.0.1:0"

    ports: dict[int, int] = {}
    addresses: dict[str, str] = {}
    subnets: dict[str, str] = {}
    for name, table in document.get("simulators", {}).items():
        kind = table.get("type")
        if kind == "onvif":
            count, old = table.get("cameras", 8), table.get("base_port", 18000)
            new = free_port_block(count)
            ports.update({old + offset: new + offset for offset in range(count)})
            table["base_port"] = new
        elif kind == "fibre" and table.get("network", "loopback") == "loopback":
            count, old = table.get("nodes", 4), table.get("base_port", 16100)
            # Node i listens on base_port + i, UDP (its agent) and TCP (its management port).
            new = free_port_block(count + 1, kinds=(socket.SOCK_DGRAM, socket.SOCK_STREAM))
            ports.update({old + offset: new + offset for offset in range(1, count + 1)})
            table["base_port"] = new
        elif kind == "fibre":
            old_subnet = ipaddress.IPv4Network(table.get("subnet", "198.18.8.0/24"))
            new_subnet = free_subnet()
            subnets[str(old_subnet)] = str(new_subnet)
            offset = int(new_subnet.network_address) - int(old_subnet.network_address)
            addresses.update({str(host): str(host + offset) for host in old_subnet.hosts()})
            table["subnet"] = str(new_subnet)
            # Named apart from the demo's own rings, so the test's leftovers are known to be its own.
            table["netns_prefix"] = NETNS_PREFIX
        elif kind == "police_peer":
            old, new = table.get("port", 18443), free_port_block(1)
            ports[old] = new
            table["port"] = new
        elif kind == "shopwatch":
            pass  # pseudo-terminals, at paths in the data folder (moved above)
        else:
            raise AssertionError(f"the e2e harness does not know simulator type {kind!r} ([simulators.{name}]): "
                                 "teach demo_config which ports or addresses it takes")
    document["adapters"] = {name: readdressed(table, ports, addresses)
                            for name, table in document.get("adapters", {}).items()}

    scenario = document.get("scenario")
    if not scenario or not scenario.get("steps"):
        raise AssertionError("config/demo.toml has no [scenario] steps to play")
    last = max(step["at_s"] for step in scenario["steps"])
    speed = last / evening_s
    scenario["speed"] = speed
    scenario.pop("repeat_s", None)  # one evening is the test

    config = folder / "demo.toml"
    config.write_text(to_toml(document))
    return DemoSetup(config=config, data_dir=new_data, document=document, ports=ports, subnets=subnets,
                     speed=speed)


# --- Running `hub demo` ----------------------------------------------------------------------------------


class DemoProcess:
    """``hub demo --config CONFIG`` in a process group of its own; stdout and stderr kept line by line."""

    def __init__(self, config: Path, cwd: Path) -> None:
        self.log_path = cwd / "demo-output.log"
        self._log = open(self.log_path, "w", buffering=1)  # noqa: SIM115 - open until close()
        self.process = subprocess.Popen(
            [str(HUB), "demo", "--config", str(config)],
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace", start_new_session=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        self._readers = [threading.Thread(target=self._read, args=(stream, lines, label), daemon=True)
                         for stream, lines, label in ((self.process.stdout, self.stdout, "out"),
                                                      (self.process.stderr, self.stderr, "err"))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str], label: str) -> None:
        for line in stream:
            line = line.rstrip("\n")
            with self._lock:
                lines.append(line)
                self._log.write(f"{label}| {line}\n")

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self, last: int = 200) -> str:
        """The last ``last`` lines it printed, stdout and stderr interleaved as they came."""
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last:])

    def wait_for_line(self, pattern: str, timeout_s: float, *, after: int = 0) -> re.Match[str]:
        """The first stdout line from index ``after`` on matching ``pattern``, once printed."""
        compiled = re.compile(pattern)

        def find() -> re.Match[str] | None:
            for line in self.stdout[after:]:
                found = compiled.search(line)
                if found:
                    return found
            return None

        return self.wait_until(find, f"a line matching {pattern!r}", timeout_s)

    def wait_until(self, condition: Callable[[], T], what: str, timeout_s: float) -> T:
        """``condition()``'s first truthy value; fails (with the demo's output) after ``timeout_s`` or at
        once if the demo exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = condition()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"hub demo exited with {self.process.returncode} while waiting for {what}:\n"
                                     f"{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout_s:g} s; hub demo printed:\n{self.output()}")
            time.sleep(0.1)

    def stop(self, signal_number: int = signal.SIGINT, timeout_s: float = 30.0) -> int:
        """Signal the hub (as Ctrl-C or a service manager would) and return its exit code once it has ended
        and everything it printed is read."""
        self.process.send_signal(signal_number)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hub demo did not stop within {timeout_s:g} s of signal {signal_number}:\n"
                                 f"{self.output()}") from None
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def close(self) -> None:
        """Stop the hub if it is still running (after a failure): SIGTERM first, so its simulators take down
        what they made (the fibre ring's namespaces), then SIGKILL to its whole process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # The hub is alive, so the group is still the one it leads: nobody else's processes are in it.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=10)
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
