"""An adapter's outbox: every event reaches the journal or its refusal is logged, and stop can wait for both."""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail

from hub.outbox import Outbox
from hub.testing import success_result_of


class RefusingBus:
    def __init__(self) -> None:
        self.pending: list[Deferred[int]] = []

    def publish(self, event):
        if event.summary == "raise":
            raise ValueError("payload will not encode")
        if event.summary == "refused":
            return fail(OSError("disk full"))
        waiting: Deferred[int] = Deferred()
        self.pending.append(waiting)
        return waiting


class Log:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict]] = []

    def error(self, name: str, **fields) -> None:
        self.errors.append((name, fields))


def test_a_refused_event_is_logged_with_what_it_was(hub_bus):
    log = Log()
    outbox = Outbox(RefusingBus(), log)
    refused = hub_bus.note("refused")
    raised = hub_bus.note("raise")
    outbox.publish(refused)
    outbox.publish(raised)
    assert [(name, fields["event_id"], fields["error"]) for name, fields in log.errors] == [
        ("event_publish_failed", refused.id, "disk full"),
        ("event_publish_failed", raised.id, "payload will not encode"),
    ]
    assert log.errors[0][1]["topic"] == "test.note.written"


def test_drain_waits_for_every_event_still_on_its_way_to_the_journal(hub_bus):
    bus = RefusingBus()
    outbox = Outbox(bus, Log())
    outbox.publish(hub_bus.note("one"))
    outbox.publish(hub_bus.note("two"))
    drained = outbox.drain()
    assert not drained.called
    bus.pending[0].callback(1)
    assert not drained.called
    bus.pending[1].callback(2)
    assert success_result_of(drained) is None
    assert success_result_of(outbox.drain()) is None  # nothing left pending
