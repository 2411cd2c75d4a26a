"""``hub onvif discover``: what it prints from what answered, and the real thing over multicast in a
network namespace of its own."""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

from plugins.onvif import cli
from plugins.onvif.codec import discovery as codec
from plugins.onvif.config import CameraConfig
from plugins.onvif.discovery import DiscoveredDevice, device_match

ROOT = Path(__file__).resolve().parents[3]
HUB = ROOT / ".venv" / "bin" / "hub"
PYTHON = ROOT / ".venv" / "bin" / "python"


def found(number: int, *, host: str = "10.1.2.3", answered_from: str | None = None, **scopes: str) -> DiscoveredDevice:
    match = device_match(
        address=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        xaddrs=[f"http://{host}:{8000 + number}/onvif/device_service"],
        **scopes,
    )
    return DiscoveredDevice(match=match, answered_from=answered_from or host)


def tables(output: str) -> dict[str, dict[str, object]]:
    return tomllib.loads(output)["adapters"]["cameras"]["cameras"]


# --- What it prints ----------------------------------------------------------------------------------------


def test_the_output_is_toml_with_a_camera_table_per_device_the_config_accepts():
    """Paste-able as it is: the listing is comments, each table is a camera the adapter's config takes."""
    output = cli.format_discovery(
        [found(2, name="Market Sq", hardware="PTZ-2000"), found(1, host="10.1.2.1", location="city/Leeds")],
        where="the local network",
    )
    cameras = tables(output)
    assert cameras == {
        "1": {"name": "10.1.2.1", "host": "10.1.2.1", "port": 8001, "path": "/onvif/device_service"},
        "2": {"name": "Market Sq", "host": "10.1.2.3", "port": 8002, "path": "/onvif/device_service"},
    }
    for table in cameras.values():
        CameraConfig(**table)
    assert "#     location: city/Leeds" in output
    assert "#     hardware: PTZ-2000" in output
    assert "#     XAddr: http://10.1.2.3:8002/onvif/device_service" in output
    assert output.startswith("# 2 ONVIF device(s) answered on the local network\n")


def test_cameras_are_numbered_in_address_order_from_the_first_number_under_the_adapter_named():
    devices = [found(1, host="10.0.0.20"), found(2, host="10.0.0.3"), found(3, host="9.9.9.9")]
    output = cli.format_discovery(devices, adapter="north cams", first_number=40)
    cameras = tomllib.loads(output)["adapters"]["north cams"]["cameras"]
    assert [(number, table["host"]) for number, table in cameras.items()] == [
        ("40", "9.9.9.9"),
        ("41", "10.0.0.3"),
        ("42", "10.0.0.20"),
    ]
    assert '[adapters."north cams".cameras."40"]' in output


def test_without_a_name_scope_the_hardware_and_address_name_the_camera():
    assert tables(cli.format_discovery([found(1, hardware="PTZ-2000")]))["1"]["name"] == "PTZ-2000 at 10.1.2.3"


def test_an_https_device_gets_its_scheme():
    match = device_match(address="urn:uuid:s", xaddrs=["https://10.0.0.5/onvif/device_service"], name="S")
    table = tables(cli.format_discovery([DiscoveredDevice(match, "10.0.0.5")]))["1"]
    assert table["scheme"] == "https"
    assert table["port"] == 443


def test_the_host_is_where_the_answer_came_from_and_the_reported_one_is_noted():
    """Quirk 4: a camera reporting a NAT-side or stale address is configured where it answered from."""
    output = cli.format_discovery([found(1, host="192.168.0.64", answered_from="10.1.2.3")])
    assert tables(output)["1"]["host"] == "10.1.2.3"
    assert tables(output)["1"]["port"] == 8001
    assert "# the camera reports its address as 192.168.0.64" in output


def test_a_device_without_a_usable_xaddr_is_listed_but_gets_no_table_and_no_number():
    useless = DiscoveredDevice(codec.ProbeMatch("urn:uuid:bad", (), (), ("ftp://x/",), 1), "10.0.0.1")
    output = cli.format_discovery([useless, found(5, host="10.0.0.2")])
    assert "# urn:uuid:bad gave no usable http(s) XAddr: add it by hand" in output
    assert list(tables(output)) == ["1"]


def test_a_path_the_config_refuses_is_not_printed_as_a_table():
    odd = device_match(address="urn:uuid:q", xaddrs=["http://10.0.0.5/onvif/device_service?x=<1>"], name="Q")
    output = cli.format_discovery([DiscoveredDevice(odd, "10.0.0.5")])
    assert "which the config cannot take" in output
    assert "adapters" not in tomllib.loads(output)


def test_a_hostile_device_cannot_break_out_of_a_string_or_a_comment_or_reach_the_terminal():
    """Quotes, newlines, escape sequences and bidi overrides in scopes stay inert text."""
    evil = "x\"\n[adapters.evil]\nhost = \"6.6.6.6\"\x1b[2J\u202e"
    device = found(1, name=evil, location=evil, hardware=evil)
    output = cli.format_discovery([device])
    parsed = tomllib.loads(output)
    assert list(parsed["adapters"]) == ["cameras"]
    assert parsed["adapters"]["cameras"]["cameras"]["1"]["name"] == 'x" [adapters.evil] host = "6.6.6.6" [2J'
    assert "\x1b" not in output and "\u202e" not in output
    assert all(line.startswith(("#", "[", "name", "host", "port", "path")) or not line for line in output.splitlines())


