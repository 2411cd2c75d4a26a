"""Two ends of the link back to back, each on its own database with the real store: thousands of messages
queued while the link is down, the link cut in the middle of the backlog, one end (or both) restarted from
what its store kept, and the link made again. Afterwards each end has taken everything the other sent
exactly once, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hub.testing import BusHarness, assert_no_pending_timers, success_result_of
from plugins.police_link.codec.frames import CAP_XML, POLICE_REQUEST
from plugins.police_link.link import Inbound, LinkSession, LinkState, Verdict
from plugins.police_link.schema import POLICE_SCHEMA
from plugins.police_link.sending import LinkSender
from plugins.police_link.store import HubLinkStore
from tests.plugins.police_link.link_fakes import Listener, Wire

RECEIVED = "test.link.received"
TURNS = 200_000


class End:
    """One end of the link: its own journal and database, store, session and sender."""

    def __init__(self, directory: Path, clock: Clock, name: str, content_type: str) -> None:
        self.name = name
        self.clock = clock
        self.content_type = content_type
        directory.mkdir(parents=True, exist_ok=True)
        self.harness = BusHarness(directory, clock, plugin_schemas=(POLICE_SCHEMA,))
        self.sent: list[str] = []
        #: link_seqs this end answers busy the first time they come.
        self.busy_once: set[int] = set()
        self.open()

    def open(self) -> None:
        """A new session from what the store kept, as at every start of the hub."""
        self.listener = Listener()
        self.store = HubLinkStore(self.harness.database, "police_link.force")
        self.session = LinkSession(
            clock=self.clock, store=self.store, memory=self.store.load(), deliver=self._deliver,
            listener=self.listener, log=structlog.get_logger().bind(end=self.name), snapshot=lambda: ([], []),
            window=64)
        self.session.start()
        self.sender = LinkSender(session=self.session, store=self.store, bus=self.harness.bus, clock=self.clock)

    def restart(self) -> None:
        self.session.stop()
        self.harness.restart()
        self.open()

    def queue(self, count: int) -> None:
        sends = []
        for _ in range(count):
            event = self.harness.note(f"{self.name} message {len(self.sent) + 1}")
            body = "<alert/>" if self.content_type == CAP_XML else '{"request_type": "live_view"}'
            sends.append(Deferred.fromCoroutine(self.sender.send(self.content_type, body, event=event)))
            self.sent.append(event.id)
        self.harness.settle(TURNS)
        for sending in sends:
            success_result_of(sending)

    def _deliver(self, inbound: Inbound) -> Deferred[Verdict]:
        return Deferred.fromCoroutine(self._take(inbound))

    async def _take(self, inbound: Inbound) -> Verdict:
        if inbound.link_seq in self.busy_once:
            self.busy_once.discard(inbound.link_seq)
            return Verdict("busy", "try again shortly")
        event = self.harness.note(inbound.transaction_id, topic=RECEIVED)
        await self.harness.bus.publish(event, also=self.store.inbox_job(inbound, "ok"))
        return Verdict("ok")

    def received(self) -> list[str]:
        """What this end took, in the order its journal has it (each a transaction id)."""
        bodies = self.harness.database.read(lambda connection: connection.execute(
            "SELECT body FROM events WHERE topic = ? ORDER BY seq", (RECEIVED,)).fetchall())
        return [self.harness.codec.from_json(body).payload.text for (body,) in bodies]


def cut_after(wire: Wire, to: LinkSession, events: int) -> None:
    """Cut ``wire`` just before the ``events``-th event frame reaches ``to``."""
    seen = 0

    def watch(receiver: LinkSession, text: str) -> None:
        nonlocal seen
        if receiver is to and text.startswith('{"type":"event"'):
            seen += 1
            if seen == events:
                wire.cut("cable cut")

    wire.watch = watch


@pytest.fixture
def ends(tmp_path: Path) -> Any:
    clock = Clock()
    hub = End(tmp_path / "hub", clock, "hub", CAP_XML)
    force = End(tmp_path / "force", clock, "force", POLICE_REQUEST)
    yield hub, force
    for end in (hub, force):
        end.session.stop()
        end.harness.close()


@pytest.mark.parametrize("restarted, alerts", [("hub", 2000), ("force", 500), ("both", 500)])
def test_a_backlog_cut_midway_and_restarted_is_taken_exactly_once_in_order(ends, restarted, alerts):
    """Thousands of alerts and 50 requests queued while down; the cable cut a third of the way in; more
    alerts queued; a restart; the cable cut again while resending; reconnected: every message taken once, in
    order, everything acknowledged, nothing owed, no gap reported."""
    hub, force = ends
    hub.queue(alerts)
    force.queue(50)
    wire = Wire(hub.clock, hub.session, force.session)
    cut_after(wire, force.session, alerts // 3)
    wire.connect()
    hub.harness.settle(TURNS)
    assert not wire.up
    assert 0 < len(force.received()) < alerts

    hub.queue(100)
    for end in {"hub": [hub], "force": [force], "both": [hub, force]}[restarted]:
        end.restart()
    assert hub.session.backlog > 100

    wire = Wire(hub.clock, hub.session, force.session)
    cut_after(wire, force.session, alerts // 6)
    wire.connect()
    hub.harness.settle(TURNS)
    assert not wire.up
    wire = Wire(hub.clock, hub.session, force.session)
    wire.connect()
    hub.harness.settle(TURNS)

    assert force.received() == hub.sent
    assert hub.received() == force.sent
    for end in (hub, force):
        assert end.session.backlog == 0 and end.session.state is LinkState.UP
        assert end.store.counts()["queued"] == 0
        assert end.listener.all("gap") == []
    assert hub.store.counts()["delivered"] == alerts + 100
    assert force.session.last_seq_received == alerts + 100


def test_what_is_sent_again_is_answered_duplicate_and_taken_once(ends):
    """Every answer lost, then a force that resumes from 0: the hub sends it all again; what the force
    already took is answered duplicate by transaction id and taken once."""
    hub, force = ends
    hub.queue(200)
    wire = Wire(hub.clock, hub.session, force.session)
    wire.watch = lambda receiver, text: False if text.startswith('{"type":"event_response"') else None
    wire.connect()
    hub.harness.settle(TURNS)
    taken_before = len(force.received())
    assert taken_before == 64 and hub.session.backlog == 200  # the window, all unanswered
    wire.cut()

    wire = Wire(hub.clock, hub.session, force.session)
    statuses: list[str] = []

    def watch(receiver: LinkSession, text: str) -> str | None:
        if text.startswith('{"type":"resume"') and receiver is hub.session:
            return '{"type":"resume","last_seq_received":0}'
        if text.startswith('{"type":"event_response"'):
            statuses.append(orjson.loads(text)["status"])
        return None

    wire.watch = watch
    wire.connect()
    hub.harness.settle(TURNS)
    assert force.received() == hub.sent
    assert statuses.count("duplicate") == 64 and statuses.count("ok") == 136
    assert hub.session.backlog == 0
    assert hub.store.counts()["delivered"] == 200


def test_a_busy_end_gets_everything_once_in_order_after_its_pauses(ends):
    """The force is busy for a few messages: the hub pauses and resends from each; later messages wait
    their turn, so nothing is taken out of order and no gap is reported."""
    hub, force = ends
    hub.queue(300)
    force.busy_once = {5, 6, 70, 299}
    wire = Wire(hub.clock, hub.session, force.session)
    wire.connect()
    for _ in range(20):
        hub.harness.settle(TURNS)
        if hub.session.backlog == 0:
            break
        hub.clock.advance(5)
    assert force.received() == hub.sent
    assert force.busy_once == set() and force.listener.all("gap") == []
    assert hub.session.backlog == 0 and hub.store.counts()["delivered"] == 300


def test_stopping_both_ends_leaves_no_timer(ends):
    """After a busy link, stop cancels pings, silence checks and every pending write's timer."""
    hub, force = ends
    hub.queue(10)
    wire = Wire(hub.clock, hub.session, force.session)
    wire.connect()
    hub.harness.settle(TURNS)
    hub.clock.advance(30)
    hub.harness.settle(TURNS)
    for end in (hub, force):
        end.session.stop()
    hub.harness.settle(TURNS)
    assert_no_pending_timers(hub.clock)
