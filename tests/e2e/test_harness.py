"""The end-to-end harness's copy of the demo's config: the demo as it is, only moved out of everybody's way."""

from __future__ import annotations

import ipaddress
import tomllib

import pytest

from tests.e2e.harness import DEMO_CONFIG, NETNS_PREFIX, demo_config, to_toml


@pytest.fixture(scope="module")
def demo() -> dict:
    return tomllib.loads(DEMO_CONFIG.read_text())


@pytest.fixture
def setup(tmp_path):
    return demo_config(tmp_path, evening_s=40.0)


def test_the_toml_written_reads_back_as_the_same_document(demo):
    """Writing the demo's config and reading it back gives the same tables, keys and values."""
    assert tomllib.loads(to_toml(demo)) == demo


def test_the_copy_keeps_the_demos_rules_adapters_and_script(demo, setup):
    """Rules, maintenance windows, members, cameras and the script's steps are the demo's own."""
    copy = tomllib.loads(setup.config.read_text())
    assert copy["incidents"] == demo["incidents"]
    assert copy["scenario"]["steps"] == demo["scenario"]["steps"]
    assert copy["adapters"]["pubwatch"]["members"] == demo["adapters"]["pubwatch"]["members"]
    assert sorted(copy["adapters"]) == sorted(demo["adapters"])
    assert sorted(copy["simulators"]) == sorted(demo["simulators"])


def test_every_data_path_moves_into_the_tests_folder(setup, tmp_path):
    """No path in the copy reaches the demo's own data folder; the secrets, pty links and PKI sit in tmp."""
    text = setup.config.read_text()
    assert "../data" not in text and "data/demo" not in text
    copy = tomllib.loads(text)
    assert copy["hub"]["data_dir"] == str(tmp_path / "data")
    assert copy["simulators"]["cameras"]["password"] == {"file": str(tmp_path / "data" / "camera-password")}
    assert copy["adapters"]["shopwatch"]["port"] == copy["simulators"]["shopwatch_radio"]["link"]
    assert copy["web"]["listen"] == "127.0.0.1:0"


def test_the_adapters_reach_the_simulators_on_their_new_ports(demo, setup):
    """Each camera, loopback fibre node and the police link point at the port their simulator now takes."""
    copy = tomllib.loads(setup.config.read_text())
    cameras = copy["simulators"]["cameras"]
    assert cameras["base_port"] != demo["simulators"]["cameras"]["base_port"]
    ports = sorted(camera["port"] for camera in copy["adapters"]["cameras"]["cameras"].values())
    assert ports == list(range(cameras["base_port"], cameras["base_port"] + cameras["cameras"]))
    fibre = copy["simulators"]["fibre"]
    snmp = sorted(node["snmp"]["port"] for node in copy["adapters"]["fibre"]["nodes"].values())
    assert snmp == [fibre["base_port"] + number for number in range(1, fibre["nodes"] + 1)]
    force = copy["simulators"]["force"]["port"]
    assert copy["adapters"]["police"]["url"] == f"wss://localhost:{force}/cctv"
    assert set(setup.ports) == {18443, *range(18101, 18113), *range(16101, 16105)}


def test_the_namespaced_ring_takes_a_subnet_of_its_own(demo, setup):
    """The ring in namespaces gets a /24 other than the demo's, and its adapter's nodes the same hosts in it."""
    subnet = ipaddress.IPv4Network(tomllib.loads(setup.config.read_text())["simulators"]["fibre_ns"]["subnet"])
    assert subnet != ipaddress.IPv4Network(demo["simulators"]["fibre_ns"]["subnet"])
    nodes = tomllib.loads(setup.config.read_text())["adapters"]["fibre_ns"]["nodes"]
    hosts = [ipaddress.IPv4Address(node["address"]) - int(subnet.network_address) for node in nodes.values()]
    assert [int(host) for host in hosts] == [2, 6, 10, 14]
    assert tomllib.loads(setup.config.read_text())["simulators"]["fibre_ns"]["netns_prefix"] == NETNS_PREFIX


def test_the_evening_is_played_once_at_the_speed_asked(demo, setup):
    """The script's last step comes 40 s after the start, and the evening does not start again."""
    scenario = tomllib.loads(setup.config.read_text())["scenario"]
    last = max(step["at_s"] for step in scenario["steps"])
    assert last / scenario["speed"] == pytest.approx(40.0)
    assert "repeat_s" not in scenario
    assert setup.step_at(last) == pytest.approx(40.0)


def test_a_simulator_type_the_harness_does_not_know_is_an_error(tmp_path):
    """A new kind of simulator in the demo fails the harness, naming it, rather than keep a fixed port."""
    source = tmp_path / "demo.toml"
    source.write_text(DEMO_CONFIG.read_text() + '\n[simulators.doorbells]\ntype = "doorbell"\n')
    (tmp_path / "copy").mkdir()
    with pytest.raises(AssertionError, match=r"simulator type 'doorbell' \(\[simulators.doorbells\]\)"):
        demo_config(tmp_path / "copy", evening_s=40.0, source=source)
