"""One end of the police link: resume and resend in order, the window, acknowledgements and their statuses,
dedupe, gaps, stale messages, refused frames, pings and the line fault, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from twisted.internet.task import Clock

from hub.testing import assert_no_pending_timers, settle
from plugins.police_link.codec.frames import (
    CAP_XML,
    ErrorFrame,
    EventFrame,
    EventResponse,
    Ping,
    Pong,
    Resume,
    Snapshot,
    encode_frame,
)
from plugins.police_link.link import DELIVERY_FAILED, LinkMemory, LinkState, Verdict
from tests.plugins.police_link.link_fakes import (
    Deliveries,
    FakeStore,
    FakeTransport,
    Listener,
    event_text,
    outbound,
    session,
)

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)


def resume(n: int) -> str:
    return encode_frame(Resume(last_seq_received=n))


def answer(transaction_id: str, status: str = "ok", reason: str | None = None) -> str:
    return encode_frame(EventResponse(transaction_id=transaction_id, status=status, reason=reason))


def memory(*pending: int, last_seq_received: int = 0, seen: frozenset[str] = frozenset()) -> LinkMemory:
    messages = tuple(outbound(n) for n in pending)
    return LinkMemory(pending=messages, next_seq=max(pending, default=0) + 1,
                      last_seq_received=last_seq_received, seen=seen)


def sent_seqs(transport: FakeTransport) -> list[int]:
    return [frame.link_seq for frame in transport.of(EventFrame)]


def responses(transport: FakeTransport) -> list[tuple[str, str, str | None]]:
    return [(r.transaction_id, r.status, r.reason) for r in transport.of(EventResponse)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Rig:
    """A session on a fake transport with a fake store, listener and deliver."""

    def __init__(self, clock: Clock, mem: LinkMemory | None = None, **settings) -> None:
        self.clock = clock
        self.store = FakeStore(mem)
        self.listener = Listener()
        self.deliveries = Deliveries()
        self.snapshots = 0

        def snapshot():
            self.snapshots += 1
            return ([{"incident_id": "inc-1", "identifier": "cap-1", "msg_type": "Alert", "state": "open",
                      "answer": None}], [])

        self.session = session(clock, store=self.store, deliver=self.deliveries, listener=self.listener,
                               snapshot=snapshot, **settings)
        self.transport = FakeTransport()

    def connect(self, peer_last: int | None = None) -> FakeTransport:
        self.transport = FakeTransport(endpoint=self.session)
        self.session.attach(self.transport)
        if peer_last is not None:
            self.hear(resume(peer_last))
        return self.transport

    def hear(self, *texts: str) -> None:
        for text in texts:
            self.session.text_received(text)
        settle(self.clock)

    def ack_all(self, status: str = "ok") -> None:
        """Answer everything in flight, until nothing more is sent."""
        answered: set[str] = set()
        while True:
            todo = [f.transaction_id for f in self.transport.of(EventFrame) if f.transaction_id not in answered]
            if not todo:
                return
            for transaction_id in todo:
                answered.add(transaction_id)
                self.session.text_received(answer(transaction_id, status))
            settle(self.clock)


# --- resume and resend --------------------------------------------------------------------------------------


def test_attaching_sends_resume_with_the_last_seq_received_and_waits(clock):
    """The first frame says where this end stands; nothing owed goes before the other end's resume."""
    rig = Rig(clock, memory(1, 2, last_seq_received=41))
    transport = rig.connect()
    assert transport.frames == [Resume(last_seq_received=41)]
    assert rig.session.state is LinkState.RESUMING
    assert rig.listener.states == [LinkState.RESUMING]
    rig.session.offer(outbound(3))
    assert sent_seqs(transport) == []


