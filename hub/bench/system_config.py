"""The configurations ``hub bench system`` runs, derived at run time from the demo's own config/demo.toml.

``derive_room`` reads the demo as it is today and splits it in two, in one temporary folder:

- ``hub.toml``, the room under test: every ``[adapters.*]`` table of the demo, its rules, maintenance windows,
  escalation, map and console, exactly as the demo has them (the hub's own settings are not sped up);
- ``simulators.toml``, the far ends in a hub of their own (no adapters, no web server): every
  ``[simulators.*]`` table but the Shopwatch radio, which the benchmark plays itself on a pseudo-terminal,
  and the demo's ``[scenario]``, the scripted evening.

What must differ so that a run never meets a demo (or another run) on this machine is rewritten: every path
into the demo's data folder moves into the run's folder, every port a simulator listens on (and the
adapters' addresses of it) becomes a free one, the fibre ring in network namespaces gets a /24 nobody here
uses and namespaces named ``NETNS_PREFIX-<pid>-...``, the console a free port, the logs JSON (the benchmark
reads them). Both fibre pairs stay, with their ``only_when``: as root the ring runs in namespaces, as in the
demo, otherwise on loopback.

What the outside world does is ``factor`` times as fast (``speed_up``): the simulators' rates, and the
evening, its ``speed`` multiplied as the demo's own config describes ("``speed = 10`` plays it ten times as
fast"). A simulator type this module does not know is an error, so that a new one in the demo is taught
here rather than run on the demo's own ports.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import math
import random
import re
import secrets
import socket
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from attrs import frozen

#: How much faster than the demo the benchmark's world is.
RATE_FACTOR = 10.0

#: The demo's simulator the benchmark plays itself (timing every frame), and the adapter that reads it.
BENCH_RADIO = "shopwatch_radio"
BENCH_RADIO_ADAPTER = "shopwatch"
#: The demo's Shopwatch handsets spoke every 40 s before issue 8; the demo's radios now speak only in its
#: script, so the chatter the bench's radio adds (its latency samples) is that older rate times the factor.
PRE_SCENARIO_RADIO_PERIOD_S = 40.0

#: The prefix of the network namespaces the run's fibre ring makes (as root), apart from the demo's own.
NETNS_PREFIX = "hubbench"
#: The ring's subnet in the demo, never given to a run (a developer's demo may be using it).
DEMO_SUBNET = ipaddress.IPv4Network("198.18.8.0/24")
#: RFC 2544's benchmarking range, which the demo's ring takes its /24 from.
BENCHMARK_RANGE = ipaddress.IPv4Network("198.18.0.0/15")

#: The simulator types the derivation knows (their ports, addresses and rates), by the demo's type names.
KNOWN_SIMULATOR_TYPES = ("onvif", "fibre", "police_peer", "shopwatch")


class DemoConfigError(ValueError):
    """The demo's config cannot be turned into the benchmark's room (a simulator type not known here...)."""


@frozen
class BenchRoom:
    """The two configurations of one run, and what was changed to make them."""

    #: The room under test and the simulators' hub, as TOML documents (``tomllib``'s shape).
    hub: dict[str, Any]
    simulators: dict[str, Any]
    #: The console's port on 127.0.0.1.
    web_port: int
    #: The demo's Shopwatch radio table (its link moved into the run's folder): the bench plays it.
    radio: dict[str, Any]
    #: Each simulator port of the demo's and the free one standing in for it.
    ports: dict[int, int]
    #: The fibre ring's subnet in namespaces, the demo's and the run's.
    subnets: dict[str, str]
    #: Every figure sped up, by its place in the demo's config: {"demo": ..., "bench": ...}.
    rates: dict[str, dict[str, Any]]
    factor: float
    demo_config: Path

    @property
    def scenario(self) -> dict[str, Any]:
        return self.simulators.get("scenario", {})

    def hub_toml(self) -> str:
        return "# hub bench system: the room under test, derived from the demo's config.\n" + to_toml(self.hub)

    def simulators_toml(self) -> str:
        return ("# hub bench system: the demo's simulators and its evening, apart from the hub so that their CPU "
                "is not counted as the hub's.\n" + to_toml(self.simulators))


# --- free ports and a free subnet --------------------------------------------------------------------------


def _bindable(port: int, kinds: tuple[int, ...]) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_block(count: int, taken: set[int], rng: random.Random,
               kinds: tuple[int, ...] = (socket.SOCK_STREAM, socket.SOCK_DGRAM)) -> int:
    """The first of ``count`` consecutive loopback ports free for every socket kind (and not in ``taken``),
    below the kernel's ephemeral range so that outgoing connections do not take them before they are bound."""
    for _attempt in range(200):
        first = rng.randrange(20_000, 32_000 - count)
        block = range(first, first + count)
        if not taken.intersection(block) and all(_bindable(port, kinds) for port in block):
            taken.update(block)
            return first
    raise RuntimeError(f"no {count} consecutive free loopback ports found")


