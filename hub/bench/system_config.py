"""The configurations ``hub bench system`` runs: the demo's room with its simulators at ten times the demo's rates.

Two files in one temporary folder. ``simulators.toml`` is a hub with no adapters and no web server that only
hosts the simulators (the ONVIF cameras, the fibre nodes, the force end, the Pubwatch base radio), so that
the far ends' CPU is not counted as the hub's. ``hub.toml`` is the room: every adapter of the demo, its
incident rules and map, the console; its Shopwatch radio is played by the benchmark itself.

The room and the rates are the demo's (config/demo.toml as it stood when the benchmark was written, before
issue 8's longer demo); ``DEMO_RATES`` keeps those figures and ``rates()`` says what the benchmark used. The
hub's own settings (probe intervals, escalation delays, time-outs) are the demo's, unchanged: only what
the outside world does is sped up. Ports are free ones found at run time.
"""

from __future__ import annotations

import random
import secrets
import socket
from pathlib import Path
from typing import Any

from attrs import frozen

#: How much faster than the demo the benchmark's world is.
RATE_FACTOR = 10.0

#: The demo's figures (config/demo.toml) the benchmark multiplies.
DEMO_RATES = {
    "shopwatch_radio_period_s": 40.0,
    "pubwatch_radio_period_s": 55.0,
    "camera_events_per_s": 0.3,
    "police_request_every_s": 90.0,
    "police_answer_delay_s": 20.0,
    "fibre_round_s": 600.0,
    "fibre_time_scale": 1440.0,
}

#: The demo's fibre fault script, as (node, kind, at_s, for_s, extra TOML) in the demo's seconds.
DEMO_FIBRE_FAULTS = (
    ("node-03", "down", 120.0, 90.0, ""),
    ("node-02", "rx_decline", 30.0, 540.0, ", db_per_day = 0.6"),
)

#: The demo's cameras: number -> (name, site, latitude, longitude, fibre node); the simulator plays them in order.
CAMERAS = (
    ("17", "Market Place north", "Market Place", 53.2353, -1.4214, "node-01"),
    ("23", "Knifesmithgate", None, 53.2362, -1.4237, "node-02"),
    ("24", "Knifesmithgate / Holywell St", None, 53.2365, -1.4241, "node-02"),
    ("31", "Glumangate", None, 53.2372, -1.4250, "node-03"),
    ("35", "West Bars", None, 53.2347, -1.4283, "node-04"),
    ("36", "West Bars roundabout", None, 53.2345, -1.4290, "node-04"),
    ("38", "Saltergate", None, 53.2379, -1.4220, "node-03"),
    ("42", "High Street east", "Market Place", 53.2355, -1.4226, "node-01"),
    ("43", "High Street west", None, 53.2354, -1.4233, "node-01"),
)

#: The demo's fibre nodes: name -> (cabinet, upstream, cameras, latitude, longitude).
FIBRE_NODES = (
    ("node-01", "Market Place cabinet", None, ("17", "42", "43"), 53.2357, -1.4222),
    ("node-02", "Knifesmithgate cabinet", "node-01", ("23", "24"), 53.2364, -1.4236),
    ("node-03", "Saltergate cabinet", "node-02", ("31", "38"), 53.2375, -1.4240),
    ("node-04", "West Bars cabinet", "node-03", ("35", "36"), 53.2349, -1.4280),
)

#: The Shopwatch handsets the benchmark plays (the demo's), and the status codes they press.
SHOPWATCH_UNITS = ("1001", "1002", "1003", "1099")
SHOPWATCH_STATUS_CODES = ("01", "02", "0A")

#: Files the two configurations share: made up here, owner-only, in the run's folder.
SECRET_FILES = ("camera-password", "fibre-auth-password", "fibre-priv-password")


