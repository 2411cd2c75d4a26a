"""Sending on the link: the outbox row and its event in one transaction, then the session's queue, in
link_seq order whatever order publishes finish in; the same cause twice is sent once."""

from __future__ import annotations

import sqlite3

import pytest
from twisted.internet.defer import Deferred

from hub.events import EventFactory, Severity, Subject
from hub.testing import (
    BusHarness,
    Note,
    assert_no_result,
    failure_result_of,
    success_result_of,
)
from plugins.police_link.codec.frames import CAP_XML, EventFrame, Resume, encode_frame
from plugins.police_link.schema import POLICE_SCHEMA
from plugins.police_link.sending import LinkSender
from plugins.police_link.store import HubLinkStore
from tests.plugins.police_link.link_fakes import FakeStore, FakeTransport, session


@pytest.fixture
def harness(tmp_path, hub_clock):
    harness = BusHarness(tmp_path, hub_clock, plugin_schemas=(POLICE_SCHEMA,))
    yield harness
    harness.close()


class Up:
    """A session attached to a fake transport, the other end's resume heard."""

    def __init__(self, clock, store) -> None:
        self.session = session(clock, store=store, memory=store.load())
        self.transport = FakeTransport()
        self.session.attach(self.transport)
        self.session.text_received(encode_frame(Resume(last_seq_received=0)))

    def sent(self) -> list[tuple[int, str]]:
        return [(f.link_seq, f.transaction_id) for f in self.transport.of(EventFrame)]


class HeldBus:
    """A bus whose publishes finish when the test says, recording each one's event and work."""

    def __init__(self) -> None:
        self.published: list[tuple[object, object, Deferred[int]]] = []

    def publish(self, event, *, also=None) -> Deferred[int]:
        done: Deferred[int] = Deferred()
        self.published.append((event, also, done))
        return done


def test_a_message_is_journaled_with_its_outbox_row_and_only_then_offered(harness):
    """Nothing goes before the commit; after it the event is in the journal, the row in the outbox, and the
    message on the wire, its transaction id the event's id."""
    store = HubLinkStore(harness.database, "police_link.force")
    up = Up(harness.clock, store)
    sender = LinkSender(session=up.session, store=store, bus=harness.bus, clock=harness.clock)
    event = harness.note("alert", incident_id="inc-42")
    sending = Deferred.fromCoroutine(sender.send(CAP_XML, "<alert/>", event=event, deadline=99.0))
    assert_no_result(sending)
    assert up.sent() == []
    harness.settle()
    message = success_result_of(sending)
    assert (message.link_seq, message.transaction_id, message.incident_id, message.deadline) == (1, event.id, "inc-42", 99.0)
    assert up.sent() == [(1, event.id)]
    assert store.find_outbound(event.id) == message
    assert harness.bus.head == 1


def test_the_callers_own_writes_go_in_the_same_transaction(harness):
    """An also job that fails undoes the event and the outbox row; the number is given back."""
    store = HubLinkStore(harness.database, "police_link.force")
    up = Up(harness.clock, store)
    sender = LinkSender(session=up.session, store=store, bus=harness.bus, clock=harness.clock)
    written: list[str] = []

    def broken(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO no_such_table VALUES (1)")

    failed = Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=harness.note("one"), also=[broken]))
    harness.settle()
    failure_result_of(failed).trap(sqlite3.OperationalError)
    assert harness.bus.head == 0 and store.load().pending == ()
    kept = Deferred.fromCoroutine(sender.send(CAP_XML, "<b/>", event=harness.note("two"),
                                              also=[lambda connection: written.append("ran")]))
    harness.settle()
    assert success_result_of(kept).link_seq == 1
    assert written == ["ran"] and [seq for seq, _ in up.sent()] == [1]


def test_an_event_made_from_the_messages_place_gets_its_number_and_a_new_transaction_id(harness):
    """event may be a function of (link_seq, transaction_id); the transaction id then comes from ids."""
    store = HubLinkStore(harness.database, "police_link.force")
    up = Up(harness.clock, store)
    sender = LinkSender(session=up.session, store=store, bus=harness.bus, clock=harness.clock,
                        ids=lambda: "01J00000000000000000000042")
    places: list[tuple[int, str]] = []

    def make(link_seq: int, transaction_id: str):
        places.append((link_seq, transaction_id))
        return harness.note(f"queued as {link_seq}")

    sending = Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=make))
    harness.settle()
    assert places == [(1, "01J00000000000000000000042")]
    assert success_result_of(sending).transaction_id == "01J00000000000000000000042"


