"""The hub's link store on a real SQLite file: outbox rows written with their events, what a restart reads
back, acknowledgements in one write, inbox rows, and one link's rows kept apart from another's."""

from __future__ import annotations

import sqlite3

import pytest

from hub.testing import BusHarness, failure_result_of, success_result_of
from plugins.police_link.codec.frames import CAP_XML, POLICE_REQUEST
from plugins.police_link.link import Acknowledged, Inbound
from plugins.police_link.schema import POLICE_SCHEMA
from plugins.police_link.store import HubLinkStore
from tests.plugins.police_link.link_fakes import outbound


@pytest.fixture
def harness(tmp_path, hub_clock):
    harness = BusHarness(tmp_path, hub_clock, plugin_schemas=(POLICE_SCHEMA,))
    yield harness
    harness.close()


def queue(harness: BusHarness, store: HubLinkStore, *seqs: int, **fields) -> None:
    """Each message journaled with a note, its outbox row in the same transaction."""
    for seq in seqs:
        published = harness.bus.publish(harness.note(f"queued {seq}"), also=store.outbox_job(outbound(seq, **fields)))
        harness.settle()
        success_result_of(published)


def inbound(seq: int, transaction_id: str | None = None) -> Inbound:
    return Inbound(link_seq=seq, transaction_id=transaction_id or f"in-{seq}", content_type=POLICE_REQUEST,
                   payload={"n": seq}, sent_at=1.0, deadline=None, received_at=2.0)


def test_a_new_link_starts_from_nothing(harness):
    """No rows: nothing owed, numbering from 1, nothing received."""
    memory = HubLinkStore(harness.database, "police_link.force").load()
    assert (memory.pending, memory.next_seq, memory.last_seq_received, memory.seen) == ((), 1, 0, frozenset())


def test_an_outbox_row_is_written_with_its_event_and_read_back_in_order(harness):
    """Journaled together; load gives every message owed, whole, in link_seq order."""
    store = HubLinkStore(harness.database, "police_link.force")
    queue(harness, store, 2, 1, 3, deadline=500.0)
    memory = store.load()
    assert [m.link_seq for m in memory.pending] == [1, 2, 3]
    assert memory.pending[0] == outbound(1, deadline=500.0)
    assert memory.next_seq == 4
    assert harness.bus.head == 3


def test_an_outbox_row_whose_event_fails_is_not_kept(harness):
    """Both or neither: a repeated transaction id fails the publish, and the second event is not journaled."""
    store = HubLinkStore(harness.database, "police_link.force")
    queue(harness, store, 1)
    published = harness.bus.publish(harness.note("again"), also=store.outbox_job(outbound(2, transaction_id="tx-000001")))
    harness.settle()
    failure_result_of(published).trap(sqlite3.IntegrityError)
    assert [m.link_seq for m in store.load().pending] == [1]
    assert harness.bus.head == 1


def test_acknowledged_messages_are_no_longer_owed_but_their_numbers_are_never_reused(harness):
    """All three answered in one write: nothing owed, and the next number is still 4."""
    store = HubLinkStore(harness.database, "police_link.force")
    queue(harness, store, 1, 2, 3)
    acks = [Acknowledged(message=outbound(1), status="ok", reason=None, at=10.0),
            Acknowledged(message=outbound(2), status="error", reason="no such camera", at=11.0),
            Acknowledged(message=outbound(3), status="duplicate", reason=None, at=12.0)]
    written = store.acknowledge(acks)
    harness.settle()
    success_result_of(written)
    memory = store.load()
    assert (memory.pending, memory.next_seq) == ((), 4)
    rows = harness.database.read(lambda c: c.execute(
        "SELECT link_seq, acked_at, status, reason FROM police_outbox ORDER BY link_seq").fetchall())
    assert rows == [(1, 10.0, "ok", None), (2, 11.0, "error", "no such camera"), (3, 12.0, "duplicate", None)]
    assert store.counts() == {"queued": 0, "delivered": 2, "refused": 1, "stale": 0, "received": 0,
                              "received_refused": 0, "received_stale": 0}


def test_acknowledging_nothing_writes_nothing(harness):
    """An empty batch is done at once."""
    store = HubLinkStore(harness.database, "police_link.force")
    assert success_result_of(store.acknowledge([])) is None


def test_what_was_received_is_remembered_for_dedupe_and_resume(harness):
    """Inbox rows from events and recorded alone: their ids are seen, the highest link_seq is where to resume."""
    store = HubLinkStore(harness.database, "police_link.force")
    published = harness.bus.publish(harness.note("request"), also=store.inbox_job(inbound(1), "ok"))
    recorded = store.record(inbound(3), "stale")
    harness.settle()
    success_result_of(published)
    success_result_of(recorded)
    memory = store.load()
    assert (memory.last_seq_received, memory.seen) == (3, frozenset({"in-1", "in-3"}))
    assert store.counts()["received"] == 2 and store.counts()["received_stale"] == 1


def test_recording_a_message_twice_keeps_the_first(harness):
    """record is safe to repeat; inbox_job is not (a repeat reaching it is a fault to see)."""
    store = HubLinkStore(harness.database, "police_link.force")
    for status in ("error", "ok"):
        written = store.record(inbound(1), status)
        harness.settle()
        success_result_of(written)
    assert harness.database.read(lambda c: c.execute("SELECT status FROM police_inbox").fetchall()) == [("error",)]
    published = harness.bus.publish(harness.note("again"), also=store.inbox_job(inbound(1), "ok"))
    harness.settle()
    failure_result_of(published).trap(sqlite3.IntegrityError)


def test_a_message_is_found_by_its_transaction_id_answered_or_not(harness):
    """find_outbound sees every row of this link, and none of another's."""
    store = HubLinkStore(harness.database, "police_link.force")
    queue(harness, store, 1, content_type=CAP_XML)
    written = store.acknowledge([Acknowledged(message=outbound(1), status="ok", reason=None, at=1.0)])
    harness.settle()
    success_result_of(written)
    assert store.find_outbound("tx-000001") == outbound(1)
    assert store.find_outbound("tx-999999") is None
    assert HubLinkStore(harness.database, "police_link.other").find_outbound("tx-000001") is None


def test_two_links_keep_their_own_rows(harness):
    """One hub, two forces: each link's outbox, numbering and inbox are its own."""
    first = HubLinkStore(harness.database, "police_link.one")
    second = HubLinkStore(harness.database, "police_link.two")
    queue(harness, first, 1, 2)
    queue(harness, second, 1, transaction_id="other-1")
    recorded = second.record(inbound(7), "ok")
    harness.settle()
    success_result_of(recorded)
    one, two = first.load(), second.load()
    assert ([m.link_seq for m in one.pending], one.next_seq, one.last_seq_received) == ([1, 2], 3, 0)
    assert ([m.transaction_id for m in two.pending], two.next_seq, two.last_seq_received) == (["other-1"], 2, 7)
    assert first.counts()["queued"] == 2 and second.counts()["queued"] == 1


def test_the_outbox_survives_a_hub_restart(harness):
    """Owed before the restart, owed after it, from a new store on the reopened database."""
    store = HubLinkStore(harness.database, "police_link.force")
    queue(harness, store, 1, 2)
    harness.restart()
    memory = HubLinkStore(harness.database, "police_link.force").load()
    assert [m.link_seq for m in memory.pending] == [1, 2]
