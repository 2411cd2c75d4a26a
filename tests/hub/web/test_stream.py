"""The live stream: one frame per client per reactor turn, resume with no gap and no duplicate, topic
filters, Origin and session checks, and slow clients switched to catch-up instead of buffered."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import DeferredList
from twisted.internet.task import Clock, deferLater

from hub.testing import BusHarness
from hub.web.stream import SESSION_ENDED, LiveStream
from tests.hub.web.client import open_stream


def publish_many(web, count, topic="test.note.written"):
    return DeferredList([web.bus.publish(web.bus.note(f"n{i}", topic=topic)) for i in range(count)],
                        fireOnOneErrback=True)


async def stream_for(web, user="olive", query=""):
    client = await web.logged_in(user)
    ws = await open_stream(web.url, query, cookie=client.cookie)
    await ws.accepted
    await ws.when(lambda c: c.messages)
    return client, ws


@pytest_twisted.ensureDeferred
async def test_a_client_is_greeted_then_gets_events_published_in_one_turn_as_one_frame(web):
    """The hello names the head and the user; five events committed together arrive in one frame."""
    _client, ws = await stream_for(web)
    hello = ws.messages[0]
    assert hello["type"] == "hello" and hello["user"] == {"name": "olive", "role": "operator"}
    head = hello["head"]
    await publish_many(web, 5)
    await ws.when(lambda c: len(c.events()) == 5)
    frames = [m for m in ws.messages if m["type"] == "events"]
    assert len(frames) == 1
    assert ws.seqs() == list(range(head + 1, head + 6))
    assert frames[0]["events"][0]["payload"] == {"text": "n0"}
    ws.close()


@pytest_twisted.ensureDeferred
async def test_a_reconnecting_client_resumes_after_its_last_seq_with_no_gap_and_no_duplicate(web):
    """Events published while it was away, and while it catches up, each arrive exactly once, in order."""
    web.service.stream.chunk = 7  # many catch-up steps, so publishing interleaves with them
    client, ws = await stream_for(web)
    start = ws.messages[0]["head"]
    await publish_many(web, 20)
    await ws.when(lambda c: len(c.events()) == 20)
    ws.close()
    await ws.closed
    last = ws.seqs()[-1]
    await publish_many(web, 60)  # while nobody listens
    again = await open_stream(web.url, f"?since={last}", cookie=client.cookie)
    await again.accepted
    during = publish_many(web, 40)  # while it catches up
    await during
    await again.when(lambda c: len(c.events()) >= 100)
    await deferLater(reactor, 0.05, lambda: None)
    seqs = ws.seqs() + again.seqs()
    assert seqs == list(range(start + 1, start + 121))
    assert again.messages[0]["position"] == last
    again.close()


@pytest_twisted.ensureDeferred
async def test_a_client_joining_from_zero_while_events_flow_sees_each_once(web):
    """A catch-up from the start of the journal hands over to live delivery without gap or duplicate."""
    web.service.stream.chunk = 5
    await publish_many(web, 30)
    client = await web.logged_in("olive")
    ws = await open_stream(web.url, "?since=0", cookie=client.cookie)
    flowing = [publish_many(web, 3) for _ in range(10)]
    await ws.accepted
    await DeferredList(flowing, fireOnOneErrback=True)
    head = web.bus.bus.head
    await ws.when(lambda c: c.seqs() and c.seqs()[-1] == head)
    assert ws.seqs() == list(range(1, head + 1))
    ws.close()


@pytest_twisted.ensureDeferred
async def test_a_topic_filter_sends_only_matching_events_in_order(web):
    """?topics= takes comma-separated patterns; other events are passed over, not sent."""
    _client, ws = await stream_for(web, query="?topics=test.alpha.%23,test.gamma.*")
    await publish_many(web, 3, "test.alpha.one")
    await publish_many(web, 3, "test.beta.two")
    await publish_many(web, 2, "test.gamma.three")
    await ws.when(lambda c: len(c.events()) == 5)
    await deferLater(reactor, 0.05, lambda: None)
    assert [event["topic"] for event in ws.events()] == ["test.alpha.one"] * 3 + ["test.gamma.three"] * 2
    ws.close()


@pytest_twisted.ensureDeferred
async def test_a_bad_topic_pattern_is_refused(web):
    """A pattern that is not dotted words and wildcards is a 400, before any upgrade."""
    client = await web.logged_in("olive")
    ws = await open_stream(web.url, "?topics=Bad..Pattern", cookie=client.cookie)
    with pytest.raises(ConnectionError):
        await ws.accepted
    assert ws.rejected_status == 400


@pytest_twisted.ensureDeferred
async def test_the_stream_refuses_other_origins_and_anonymous_clients(web):
    """Cross-site WebSocket hijacking is refused by Origin; no cookie, no stream."""
    client = await web.logged_in("olive")
    hijack = await open_stream(web.url, cookie=client.cookie, origin="https://evil.example")
    with pytest.raises(ConnectionError):
        await hijack.accepted
    assert hijack.rejected_status == 403
    anonymous = await open_stream(web.url, cookie=None)
    with pytest.raises(ConnectionError):
        await anonymous.accepted
    assert anonymous.rejected_status == 401


@pytest_twisted.ensureDeferred
async def test_logging_out_closes_the_sessions_streams_with_4401(web):
    """The console learns at once that its session has ended."""
    client, ws = await stream_for(web)
    other_client, other = await stream_for(web, "sam")
    await client.request("DELETE", "/api/session")
    code = await ws.closed
    assert code == SESSION_ENDED
    assert ws.messages[-1] == {"type": "closing", "code": SESSION_ENDED, "reason": "logged out"}
    assert not other.closed.called
    other.close()


@pytest_twisted.ensureDeferred
async def test_a_stream_whose_session_times_out_is_closed_with_4401(web):
    """The periodic session check closes streams of sessions that ended by idle time."""
    clock = Clock()
    clock.advance(1000)
    web.sessions._clock = clock
    _client, ws = await stream_for(web)
    clock.advance(31 * 60)
    web.service.stream._check_sessions()
    assert await ws.closed == SESSION_ENDED


@pytest_twisted.ensureDeferred
async def test_a_client_that_stops_reading_is_paused_not_buffered_and_later_gets_everything(web):
    """Its TCP transport pauses it; once it reads again it catches up from the journal, losing nothing."""
    _client, ws = await stream_for(web)
    start = ws.messages[0]["head"]
    ws.transport.pauseProducing()  # the client stops reading its socket
    big = "x" * 4000
    for _round in range(10):
        await DeferredList([web.bus.publish(web.bus.note(big + str(i))) for i in range(200)],
                           fireOnOneErrback=True)
        await deferLater(reactor, 0.01, lambda: None)
    assert web.service.stream.pauses >= 1
    ws.transport.resumeProducing()
    await ws.when(lambda c: len(c.events()) == 2000)
    assert ws.seqs() == list(range(start + 1, start + 2001))
    ws.close()


# --- in memory: a slow client --------------------------------------------------------------------------


class FakeWebSocket:
    """The WebSocket transport as the stream uses it."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.closed_with: int | None = None

    def sendTextMessage(self, text: str) -> None:  # noqa: N802
        self.sent.append(json.loads(text))

    def loseConnection(self, code: int = 1000) -> None:  # noqa: N802
        self.closed_with = code

    def ping(self, payload: bytes = b"") -> None:
        pass

    def seqs(self) -> list[int]:
        return [e["seq"] for m in self.sent if m["type"] == "events" for e in m["events"]]


