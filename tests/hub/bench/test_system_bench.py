"""``hub bench system``: the room it builds, how it pairs radio frames with console events, and a short real run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.bench.system_config import (
    CAMERAS,
    DEMO_RATES,
    find_ports,
    hub_toml,
    rates,
    simulators_toml,
    write_secrets,
)
from hub.bench.system_radio import Frame, FrameMatcher, StampedRadio, event_key
from hub.cli import load

HUB = Path(sys.executable).parent / "hub"
SOURCE = "shopwatch.shopwatch"


def report(unit: str, *, code: str | None = None, text: str | None = None, source: str = SOURCE) -> dict:
    return {"source": source, "topic": "shopwatch.report.received",
            "payload": {"member": {"unit": unit}, "status_code": code, "text": text}}


# --- the configurations --------------------------------------------------------------------------------


def test_the_generated_room_and_simulators_are_valid_configurations(tmp_path):
    """Both files load against the installed plugins: every adapter type in the room, every simulator apart."""
    ports = find_ports()
    write_secrets(tmp_path)
    (tmp_path / "simulators.toml").write_text(simulators_toml(tmp_path, ports))
    (tmp_path / "hub.toml").write_text(hub_toml(tmp_path, ports))

    room, _host = load(tmp_path / "hub.toml")
    simulators, _host = load(tmp_path / "simulators.toml")

    assert sorted(adapter.type for adapter in room.adapters) == [
        "fibre", "onvif", "police_link", "shopwatch", "shopwatch"]
    assert not room.simulators
    assert sorted(simulator.type for simulator in simulators.simulators) == [
        "fibre", "onvif", "police_peer", "shopwatch"]
    assert not simulators.adapters and not simulators.web.enabled
    cameras = next(s for s in simulators.simulators if s.type == "onvif").settings
    assert cameras.event_rate == DEMO_RATES["camera_events_per_s"] * 10
    assert cameras.cameras == len(CAMERAS)


def test_the_ports_of_one_run_never_overlap():
    """The console, the force end, the camera block and the fibre block are distinct ports."""
    ports = find_ports()
    used = [ports.web, ports.police, *range(ports.camera_base, ports.camera_base + len(CAMERAS)),
            *range(ports.fibre_base, ports.fibre_base + 5)]
    assert len(used) == len(set(used))


def test_rates_put_the_demo_figures_beside_the_benchmark_ones():
    """Periods are divided by the factor, event rates multiplied, and the bench's own radio period shown."""
    shown = rates(10.0, radio_period_s=0.5)
    assert shown["police_request_every_s"] == {"demo": 90.0, "bench": 9.0}
    assert shown["camera_events_per_s"] == {"demo": 0.3, "bench": 3.0}
    assert shown["shopwatch_radio_period_s"]["bench"] == 0.5
    assert shown["fibre_faults"][0] == {"node": "node-03", "kind": "down", "at_s": 12.0, "for_s": 9.0}


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


# --- a real run -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hub_bench_system_reports_the_room_under_load_as_one_json_object(tmp_path):
    """A few seconds' run: every adapter running, every radio frame matched to its console event, the figures."""
    finished = subprocess.run(
        [str(HUB), "bench", "system", "--json", "--seconds", "3", "--radio-period", "0.3", "--warmup", "1"],
        capture_output=True, text=True, timeout=110, check=False, env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert finished.returncode == 0, finished.stderr
    (line,) = finished.stdout.strip().splitlines()
    result = json.loads(line)

    assert result["goal"]["latency_p99_ms_at_most"] == 50.0
    assert isinstance(result["goal_met"], bool)
    assert set(result["adapters"]) == {
        "shopwatch.shopwatch", "shopwatch.pubwatch", "onvif.cameras", "fibre.fibre", "police_link.police"}
    assert result["all_adapters_running"] is True
    assert result["frames_sent"] > 0
    assert result["frames_matched"] == result["frames_sent"] == result["latency_ms"]["samples"]
    assert result["unexpected_radio_events"] == 0
    for key in ("p50", "p90", "p99", "max"):
        assert result["latency_ms"][key] >= 0
    assert result["hub"]["cpu_seconds"] >= 0 and result["hub"]["peak_rss_mib"] > 0
    assert result["hub"]["exit_code"] == 0 and result["simulators"]["exit_code"] == 0
    assert result["events"]["journaled_in_window"] >= result["frames_sent"]
    assert result["events"]["stream_disorder"] == 0
    assert result["rates"]["factor"] == 10.0 and result["rates"]["shopwatch_radio_period_s"]["bench"] == 0.3
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
