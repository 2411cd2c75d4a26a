"""``hub bench fibre`` measures what it says: both sides send the probes asked for and count every answer,
the ratio is the quotient of the two figures, and the link-down time is from the cut to the down verdict
after ``down_after`` failed probes. Never how fast: timings go into assertions only as bounds that
follow from the probing itself (three failures take at least two intervals and a timeout)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from plugins.dark_fibre_health import bench

HUB = Path(sys.executable).parent / "hub"
WHY_NOT = bench.namespaces_usable()
needs_namespaces = pytest.mark.skipif(WHY_NOT is not None, reason=f"network namespaces: {WHY_NOT}")


def test_loopback_targets_are_distinct_addresses():
    targets = bench.loopback_targets(1000)
    assert len(set(targets.values())) == 1000
    assert targets["FN-00001"] == "127.0.0.1" and targets["FN-01000"] == "127.0.3.250"
    assert all(address.startswith("127.0.") and not address.endswith(".0") for address in targets.values())


def test_fpings_report_is_read_probe_by_probe():
    lines = ["127.0.0.1   : 0.028 0.011 -", "127.0.0.2   : - - -", "ICMP Host Unreachable from x", ""]
    assert bench.parse_fping_counts(lines) == (6, [0.028, 0.011])


@pytest_twisted.ensureDeferred
async def test_the_hub_side_answers_every_probe_it_sends_on_loopback():
    targets = bench.loopback_targets(20)
    with bench.namespaces(1) if WHY_NOT is None else _nothing() as made:
        side = await bench.hub_side(reactor, targets, seconds=2.0, interval_s=0.5,
                                    namespace=made[0] if made else None)
    assert side["consumer"] == "NodeJudge"
    assert side["probes_sent"] >= 60  # 20 targets every 0.5 s for 2 s, less what a loaded machine skips
    assert side["answered"] + side["lost"] == side["probes_sent"]
    assert side["lost"] <= side["probes_sent"] // 20
    assert side["decode_errors"] == 0
    assert side["cpu_s_per_1000_probes"] == pytest.approx(side["cpu_s"] / side["probes_sent"] * 1000, rel=0.05)
    assert 0 < side["rtt_p50_ms"] <= side["rtt_p99_ms"]


@needs_namespaces
def test_fping_sends_the_same_probes_at_the_same_rate():
    targets = bench.loopback_targets(20)
    with bench.namespaces(1) as (namespace,):
        side = bench.fping_side(targets, seconds=2.0, interval_s=0.5, namespace=namespace)
    if "skipped" in side:
        pytest.skip(side["skipped"])
    assert side["probes_sent"] == 80
    assert side["answered"] == 80 and side["lost"] == 0
    assert "-p 500 -i 25 -t 800 -b 56" in side["argv"]
    assert 0 < side["rtt_p50_ms"] <= side["rtt_p99_ms"]


@needs_namespaces
@pytest_twisted.ensureDeferred
async def test_a_link_taken_down_is_judged_down_after_three_failed_probes():
    figures = await bench.measure_link_down_to_incident(reactor, trials=2, interval_s=0.3, timeout_s=0.2)
    assert len(figures["trials_s"]) == 2
    for delay in figures["trials_s"]:
        # The first failing probe goes out within an interval of the cut; the third one two intervals
        # later, failing at its timeout.
        assert 2 * 0.3 + 0.2 - 0.05 <= delay < 15
    assert figures["max_s"] == max(figures["trials_s"])


@needs_namespaces
@pytest_twisted.ensureDeferred
async def test_a_link_taken_down_opens_its_root_cause_incident_through_the_whole_hub():
    """What the benchmark prints: the real adapter, bus, journal and incident engine, from the cut to the
    incident; a second trial needs the first incident resolved by the node's recovery."""
    figures = await bench.measure_link_down_to_root_cause_incident(reactor, trials=2, interval_s=0.3,
                                                                   timeout_s=0.2)
    assert len(figures["trials_s"]) == 2
    assert all(2 * 0.3 + 0.2 - 0.05 <= delay < 15 for delay in figures["trials_s"])
    assert figures["measured_until"].startswith("the root-cause incident opening")


@pytest_twisted.ensureDeferred
async def test_without_namespaces_the_link_down_part_says_why_it_was_skipped(monkeypatch):
    monkeypatch.setattr(bench, "namespaces_usable", lambda: "needs root")
    assert await bench.measure_link_down_to_incident(reactor) == {"skipped": "needs root"}


@needs_namespaces
@pytest_twisted.ensureDeferred
async def test_a_short_run_reports_both_sides_and_their_ratio():
    args = argparse.Namespace(nodes=10, seconds=1.0, interval=0.5, link_trials=1, no_fping=False,
                              no_link_down=True)
    result = await bench.run_benchmark(args, reactor)
    assert result["isolated_namespace"] is True
    if "skipped" in result["fping"]:
        pytest.skip(result["fping"]["skipped"])
    assert result["cpu_ratio"] == pytest.approx(
        result["hub_cpu_s_per_1000_probes"] / result["fping_cpu_s_per_1000_probes"], rel=0.01)
    assert result["fping"]["probes_sent"] == 20
    assert result["goals"] == {"cpu_ratio_max": 2.0, "link_down_max_s": 4.0}
    assert "link_down" not in result


@pytest.mark.slow
def test_hub_bench_fibre_prints_one_json_object():
    completed = subprocess.run(
        [str(HUB), "bench", "fibre", "--nodes", "10", "--seconds", "1", "--link-trials", "1", "--json"],
        capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["nodes"] == 10 and result["hub"]["probes_sent"] > 0
    if WHY_NOT is None:
        assert len(result["link_down"]["trials_s"]) == 1
    else:
        assert result["link_down"] == {"skipped": WHY_NOT}


class _nothing:
    def __enter__(self) -> list:
        return []

    def __exit__(self, *exc: object) -> None:
        return None
