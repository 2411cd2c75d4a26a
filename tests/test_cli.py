"""The ``hub`` command, run as a real process: check-config, plugins, events, run and demo."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import pytest
from twisted.internet.testing import MemoryReactorClock

from hub import __version__
from hub.journal import iter_journal, open_reader
from hub.testing import BusHarness

REPO = Path(__file__).resolve().parent.parent
#: The console script installed beside this interpreter, as an operator runs it.
HUB = Path(sys.executable).parent / "hub"
#: How long any one wait on a process may take before the test gives up.
DEADLINE_S = 20.0

T = TypeVar("T")


# --- Running the command ---------------------------------------------------------------------------------


def hub(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``hub ARGS`` to completion and return what it printed."""
    return subprocess.run(
        [str(HUB), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=DEADLINE_S
    )


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


def wait_until(condition: Callable[[], T], what: str, process: subprocess.Popen[str] | None = None) -> T:
    """Poll ``condition`` until it is truthy; fail after DEADLINE_S, or at once if ``process`` exits."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"hub exited with {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {DEADLINE_S:g} s")
        time.sleep(0.05)


class HubProcess:
    """A long-running ``hub`` process: stdout lines collected as they come, killed at the end if still up."""

    def __init__(self, args: Sequence[str | Path], cwd: Path, command: Sequence[str | Path] = (HUB,)) -> None:
        self._stderr_path = cwd / f"hub-{time.monotonic_ns()}.stderr"
        self._stderr_file = open(self._stderr_path, "w")
        self.process = subprocess.Popen(
            [*map(str, command), *map(str, args)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stderr(self) -> str:
        return self._stderr_path.read_text()

    def wait_for_line(self, pattern: str) -> int:
        """The index of the first stdout line matching ``pattern``, once there is one."""

        def find() -> int | None:
            for index, line in enumerate(list(self.lines)):
                if re.search(pattern, line):
                    return index + 1  # truthy even for the first line
            return None

        return wait_until(find, f"stdout line matching {pattern!r}", self.process) - 1

    def terminate(self) -> int:
        """Send SIGTERM, as a service manager does, and return the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait_for_exit()

    def wait_for_exit(self) -> int:
        """The exit code, once the process has ended and its output is read."""
        code = self.process.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=DEADLINE_S)
        return code

    def __enter__(self) -> "HubProcess":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=DEADLINE_S)
        finally:
            self._reader.join(timeout=DEADLINE_S)
            self._stderr_file.close()
            if self.process.stdout is not None:
                self.process.stdout.close()


# --- Configurations and journals --------------------------------------------------------------------------


def write_config(folder: Path, name: str = "hub.toml", extra: str = "") -> Path:
    """A small valid configuration whose data directory is ``folder/data``."""
    path = folder / name
    path.write_text(
        '[hub]\nname = "Test room"\ndata_dir = "data"\nshutdown_grace_s = 5\n'
        '[logging]\nformat = "json"\n' + extra
    )
    return path


def journal_topics(data_dir: Path) -> list[str]:
    """The topics in a data directory's journal, in order; none while it does not exist yet."""
    path = data_dir / "journal.sqlite3"
    if not path.is_file():
        return []
    connection = open_reader(path)
    try:
        return [row.topic for row in iter_journal(connection)]
    except sqlite3.OperationalError:
        return []  # the hub is still creating the schema
    finally:
        connection.close()