def test_a_transaction_id_already_in_the_outbox_is_not_sent_again(harness):
    """The same cause handled twice (after a crash): the message already there comes back, nothing is published."""
    store = HubLinkStore(harness.database, "police_link.force")
    up = Up(harness.clock, store)
    sender = LinkSender(session=up.session, store=store, bus=harness.bus, clock=harness.clock)
    first = Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=harness.note("one"), transaction_id="cause-1"))
    harness.settle()
    again = Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=harness.note("two"), transaction_id="cause-1"))
    harness.settle()
    assert success_result_of(again) == success_result_of(first)
    assert harness.bus.head == 1 and len(up.sent()) == 1


def test_the_same_transaction_sent_twice_at_once_is_published_once(harness):
    """The second send waits for the first and returns its message."""
    store = HubLinkStore(harness.database, "police_link.force")
    up = Up(harness.clock, store)
    sender = LinkSender(session=up.session, store=store, bus=harness.bus, clock=harness.clock)
    first = Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=harness.note("one"), transaction_id="cause-1"))
    second = Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=harness.note("two"), transaction_id="cause-1"))
    harness.settle()
    assert success_result_of(second) == success_result_of(first)
    assert harness.bus.head == 1 and len(up.sent()) == 1


def test_publishes_finishing_out_of_order_are_offered_in_link_seq_order(hub_clock):
    """3 is durable first, then 1, then 2: the wire sees 1, 2, 3."""
    store = FakeStore()
    up = Up(hub_clock, store)
    bus = HeldBus()
    sender = LinkSender(session=up.session, store=store, bus=bus, clock=hub_clock)
    sends = [Deferred.fromCoroutine(sender.send(CAP_XML, f"<{n}/>", event=_event(hub_clock, n))) for n in range(3)]
    finished = []
    for index in (2, 0):
        bus.published[index][2].callback(index + 1)
        finished.append(up.sent())
    assert finished == [[], [(1, bus.published[0][0].id)]]
    bus.published[1][2].callback(2)
    assert [seq for seq, _ in up.sent()] == [1, 2, 3]
    assert [success_result_of(d).link_seq for d in sends] == [1, 2, 3]


def test_a_failed_publish_between_others_leaves_its_number_unused_and_the_rest_go(hub_clock, captured_logs):
    """2 fails after 3 was given out: 1 and 3 are sent, 2 is logged as the gap the other end will see."""
    store = FakeStore()
    up = Up(hub_clock, store)
    bus = HeldBus()
    sender = LinkSender(session=up.session, store=store, bus=bus, clock=hub_clock)
    sends = [Deferred.fromCoroutine(sender.send(CAP_XML, f"<{n}/>", event=_event(hub_clock, n))) for n in range(3)]
    bus.published[2][2].callback(3)
    bus.published[1][2].errback(OSError("disk full"))
    bus.published[0][2].callback(1)
    assert [seq for seq, _ in up.sent()] == [1, 3]
    failure_result_of(sends[1]).trap(OSError)
    assert [entry["link_seq"] for entry in captured_logs if entry["event"] == "link_seq_unused"] == [2]
    later = Deferred.fromCoroutine(sender.send(CAP_XML, "<4/>", event=_event(hub_clock, 4)))
    bus.published[3][2].callback(4)
    assert success_result_of(later).link_seq == 4
    assert [seq for seq, _ in up.sent()] == [1, 3, 4]


def test_the_work_given_to_the_bus_writes_the_outbox_row_and_the_callers_rows(hub_clock):
    """One function for the bus's one also= argument, called with the connection and the event's seq."""
    store = FakeStore()
    up = Up(hub_clock, store)
    bus = HeldBus()
    sender = LinkSender(session=up.session, store=store, bus=bus, clock=hub_clock)
    ran: list[object] = []
    Deferred.fromCoroutine(sender.send(CAP_XML, "<a/>", event=_event(hub_clock, 1), also=[ran.append, ran.append]))
    _event_published, work, _done = bus.published[0]
    work("connection", 17)
    assert ran == ["connection", "connection"]
    assert list(store.outbox) == [bus.published[0][0].id]


def _event(clock, n: int):
    return EventFactory(clock, "test.sender")("test.note.written", Note(f"message {n}"), severity=Severity.INFO,
                                             subject=Subject(kind="test", id="sender"), summary=f"message {n}")
