"""The settings of one fibre network: an ``[adapters.NAME]`` table with ``type = "fibre"``.

The topology is configuration, because it is what the network engineer drew: the nodes (street-cabinet
switches and media converters) under ``[adapters.NAME.nodes.NODE]``, each with its management address,
how it is probed, its SNMP settings, its upstream node and the cameras hanging off it; and the spans of
fibre between nodes as ``[[adapters.NAME.spans]]``. A node's upstream link needs no span of its own: one
named ``UPSTREAM–NODE`` is assumed. The whole must be a forest (every chain of upstreams ends at a node
with none; no span closes a loop) with no camera on two nodes; ``topology.Topology.build`` checks it and
says which nodes, spans or cameras are at fault.

How a node's state is judged (hysteresis, degradation, flapping, receive-power trends) is ``[adapters.
NAME.judge]``. SNMP communities and v3 passwords are secrets (``{ file = ... }`` or ``{ env = ... }``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from attrs import field, frozen
from attrs.validators import optional

from hub.config import Expected, between, one_of
from hub.secrets import Secret

#: A node name as the engineers write it on the cabinet: "FN-07", "node-03", "hub.north".
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: A camera number as the room writes it (the ONVIF adapter's numbers): "42", "NCP-7".
_CAMERA_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_USM_USER = re.compile(r"^[\x21-\x7e]{1,32}$")

PROBE_METHODS = ("icmp", "tcp", "snmp")


def _text(limit: int) -> Any:
    def check(_instance: object, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise Expected(f"text of 1 to {limit} characters")

    return check


def _node_name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not _NODE_NAME.match(value):
        raise Expected('a node name of 1 to 64 letters, digits, ".", "_" or "-", e.g. "FN-07"')


def _optional_node_name(instance: object, attribute: object, value: object) -> None:
    if value is not None:
        _node_name(instance, attribute, value)


def _address(_instance: object, _attribute: object, value: str) -> None:
    try:
        if ipaddress.ip_address(value).version != 4:
            raise Expected('an IPv4 address or host name, e.g. "10.20.0.7" (probes are IPv4 only for now)')
        return
    except ValueError:
        pass
    if not isinstance(value, str) or not _HOST_NAME.match(value) or value.replace(".", "").isdigit():
        raise Expected('a management IPv4 address or host name alone, no port, e.g. "10.20.0.7"')


def _cameras(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    wrong = [number for number in value if not isinstance(number, str) or not _CAMERA_NUMBER.match(number)]
    if wrong:
        raise Expected(
            'camera numbers as the ONVIF adapter knows them, as strings, e.g. ["17", "23"] '
            f"(not {', '.join(repr(number) for number in wrong[:5])})"
        )
    repeated = sorted({number for number in value if value.count(number) > 1})
    if repeated:
        raise Expected(f"each camera once (listed twice: {', '.join(repeated)})")


def _probes(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if not value or any(method not in PROBE_METHODS for method in value) or len(set(value)) != len(value):
        raise Expected('one or more of "icmp", "tcp", "snmp", each once, e.g. ["icmp", "snmp"]')


def _dbm(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                  and -60.0 <= value <= 20.0):
        raise Expected("a power in dBm from -60 to 20, e.g. -14.0")


@frozen
class OpticalThresholds:
    """Optical power limits in dBm for ports whose device reports none of its own (many media converters,
    older switches). Thresholds a device does report always win: they are the optic's own."""

    low_alarm_dbm: float | None = field(default=None, validator=_dbm)
    low_warning_dbm: float | None = field(default=None, validator=_dbm)
    high_warning_dbm: float | None = field(default=None, validator=_dbm)
    high_alarm_dbm: float | None = field(default=None, validator=_dbm)

    def __attrs_post_init__(self) -> None:
        given = [value for value in (self.low_alarm_dbm, self.low_warning_dbm, self.high_warning_dbm,
                                     self.high_alarm_dbm) if value is not None]
        if given != sorted(given):
            raise Expected("low_alarm_dbm <= low_warning_dbm <= high_warning_dbm <= high_alarm_dbm")


@frozen(repr=False)
class UsmConfig:
    """An SNMPv3 user (USM). ``priv_protocol = "none"`` is authNoPriv: the readings travel in the clear,
    which a council's network policy may forbid; the default is SHA-256 with AES-128."""

    user: str = field(validator=lambda i, a, v: _usm_user(v))
    auth_password: Secret
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] = field(
        default="sha256", validator=one_of("md5", "sha", "sha224", "sha256", "sha384", "sha512")
    )
    priv_protocol: Literal["none", "aes", "aes192", "aes256"] = field(
        default="aes", validator=one_of("none", "aes", "aes192", "aes256")
    )
    priv_password: Secret | None = None
    context_name: str = field(default="", validator=lambda i, a, v: _context(v))

    def __attrs_post_init__(self) -> None:
        if (self.priv_protocol == "none") != (self.priv_password is None):
            raise Expected('priv_password with a priv_protocol, or priv_protocol = "none" and no priv_password')

    def __repr__(self) -> str:
        return f"UsmConfig(user={self.user!r}, auth={self.auth_protocol}, priv={self.priv_protocol})"