def test_the_peers_resume_acknowledges_what_it_has_and_the_rest_goes_in_order(clock):
    """resume(2) with 1 to 5 owed: 1 and 2 are acknowledged ok (stored and heard), 3 to 5 are sent, UP."""
    rig = Rig(clock, memory(1, 2, 3, 4, 5))
    transport = rig.connect(peer_last=2)
    assert sent_seqs(transport) == [3, 4, 5]
    assert rig.session.state is LinkState.UP
    assert [(a.message.link_seq, a.status) for a in rig.store.acks] == [(1, "ok"), (2, "ok")]
    assert [a.message.link_seq for a in rig.listener.acks] == [1, 2]
    assert (rig.session.peer_last_seq_received, rig.session.resend_from) == (2, 3)
    assert (rig.session.backlog, rig.session.in_flight) == (3, 3)
    assert rig.listener.states == [LinkState.RESUMING, LinkState.UP]


def test_thousands_queued_while_disconnected_go_out_in_order_within_the_window(clock):
    """3,000 offered with no connection: after resume, never more than the window unanswered, each once, in order."""
    rig = Rig(clock, window=100)
    for _ in range(3000):
        rig.session.offer(outbound(rig.session.allocate()))
    assert rig.session.backlog == 3000
    transport = rig.connect(peer_last=0)
    assert rig.session.in_flight == 100
    answered = 0
    while answered < 3000:
        frames = transport.of(EventFrame)
        assert len(frames) - answered <= 100
        batch = frames[answered:answered + 37]
        for frame in batch:
            rig.session.text_received(answer(frame.transaction_id))
        answered += len(batch)
        settle(clock)
    assert sent_seqs(transport) == list(range(1, 3001))
    assert rig.session.backlog == 0
    assert [a.message.link_seq for a in rig.store.acks] == list(range(1, 3001))
    # One write per turn of the clock, not one per answer.
    assert rig.store.ack_writes < 3000 / 30


def test_a_new_offer_goes_out_at_once_while_up_and_the_window_allows(clock):
    """Up with room in the window: offered is sent; a full window holds it until an answer frees a place."""
    rig = Rig(clock, window=2)
    transport = rig.connect(peer_last=0)
    for _ in range(3):
        rig.session.offer(outbound(rig.session.allocate()))
    assert sent_seqs(transport) == [1, 2]
    rig.hear(answer("tx-000001"))
    assert sent_seqs(transport) == [1, 2, 3]


def test_messages_must_be_offered_in_link_seq_order(clock):
    """An offer below one already offered is a programming error, said at once."""
    rig = Rig(clock, memory(1, 2))
    with pytest.raises(ValueError, match="in link_seq order"):
        rig.session.offer(outbound(2, transaction_id="another"))
    rig.session.offer(outbound(1))  # the same message again is no error, and not queued twice
    assert rig.session.backlog == 2


def test_allocate_continues_after_the_highest_message_remembered(clock):
    """Numbers are never given out twice, even when memory's next_seq lags the outbox."""
    rig = Rig(clock, LinkMemory(pending=(outbound(7),), next_seq=3, last_seq_received=0, seen=frozenset()))
    assert rig.session.allocate() == 8
    assert rig.session.release(8) is True
    assert rig.session.allocate() == 8
    rig.session.allocate()
    assert rig.session.release(8) is False


def test_detaching_puts_what_was_in_flight_back_and_it_goes_again_in_order(clock):
    """1 to 4 sent, 2 answered, connection lost: the next connection sends 1, 3, 4 again, in order."""
    rig = Rig(clock, memory(1, 2, 3, 4))
    rig.connect(peer_last=0)
    rig.hear(answer("tx-000002"))
    rig.session.detach("connection lost")
    assert rig.session.state is LinkState.DISCONNECTED
    assert rig.session.in_flight == 0
    assert rig.listener.heard[-1] == ("state", LinkState.DISCONNECTED, "connection lost")
    transport = rig.connect(peer_last=0)
    assert sent_seqs(transport) == [1, 3, 4]
    assert rig.session.resend_from == 1


# --- answers ----------------------------------------------------------------------------------------------