@pytest.fixture
def memory_stream(tmp_path, hub_clock):
    harness = BusHarness(tmp_path, hub_clock)
    stream = LiveStream(harness.bus, hub_clock, structlog.get_logger(), chunk=10)
    stream.start()
    yield harness, stream
    stream.stop()
    harness.close()


def connect(stream, since=None, patterns=None):
    client = stream.client(user={"name": "olive", "role": "operator"}, since=since, patterns=patterns, token=None)
    socket = FakeWebSocket()
    client.negotiationStarted(socket)
    client.negotiationFinished()
    return client, socket


def test_a_paused_client_is_sent_nothing_until_it_drains_then_catches_up_from_the_journal(memory_stream):
    """While its transport is full the stream writes nothing for it; on resume it reads the journal."""
    harness, stream = memory_stream
    client, socket = connect(stream)
    for index in range(5):
        harness.publish(harness.note(f"a{index}"))
    harness.settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]
    client.pauseProducing()
    for index in range(45):
        harness.publish(harness.note(f"b{index}"))
    harness.settle()
    assert socket.seqs() == [1, 2, 3, 4, 5]
    assert client not in stream._live
    client.resumeProducing()
    harness.settle()
    assert socket.seqs() == list(range(1, 51))
    frames = [m for m in socket.sent if m["type"] == "events"]
    assert len(frames) >= 1 + 45 // 10  # caught up a chunk at a time
    harness.publish(harness.note("live again"))
    harness.settle()
    assert socket.seqs()[-1] == 51 and client in stream._live


def test_clients_with_the_same_filter_and_position_share_one_encoded_frame(memory_stream):
    """The fan-out builds a frame once per filter and position, not once per client."""
    harness, stream = memory_stream
    sockets = [connect(stream)[1] for _ in range(3)]
    for index in range(4):
        harness.publish(harness.note(f"c{index}"))
    harness.settle()
    assert stream.frames_sent == 3 and stream.frames_built == 1
    assert all(s.sent[-1] == sockets[0].sent[-1] and len(s.sent[-1]["events"]) == 4 for s in sockets)


def test_a_client_asking_to_resume_past_the_head_starts_at_the_head(memory_stream):
    """A since from another journal (a rebuilt hub) cannot make a client skip future events."""
    harness, stream = memory_stream
    harness.publish(harness.note("one"))
    harness.settle()
    _client, socket = connect(stream, since=999)
    assert socket.sent[0]["position"] == 1
    harness.publish(harness.note("two"))
    harness.settle()
    assert socket.seqs() == [2]


def test_stopping_the_stream_closes_every_client_as_going_away(memory_stream):
    """A hub shutting down tells its clients so, with 1001."""
    _harness, stream = memory_stream
    _client, socket = connect(stream)
    stream.stop()
    assert socket.closed_with == 1001
    assert stream.clients == set()
