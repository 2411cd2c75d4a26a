"""A hub killed without warning loses nothing it confirmed and opens cleanly afterwards."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOOD_HUB = Path(__file__).with_name("flood_hub.py")


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[hub]\nname = "crash test"\ndata_dir = "data"\n'
        '[logging]\nlevel = "warning"\nformat = "json"\n'
        "[adapters.flood]\ntype = \"flood\"\nper_tick = 50\n"
    )
    return path


def _start(config: Path) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=str(FLOOD_HUB.parent))
    return subprocess.Popen(
        [sys.executable, str(FLOOD_HUB), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def _read_confirmations(process: subprocess.Popen, at_least: int, deadline_s: float = 30) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + deadline_s
    while len(lines) < at_least:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"hub confirmed only {len(lines)} events: {process.stderr.read()[-2000:]}")
        line = process.stdout.readline()
        if line:
            lines.append(line)
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [500, 5000])
def test_every_confirmed_event_survives_sigkill_exactly_once_in_order(tmp_path, kill_after):
    """SIGKILL mid-stream: every confirmed event is in the journal once, in order, and the file is sound."""
    config = _config(tmp_path)
    process = _start(config)
    try:
        lines = _read_confirmations(process, kill_after)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        # Confirmations already written to the pipe before the kill are promises too.
        lines += process.stdout.readlines()
    finally:
        if process.poll() is None:
            process.kill()
    confirmed = [tuple(line.split()) for line in lines if line.strip()]
    confirmed = [(int(seq), event_id) for seq, event_id in confirmed]
    assert len(confirmed) >= kill_after

    journal = sqlite3.connect(tmp_path / "data" / "journal.sqlite3")
    assert journal.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = dict(journal.execute("SELECT id, seq FROM events").fetchall())
    for seq, event_id in confirmed:
        assert stored.get(event_id) == seq, f"confirmed event {event_id} (seq {seq}) missing or moved"
    rows = journal.execute("SELECT seq, id, body FROM events ORDER BY seq").fetchall()
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1)), "gap in the journal"
    assert len({row[1] for row in rows}) == len(rows), "an event was journaled twice"
    numbers = [int(row[2].split('"number":')[1].split("}")[0]) for row in rows if '"flood.message"' in row[2]]
    assert numbers == sorted(numbers), "events stored out of publish order"
    journal.close()


@pytest.mark.slow
def test_the_hub_restarts_on_a_killed_journal_and_carries_on_numbering(tmp_path):
    """After a SIGKILL the next hub opens the same journal and continues from the last seq."""
    config = _config(tmp_path)
    first = _start(config)
    try:
        _read_confirmations(first, 300)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    journal_path = tmp_path / "data" / "journal.sqlite3"
    last_before = sqlite3.connect(journal_path).execute("SELECT max(seq) FROM events").fetchone()[0]

    second = _start(config)
    try:
        lines = _read_confirmations(second, 100)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0
    finally:
        if second.poll() is None:
            second.kill()
    first_new_seq = int(lines[0].split()[0])
    assert first_new_seq > last_before
    journal = sqlite3.connect(journal_path)
    assert journal.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    topics = [row[0] for row in journal.execute("SELECT topic FROM events WHERE topic LIKE 'hub.process.%' ORDER BY seq")]
    # The killed run never said it was stopping; the clean one did.
    assert topics == ["hub.process.started", "hub.process.started", "hub.process.stopping"]
