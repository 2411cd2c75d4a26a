"""``hub bench onvif`` drives one simulated fleet with the hub and with onvif-zeep-async; these tests check
that it measures what it says (every event counted once, no pull point left behind, the ratio computed
from the two figures), never how fast: timings never go into assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.onvif import bench
from plugins.onvif.events import CameraAlarmStarted, CameraRef, Item

HUB = Path(sys.executable).parent / "hub"


def test_the_stamp_is_read_from_a_camera_alarms_data_items():
    payload = CameraAlarmStarted(camera=CameraRef("7"), kind="motion", topic="tns1:VideoSource/MotionAlarm",
                                 data=(Item("State", "true"), Item(bench.STAMP, "123456789")))
    assert bench._stamp_of(payload) == 123456789
    assert bench._stamp_of(CameraAlarmStarted(camera=CameraRef("7"), kind="motion", topic="t")) is None


def test_percentiles_are_taken_from_sorted_samples():
    figures = bench._latency_figures([5.0, 1.0, 3.0, 2.0, 4.0])
    assert figures == {"p50_ms": 3.0, "p99_ms": 5.0, "max_ms": 5.0}
    assert bench._latency_figures([]) == {"p50_ms": None, "p99_ms": None, "max_ms": None}


@pytest.mark.slow
def test_a_short_run_counts_every_event_for_the_hub_and_the_peer(tmp_path):
    """Both sides receive the events the fleet raised; the hub gives every pull point back; cpu_ratio is
    the hub's CPU per event over the peer's."""
    completed = subprocess.run(
        [str(HUB), "bench", "onvif", "--cameras", "4", "--rate", "20", "--seconds", "2", "--warmup", "0.5",
         "--json"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    hub, peer = result["hub"], result["peer"]
    for side in (hub, peer):
        # Events raised in the window and events received in it differ by those in flight at its edges.
        assert side["events"] > 0
        assert abs(side["events"] - side["events_raised"]) <= 5
        assert side["p50_ms"] <= side["p99_ms"] <= side["max_ms"]
    assert hub["pull_points_left_after_stop"] == 0
    assert result["cpu_ratio"] == pytest.approx(hub["cpu_s_per_1000_events"] / peer["cpu_s_per_1000_events"],
                                                rel=0.01)
    assert peer["name"].startswith("onvif-zeep-async ")
    assert result["goals"] == {"cpu_ratio_max": 0.5, "p99_ms_max": 50, "peak_rss_mb_max": 300}