def fill_journal(data_dir: Path, topics: Sequence[str]) -> None:
    """Write a journal of one event per topic into ``data_dir``, as a hub would have."""
    data_dir.mkdir(parents=True, exist_ok=True)
    harness = BusHarness(data_dir, MemoryReactorClock())
    for index, topic in enumerate(topics):
        harness.publish(harness.note(f"event {index}", topic=topic))
    harness.settle()
    harness.close()


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line parsed as JSON; fails if any line is not a JSON object."""
    parsed = [json.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(item, dict) for item in parsed)
    return parsed


# --- check-config -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["example.toml", "demo.toml"])
def test_check_config_accepts_the_shipped_configurations(tmp_path, name):
    """check-config exits 0 and says ok for each configuration file shipped in config/."""
    path = REPO / "config" / name
    if name == "demo.toml":
        # The demo's secrets are made up by `hub demo` at its first run; a fresh clone has none yet.
        from hub.cli import _make_demo_secrets

        copy = tmp_path / "config" / name
        copy.parent.mkdir()
        copy.write_text(path.read_text())
        _make_demo_secrets(copy)
        path = copy

    result = hub("check-config", path, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ok")
    assert_no_traceback(result.stderr)


def test_check_config_lists_every_problem(tmp_path):
    """check-config exits 2 and lists every problem with its file, key path, what was found and expected."""
    path = tmp_path / "bad.toml"
    path.write_text(
        "[hub]\nname = 5\nshutdown_grace_s = \"soon\"\ncolour = \"blue\"\n"
        "[journal]\nretention_days = -1\n"
        "[logging]\nlevel = \"loud\"\n"
    )

    result = hub("check-config", path, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert_no_traceback(result.stderr)
    lines = result.stderr.splitlines()
    expected = [
        ("hub.colour", "an unknown key", "one of: data_dir, name, shutdown_grace_s"),
        ("hub.name", "5 (an integer)", "a string"),
        ("hub.shutdown_grace_s", '"soon" (a string)', "a number"),
        ("journal.retention_days", "-1 (an integer)", "a number above 0"),
        ("logging.level", '"loud" (a string)', "one of: debug, info, warning, error"),
    ]
    for key_path, found, wanted in expected:
        matching = [line for line in lines if line.startswith(f"{path}: {key_path}: found ")]
        assert len(matching) == 1, (key_path, lines)
        assert f"found {found}, expected {wanted}" in matching[0]
    assert len(lines) == len(expected)


def test_check_config_refuses_a_missing_file(tmp_path):
    """check-config exits 2 naming a file that does not exist, without a traceback."""
    path = tmp_path / "nowhere.toml"

    result = hub("check-config", path, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: found no readable file")
    assert "expected a readable TOML file" in result.stderr
    assert_no_traceback(result.stderr)


def test_check_config_refuses_toml_syntax_errors(tmp_path):
    """check-config exits 2 with the line and column of a TOML syntax error, without a traceback."""
    path = tmp_path / "broken.toml"
    path.write_text('[hub]\nname = "unterminated\n')

    result = hub("check-config", path, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: line 2, column ")
    assert "found a syntax error" in result.stderr
    assert "expected valid TOML" in result.stderr
    assert_no_traceback(result.stderr)


# --- plugins ----------------------------------------------------------------------------------------------


def test_plugins_lists_the_core_plugin_with_its_version(tmp_path):
    """plugins lists hub.core with the hub's version."""
    result = hub("plugins", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert re.search(rf"^hub\.core\s+{re.escape(__version__)}\s", result.stdout, re.MULTILINE), result.stdout
    assert_no_traceback(result.stderr)


def test_plugins_shows_what_a_config_blocks(tmp_path):
    """plugins --config marks a plugin the configuration blocks."""
    config = write_config(tmp_path, extra='[plugins]\nblocked = ["nosy"]\n')

    result = hub("plugins", "--config", config, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "nosy  (blocked by config)" in result.stdout.splitlines()


# --- events -----------------------------------------------------------------------------------------------

TOPICS = ["test.note.written", "adapter.health.failed", "test.note.written", "adapter.health.running"]


def test_events_prints_one_json_object_per_line_with_its_seq(tmp_path):
    """events prints the whole journal, nothing but JSON lines, each with its seq first."""
    config = write_config(tmp_path)
    fill_journal(tmp_path / "data", TOPICS)

    result = hub("events", "--config", config, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert [event["seq"] for event in events] == [1, 2, 3, 4]
    assert [event["topic"] for event in events] == TOPICS
    assert all(next(iter(event)) == "seq" for event in events)
    assert_no_traceback(result.stderr)


def test_events_since_prints_only_later_events(tmp_path):
    """events --since N prints only the events after seq N."""
    config = write_config(tmp_path)
    fill_journal(tmp_path / "data", TOPICS)

    result = hub("events", "--config", config, "--since", "2", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert [event["seq"] for event in json_lines(result.stdout)] == [3, 4]


def test_events_topic_prints_only_matching_events(tmp_path):
    """events --topic prints only the events whose topic matches the pattern, with their own seqs."""
    config = write_config(tmp_path)
    fill_journal(tmp_path / "data", TOPICS)

    result = hub("events", "--config", config, "--topic", "adapter.health.#", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert [(event["seq"], event["topic"]) for event in events] == [
        (2, "adapter.health.failed"),
        (4, "adapter.health.running"),
    ]


def test_events_refuses_a_bad_topic_pattern(tmp_path):
    """events exits 2 with the reason when the topic pattern is malformed."""
    config = write_config(tmp_path)
    fill_journal(tmp_path / "data", TOPICS)

    result = hub("events", "--config", config, "--topic", "Adapter.#", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "'Adapter'" in result.stderr
    assert_no_traceback(result.stderr)


def test_events_without_a_journal_says_so(tmp_path):
    """events exits 2 with a clear message when the hub has never run with this configuration."""
    config = write_config(tmp_path)

    result = hub("events", "--config", config, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"hub: no journal at {tmp_path / 'data' / 'journal.sqlite3'}")
    assert "has the hub run" in result.stderr
    assert_no_traceback(result.stderr)


# --- run --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_run_starts_and_stops_cleanly_on_sigterm(tmp_path):
    """run journals hub.process.started, and on SIGTERM journals hub.process.stopping and exits 0."""
    config = write_config(tmp_path)
    data_dir = tmp_path / "data"

    with HubProcess(["run", "--config", config], cwd=tmp_path) as running:
        wait_until(lambda: "hub.process.started" in journal_topics(data_dir), "hub.process.started",
                   running.process)

        code = running.terminate()

        assert code == 0, running.stderr
        assert journal_topics(data_dir) == ["hub.process.started", "hub.process.stopping"]
        assert_no_traceback(running.stderr)
    # What the running hub journaled is what `hub events` shows.
    events = json_lines(hub("events", "--config", config, cwd=tmp_path).stdout)
    assert [event["topic"] for event in events] == ["hub.process.started", "hub.process.stopping"]


@pytest.mark.slow
def test_second_run_on_the_same_data_dir_exits_1_naming_the_other_pid(tmp_path):
    """A second run on a data directory in use exits 1 naming the running hub's pid; the first runs on."""
    config = write_config(tmp_path)
    data_dir = tmp_path / "data"

    with HubProcess(["run", "--config", config], cwd=tmp_path) as first:
        wait_until(lambda: "hub.process.started" in journal_topics(data_dir), "hub.process.started",
                   first.process)

        second = hub("run", "--config", config, cwd=tmp_path)

        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr
        assert_no_traceback(second.stderr)
        assert first.process.poll() is None
        assert journal_topics(data_dir) == ["hub.process.started"]
        assert first.terminate() == 0


#: Serves a config as `hub run` does, with one extra plugin whose hub_started waits for a file to appear.
SLOW_START_SCRIPT = """
import sys
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from hub.cli import _serve
from hub.config import load_config
from hub.hookspecs import hookimpl
from hub.plugins import make_plugin_manager

release = Path(sys.argv[2])


class WaitsForRelease:
    @hookimpl
    def hub_started(self, hub):
        print("hub_started called", flush=True)
        done = Deferred()

        def check():
            if release.exists():
                poll.stop()
                done.callback(None)

        poll = LoopingCall(check)
        poll.clock = hub.reactor
        poll.start(0.05)
        return done

    @hookimpl
    def hub_stopping(self, hub):
        print("hub_stopping called", flush=True)


host = make_plugin_manager(load_entry_points=False, extra_plugins=[(WaitsForRelease(), "waits")])
sys.exit(_serve(load_config(sys.argv[1], host.adapter_types()), host, banner=None))
"""


@pytest.mark.slow
def test_sigterm_while_a_plugin_is_still_starting_stops_the_hub_cleanly(tmp_path):
    """SIGTERM while a plugin's hub_started is pending stops the hub cleanly once the start has finished."""
    config = write_config(tmp_path)
    release = tmp_path / "release"
    script = tmp_path / "slow_start.py"
    script.write_text(SLOW_START_SCRIPT)

    with HubProcess([sys.executable, script, config, release], cwd=tmp_path, command=[]) as running:
        running.wait_for_line("^hub_started called$")
        running.process.send_signal(signal.SIGTERM)
        release.touch()

        code = running.wait_for_exit()

        assert code == 0, running.stderr
        assert "hub_stopping called" in running.lines
        assert journal_topics(tmp_path / "data") == ["hub.process.started", "hub.process.stopping"]
        assert_no_traceback(running.stderr)


# --- demo -------------------------------------------------------------------------------------------------


def free_ports(count: int, *, udp: bool = False) -> int:
    """The first of ``count`` consecutive ports free on loopback now (TCP, and UDP too if asked)."""
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    chooser = random.Random()
    for _attempt in range(200):
        first = chooser.randrange(20000, 60000 - count)
        held = []
        try:
            for port in range(first, first + count):
                for kind in kinds:
                    probe = socket.socket(socket.AF_INET, kind)
                    held.append(probe)
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in held:
                probe.close()
        return first
    raise AssertionError(f"no {count} consecutive free ports on loopback")


def demo_copy(tmp_path: Path, *, speed: float | None = None) -> Path:
    """config/demo.toml as the demo test runs it: its data in tmp_path/demo-data, the console and every
    simulator on free ports, the fibre namespaces (as root) under a name and subnet of the test's own, and
    the evening played ``speed`` times as fast when given."""
    text, replaced = re.subn(
        r"^data_dir = .*$", 'data_dir = "demo-data"', (REPO / "config" / "demo.toml").read_text(),
        flags=re.MULTILINE,
    )
    assert replaced == 1
    text, replaced = re.subn(r'^listen = .*$', 'listen = "127.0.0.1:0"', text, flags=re.MULTILINE)
    assert replaced == 1
    # The simulated radios' pseudo-terminal links, the cameras' password, the fibre nodes' SNMPv3
    # passwords, the police link's test PKI and the simulated force's records live beside the demo's data.
    text = text.replace('"../data/demo/', '"demo-data/')
    assert "../data/demo" not in text
    cameras, force, fibre = free_ports(12), free_ports(1), free_ports(5, udp=True)
    moved = {**{18101 + index: cameras + index for index in range(12)}, 18443: force,
             **{16100 + index: fibre + index for index in range(5)}}
    text, replaced = re.subn(r"\b(18101|181(0[2-9]|1[0-2])|18443|1610[0-4])\b",
                             lambda found: str(moved[int(found[0])]), text)
    # At least the fleet's base port and the adapter's twelve cameras, the force's port and address, the
    # fibre simulator's base port and the adapter's four nodes (the comments name some of them too).
    assert replaced >= 1 + 12 + 2 + 1 + 4
    # As root the fibre nodes are network namespaces: named and addressed apart from any other test's (the
    # name carries the hub's pid too, and swept_demo_namespaces removes whatever a killed hub left).
    net = random.randrange(100, 250)
    text = text.replace("198.18.8.", f"198.18.{net}.")
    text, replaced = re.subn(r'^subnet = "(.*)"$', rf'subnet = "\1"\nnetns_prefix = "{DEMO_NETNS}"', text,
                             flags=re.MULTILINE)
    assert replaced == 1
    if speed is not None:
        text, replaced = re.subn(r"^speed = .*$", f"speed = {speed:g}", text, flags=re.MULTILINE)
        assert replaced == 1
    config = tmp_path / "demo.toml"
    config.write_text(text)
    return config


#: The fibre adapter the demo runs: in network namespaces as root, on loopback ports otherwise.
DEMO_FIBRE = "fibre.fibre_ns" if os.geteuid() == 0 else "fibre.fibre"
#: The name the demo tests' fibre namespaces start with.
DEMO_NETNS = "clidemo"


@pytest.fixture
def swept_demo_namespaces() -> Any:
    """After the test, no fibre namespace of a demo hub that is gone (killed by a failing test) is left."""
    yield
    if os.geteuid() == 0:
        from plugins.dark_fibre_health.netns import sweep

        sweep(DEMO_NETNS)


@pytest.mark.slow
def test_demo_prints_its_banner_and_events_and_stops_on_sigterm(tmp_path, swept_demo_namespaces):
    """demo prints its banner and the hub.process.started line on stdout, and exits 0 on SIGTERM."""
    config = demo_copy(tmp_path)

    with HubProcess(["demo", "--config", config], cwd=tmp_path) as demo:
        # The simulators and adapters report first, so the hub's start is not event #1.
        started = demo.wait_for_line(r"#\d+\s+info\s+hub\.process\.started\s")
        banner = demo.wait_for_line(r"^Partner hub .*: demo running on ")
        console = demo.wait_for_line(r"^  console: +http://127\.0\.0\.1:\d+/$")
        login = demo.wait_for_line(r"^  log in as: +operator / \S{12,}$")
        demo.wait_for_line(r"^  adapters: +shopwatch\.shopwatch, shopwatch\.pubwatch, onvif\.cameras, "
                           + re.escape(DEMO_FIBRE) + r", police_link\.police$")
        programme = demo.wait_for_line(r"^  An evening in town, from now:$")
        demo.wait_for_line(r"^ +0:30  Boots on the High Street presses its status button 01")
        demo.wait_for_line(r"^ +5:10  The Saltergate fibre cabinet \(node-03\) fails")
        demo.wait_for_line(r"^ +and again every 10:30$")
        demo.wait_for_line(r"#\d+\s+info\s+shopwatch\.radio\.identified\s+Shopwatch base radio: TM8255")
        demo.wait_for_line(r"#\d+\s+info\s+police\.link\.connected\s")
        # Every camera and fibre node up, so that none is still reporting in while the hub stops.
        for camera in ("12", "17", "23", "24", "31", "35", "36", "37", "38", "39", "42", "43"):
            demo.wait_for_line(rf"#\d+\s+info\s+onvif\.camera\.online\s+Camera {camera} ")
        for node in ("01", "02", "03", "04"):
            demo.wait_for_line(rf"#\d+\s+info\s+fibre\.node\.up\s+Fibre node node-{node} up")

        code = demo.terminate()

        assert code == 0, demo.stderr
        assert banner < console < login < programme < started
        assert any(str(tmp_path / "demo-data" / "journal.sqlite3") in line for line in demo.lines)
        assert not any("left out" in line for line in demo.lines)  # every cue of the script can be played
        assert_no_traceback(demo.stderr)
    # A clean stop: the hub says it is stopping, then each adapter (two radios, the cameras, the fibre
    # ring, the police link) has stopped, and the police link reports no outage for its own stop.
    topics = journal_topics(tmp_path / "demo-data")
    stopping = topics.index("hub.process.stopping")
    assert topics[stopping + 1 :] == ["adapter.health.stopped"] * 5


@pytest.mark.slow
def test_demo_plays_the_scripted_evening(tmp_path, swept_demo_namespaces):
    """At five times the pace, the evening's first scenes are narrated and happen: Boots' theft status opens
    an incident with the shop-theft checklist; the Rutland Arms' emergency turns camera 31 to the pub doors,
    broadcasts to Pubwatch and offers the one-click send to police."""
    config = demo_copy(tmp_path, speed=5)

    with HubProcess(["demo", "--config", config], cwd=tmp_path) as demo:
        demo.wait_for_line(r"^ +0:06  Boots on the High Street")
        scene = demo.wait_for_line(r"^>>> An evening in town, scene 1 of 6 \(round 1, \+0:06\): Boots on the High")
        step = demo.wait_for_line(r"#\d+\s+info\s+hub\.scenario\.step\s+Scene 1 of 6: Boots on the High Street")
        report = demo.wait_for_line(r"#\d+\s+high\s+shopwatch\.report\.received\s+Shop theft in progress: Boots")
        theft = demo.wait_for_line(r"#\d+\s+high\s+incident\.opened\s+Incident \d+ opened: Shop theft in progress")
        demo.wait_for_line(r"^>>> An evening in town, scene 2 of 6 \(round 1, \+0:20\): The Rutland Arms")
        demo.wait_for_line(r"#\d+\s+critical\s+shopwatch\.emergency\.raised\s+EMERGENCY: The Rutland Arms")
        demo.wait_for_line(r"#\d+\s+info\s+command\.onvif\.goto_preset\s+Rule pub emergency asked onvif\.cameras "
                           r"to turn camera 31 to preset Pub doors")
        demo.wait_for_line(r"#\d+\s+info\s+onvif\.command\.delivered\s+goto_preset delivered: camera 31 is "
                           r"turning to preset Pub doors")
        demo.wait_for_line(r"#\d+\s+info\s+command\.shopwatch\.broadcast\s+Rule pub emergency asked "
                           r'shopwatch\.pubwatch to broadcast "Pub emergency: CCTV on it"')
        demo.wait_for_line(r"#\d+\s+info\s+shopwatch\.command\.sent\s+broadcast sent")

        code = demo.terminate()

        assert code == 0, demo.stderr
        assert scene < step < report < theft
        assert not any("left out" in line or "not played" in line for line in demo.lines)
        assert_no_traceback(demo.stderr)
    # The incidents as the console shows them: the theft with its checklist, the emergency with the police
    # offer, the rules that acted on each, and no police alert sent by itself for the pub.
    incidents = demo_incidents(tmp_path / "demo-data")
    theft, emergency = incidents["shop theft"], incidents["pub emergency"]
    assert theft["sop"][0] == "Find the shop on camera (its nearest cameras are on the incident)"
    assert len(theft["sop"]) == 4 and theft["rules"] == ["shop theft"]
    assert emergency["offers"] == ["send_to_police"] and emergency["rules"] == ["pub emergency"]
    assert emergency["escalate_after_s"] == 60
    assert "police.alert.queued" not in journal_topics(tmp_path / "demo-data")


def demo_incidents(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The demo's incidents by category: their SOP steps' texts, the offers on them, the rules that acted."""
    from hub.incidents.store import IncidentStore

    store = IncidentStore(data_dir / "journal.sqlite3")
    try:
        found = {}
        for incident in store.list(limit=100):
            found[incident.category] = {
                "sop": [step.text for step in incident.sop], "offers": list(incident.offers),
                "rules": list(incident.rules), "escalate_after_s": incident.escalate_after_s}
        return found
    finally:
        store.close()


def test_demo_makes_up_secret_files_in_its_own_data_folder_and_nowhere_else(tmp_path):
    from hub.cli import _make_demo_secrets

    config = tmp_path / "demo.toml"
    config.write_text(
        '[hub]\ndata_dir = "data"\n'
        '[adapters.cameras]\ntype = "x"\npassword = { file = "data/camera-password" }\n'
        '[simulators.fleet]\ntype = "y"\npassword = { file = "data/camera-password" }\n'
        'partners = [{ key = { file = "elsewhere/partner-key" } }]\n'
    )
    _make_demo_secrets(config)
    made = (tmp_path / "data" / "camera-password")
    first = made.read_text()
    assert len(first) >= 16
    assert made.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "elsewhere").exists()  # outside the demo's data folder: the operator's to provide
    _make_demo_secrets(config)
    assert made.read_text() == first  # a second run keeps what the first made
