"""``hub bench system``: the room it derives from the demo, how it pairs radio frames with console events, what
it tallies of the rules, and a short real run."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from hub.api import CueRefused
from hub.bench.system_config import (
    BENCH_RADIO,
    DEMO_SUBNET,
    NETNS_PREFIX,
    DemoConfigError,
    derive_room,
    to_toml,
    write_room,
)
from hub.bench.system_radio import Frame, FrameMatcher, ScriptedRadio, StampedRadio, event_key
from hub.bench.system_watch import NO_OUTCOME, RoomWatch
from hub.cli import load

HUB = Path(sys.executable).parent / "hub"
REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "config" / "demo.toml"
SOURCE = "shopwatch.shopwatch"


def report(unit: str, *, code: str | None = None, text: str | None = None, source: str = SOURCE) -> dict:
    return {"source": source, "topic": "shopwatch.report.received",
            "payload": {"member": {"unit": unit}, "status_code": code, "text": text}}


@pytest.fixture
def room(tmp_path):
    derived = derive_room(DEMO, tmp_path)
    write_room(derived, tmp_path)
    return derived


# --- the room, from the demo -------------------------------------------------------------------------------


def test_the_room_is_the_demos_adapters_and_rules_exactly_with_its_simulators_apart(room, tmp_path):
    """hub.toml has every adapter, rule and window of the demo; simulators.toml its far ends and its evening."""
    demo, _host = load(DEMO, read_secrets=False)
    hub, _host = load(tmp_path / "hub.toml")
    far_ends, _host = load(tmp_path / "simulators.toml")

    assert hub.incidents == demo.incidents
    assert hub.map == demo.map and hub.hub.timezone == demo.hub.timezone
    assert [(a.name, a.type, a.only_when) for a in hub.adapters] == [
        (a.name, a.type, a.only_when) for a in demo.adapters]
    assert not hub.simulators and not hub.scenario.steps
    assert not far_ends.adapters and not far_ends.web.enabled
    assert [s.name for s in far_ends.simulators] == [s.name for s in demo.simulators if s.name != BENCH_RADIO]
    assert [step.say for step in far_ends.scenario.steps] == [step.say for step in demo.scenario.steps]
    cameras = next(a for a in hub.adapters if a.type == "onvif").settings
    assert len(cameras.cameras) == 12


def test_the_simulators_and_the_evening_run_ten_times_as_fast_and_the_hubs_settings_do_not(room):
    """Rates are multiplied, periods divided, "never" stays never, the evening's speed too; the hub's figures stay."""
    demo = tomllib.loads(DEMO.read_text())
    simulators = room.simulators["simulators"]

    assert simulators["cameras"]["event_rate"] == demo["simulators"]["cameras"]["event_rate"] * 10
    assert simulators["force"]["answer_delay_s"] == demo["simulators"]["force"]["answer_delay_s"] / 10
    assert simulators["force"]["request_every_s"] == 0
    assert simulators["fibre"]["repeat_s"] == demo["simulators"]["fibre"]["repeat_s"] / 10
    assert room.scenario["speed"] == demo["scenario"]["speed"] * 10
    assert room.scenario["repeat_s"] == demo["scenario"]["repeat_s"]  # divided by speed when played
    # As `hub demo` plays a faster evening: scenes come sooner, a fault lasts as long (the hub must see it).
    cues = [step.get("cues") for step in room.scenario["steps"]]
    assert cues == [step.get("cues") for step in demo["scenario"]["steps"]]
    assert room.rates["simulators.cameras.event_rate"] == {"demo": 0.05, "bench": 0.5}
    assert room.hub["adapters"]["fibre"]["interval_s"] == demo["adapters"]["fibre"]["interval_s"]
    assert room.hub["incidents"] == demo["incidents"]


def test_the_runs_ports_paths_and_fibre_ring_never_meet_the_demos(room, tmp_path):
    """Free ports for every simulator (the adapters pointed at them), paths in the run's folder, a ring of its own."""
    text = (tmp_path / "hub.toml").read_text() + (tmp_path / "simulators.toml").read_text()
    hub = room.hub["adapters"]

    assert "data/demo" not in text and "18443" not in text and "198.18.8." not in text
    camera_ports = [camera["port"] for camera in hub["cameras"]["cameras"].values()]
    assert camera_ports == [room.ports[18101 + i] for i in range(12)]
    assert hub["police"]["url"] == f"wss://localhost:{room.ports[18443]}/cctv"
    assert hub["fibre"]["nodes"]["node-01"]["snmp"]["port"] == room.ports[16101]
    ring = ipaddress.IPv4Network(room.simulators["simulators"]["fibre_ns"]["subnet"])
    assert ring != DEMO_SUBNET and ring.subnet_of(ipaddress.IPv4Network("198.18.0.0/15"))
    assert hub["fibre_ns"]["nodes"]["node-01"]["address"] == str(ring.network_address + 2)
    assert room.simulators["simulators"]["fibre_ns"]["netns_prefix"] == NETNS_PREFIX
    assert room.radio["link"] == hub["shopwatch"]["port"] == str(tmp_path / "data" / "radio-shopwatch")
    assert (tmp_path / "data" / "camera-password").stat().st_mode & 0o077 == 0
    used = [room.web_port, *room.ports.values()]
    assert len(used) == len(set(used))