@frozen
class BenchPorts:
    """The loopback ports one run uses: the console, the force end, and the first of each fleet's block."""

    web: int
    police: int
    camera_base: int  # camera i (from 0) on camera_base + i
    fibre_base: int  # node i (from 1) on fibre_base + i, UDP and TCP


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_block(count: int, taken: set[int], rng: random.Random) -> int:
    """The first of ``count`` consecutive loopback ports free for TCP and UDP (and not in ``taken``)."""
    for _attempt in range(200):
        first = rng.randrange(20_000, 60_000 - count)
        block = range(first, first + count)
        if not taken.intersection(block) and all(_free(port) for port in block):
            taken.update(block)
            return first
    raise RuntimeError(f"no {count} consecutive free loopback ports found")


def find_ports(rng: random.Random | None = None) -> BenchPorts:
    rng = rng if rng is not None else random.Random()
    taken: set[int] = set()
    web = free_block(1, taken, rng)
    police = free_block(1, taken, rng)
    cameras = free_block(len(CAMERAS), taken, rng)
    fibre = free_block(len(FIBRE_NODES) + 1, taken, rng)
    return BenchPorts(web=web, police=police, camera_base=cameras, fibre_base=fibre)


def rates(factor: float = RATE_FACTOR, radio_period_s: float | None = None) -> dict[str, Any]:
    """The demo's figures beside the benchmark's, for the JSON (``radio_period_s``: the bench's own radio)."""
    shown: dict[str, Any] = {"factor": factor, "demo_config": "config/demo.toml before issue 8 (9 cameras)"}
    for key, demo in DEMO_RATES.items():
        faster = demo * factor if key in ("camera_events_per_s", "fibre_time_scale") else demo / factor
        shown[key] = {"demo": demo, "bench": round(faster, 3)}
    if radio_period_s is not None:
        shown["shopwatch_radio_period_s"]["bench"] = radio_period_s
    shown["shopwatch_radio_period_s"]["played_by"] = "the benchmark, on a pseudo-terminal"
    shown["fibre_faults"] = [
        {"node": node, "kind": kind, "at_s": round(at_s / factor, 3), "for_s": round(for_s / factor, 3)}
        for node, kind, at_s, for_s, _extra in DEMO_FIBRE_FAULTS
    ]
    shown["unchanged"] = "the hub's own settings: probe intervals, escalation delays, time-outs"
    return shown


def write_secrets(folder: Path) -> None:
    for name in SECRET_FILES:
        path = folder / name
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)


def _usm(folder: Path) -> str:
    return (f'{{ user = "hub", auth_password = {{ file = "{folder}/fibre-auth-password" }}, '
            f'priv_password = {{ file = "{folder}/fibre-priv-password" }} }}')


def simulators_toml(folder: Path, ports: BenchPorts, factor: float = RATE_FACTOR) -> str:
    """The far ends, in a hub of their own: cameras, fibre nodes, the force end, the Pubwatch base radio."""
    faults = ",\n".join(
        f'  {{ node = "{node}", kind = "{kind}", at_s = {at_s / factor:g}, for_s = {for_s / factor:g}{extra} }}'
        for node, kind, at_s, for_s, extra in DEMO_FIBRE_FAULTS
    )
    return f"""\
# hub bench system: the simulators, apart from the hub so that their CPU is not counted as the hub's.
[hub]
name = "Bench simulators"
data_dir = "{folder}/simulators-data"
shutdown_grace_s = 5

[logging]
level = "info"
format = "json"

[web]
enabled = false

[simulators.pubwatch_radio]
type = "shopwatch"
link = "{folder}/radio-pubwatch"
dialect = "fleetsync"
period_s = {DEMO_RATES["pubwatch_radio_period_s"] / factor:g}
units = {{ "100-1001" = {{}}, "100-1002" = {{}}, "100-1003" = {{ delivery = "silent" }} }}
status_codes = ["10", "11", "12"]

[simulators.cameras]
type = "onvif"
cameras = {len(CAMERAS)}
base_port = {ports.camera_base}
username = "hub"
password = {{ file = "{folder}/camera-password" }}
event_rate = {DEMO_RATES["camera_events_per_s"] * factor:g}
seed = 7

[simulators.cameras.camera."3"]
clock_skew_s = -5400
[simulators.cameras.camera."5"]
doubled_port = true
[simulators.cameras.camera."7"]
stuck_events = true
[simulators.cameras.camera."9"]
snapshot_uri_missing = true

[simulators.fibre]
type = "fibre"
nodes = {len(FIBRE_NODES)}
base_port = {ports.fibre_base}
vendors = ["cisco", "juniper", "entity"]
repeat_s = {DEMO_RATES["fibre_round_s"] / factor:g}
time_scale = {DEMO_RATES["fibre_time_scale"] * factor:g}
faults = [
{faults},
]
usm = {_usm(folder)}

[simulators.force]
type = "police_peer"
pki_dir = "{folder}/pki"
records_dir = "{folder}/police-peer"
port = {ports.police}
force = "Demo Constabulary"
answer = "accept"
answer_delay_s = {DEMO_RATES["police_answer_delay_s"] / factor:g}
request_every_s = {DEMO_RATES["police_request_every_s"] / factor:g}
cameras = ["42", "17", "31"]
preset = "1"
"""