def test_a_very_long_name_is_clipped_to_what_the_config_accepts():
    table = tables(cli.format_discovery([found(1, name="N" * 900)]))["1"]
    assert len(table["name"]) == 200
    CameraConfig(**table)


def test_nothing_found_prints_a_comment_only():
    assert cli.format_discovery([], where="10.0.0.1:3702") == "# 0 ONVIF device(s) answered on 10.0.0.1:3702\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5", 3702)),
        ("10.0.0.5:3703", ("10.0.0.5", 3703)),
        ("cam.example", ("cam.example", 3702)),
        ("[2001:db8::5]:40", ("2001:db8::5", 40)),
        ("2001:db8::5", ("2001:db8::5", 3702)),
    ],
)
def test_targets_are_host_and_optional_port(text, expected):
    assert cli.parse_target(text) == expected


@pytest.mark.parametrize("text", [":3702", "10.0.0.5:x", "10.0.0.5:70000", "[::1]:0"])
def test_bad_targets_are_refused(text):
    with pytest.raises(ValueError, match="--target"):
        cli.parse_target(text)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hub onvif")
    cli.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ("discover", "--target", "10.0.0.5:port"),
        ("discover", "--interface", "eth0"),
        ("discover", "--wait", "0"),
        ("discover", "--ttl", "0"),
        ("discover", "--first-number", "-1"),
    ],
)
def test_bad_arguments_exit_2_before_anything_is_sent(argv, capsys):
    assert cli.run(parse(*argv)) == cli.EXIT_BAD_INPUT
    assert "hub onvif discover:" in capsys.readouterr().err


def test_the_command_wants_a_sub_command():
    with pytest.raises(SystemExit):
        parse()


# --- The real thing: multicast in a network namespace ------------------------------------------------------

def _why_no_namespace() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    return None


@pytest.fixture
def namespace():
    """A network namespace with only loopback, up and routing multicast: a private LAN for one test."""
    reason = _why_no_namespace()
    if reason:
        pytest.skip(f"multicast discovery test skipped: {reason}")
    name = f"hub-disc-{uuid.uuid4().hex[:8]}"
    added = subprocess.run(["ip", "netns", "add", name], check=False, capture_output=True, text=True)
    if added.returncode != 0:
        why = added.stderr.strip()
        pytest.skip(f"multicast discovery test skipped: cannot create a network namespace ({why})")
    try:
        for command in (
            ["link", "set", "lo", "up"],
            ["link", "set", "lo", "multicast", "on"],
            ["route", "add", "224.0.0.0/4", "dev", "lo"],
        ):
            subprocess.run(["ip", "-n", name, *command], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.mark.slow
def test_hub_onvif_discover_finds_simulated_cameras_by_multicast_and_prints_their_config(namespace):
    """``hub onvif-sim --discovery`` joins 239.255.255.250:3702 for three cameras; ``hub onvif discover``, run
    in the same namespace, multicasts its Probe, lists all three and prints tables the config accepts."""
    simulator = subprocess.Popen(
        ["ip", "netns", "exec", namespace, str(HUB), "onvif-sim", "--cameras", "3", "--base-port", "18001",
         "--discovery"],
        cwd=ROOT,
        env={**os.environ, "ONVIF_PASSWORD": "discovery-test"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A simulator that never starts must fail the test, not hang it.
        readable, _, _ = select.select([simulator.stdout], [], [], 20)
        first_line = simulator.stdout.readline().strip() if readable else "(nothing within 20 s)"
        if not first_line.startswith("onvif-sim ready"):
            simulator.terminate()
            pytest.fail(f"the simulator did not start: {first_line!r} {simulator.stderr.read()}")
        for extra in ([], ["--interface", "127.0.0.1"]):
            run = subprocess.run(
                ["ip", "netns", "exec", namespace, str(HUB), "onvif", "discover", "--wait", "1.5", *extra],
                check=False,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            assert "Traceback" not in run.stderr
            assert run.stdout.startswith("# 3 ONVIF device(s) answered on the local network\n")
            assert "#     name: Simulated camera 2\n" in run.stdout
            assert "#     XAddr: http://127.0.0.1:18002/onvif/device_service\n" in run.stdout
            cameras = tables(run.stdout)
            assert cameras == {
                str(n): {
                    "name": f"Simulated camera {n}",
                    "host": "127.0.0.1",
                    "port": 18000 + n,
                    "path": "/onvif/device_service",
                }
                for n in (1, 2, 3)
            }
            for table in cameras.values():
                CameraConfig(**table)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


@pytest.mark.slow
def test_hub_onvif_discover_says_when_nothing_answers(namespace):
    run = subprocess.run(
        ["ip", "netns", "exec", namespace, str(HUB), "onvif", "discover", "--wait", "0.5"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == cli.EXIT_NOTHING_FOUND
    assert run.stdout == "# 0 ONVIF device(s) answered on the local network\n"
    assert "no ONVIF device answered within 0.5 s" in run.stderr