def test_a_simulator_type_the_benchmark_does_not_know_is_a_clear_error(tmp_path):
    """A new kind of simulator in the demo is named, not run on the demo's own ports."""
    demo = tmp_path / "demo.toml"
    demo.write_text('[simulators.shopwatch_radio]\ntype = "shopwatch"\nlink = "radio"\n'
                    '[simulators.bus_lane]\ntype = "anpr"\n[adapters.shopwatch]\ntype = "shopwatch"\n')

    with pytest.raises(DemoConfigError, match=r"simulator type 'anpr' \(\[simulators.bus_lane\]"):
        derive_room(demo, tmp_path / "run")


def test_toml_written_reads_back_as_the_same_document():
    """Tables, arrays of tables, inline tables, quoted keys and times survive the round trip."""
    document = {
        "top": 1,
        "hub": {"name": "Room \"A\"", "ratio": 0.5, "on": True},
        "adapters": {"x": {"cameras": {"17": {"port": 1}, "a b": {}}, "usm": {"auth": {"file": "/p"}}}},
        "incidents": {"rules": [{"name": "r", "sop": ["one", "two"], "move": {"preset": "P", "count": 1}}],
                      "maintenance": [{"starts": datetime.datetime(2026, 5, 1, 2, tzinfo=datetime.timezone.utc)}]},
    }

    assert tomllib.loads(to_toml(document)) == document


# --- pairing frames with events ----------------------------------------------------------------------------


def test_an_event_is_paired_with_the_oldest_frame_waiting_for_the_same_key():
    """Two statuses of one unit and code: the first event answers the first frame."""
    matcher = FrameMatcher(SOURCE)
    first, second = Frame(1, "status", 100), Frame(2, "status", 200)
    key = ("shopwatch.report.received", "1001", "status", "0A")
    matcher.expect(key, first)
    matcher.expect(key, second)

    assert matcher.seen(report("1001", code="0A"), 1_000) is first
    assert first.seen_ns == 1_000 and second.seen_ns is None
    assert matcher.outstanding == 1
    assert matcher.latencies_ms() == [(1_000 - 100) / 1e6]


def test_events_of_other_sources_and_unwaited_keys_are_not_paired():
    """Another scheme's report is ignored; an unexpected one of the bench's source is counted."""
    matcher = FrameMatcher(SOURCE)
    matcher.expect(("shopwatch.report.received", "1001", "text", "hello #1"), Frame(1, "text", 0))

    assert matcher.seen(report("1001", text="hello #1", source="shopwatch.pubwatch"), 5) is None
    assert matcher.seen(report("1002", text="hello #1"), 5) is None
    assert matcher.unexpected == 1 and matcher.outstanding == 1


def test_event_keys_tell_statuses_texts_and_emergencies_apart():
    """A report keys on its code or its text; an emergency and its end on the unit."""
    assert event_key(report("1001", code="02")) == ("shopwatch.report.received", "1001", "status", "02")
    assert event_key(report("1001", text="x #3")) == ("shopwatch.report.received", "1001", "text", "x #3")
    raised = {"topic": "shopwatch.emergency.raised", "payload": {"member": {"unit": "1003"}}}
    assert event_key(raised) == ("shopwatch.emergency.raised", "1003")
    assert event_key({"topic": "onvif.motion.started", "payload": {}}) is None


class FakeLink:
    dropped_bytes = 0


class FakeBaseRadio:
    def __init__(self) -> None:
        self.emergencies: set[str] = set()
        self.lost_sdms = 0


class FakePtyRadio:
    """Records what the stamped radio passes on, as a PtyRadio would write it."""

    def __init__(self) -> None:
        self.link = FakeLink()
        self.radio = FakeBaseRadio()
        self.said: list[tuple] = []

    def status(self, unit: str, code: str) -> None:
        self.said.append(("status", unit, code))

    def text(self, unit: str, text: str) -> None:
        self.said.append(("text", unit, text))

    def emergency(self, unit: str) -> None:
        self.radio.emergencies.add(unit)
        self.said.append(("emergency", unit))

    def end_emergency(self) -> None:
        self.radio.emergencies.clear()
        self.said.append(("end",))