def _usm_user(value: object) -> None:
    if not isinstance(value, str) or not _USM_USER.match(value):
        raise Expected("an SNMPv3 user name of 1 to 32 printable characters without spaces")


def _context(value: object) -> None:
    if not isinstance(value, str) or len(value) > 32:
        raise Expected("an SNMPv3 context name of at most 32 characters")


def _ports(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if any(not isinstance(port, str) or not port.strip() or len(port) > 64 for port in value):
        raise Expected('interface names as the device gives them (ifName or ifDescr), e.g. ["Te1/1", "xe-0/0/1"]')


@frozen(repr=False)
class SnmpConfig:
    """How a node is read by SNMP: version ``2c`` with a community, or ``3`` with a USM user; every
    ``interval_s`` the interface table and the optical sensors are read. ``interfaces`` names the ports
    to watch (the fibre uplinks); empty watches every port that reports optical power."""

    version: Literal["2c", "3"] = field(default="3", validator=one_of("2c", "3"))
    port: int = field(default=161, validator=between(1, 65535))
    community: Secret | None = None
    usm: UsmConfig | None = None
    timeout_s: float = field(default=2.0, validator=between(0.1, 30))
    retries: int = field(default=1, validator=between(0, 5))
    interval_s: float = field(default=60.0, validator=between(1, 86400))
    max_repetitions: int = field(default=25, validator=between(1, 100))
    interfaces: tuple[str, ...] = field(default=(), validator=_ports)
    thresholds: OpticalThresholds = OpticalThresholds()

    def __attrs_post_init__(self) -> None:
        if self.version == "2c" and self.community is None:
            raise Expected('a community for SNMP v2c: community = { file = "..." }')
        if self.version == "3" and self.usm is None:
            raise Expected('a USM user for SNMP v3: [....snmp.usm] with user and auth_password')

    def __repr__(self) -> str:
        return f"SnmpConfig(version={self.version!r}, port={self.port}, interval_s={self.interval_s})"


def _at_most(other: str) -> Any:
    def check(instance: Any, _attribute: object, value: float | None) -> None:
        limit = getattr(instance, other)
        if value is not None and limit is not None and value > limit:
            raise Expected(f"a value no greater than {other} ({limit:g}), so that clearing needs a better figure")

    return check


@frozen
class JudgeConfig:
    """How a node's state is judged from its probes.

    A node is ``down`` after ``down_after`` probe rounds in a row with no answer and leaves ``down`` after
    ``up_after`` answered rounds in a row. It is ``degraded`` when the loss over the last ``loss_window``
    rounds reaches ``loss_enter_pct`` (clearing only at ``loss_clear_pct`` or below), when its round-trip
    time passes ``rtt_enter_ms`` (clearing at ``rtt_clear_ms``) or, with neither set, passes
    ``rtt_baseline_factor`` times the node's own learned baseline; and when an optical reading is past a
    warning. It is ``flapping`` when its state changes too often: over the last ``flap_window`` verdicts, a
    weighted percentage of changes at ``flap_enter_pct`` or more (clearing at ``flap_clear_pct``).
    Receive power is trended over ``trend_window_s``; a warning is raised when the trend crosses the low
    alarm within ``trend_warn_s`` (needing at least ``trend_min_points`` readings).
    """

    down_after: int = field(default=3, validator=between(1, 100))
    up_after: int = field(default=2, validator=between(1, 100))
    loss_window: int = field(default=20, validator=between(2, 1000))
    loss_enter_pct: float = field(default=20.0, validator=between(0, 100, above=True))
    loss_clear_pct: float = field(default=5.0, validator=[between(0, 100), _at_most("loss_enter_pct")])
    rtt_enter_ms: float | None = field(default=None, validator=optional(between(0, 60000, above=True)))
    rtt_clear_ms: float | None = field(default=None, validator=[optional(between(0, 60000, above=True)),
                                                                 _at_most("rtt_enter_ms")])
    rtt_baseline_factor: float = field(default=3.0, validator=between(1, 100, above=True))
    flap_window: int = field(default=21, validator=between(3, 200))
    flap_enter_pct: float = field(default=30.0, validator=between(0, 100, above=True))
    flap_clear_pct: float = field(default=15.0, validator=[between(0, 100), _at_most("flap_enter_pct")])
    trend_window_s: float = field(default=7 * 86400.0, validator=between(60, 365 * 86400))
    trend_warn_s: float = field(default=14 * 86400.0, validator=between(60, 365 * 86400))
    trend_min_points: int = field(default=12, validator=between(3, 100000))


@frozen
class NodeConfig:
    """One node: its ``address`` for management, the probes to run (``icmp``, ``tcp`` to ``tcp_port``,
    ``snmp``), its ``upstream`` node (none for a node fed straight from the head end), the ``cameras``
    on it (their numbers in the ONVIF adapter), and where it is. ``enabled = false`` keeps it on the
    map without probing it (a cabinet being rebuilt)."""

    address: str = field(validator=_address)
    upstream: str | None = field(default=None, validator=_optional_node_name)
    probes: tuple[str, ...] = field(default=("icmp",), validator=_probes)
    tcp_port: int = field(default=22, validator=between(1, 65535))
    snmp: SnmpConfig | None = None
    cameras: tuple[str, ...] = field(default=(), validator=_cameras)
    name: str | None = field(default=None, validator=optional(_text(200)))
    site: str | None = field(default=None, validator=optional(_text(200)))
    latitude: float | None = field(default=None, validator=optional(between(-90, 90)))
    longitude: float | None = field(default=None, validator=optional(between(-180, 180)))
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        if "snmp" in self.probes and self.snmp is None:
            raise Expected('an [....snmp] table for a node probed by "snmp"')
        if "icmp" in self.probes:
            try:
                ipaddress.IPv4Address(self.address)
            except ValueError:
                # The pinger never resolves names: a lookup per probe would block the reactor, and a
                # cached one would go stale unseen.
                raise Expected(f'an IPv4 address for a node probed by "icmp" (not the name {self.address!r})') from None


@frozen
class SpanConfig:
    """A span of fibre between nodes ``a`` and ``b`` (``a`` the upstream end by convention): its
    ``name`` as on the fibre records, its length and core count for the engineer going out to it."""

    name: str = field(validator=_text(100))
    a: str = field(validator=_node_name)
    b: str = field(validator=_node_name)
    length_m: float | None = field(default=None, validator=optional(between(0, 200_000)))
    cores: int | None = field(default=None, validator=optional(between(1, 1000)))


def _nodes(_instance: object, _attribute: object, value: dict[str, NodeConfig]) -> None:
    if not value:
        raise Expected('at least one node, as a table [adapters.NAME.nodes."FN-01"] with its address')
    wrong = sorted(str(name) for name in value if not isinstance(name, str) or not _NODE_NAME.match(name))
    if wrong:
        raise Expected(
            'node names of 1 to 64 letters, digits, ".", "_" or "-", e.g. "FN-07" '
            f"(not {', '.join(repr(name) for name in wrong[:5])})"
        )


def _adapters(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if any(not isinstance(name, str) or not name.strip() for name in value):
        raise Expected('adapter instance names, e.g. ["onvif.cameras"]')


@frozen
class FibreConfig:
    """A fibre network watched by one adapter instance.

    Every ``interval_s`` each enabled node gets one probe of each of its ``icmp``/``tcp`` methods, paced
    evenly over the interval in ticks of ``tick_s`` (never all nodes at once); a probe unanswered after
    ``probe_timeout_s`` has failed. ICMP uses the unprivileged datagram socket where the system allows it
    (``net.ipv4.ping_group_range``) and a raw socket otherwise (``icmp_mode`` forces one).

    When a failed node recovers, a camera behind it still offline ``camera_grace_s`` later gets an
    incident of its own. Camera health is read from the ``onvif.camera.*`` events of the adapter
    instances in ``camera_sources`` (all of them when empty).
    """

    nodes: dict[str, NodeConfig] = field(validator=_nodes)
    spans: tuple[SpanConfig, ...] = ()
    judge: JudgeConfig = JudgeConfig()
    interval_s: float = field(default=1.0, validator=between(0.1, 3600))
    probe_timeout_s: float = field(default=0.8, validator=between(0.01, 60))
    tick_s: float = field(default=0.01, validator=between(0.001, 10))
    icmp_mode: Literal["auto", "dgram", "raw"] = field(default="auto", validator=one_of("auto", "dgram", "raw"))
    camera_grace_s: float = field(default=180.0, validator=between(0, 86400))
    camera_sources: tuple[str, ...] = field(default=(), validator=_adapters)

    def __attrs_post_init__(self) -> None:
        if self.probe_timeout_s >= self.interval_s:
            # A probe still out when the next is sent would blur the rounds the judge counts.
            raise Expected(f"probe_timeout_s ({self.probe_timeout_s:g}) shorter than interval_s ({self.interval_s:g})")
        # The topology's own checks (a forest, cameras on one node) run here so a broken file is refused
        # at start-up with every node and span named, not found out at the first outage.
        from plugins.dark_fibre_health.topology import Topology, TopologyError

        try:
            Topology.build(self.nodes, self.spans)
        except TopologyError as error:
            raise Expected(str(error)) from None
