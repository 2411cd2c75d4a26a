"""``hub bench police`` queues alerts while the force end is down, drains them over real mutual TLS, times new
alerts on the idle link and measures raw round trips to the same force end; these tests check that it
measures what it says (every figure there, every alert delivered once and in order, the ratio made from its
two figures), never how fast: timings never go into assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_twisted

from plugins.police_link import bench

HUB = Path(sys.executable).parent / "hub"

FIGURES = {
    "alerts", "latency_samples", "latency_spacing_ms", "window", "journal_synchronous",
    "queue_s", "queue_rate", "queue_cpu_s", "link_state_while_queued",
    "force_start_to_link_up_s", "drain_s", "drain_rate", "drain_cpu_s", "drain_cpu_s_per_1000", "drain_reactor_thread_cpu_s",
    "force_end_drain_cpu_s", "backlog_after_drain",
    "new_alert_p50_ms", "new_alert_p99_ms", "new_alert_max_ms", "from_report_p50_ms", "from_report_p99_ms",
    "from_report_max_ms", "acknowledgements_not_ok",
    "alert_frame_mean_bytes", "alert_frame_max_bytes", "alert_response_frame_bytes", "ping_frame_bytes",
    "raw_round_trips", "raw_round_trips_per_s", "raw_cpu_s", "raw_cpu_s_per_1000",
    "raw_sequential_round_trips", "raw_sequential_round_trips_per_s",
    "ratio", "ratio_goal", "new_alert_p99_goal_ms", "goals_met", "frames_note",
    "force_received_alerts", "force_received_other_alerts", "force_received_by_msg_type", "force_received_exactly_once", "force_received_in_order",
    "python", "cpus", "machine", "load_average_before", "load_average_after",
}


def test_latency_figures_are_nearest_rank_percentiles_of_the_samples():
    """p50, p99 and max are read from the sorted samples; no samples give None rather than a number."""
    assert bench._latency_figures("new_alert", [5.0, 1.0, 3.0, 2.0, 4.0]) == {
        "new_alert_p50_ms": 3.0, "new_alert_p99_ms": 5.0, "new_alert_max_ms": 5.0}
    assert bench._latency_figures("x", []) == {"x_p50_ms": None, "x_p99_ms": None, "x_max_ms": None}


@pytest.mark.slow
def test_hub_bench_police_prints_every_figure_as_one_json_object(tmp_path):
    """A tiny run through the command: every figure and goal is there, the force end has every alert exactly
    once and in order, nothing is left owed, and ratio is the drain rate over the raw windowed rate."""
    completed = subprocess.run(
        [str(HUB), "bench", "police", "--json", "--alerts", "40", "--latency-samples", "5",
         "--latency-spacing-ms", "5", "--window", "16", "--round-trips", "200", "--sequential-round-trips", "50"],
        check=False, capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    assert FIGURES <= set(result), FIGURES - set(result)
    assert result["alerts"] == 40 and result["window"] == 16 and result["journal_synchronous"] == "full"
    assert result["link_state_while_queued"] in ("disconnected", "fault")
    assert result["backlog_after_drain"] == 0
    assert result["acknowledgements_not_ok"] == {}
    assert result["force_received_alerts"] == 45 and result["force_received_other_alerts"] == 0
    assert result["force_received_by_msg_type"] == {"Alert": 45}
    assert result["force_received_exactly_once"] is True
    assert result["force_received_in_order"] is True
    assert result["raw_round_trips"] == 200 and result["raw_sequential_round_trips"] == 50
    for name in ("queue_s", "drain_s", "drain_rate", "raw_round_trips_per_s", "raw_sequential_round_trips_per_s"):
        assert result[name] > 0, name
    assert result["new_alert_p50_ms"] <= result["new_alert_p99_ms"] <= result["new_alert_max_ms"]
    assert result["from_report_p50_ms"] <= result["from_report_p99_ms"] <= result["from_report_max_ms"]
    # A CAP alert's frame is far larger than a ping's: the two rates do not carry the same bytes.
    assert result["alert_frame_mean_bytes"] > 10 * result["ping_frame_bytes"]
    assert result["ratio"] == pytest.approx(result["drain_rate"] / result["raw_round_trips_per_s"], rel=0.01)
    assert result["ratio_goal"] == 0.3 and result["new_alert_p99_goal_ms"] == 20
    assert set(result["goals_met"]) == {"ratio", "new_alert_p99"}
    assert result["cpus"] >= 1


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_a_force_end_that_cannot_start_says_why_and_one_running_is_stopped(tmp_path):
    """A force end without its PKI ends before it is ready and the run fails with its own words; a running
    one is stopped (TERM) with nothing left running, and its records can be read afterwards."""
    from twisted.internet import reactor

    from plugins.police_link.pki import init_pki

    broken = bench._ForceEnd(reactor, pki=tmp_path / "missing", data=tmp_path / "broken", port=bench._free_port())
    broken.start()
    with pytest.raises(RuntimeError, match="ended .* before it was ready"):
        await broken.ready()
    assert broken.exit_code not in (None, 0)

    init_pki(tmp_path / "pki", now=datetime.now(UTC))
    force = bench._ForceEnd(reactor, pki=tmp_path / "pki", data=tmp_path / "force", port=bench._free_port())
    force.start()
    assert (await force.ready()).startswith(bench.PEER_READY)
    pid = force._process.pid
    assert force.cpu_seconds() is not None
    await force.stop()
    assert force.exit_code is not None
    assert not Path(f"/proc/{pid}").exists()
    assert force.alerts_on_record()["alerts"] == 0