def _subnets_in_use() -> list[ipaddress.IPv4Network]:
    used: list[ipaddress.IPv4Network] = []
    for command in (["ip", "-4", "-j", "addr"], ["ip", "-4", "-j", "route"]):
        try:
            listed = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=10,
                                               check=False).stdout or "[]")
        except (OSError, ValueError, subprocess.SubprocessError):
            continue
        for entry in listed:
            for address in entry.get("addr_info", ()):
                used.append(ipaddress.IPv4Network(f"{address['local']}/{address['prefixlen']}", strict=False))
            destination = entry.get("dst")
            if destination and destination != "default":
                try:
                    used.append(ipaddress.IPv4Network(destination, strict=False))
                except ValueError:
                    pass
    return used


def free_subnet(rng: random.Random) -> ipaddress.IPv4Network:
    """A /24 of 198.18.0.0/15 that no address or route on this machine overlaps, never the demo's own."""
    used = _subnets_in_use()
    candidates = list(BENCHMARK_RANGE.subnets(new_prefix=24))
    rng.shuffle(candidates)
    for candidate in candidates:
        if candidate != DEMO_SUBNET and not any(candidate.overlaps(network) for network in used):
            return candidate
    raise RuntimeError("every /24 of 198.18.0.0/15 is in use on this machine")


# --- the derivation ----------------------------------------------------------------------------------------


