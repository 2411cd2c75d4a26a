"""``hub bench shopwatch`` measures decoding beside a 115200-baud line and emergency latency over a real pty;
these tests check that it measures what it says (not how fast: timings never go into assertions)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted

from plugins.shopwatch import bench
from plugins.shopwatch.codec import ccdi

HUB = Path(sys.executable).parent / "hub"


def test_decoding_is_compared_with_what_the_line_can_carry():
    """The line limit is 11520 bytes/s over the stream's mean frame size, and ratio is decode over line."""
    result = bench.measure_decoding("ccdi", seconds=0.05)
    assert result["line_frames_per_s"] == pytest.approx(115_200 / 10 / result["mean_frame_bytes"], rel=0.01)
    assert result["ratio"] == pytest.approx(result["decode_frames_per_s"] / result["line_frames_per_s"], rel=0.01)


@pytest.mark.parametrize("dialect", ["ccdi", "fleetsync"])
def test_the_benchmark_stream_is_real_traffic_that_decodes_cleanly(dialect):
    """Each dialect's stream decodes to whole frames with nothing dropped (else the run stops)."""
    stream, frames = bench._ccdi_traffic() if dialect == "ccdi" else bench._fleetsync_traffic()
    decoder = bench.DIALECTS[dialect].decoder("from_radio")
    messages = decoder.feed(stream)
    assert len([message for message in messages if not isinstance(message, ccdi.Prompt)]) == frames
    assert decoder.stats.dropped == 0


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_every_emergency_written_to_the_pty_is_timed_to_the_bus():
    """The latency run matches each frame the radio process wrote with its event on the bus."""
    from twisted.internet import reactor

    result = await bench.measure_latency(reactor, count=20, rate=100.0)
    assert result["emergency_samples"] == 20
    assert 0 < result["emergency_p50_ms"] <= result["emergency_p99_ms"] <= result["emergency_max_ms"]
    assert result["emergency_goal_p99_ms"] == 20


@pytest.mark.slow
def test_hub_bench_shopwatch_prints_one_json_object():
    """The command runs both measurements and prints them side by side as one JSON object."""
    completed = subprocess.run(
        [str(HUB), "bench", "shopwatch", "--json", "--seconds", "0.05",
         "--emergencies", "10", "--rate", "100"],
        capture_output=True, text=True, timeout=90,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert {"decode_frames_per_s", "line_frames_per_s", "ratio", "emergency_p99_ms", "emergency_samples",
            "fleetsync_ratio"} <= set(result)
    assert result["emergency_samples"] == 10


def test_the_arguments_have_defaults_for_a_full_run():
    """Without options it decodes for 3 s per dialect and times 1000 emergencies at 50 per second."""
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.seconds, args.emergencies, args.rate) == (3.0, 1000, 50.0)