def _camera_tables(ports: BenchPorts) -> str:
    tables = []
    for index, (number, name, site, latitude, longitude, node) in enumerate(CAMERAS):
        site_line = f'site = "{site}"\n' if site else ""
        tables.append(
            f'[adapters.cameras.cameras."{number}"]\nname = "{name}"\nhost = "127.0.0.1"\n'
            f"port = {ports.camera_base + index}\n{site_line}latitude = {latitude}\nlongitude = {longitude}\n"
            f'fibre_node = "{node}"\n'
        )
    return "\n".join(tables)


def _fibre_tables(folder: Path, ports: BenchPorts) -> str:
    tables = []
    for index, (name, cabinet, upstream, cameras, latitude, longitude) in enumerate(FIBRE_NODES, start=1):
        upstream_line = f'upstream = "{upstream}"\n' if upstream else ""
        camera_list = ", ".join(f'"{camera}"' for camera in cameras)
        tables.append(
            f'[adapters.fibre.nodes."{name}"]\nname = "{cabinet}"\naddress = "127.0.0.1"\n{upstream_line}'
            f'probes = ["snmp"]\ncameras = [{camera_list}]\nlatitude = {latitude}\nlongitude = {longitude}\n'
            f'snmp = {{ port = {ports.fibre_base + index}, interval_s = 2, timeout_s = 0.5, retries = 0, '
            f'version = "3", usm = {_usm(folder)} }}\n'
        )
    return "\n".join(tables)