def test_ok_and_duplicate_acknowledge_and_both_count_as_delivered(clock):
    """The other end's word is kept (duplicate means it had it already); both are delivered."""
    rig = Rig(clock, memory(1, 2))
    rig.connect(peer_last=0)
    rig.hear(answer("tx-000001", "ok"), answer("tx-000002", "duplicate"))
    assert [(a.status, a.delivered) for a in rig.listener.acks] == [("ok", True), ("duplicate", True)]
    assert rig.session.backlog == 0


def test_error_and_stale_acknowledge_with_their_reason_and_are_never_resent(clock):
    """Refused for good: the listener and the store hear why, and the next connection does not send them."""
    rig = Rig(clock, memory(1, 2, 3))
    rig.connect(peer_last=0)
    rig.hear(answer("tx-000001", "error", "no such camera"), answer("tx-000002", "stale", "too late"))
    assert [(a.message.link_seq, a.status, a.reason, a.delivered) for a in rig.listener.acks] == [
        (1, "error", "no such camera", False), (2, "stale", "too late", False)]
    assert [a.status for a in rig.store.acks] == ["error", "stale"]
    rig.session.detach("lost")
    assert sent_seqs(rig.connect(peer_last=0)) == [3]


def test_busy_pauses_sending_and_resends_from_that_message_after_the_delay(clock):
    """2 answered busy: nothing new goes out; after busy_retry_s, 2 and everything after it in flight go
    again, in order; what was answered ok meanwhile is not resent."""
    rig = Rig(clock, memory(1, 2, 3, 4), busy_retry_s=5.0)
    transport = rig.connect(peer_last=0)
    rig.hear(answer("tx-000001"), answer("tx-000002", "busy"), answer("tx-000003"))
    rig.session.offer(outbound(5))
    assert sent_seqs(transport) == [1, 2, 3, 4]
    clock.advance(4.9)
    assert sent_seqs(transport) == [1, 2, 3, 4]
    clock.advance(0.1)
    assert sent_seqs(transport) == [1, 2, 3, 4, 2, 4, 5]
    assert [a.message.link_seq for a in rig.listener.acks] == [1, 3]


def test_an_answer_for_a_transaction_not_owed_is_logged_and_ignored(clock, captured_logs):
    """A late or stray answer changes nothing."""
    rig = Rig(clock, memory(1))
    rig.connect(peer_last=0)
    rig.hear(answer("nobody-knows-me"))
    assert rig.session.backlog == 1 and rig.listener.acks == []
    assert any(entry["event"] == "link_response_unknown" for entry in captured_logs)


def test_an_error_frame_naming_an_owed_message_refuses_it(clock):
    """The other end could not read our event at all: it is refused like an error answer, with the code."""
    rig = Rig(clock, memory(1, 2))
    rig.connect(peer_last=0)
    rig.hear(encode_frame(ErrorFrame(code="invalid", reason="payload: bad", transaction_id="tx-000001")),
             encode_frame(ErrorFrame(code="malformed", reason="not JSON")))
    assert [(a.message.link_seq, a.status, a.reason) for a in rig.listener.acks] == [(1, "error", "invalid: payload: bad")]
    assert rig.session.state is LinkState.UP


def test_a_json_message_goes_as_an_object_and_cap_as_text(clock):
    """The body is the payload as sent: JSON content travels as an object, XML as a string."""
    rig = Rig(clock)
    rig.session.offer(outbound(1, content_type=CAP_XML, body="<alert/>"))
    rig.session.offer(outbound(2, content_type="application/vnd.cctv-hub.request-answer+json; version=1",
                               body='{"request_id": "r1"}', deadline=100.0))
    transport = rig.connect(peer_last=0)
    first, second = transport.of(EventFrame)
    assert first.payload == "<alert/>" and first.deadline is None
    assert second.payload == {"request_id": "r1"} and second.deadline.timestamp() == 100.0


