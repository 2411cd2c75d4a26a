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

import datetime
import ipaddress
import json
import math
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

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / ".venv" / "bin" / "hub"
DEMO_CONFIG = REPO / "config" / "demo.toml"
#: The prefix of the network namespaces the test's fibre ring makes (as root).
NETNS_PREFIX = "e2efibre"

T = TypeVar("T")


# --- Free ports and a free subnet --------------------------------------------------------------------------


def _bindable(port: int, kinds: Iterable[int]) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_block(count: int, *, kinds: Iterable[int] = (socket.SOCK_STREAM,), attempts: int = 200) -> int:
    """The first of ``count`` consecutive loopback ports free for every socket kind in ``kinds`` just now.

    Taken at random from below the kernel's ephemeral range, so outgoing connections do not take them in the
    moment before the demo binds them."""
    kinds = tuple(kinds)
    for _ in range(attempts):
        base = random.randrange(20_000, 32_000 - count)
        if all(_bindable(base + offset, kinds) for offset in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free loopback ports found in {attempts} tries")


def _subnets_in_use() -> list[ipaddress.IPv4Network]:
    used = []
    for command in (["ip", "-4", "-j", "addr"], ["ip", "-4", "-j", "route"]):
        try:
            listed = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=10, check=False).stdout or "[]")
        except (OSError, ValueError, subprocess.SubprocessError):
            continue
        for entry in listed:
            for address in entry.get("addr_info", ()):
                used.append(ipaddress.IPv4Network(f"{address['local']}/{address['prefixlen']}", strict=False))
            destination = entry.get("dst")
            if destination and destination != "default":
                used.append(ipaddress.IPv4Network(destination, strict=False))
    return used


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of RFC 2544's benchmarking range (198.18.0.0/15) that no address or route here overlaps; never
    198.18.8.0/24, which the demo itself uses when someone runs it on this machine."""
    used = _subnets_in_use()
    candidates = [ipaddress.IPv4Network(f"198.{18 + third // 256}.{third % 256}.0/24") for third in range(512)]
    random.shuffle(candidates)
    for candidate in candidates:
        if candidate != ipaddress.IPv4Network("198.18.8.0/24") and not any(candidate.overlaps(u) for u in used):
            return candidate
    raise RuntimeError("every /24 of 198.18.0.0/15 is in use here")


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
    document = _moved_paths(document, base, old_data, new_data)
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
    document["adapters"] = {name: _readdressed(table, ports, addresses)
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


def _moved_paths(value: Any, base: Path, old_data: Path, new_data: Path) -> Any:
    """``value`` with every path into the demo's data folder (read from ``base``) moved to ``new_data``."""
    if isinstance(value, dict):
        return {key: _moved_paths(item, base, old_data, new_data) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved_paths(item, base, old_data, new_data) for item in value]
    if isinstance(value, str) and "/" in value and "://" not in value:
        target = (base / value).resolve()
        if target == old_data or old_data in target.parents:
            return str(new_data / target.relative_to(old_data))
    return value


def _readdressed(value: Any, ports: dict[int, int], addresses: dict[str, str], key: str = "") -> Any:
    """An adapter's table with the simulators' old ports and addresses replaced by their stand-ins."""
    if isinstance(value, dict):
        return {name: _readdressed(item, ports, addresses, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_readdressed(item, ports, addresses, key) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and key == "port":
        return ports.get(value, value)
    if isinstance(value, str):
        if value in addresses:
            return addresses[value]
        url = re.match(r"^(\w+://[^/:]+:)(\d+)(/.*)?$", value)
        if url and int(url.group(2)) in ports:
            return f"{url.group(1)}{ports[int(url.group(2))]}{url.group(3) or ''}"
    return value


def to_toml(document: dict[str, Any]) -> str:
    """``document`` (as tomllib reads it) as TOML: a table per top-level key, everything under it inline."""
    lines = []
    for name, table in document.items():
        if not isinstance(table, dict):
            lines.append(f"{_key(name)} = {_value(table)}")
            continue
        lines.append(f"[{_key(name)}]")
        for key, value in table.items():
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                items = "".join(f"  {_value(item)},\n" for item in value)
                lines.append(f"{_key(key)} = [\n{items}]")
            else:
                lines.append(f"{_key(key)} = {_value(value)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(key)} = {_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


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