def hub_toml(folder: Path, ports: BenchPorts) -> str:
    """The room: the demo's adapters, rules and map, its Shopwatch radio on the benchmark's pseudo-terminal."""
    return f"""\
# hub bench system: the room under test, the demo's configuration with free ports.
[hub]
name = "Bench control room"
data_dir = "{folder}/hub-data"
shutdown_grace_s = 5

[logging]
level = "info"
format = "json"

[web]
listen = "127.0.0.1:{ports.web}"
# A long run must not see its stream closed by an idle session.
session_idle_minutes = 1440
session_max_hours = 168

[incidents]
[[incidents.rules]]
name = "partner reports"
topics = ["partner.report.received"]
action = "open"
join_on = ["location"]

[[incidents.rules]]
name = "radio emergencies and reports"
topics = ["shopwatch.emergency.raised", "shopwatch.report.received"]
action = "open"
join_on = ["subject"]

[[incidents.rules]]
name = "radio emergencies ended"
topics = ["shopwatch.emergency.ended"]
action = "join"
join_on = ["subject"]

[[incidents.rules]]
name = "help points and camera faults"
topics = ["onvif.input.started", "onvif.camera.offline", "onvif.camera.auth_failed", "onvif.video_loss.started"]
action = "open"
join_on = ["subject"]

[[incidents.rules]]
name = "police requests"
topics = ["police.request.received", "police.hold.created", "police.monitor.started"]
min_severity = "medium"
action = "open"
join_on = ["subject"]
category = "police request"
join_window_s = 86400

[[incidents.rules]]
name = "police request follow-ups"
topics = ["police.request.*", "police.hold.*", "police.monitor.*", "police.disclosure.*", "police.live_view.*"]
action = "join"
join_on = ["subject"]
join_window_s = 86400

[[incidents.rules]]
name = "high and critical events"
min_severity = "high"

[incidents.escalation]
critical = 60
high = 120
medium = 300
repeat_s = 60

[map]
[[map.sites]]
name = "Market Place"
lat = 53.2351
lon = -1.4216

[[map.sites]]
name = "Station Approach"
lat = 53.2376
lon = -1.4199

[adapters.shopwatch]
type = "shopwatch"
port = "{folder}/radio-shopwatch"
dialect = "ccdi"
scheme = "Shopwatch"
delivery_timeout_s = 20

[adapters.shopwatch.supervision]
restart_initial_s = 1
restart_max_s = 10
silence_timeout_s = 180

[adapters.shopwatch.members."1001"]
name = "Boots"
address = "12 High Street"
cameras = ["42", "43"]
latitude = 53.2354
longitude = -1.4229

[adapters.shopwatch.members."1002"]
name = "Market Place News"
address = "3 Market Place"
cameras = ["17"]
latitude = 53.2351
longitude = -1.4216

[adapters.shopwatch.members."1003"]
name = "Vision Express"
address = "21 Knifesmithgate"
cameras = ["23", "24"]
latitude = 53.2362
longitude = -1.4235

[adapters.shopwatch.status_codes."01"]
meaning = "Shop theft in progress"
severity = "high"

[adapters.shopwatch.status_codes."02"]
meaning = "Banned person seen"

[adapters.shopwatch.status_codes."0A"]
meaning = "Aggressive customer"
severity = "high"

[adapters.pubwatch]
type = "shopwatch"
port = "{folder}/radio-pubwatch"
dialect = "fleetsync"
scheme = "Pubwatch"
delivery_timeout_s = 20

[adapters.pubwatch.supervision]
restart_initial_s = 1
restart_max_s = 10

[adapters.pubwatch.members."100-1001"]
name = "The Rutland Arms"
address = "23 Glumangate"
cameras = ["31"]
latitude = 53.2371
longitude = -1.4248

[adapters.pubwatch.members."100-1002"]
name = "The Portland Hotel"
address = "West Bars"
cameras = ["35", "36"]
latitude = 53.2349
longitude = -1.4281

[adapters.pubwatch.members."100-1003"]
name = "The Spa Lane Vaults"
address = "Saltergate"
cameras = ["38"]
latitude = 53.2377
longitude = -1.4222

[adapters.pubwatch.status_codes."10"]
meaning = "Fight in progress"
severity = "high"

[adapters.pubwatch.status_codes."11"]
meaning = "Refused entry, group moving on"

[adapters.pubwatch.status_codes."12"]
meaning = "Drunk and incapable"

[adapters.cameras]
type = "onvif"
username = "hub"
password = {{ file = "{folder}/camera-password" }}
motion_stuck_after_s = 120
startup_spread_s = 2

{_camera_tables(ports)}
[adapters.fibre]
type = "fibre"
interval_s = 1.0
camera_grace_s = 360

[adapters.fibre.judge]
trend_window_s = 604800
trend_warn_s = 864000
trend_min_points = 8

{_fibre_tables(folder, ports)}
[[adapters.fibre.spans]]
name = "F-12 High Street duct"
a = "node-01"
b = "node-02"
length_m = 640
cores = 24

[adapters.police]
type = "police_link"
url = "wss://localhost:{ports.police}/cctv"
client_certificate = "{folder}/pki/hub-client.pem"
client_key = "{folder}/pki/hub-client.key"
ca_certificate = "{folder}/pki/ca.pem"
force = "Demo Constabulary"
sender = "cctv@demo-council.example"
sender_name = "Demo council CCTV control room"
cap_status = "Exercise"
live_view = "consent"
point_camera = "auto"
answer_timeout_s = 120

[adapters.police.auto_send]
min_severity = "critical"
topics = ["shopwatch.emergency.raised"]

[adapters.police.supervision]
restart_initial_s = 1
restart_max_s = 10
"""
