"""A plugin's benchmarks (hub_register_benchmarks) run under ``hub bench`` beside bus and console, each with
its own arguments; a clashing name is refused with both plugins named, and a broken one fails cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub import cli

#: ``hub`` as main() runs it, but with the test's plugins instead of the installed entry points.
SCRIPT = """
import sys

from twisted.internet import task
from twisted.internet.defer import Deferred

from hub import cli, plugins
from hub.api import Benchmark
from hub.hookspecs import hookimpl


def radio_arguments(parser):
    parser.add_argument("--units", type=int, default=2)


async def radio_run(args, reactor):
    # On the reactor it is given: a real timer, so the run really waits on the running reactor.
    await task.deferLater(reactor, 0.01, lambda: None)
    return {"units": args.units, "json_flag_seen": args.json, "frames_per_s": 123.5}


def deferred_run(args, reactor):
    done = Deferred()
    reactor.callLater(0, done.callback, {"answer": 42})
    return done


def failing_run(args, reactor):
    raise RuntimeError("no radio on COM3")


def bad_arguments(parser):
    parser.add_argument("--json")  # the hub's own option: argparse refuses it


class Radio:
    @hookimpl
    def hub_register_benchmarks(self):
        return [
            Benchmark("radio", "frames through the radio link", radio_arguments, radio_run),
            Benchmark("deferred", "a run that returns a Deferred", lambda parser: None, deferred_run),
            Benchmark("failing", "a run that raises", lambda parser: None, failing_run),
            Benchmark("wrong", "a run that gives a list", lambda parser: None, lambda args, reactor: [1]),
            Benchmark("clumsy", "arguments that clash", bad_arguments, deferred_run),
            Benchmark("bus", "a second bus benchmark", lambda parser: None, deferred_run),
        ]


class Copycat:
    @hookimpl
    def hub_register_benchmarks(self):
        return [Benchmark("radio", "another radio benchmark", lambda parser: None, deferred_run)]


real = plugins.make_plugin_manager
cli.make_plugin_manager = lambda **kwargs: real(
    **kwargs, load_entry_points=False, extra_plugins=[(Copycat(), "copycat"), (Radio(), "radio_plugin")]
)
sys.exit(cli.main(sys.argv[1:]))
"""


def bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "hub_with_plugins.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), "bench", *args], capture_output=True, text=True, timeout=60
    )


def test_a_plugin_benchmark_runs_with_its_own_arguments_and_prints_one_json_object(tmp_path):
    """``hub bench radio --json --units 5`` runs the coroutine on the reactor and prints its dict as JSON."""
    finished = bench(tmp_path, "radio", "--json", "--units", "5")
    assert finished.returncode == 0, finished.stderr
    (line,) = finished.stdout.strip().splitlines()
    assert json.loads(line) == {"units": 5, "json_flag_seen": True, "frames_per_s": 123.5}


def test_without_json_the_figures_are_printed_one_per_line(tmp_path):
    """Without --json each figure is a line of its own, name then value."""
    finished = bench(tmp_path, "radio")
    assert finished.returncode == 0, finished.stderr
    assert [line.split() for line in finished.stdout.strip().splitlines()] == [
        ["frames_per_s:", "123.5"], ["json_flag_seen:", "False"], ["units:", "2"]
    ]


def test_a_benchmark_may_return_a_deferred(tmp_path):
    """A run that returns a Deferred of the dict is waited for."""
    finished = bench(tmp_path, "deferred", "--json")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout) == {"answer": 42}


def test_a_name_taken_by_a_built_in_or_another_plugin_is_refused_naming_both(tmp_path):
    """A second "bus" and a second "radio" are left out, each logged on stderr naming both claimants."""
    finished = bench(tmp_path, "deferred", "--json")
    assert json.loads(finished.stdout) == {"answer": 42}  # stdout holds the JSON object and nothing else
    refusals = [line for line in finished.stderr.splitlines() if "plugin_failed" in line]
    assert len(refusals) == 2
    assert "benchmark 'bus' is already provided by the hub" in refusals[0] and "plugin=radio_plugin" in refusals[0]
    assert "benchmark 'radio' is already provided by plugin 'radio_plugin'" in refusals[1]
    assert "plugin=copycat" in refusals[1]
    built_in = bench(tmp_path, "bus", "--help")
    assert "journal throughput" in built_in.stdout and "a second bus benchmark" not in built_in.stdout


def test_the_bench_help_lists_the_built_in_and_plugin_benchmarks(tmp_path):
    """``hub bench --help`` lists bus and console, then each plugin benchmark labelled with its plugin."""
    finished = bench(tmp_path, "--help")
    assert finished.returncode == 0
    for name in ("bus", "console", "radio", "deferred"):
        assert f"\n    {name} " in finished.stdout
    assert "frames through the radio link [plugin radio_plugin]" in finished.stdout


@pytest.mark.parametrize(
    ("name", "message", "code"),
    [
        ("failing", "hub: benchmark failing failed: RuntimeError: no radio on COM3", 1),
        ("wrong", "hub: benchmark wrong failed: TypeError: run() gave list, not a dict of figures", 1),
        ("clumsy", "hub: benchmark clumsy cannot be run: its arguments could not be set up", 2),
    ],
)
def test_a_broken_benchmark_fails_with_a_message_and_no_traceback(tmp_path, name, message, code):
    """A run that raises or gives no dict exits 1, bad arguments exit 2; each says why, without a traceback."""
    finished = bench(tmp_path, name, "--json")
    assert finished.returncode == code
    assert message in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


def test_the_built_in_benchmarks_keep_their_own_defaults():
    """bus and console each keep their defaults (bus: 10 s at 2000/s; console: 30 s at 500/s, 50 clients)."""
    parser = cli.build_parser()
    bus = parser.parse_args(["bench", "bus"])
    console = parser.parse_args(["bench", "console", "--json"])
    assert (bus.benchmark.name, bus.events, bus.seconds, bus.rate, bus.json) == ("bus", 50_000, 10.0, 2000.0, False)
    assert (console.benchmark.name, console.clients, console.seconds, console.rate, console.json) == (
        "console", 50, 30.0, 500.0, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "console", "--events", "5"])  # a bus option, not the console's