def test_the_stamped_radio_numbers_texts_and_expects_one_event_per_unit_ending_its_emergency():
    """Texts carry their frame's number; an emergency's end waits for an event per unit that was in one."""
    radio = FakePtyRadio()
    matcher = FrameMatcher(SOURCE)
    stamped = StampedRadio(radio, matcher)

    stamped.text("1001", "Shoplifter, red coat, running")
    stamped.emergency("1002")
    stamped.emergency("1002")  # already in emergency: nothing is sent
    stamped.end_emergency()

    assert radio.said == [("text", "1001", "Shoplifter, red coat, #1"), ("emergency", "1002"), ("end",)]
    assert [frame.kind for frame in matcher.frames] == ["text", "emergency", "emergency_end"]
    assert matcher.seen({"source": SOURCE, "topic": "shopwatch.emergency.ended",
                         "payload": {"member": {"unit": "1002"}}}, 9) is matcher.frames[2]


def test_a_text_the_radio_could_not_send_is_not_waited_for():
    """A radio still holding the last text drops the next (as a real one does): counted, not expected."""
    radio = FakePtyRadio()
    matcher = FrameMatcher(SOURCE)
    stamped = StampedRadio(radio, matcher)
    radio.text = lambda unit, text: setattr(radio.radio, "lost_sdms", radio.radio.lost_sdms + 1)

    stamped.text("1001", "Banned male back in store")

    assert stamped.not_sent == 1 and matcher.frames == []



def test_the_scripts_cues_to_the_radio_are_timed_as_scripted_frames():
    """A scripted status is a frame of kind "scripted status"; a scripted text keeps its words."""
    radio = FakePtyRadio()
    matcher = FrameMatcher(SOURCE)
    scripted = ScriptedRadio(StampedRadio(radio, matcher), ["1001", "1002"])

    scripted.cue("status", {"unit": "1001", "code": "0a"})
    scripted.cue("text", {"unit": "1002", "text": "Shoplifter, red coat"})

    assert radio.said == [("status", "1001", "0A"), ("text", "1002", "Shoplifter, red coat")]
    assert [frame.kind for frame in matcher.frames] == ["scripted status", "scripted text"]
    assert matcher.seen(report("1002", text="Shoplifter, red coat"), 7) is matcher.frames[1]
    assert scripted.played == ["status", "text"]


def test_a_cue_the_radio_cannot_play_is_refused_and_sends_nothing():
    """A unit it does not play, a code it cannot send, an end of emergency on FleetSync: CueRefused, no frame."""
    radio = FakePtyRadio()
    matcher = FrameMatcher(SOURCE)
    scripted = ScriptedRadio(StampedRadio(radio, matcher), ["1001"])
    fleetsync = ScriptedRadio(StampedRadio(FakePtyRadio(), FrameMatcher(SOURCE)), ["100-1001"], "fleetsync")

    with pytest.raises(CueRefused, match="not one of the radio's handsets"):
        scripted.cue("status", {"unit": "9999", "code": "01"})
    with pytest.raises(CueRefused, match="not one this radio can send"):
        scripted.cue("status", {"unit": "1001", "code": "FF"})
    with pytest.raises(CueRefused, match="FleetSync"):
        fleetsync.cue("end_emergency", {})

    assert radio.said == [] and matcher.frames == [] and scripted.played == []


# --- what the rules did ------------------------------------------------------------------------------------


def incident(topic: str, rule: str, *, actions: str | None = None, category: str | None = None) -> dict:
    detail = {"rule": rule, **({"actions": actions} if actions else {})}
    return {"topic": topic, "payload": {"detail": detail, "incident": {"category": category}}}


def command(event_id: str, requested_by: str, verb: str, adapter: str) -> dict:
    return {"id": event_id, "topic": f"command.x.{verb}", "incident_id": "INC-1",
            "payload": {"requested_by": requested_by, "verb": verb, "adapter": adapter}}


def outcome(command_id: str, kind: str) -> dict:
    return {"topic": f"onvif.command.{kind}", "payload": {"command_id": command_id, "outcome": kind}}