def test_a_message_that_cannot_be_encoded_is_refused_here_not_owed_forever(clock):
    """A JSON content type whose body is not JSON: acknowledged as error locally; the rest go on."""
    rig = Rig(clock)
    rig.session.offer(outbound(1, content_type="application/x+json", body="not json"))
    rig.session.offer(outbound(2))
    transport = rig.connect(peer_last=0)
    settle(clock)
    assert sent_seqs(transport) == [2]
    assert [(a.message.link_seq, a.status) for a in rig.listener.acks] == [(1, "error")]


# --- the snapshot --------------------------------------------------------------------------------------


def test_the_snapshot_follows_once_everything_owed_at_resume_is_answered(clock):
    """Owed 1 and 2 at resume: no snapshot until both are answered; messages offered later do not delay it."""
    rig = Rig(clock, memory(1, 2))
    transport = rig.connect(peer_last=0)
    rig.session.offer(outbound(3))
    rig.hear(answer("tx-000001"))
    assert transport.of(Snapshot) == []
    rig.hear(answer("tx-000002", "error"))
    [snapshot] = transport.of(Snapshot)
    assert snapshot.incidents[0]["incident_id"] == "inc-1"
    rig.hear(answer("tx-000003"))
    assert len(transport.of(Snapshot)) == 1


def test_with_nothing_owed_the_snapshot_goes_right_after_resume(clock):
    """Both ends are level at once: resume, then the snapshot."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    assert [type(frame) for frame in transport.frames] == [Resume, Snapshot]


def test_a_snapshot_that_cannot_be_made_is_skipped_and_the_link_stays_up(clock, captured_logs):
    """The snapshot is a check between ends, not a condition of the link."""
    def broken():
        raise RuntimeError("records unavailable")

    rig = Rig(clock)
    rig.session = session(clock, store=rig.store, listener=rig.listener, snapshot=broken)
    transport = rig.connect(peer_last=0)
    assert transport.of(Snapshot) == [] and rig.session.state is LinkState.UP
    assert any(entry["event"] == "link_snapshot_failed" for entry in captured_logs)


def test_the_peers_snapshot_reaches_the_listener_after_the_events_before_it(clock):
    """A snapshot waits behind events still being taken, so it is compared with what they did."""
    rig = Rig(clock)
    rig.connect(peer_last=0)
    rig.deliveries.hold = True
    rig.hear(event_text(1), encode_frame(Snapshot(sent_at=EPOCH, incidents=(), requests=())))
    assert rig.listener.all("snapshot") == []
    rig.deliveries.held[0].callback(Verdict("ok"))
    assert len(rig.listener.all("snapshot")) == 1


# --- taking events ------------------------------------------------------------------------------------------


def test_an_event_is_delivered_and_answered_with_the_verdict(clock):
    """deliver gets the message as an Inbound; the other end gets deliver's verdict."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    clock.advance(10)
    rig.deliveries.verdicts.append(Verdict("error", "unknown camera 99"))
    rig.hear(event_text(1, sent_at=9.5, deadline=100.0), event_text(2))
    first = rig.deliveries.taken[0]
    assert (first.link_seq, first.transaction_id, first.payload["n"], first.sent_at, first.deadline,
            first.received_at) == (1, "in-000001", 1, 9.5, 100.0, 10.0)
    assert responses(transport) == [("in-000001", "error", "unknown camera 99"), ("in-000002", "ok", None)]
    assert [r.link_seq for r in transport.of(EventResponse)] == [1, 2]
    assert rig.session.last_seq_received == 2


def test_events_are_taken_one_at_a_time_and_the_position_moves_only_when_durable(clock):
    """While 1 is being delivered, 2 waits, nothing is answered, and a resume would still say 0."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    rig.deliveries.hold = True
    rig.hear(event_text(1), event_text(2))
    assert [i.link_seq for i in rig.deliveries.taken] == [1]
    assert responses(transport) == [] and rig.session.last_seq_received == 0
    rig.deliveries.held[0].callback(Verdict("ok"))
    assert [i.link_seq for i in rig.deliveries.taken] == [1, 2]
    assert rig.session.last_seq_received == 1
    rig.deliveries.held[1].callback(Verdict("ok"))
    assert responses(transport) == [("in-000001", "ok", None), ("in-000002", "ok", None)]


def test_a_transaction_id_seen_before_is_answered_duplicate_and_not_delivered_again(clock):
    """Seen in this session or remembered from before a restart: duplicate, nothing delivered or recorded."""
    rig = Rig(clock, memory(last_seq_received=5, seen=frozenset({"in-000005"})))
    transport = rig.connect(peer_last=0)
    rig.hear(event_text(5), event_text(6), event_text(6))
    assert [i.link_seq for i in rig.deliveries.taken] == [6]
    assert responses(transport) == [("in-000005", "duplicate", None), ("in-000006", "ok", None),
                                    ("in-000006", "duplicate", None)]
    assert rig.store.recorded == []


def test_a_gap_is_reported_with_both_numbers_and_the_message_is_still_taken(clock):
    """After 2, 5 arrives: the listener hears gap(3, 5), and 5 is delivered; 6 after it is no gap."""
    rig = Rig(clock)
    rig.connect(peer_last=0)
    rig.hear(event_text(1), event_text(2), event_text(5), event_text(6))
    assert rig.listener.all("gap") == [(3, 5)]
    assert [i.link_seq for i in rig.deliveries.taken] == [1, 2, 5, 6]
    assert rig.session.last_seq_received == 6


def test_an_unseen_transaction_below_the_position_is_taken(clock):
    """The other end re-queued it: a lower link_seq with a new transaction id is delivered, no gap."""
    rig = Rig(clock, memory(last_seq_received=10))
    rig.connect(peer_last=0)
    rig.hear(event_text(4, transaction_id="requeued-4"))
    assert [i.transaction_id for i in rig.deliveries.taken] == ["requeued-4"]
    assert rig.listener.all("gap") == [] and rig.session.last_seq_received == 10


def test_an_event_past_its_deadline_is_recorded_and_answered_stale_not_delivered(clock):
    """Stale: recorded with status stale, the listener hears it, the other end is told, deliver never sees it."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    clock.advance(200)
    rig.hear(event_text(1, deadline=150.0), event_text(2, deadline=300.0))
    assert [i.link_seq for i in rig.deliveries.taken] == [2]
    assert [(i.link_seq, status) for i, status in rig.store.recorded] == [(1, "stale")]
    assert [inbound.link_seq for (inbound,) in rig.listener.all("stale")] == [1]
    assert responses(transport)[0][:2] == ("in-000001", "stale")
    rig.hear(event_text(1, deadline=150.0))
    assert responses(transport)[-1][:2] == ("in-000001", "duplicate")


def test_a_deliver_that_raises_is_answered_error_and_the_session_goes_on(clock, captured_logs):
    """The other end reads a generic reason; the exception is in the log; the next event is taken."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    rig.deliveries.verdicts.append(RuntimeError("secret detail of a bug"))
    rig.hear(event_text(1), event_text(2))
    assert responses(transport) == [("in-000001", "error", DELIVERY_FAILED), ("in-000002", "ok", None)]
    assert "secret" not in transport.texts[-2]
    assert [(i.link_seq, status) for i, status in rig.store.recorded] == [(1, "error")]
    assert any(entry["event"] == "link_delivery_failed" for entry in captured_logs)
    assert rig.session.state is LinkState.UP


def test_a_busy_verdict_holds_later_events_until_it_comes_again(clock):
    """deliver says busy for 2: 3 is answered busy without delivery; 2 and 3 again are taken, no gap."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    rig.deliveries.verdicts.extend([Verdict("ok"), Verdict("busy", "queue full")])
    rig.hear(event_text(1), event_text(2), event_text(3))
    assert [i.link_seq for i in rig.deliveries.taken] == [1, 2]
    assert [s for _t, s, _r in responses(transport)] == ["ok", "busy", "busy"]
    assert rig.session.last_seq_received == 1
    rig.hear(event_text(2), event_text(3))
    assert [i.link_seq for i in rig.deliveries.taken] == [1, 2, 2, 3]
    assert rig.listener.all("gap") == []
    assert rig.session.last_seq_received == 3


def test_an_oversized_frame_gets_an_error_frame_and_the_link_stays_up(clock):
    """Over max_frame_bytes: error oversized, no transaction id; the next event is taken as usual."""
    rig = Rig(clock, max_frame_bytes=4096)
    transport = rig.connect(peer_last=0)
    rig.hear(event_text(1, payload={"padding": "é" * 3000}), event_text(1))
    [error] = transport.of(ErrorFrame)
    assert (error.code, error.transaction_id) == ("oversized", None)
    assert rig.listener.all("frame_refused")[0][0] == "oversized"
    assert responses(transport) == [("in-000001", "ok", None)]
    assert rig.session.state is LinkState.UP and transport.closed == []


@pytest.mark.parametrize("text, code", [
    ("this is not json", "malformed"),
    ("[1, 2]", "malformed"),
    ('{"type": "gossip"}', "unknown_type"),
    ('{"type": "resume", "last_seq_received": -1}', "invalid"),
])
def test_an_unreadable_frame_gets_an_error_frame_with_its_code(clock, text, code):
    """Whatever cannot be read is answered with an error frame; the listener hears the code; still up."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    rig.hear(text)
    assert [e.code for e in transport.of(ErrorFrame)] == [code]
    assert [c for c, _reason in rig.listener.all("frame_refused")] == [code]
    assert rig.session.state is LinkState.UP


def test_an_event_with_a_bad_member_is_answered_error_and_leaves_no_hole(clock):
    """Its transaction id and link_seq could be read: event_response error, recorded, and 2 is no gap."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    bad = ('{"type":"event","link_seq":1,"transaction_id":"bad-1","content_type":"application/cap+xml",'
           '"sent_at":"yesterday","payload":"<alert/>"}')
    rig.hear(bad, event_text(2))
    assert responses(transport)[0][:2] == ("bad-1", "error")
    assert "sent_at" in responses(transport)[0][2]
    assert transport.of(ErrorFrame) == []
    assert [(i.transaction_id, s) for i, s in rig.store.recorded] == [("bad-1", "error")]
    assert rig.listener.all("gap") == [] and rig.session.last_seq_received == 2


# --- pings and the line fault ----------------------------------------------------------------------------


def test_pings_go_every_interval_while_attached_and_stop_when_detached(clock):
    """ping{clock} every ping_interval_s; none once the connection is gone."""
    rig = Rig(clock, ping_interval_s=30, line_fault_after_s=1000)
    rig.session.start()
    transport = rig.connect(peer_last=0)
    clock.advance(30)
    clock.advance(30)
    assert transport.of(Ping) == [Ping(clock=30.0), Ping(clock=60.0)]
    rig.session.detach("lost")
    clock.advance(90)
    assert len(transport.of(Ping)) == 2


def test_a_ping_is_answered_with_a_pong_echoing_its_clock(clock):
    """pong carries this end's clock and the ping's."""
    rig = Rig(clock)
    transport = rig.connect(peer_last=0)
    clock.advance(12)
    rig.hear(encode_frame(Ping(clock=1000.5)))
    assert transport.of(Pong) == [Pong(clock=12.0, echo=1000.5)]


def test_a_pong_reports_the_round_trip_and_the_clock_offset(clock):
    """Sent at 30, answered at 30.2 by a clock reading 1030.1: 0.2 s round trip, about 1000 s ahead."""
    rig = Rig(clock, ping_interval_s=30)
    rig.connect(peer_last=0)
    clock.advance(30)
    clock.advance(0.2)
    rig.hear(encode_frame(Pong(clock=1030.1, echo=30.0)))
    [(round_trip, offset)] = rig.listener.all("pong")
    assert round_trip == pytest.approx(0.2) and offset == pytest.approx(1000.0)


def test_a_line_fault_is_declared_after_the_silence_even_when_never_connected(clock):
    """Started, no connection, 90 s: FAULT, once; more silence says nothing more."""
    rig = Rig(clock)
    rig.session.start()
    clock.advance(89.9)
    assert rig.session.state is LinkState.DISCONNECTED
    clock.advance(0.1)
    assert rig.session.state is LinkState.FAULT
    clock.advance(900)
    assert rig.listener.states == [LinkState.FAULT]
    assert rig.listener.heard[0][2] == "nothing heard for 90 s"


def test_a_silent_connection_is_a_fault_and_is_closed(clock):
    """Frames keep the line alive; 90 s with none from the last one: FAULT and the transport is closed,
    whatever was in flight is owed again."""
    rig = Rig(clock, memory(1))
    rig.session.start()
    transport = rig.connect(peer_last=0)
    for _ in range(3):
        clock.advance(60)
        rig.hear(encode_frame(Ping(clock=1.0)))
    assert rig.session.state is LinkState.UP
    clock.advance(89)
    assert rig.session.state is LinkState.UP
    clock.advance(1)
    assert rig.session.state is LinkState.FAULT
    assert transport.closed == ["nothing heard for 90 s"]
    assert (rig.session.in_flight, rig.session.backlog) == (0, 1)
    assert rig.session.state is LinkState.FAULT  # the transport's detach changed nothing


def test_a_fault_ends_with_the_next_connection(clock):
    """After a fault the link resumes as usual: RESUMING at attach, UP at the other end's resume."""
    rig = Rig(clock)
    rig.session.start()
    clock.advance(90)
    rig.connect(peer_last=0)
    assert rig.listener.states == [LinkState.FAULT, LinkState.RESUMING, LinkState.UP]
    assert rig.session.last_heard_at == 90


def test_stop_leaves_no_timer_and_closes_the_connection(clock):
    """Pings, silence, busy retry and the acknowledgement flush are all cancelled; answers already in are kept."""
    rig = Rig(clock, memory(1, 2))
    rig.session.start()
    transport = rig.connect(peer_last=0)
    rig.session.text_received(answer("tx-000001"))
    rig.session.text_received(answer("tx-000002", "busy"))
    rig.session.stop()
    assert_no_pending_timers(clock)
    assert transport.closed == ["the link is stopping"]
    assert [a.message.link_seq for a in rig.store.acks] == [1]
    assert rig.session.state is LinkState.DISCONNECTED


def test_a_listener_that_raises_never_breaks_the_link(clock, captured_logs):
    """The listener's failure is logged; the session carries on."""
    class Broken(Listener):
        def state_changed(self, state, reason):
            raise RuntimeError("listener bug")

    store = FakeStore(memory(1))
    link = session(clock, store=store, listener=Broken())
    transport = FakeTransport()
    link.attach(transport)
    link.text_received(resume(0))
    assert sent_seqs(transport) == [1]
    assert any(entry["event"] == "link_listener_failed" for entry in captured_logs)


def test_a_newer_connection_replaces_the_older(clock):
    """attach while attached closes the older connection and resumes on the new one."""
    rig = Rig(clock, memory(1))
    first = rig.connect(peer_last=0)
    second = rig.connect(peer_last=0)
    assert first.closed == ["replaced by a newer connection"]
    assert sent_seqs(second) == [1]
    assert rig.session.state is LinkState.UP


def test_the_older_connections_detach_after_the_newer_ones_attach_changes_nothing(clock):
    """A server may hear an old connection's detach late: the session closed it already, so it is counted
    off; the newer connection's own detach is the one that ends it."""
    rig = Rig(clock, memory(1))
    first = FakeTransport()
    rig.session.attach(first)
    second = FakeTransport()
    rig.session.attach(second)
    rig.session.text_received(resume(0))
    rig.session.detach("the older connection is gone")
    assert rig.session.state is LinkState.UP and sent_seqs(second) == [1]
    rig.session.detach("the newer connection is gone")
    assert rig.session.state is LinkState.DISCONNECTED