def derive_room(demo_config: Path, folder: Path, *, factor: float = RATE_FACTOR,
                rng: random.Random | None = None) -> BenchRoom:
    """The benchmark's room from ``demo_config`` (read now), its files to live in ``folder``."""
    rng = rng if rng is not None else random.Random()
    demo_config = Path(demo_config).resolve()
    try:
        document = tomllib.loads(demo_config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DemoConfigError(f"cannot read the demo's config {demo_config}: {error}") from None
    base = demo_config.parent
    old_data = (base / str(document.get("hub", {}).get("data_dir", "data"))).resolve()
    document = moved_paths(document, base, old_data, folder / "data")

    simulators: dict[str, Any] = document.get("simulators", {})
    if BENCH_RADIO not in simulators or BENCH_RADIO_ADAPTER not in document.get("adapters", {}):
        raise DemoConfigError(f"the demo has no [simulators.{BENCH_RADIO}] and [adapters.{BENCH_RADIO_ADAPTER}] "
                              "for the benchmark to play and time")
    taken: set[int] = set()
    ports: dict[int, int] = {}
    addresses: dict[str, str] = {}
    subnets: dict[str, str] = {}
    for name, table in simulators.items():
        kind = table.get("type")
        if kind not in KNOWN_SIMULATOR_TYPES:
            raise DemoConfigError(f"hub bench system does not know simulator type {kind!r} ([simulators.{name}] "
                                  "in the demo): teach hub/bench/system_config.py its ports and rates")
        if kind == "onvif":
            count, old = int(table.get("cameras", 8)), int(table.get("base_port", 18000))
            new = free_block(count, taken, rng, (socket.SOCK_STREAM,))
            ports.update({old + offset: new + offset for offset in range(count)})
            table["base_port"] = new
        elif kind == "fibre" and table.get("network", "loopback") == "loopback":
            # Node i (from 1) listens on base_port + i, UDP (its agent) and TCP (its management port).
            count, old = int(table.get("nodes", 4)), int(table.get("base_port", 16100))
            new = free_block(count + 1, taken, rng)
            ports.update({old + offset: new + offset for offset in range(1, count + 1)})
            table["base_port"] = new
        elif kind == "fibre":
            old_subnet = ipaddress.IPv4Network(table.get("subnet", str(DEMO_SUBNET)))
            new_subnet = free_subnet(rng)
            subnets[str(old_subnet)] = str(new_subnet)
            shift = int(new_subnet.network_address) - int(old_subnet.network_address)
            addresses.update({str(host): str(host + shift) for host in old_subnet.hosts()})
            table["subnet"] = str(new_subnet)
            table["netns_prefix"] = NETNS_PREFIX
        elif kind == "police_peer":
            old, new = int(table.get("port", 18443)), free_block(1, taken, rng, (socket.SOCK_STREAM,))
            ports[old] = new
            table["port"] = new
        # shopwatch: a pseudo-terminal at a path in the data folder, moved above.
    adapters = {name: readdressed(table, ports, addresses) for name, table in document.get("adapters", {}).items()}
    rates = speed_up(document, factor)
    web_port = free_block(1, taken, rng, (socket.SOCK_STREAM,))

    hub = {key: value for key, value in document.items() if key not in ("simulators", "scenario")}
    hub["adapters"] = adapters
    hub_section = dict(hub.get("hub", {}))
    hub_section["data_dir"] = str(folder / "hub-data")
    hub["hub"] = hub_section
    hub["logging"] = {**hub.get("logging", {}), "format": "json"}
    # A long run must not see its stream closed by an idle session.
    hub["web"] = {**hub.get("web", {}), "listen": f"127.0.0.1:{web_port}", "enabled": True,
                  "session_idle_minutes": 1440, "session_max_hours": 168}

    far_ends = {
        "hub": {"name": "Bench simulators", "data_dir": str(folder / "simulators-data"),
                "shutdown_grace_s": hub_section.get("shutdown_grace_s", 5),
                **({"timezone": hub_section["timezone"]} if "timezone" in hub_section else {})},
        "logging": {"level": hub["logging"].get("level", "info"), "format": "json"},
        "web": {"enabled": False},
        "simulators": {name: table for name, table in simulators.items() if name != BENCH_RADIO},
    }
    if document.get("scenario"):
        far_ends["scenario"] = document["scenario"]
    return BenchRoom(hub=hub, simulators=far_ends, web_port=web_port, radio=simulators[BENCH_RADIO], ports=ports,
                     subnets=subnets, rates=rates, factor=factor, demo_config=demo_config)


def speed_up(document: dict[str, Any], factor: float) -> dict[str, dict[str, Any]]:
    """Make what the outside world does in ``document`` ``factor`` times as fast, in place; what changed.

    Rates are multiplied and periods divided (a period of 0, "never", stays 0). The evening's ``speed`` is
    multiplied, which brings each scene ``factor`` times sooner; as in ``hub demo``, a cue's ``for_s`` is not
    (a node the script takes down for 90 s is down for 90 s): a fault shortened tenfold would be over before
    the hub's own probes, which are not sped up, could see it (the ONVIF adapter calls a camera offline after
    three failed attempts at least 5 s apart), and the six cameras behind the failed node would never join
    its incident. The hub's own settings (probe intervals, time-outs, escalation delays) are not touched:
    they are what is being measured.
    """
    changed: dict[str, dict[str, Any]] = {}

    def scale(table: dict[str, Any], key: str, where: str, default: float | None, *, faster: bool) -> None:
        demo = table.get(key, default)
        if demo is None:
            return
        bench = demo * factor if faster else demo / factor
        bench = round(bench, 6)
        table[key] = bench
        changed[f"{where}.{key}"] = {"demo": demo, "bench": bench}

    for name, table in document.get("simulators", {}).items():
        where = f"simulators.{name}"
        kind = table.get("type")
        if kind == "onvif":
            scale(table, "event_rate", where, 0.0, faster=True)
        elif kind == "fibre":
            scale(table, "time_scale", where, 1.0, faster=True)
            scale(table, "repeat_s", where, None, faster=False)
            for index, fault in enumerate(table.get("faults", [])):
                scale(fault, "at_s", f"{where}.faults[{index}]", None, faster=False)
                scale(fault, "for_s", f"{where}.faults[{index}]", None, faster=False)
        elif kind == "police_peer":
            scale(table, "answer_delay_s", where, 20.0, faster=False)
            scale(table, "request_every_s", where, 0.0, faster=False)
        elif kind == "shopwatch":
            if table.get("scenario", True):
                scale(table, "period_s", where, 30.0, faster=False)
            else:
                changed[f"{where}.scenario"] = {"demo": False, "bench": False,
                                                "note": "its own handsets are off: it speaks only in the script"}
    scenario = document.get("scenario")
    if scenario:
        scale(scenario, "speed", "scenario", 1.0, faster=True)
    return changed


def moved_paths(value: Any, base: Path, old_data: Path, new_data: Path) -> Any:
    """``value`` with every path into the demo's data folder (relative to ``base``) moved to ``new_data``."""
    if isinstance(value, dict):
        return {key: moved_paths(item, base, old_data, new_data) for key, item in value.items()}
    if isinstance(value, list):
        return [moved_paths(item, base, old_data, new_data) for item in value]
    if isinstance(value, str) and "/" in value and "://" not in value:
        target = (base / value).resolve()
        if target == old_data or old_data in target.parents:
            return str(new_data / target.relative_to(old_data))
    return value


def readdressed(value: Any, ports: dict[int, int], addresses: dict[str, str], key: str = "") -> Any:
    """An adapter's table with the simulators' ports and addresses replaced by the run's."""
    if isinstance(value, dict):
        return {name: readdressed(item, ports, addresses, name) for name, item in value.items()}
    if isinstance(value, list):
        return [readdressed(item, ports, addresses, key) for item in value]
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


def file_references(value: Any) -> list[str]:
    """Every ``{ file = "PATH" }`` secret reference in a TOML document."""
    if isinstance(value, dict):
        if value.keys() == {"file"} and isinstance(value["file"], str):
            return [value["file"]]
        return [found for item in value.values() for found in file_references(item)]
    if isinstance(value, list):
        return [found for item in value for found in file_references(item)]
    return []


def write_room(room: BenchRoom, folder: Path) -> None:
    """Write both configurations into ``folder``, with a made-up value (owner-only) for each secret file in the
    run's data folder, as ``hub demo`` makes the demo's at its first run."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for reference in {*file_references(room.hub), *file_references(room.simulators)}:
        target = Path(reference)
        if data in target.parents and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(secrets.token_urlsafe(12))
            target.chmod(0o600)
    (folder / "hub.toml").write_text(room.hub_toml())
    (folder / "simulators.toml").write_text(room.simulators_toml())


# --- TOML out ----------------------------------------------------------------------------------------------


def to_toml(document: dict[str, Any]) -> str:
    """``document`` (``tomllib``'s shape) as TOML: tables as ``[a.b]``, arrays of tables as ``[[a.b]]``."""
    lines: list[str] = []
    _table(document, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(table: dict[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    def nested(value: Any) -> bool:
        if isinstance(value, dict):
            # A small flat table reads best inline: { file = "..." }, { delivery = "silent" }.
            flat = not any(isinstance(item, (dict, list)) for item in value.values())
            return not (flat and len(_value(value)) <= 100)
        return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)

    for key, value in table.items():
        if not nested(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict) and nested(value):
            header = ".".join(_key(part) for part in (*path, key))
            lines.extend(("", f"[{header}]"))
            _table(value, (*path, key), lines)
        elif nested(value):
            header = ".".join(_key(part) for part in (*path, key))
            for item in value:
                lines.extend(("", f"[[{header}]]"))
                _table(item, (*path, key), lines)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(key)} = {_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