def test_the_watch_tallies_incidents_and_the_rules_commands_with_their_outcomes():
    """Incidents by rule and category, each rule's commands by adapter and verb, outcomes even after counting."""
    watch = RoomWatch()
    watch.seen(incident("incident.opened", "pub emergency", category="stale"))  # before the window
    watch.counting = True
    watch.seen(incident("incident.opened", "pub emergency", actions="pub emergency", category="pub emergency"))
    watch.seen(incident("incident.event.joined", "radio reports"))
    watch.seen(command("c1", "rule:pub emergency", "goto_preset", "onvif.cameras"))
    watch.seen(command("c2", "rule:pub emergency", "broadcast", "shopwatch.pubwatch"))
    watch.seen(command("c3", "user:olive", "goto_preset", "onvif.cameras"))  # an operator's, not a rule's
    watch.seen({"topic": "rule.action.skipped",
                "payload": {"rule": "shop emergency", "action": "move_cameras", "reason": "no camera"}})
    watch.seen(outcome("c1", "delivered"))
    watch.counting = False
    watch.seen(outcome("c1", "failed"))  # a second answer to one command does not change the first

    assert watch.incidents() == {"opened": 1, "opened_by_rule": {"pub emergency": 1},
                                 "opened_by_category": {"pub emergency": 1}, "events_joined": 1, "escalated": 0}
    actions = watch.rule_actions()
    assert actions["commands_requested"] == 2
    assert actions["outcomes"] == {"delivered": 1, NO_OUTCOME: 1}
    assert actions["by_rule"]["pub emergency"] == {"acted": 1, "commands": {
        "onvif.cameras goto_preset": {"requested": 1, "outcomes": {"delivered": 1}},
        "shopwatch.pubwatch broadcast": {"requested": 1, "outcomes": {NO_OUTCOME: 1}}}}
    assert actions["skipped"] == [{"rule": "shop emergency", "action": "move_cameras", "reason": "no camera"}]


# --- a real run -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hub_bench_system_runs_the_demos_room_and_evening_and_reports_one_json_object(tmp_path):
    """A few seconds at a hundred times the pace: every adapter running, every frame (the script's too) paired."""
    finished = subprocess.run(
        [str(HUB), "bench", "system", "--json", "--seconds", "5", "--factor", "100", "--warmup", "1"],
        capture_output=True, text=True, timeout=110, check=False, env={**os.environ, "TMPDIR": str(tmp_path)},
        cwd=REPO,
    )
    assert finished.returncode == 0, finished.stderr
    (line,) = finished.stdout.strip().splitlines()
    result = json.loads(line)

    assert result["goal"]["latency_p99_ms_at_most"] == 50.0
    assert isinstance(result["goal_met"], bool)
    fibre = "fibre.fibre_ns" if os.geteuid() == 0 else "fibre.fibre"
    assert set(result["adapters"]) == {
        "shopwatch.shopwatch", "shopwatch.pubwatch", "onvif.cameras", fibre, "police_link.police"}
    assert result["all_adapters_running"] is True
    assert result["room"]["cameras"] == 12 and result["room"]["simulators_skipped"]
    assert result["frames_sent"] > 0
    assert result["frames_matched"] == result["frames_sent"] == result["latency_ms"]["samples"]
    assert result["frames_scripted"] == {"sent": 1, "matched": 1}  # Boots' status 01, from the script
    assert result["unexpected_radio_events"] == 0
    for key in ("p50", "p90", "p99", "max"):
        assert result["latency_ms"][key] >= 0
    assert result["scenario"]["steps_played"] >= 1 and result["scenario"]["problems"] == []
    assert result["scenario"]["cues_played_on_bench_radio"] == ["status"]
    assert "shop theft" in result["incidents"]["opened_by_rule"]
    pub = result["rule_actions"]["by_rule"]["pub emergency"]["commands"]
    assert set(pub) == {"onvif.cameras goto_preset", "shopwatch.pubwatch broadcast"}
    assert result["hub"]["cpu_seconds"] >= 0 and result["hub"]["peak_rss_mib"] > 0
    assert result["hub"]["exit_code"] == 0 and result["simulators"]["exit_code"] == 0
    assert result["events"]["journaled_in_window"] >= result["frames_sent"]
    assert result["events"]["stream_disorder"] == 0
    assert result["rates"]["factor"] == 100.0 and result["rates"]["bench_radio"]["period_s"] == 0.4
    assert len(result["machine"]["load_average_before"]) == 3
    # The run's temporary folder (configs, pty link, data) is gone.
    assert list(tmp_path.iterdir()) == []


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
def test_ctrl_c_stops_every_process_the_benchmark_started_and_removes_its_folder(tmp_path):
    """Interrupted while measuring, the benchmark leaves no hub, no simulators and no files behind."""
    bench = subprocess.Popen(
        [str(HUB), "bench", "system", "--json", "--seconds", "60", "--warmup", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Both children run once the hub's log exists and the hub has been up a moment.
        while not list(tmp_path.glob("hub-bench-system-*/hub.log")) or len(_processes_mentioning(str(tmp_path))) < 2:
            assert bench.poll() is None, bench.stderr.read() if bench.stderr else ""
            assert time.monotonic() < deadline, "the benchmark never started its processes"
            time.sleep(0.2)
        time.sleep(3)
        bench.send_signal(signal.SIGINT)
        bench.wait(timeout=60)
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
            bench.wait()

    assert _processes_mentioning(str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []
