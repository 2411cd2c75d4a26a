"""The bus: durable before visible, ordered fan-out, replay without gaps, isolated subscribers."""

from __future__ import annotations

import sqlite3

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from twisted.internet.defer import Deferred

from hub.bus import BusClosed, Overflow, SubscriberState
from hub.events import GenericPayload
from hub.testing import BusHarness, failure_result_of, success_result_of


def test_publish_fires_with_the_sequence_number_once_committed(hub_bus):
    """Publish's Deferred waits for the commit, then fires with consecutive sequence numbers."""
    first = hub_bus.publish(hub_bus.note("one"))
    second = hub_bus.publish(hub_bus.note("two"))
    assert not first.called and not second.called
    hub_bus.settle()
    assert (first.result, second.result) == (1, 2)


def test_subscribers_see_nothing_before_it_is_durable(hub_bus):
    """A subscriber is handed an event only after the journal has it, carrying its seq."""
    seen = []
    hub_bus.bus.subscribe("#", seen.append)
    hub_bus.publish(hub_bus.note("one"))
    assert seen == []
    hub_bus.settle()
    assert [event.seq for event in seen] == [1]
    stored = sqlite3.connect(hub_bus.journal_path).execute("SELECT seq, id FROM events").fetchall()
    assert stored == [(1, seen[0].id)]


def test_events_arrive_in_journal_order_filtered_by_pattern(hub_bus):
    """Each subscriber gets the matching events in sequence order and nothing else."""
    radio, health = [], []
    hub_bus.bus.subscribe("shopwatch.#", lambda e: radio.append(e.summary))
    hub_bus.bus.subscribe("adapter.health.*", lambda e: health.append(e.summary))
    for topic, text in [
        ("shopwatch.emergency.raised", "a"),
        ("adapter.health.failed", "b"),
        ("shopwatch.report.received", "c"),
        ("onvif.camera.offline", "d"),
    ]:
        hub_bus.publish(hub_bus.note(text, topic=topic))
    hub_bus.settle()
    assert radio == ["a", "c"]
    assert health == ["b"]


def test_a_group_commit_carries_everything_queued_meanwhile(hub_bus):
    """Events published before the writer runs are committed in one batch."""
    writer = hub_bus.bus.journal._writer
    before = writer.batches_committed
    for index in range(50):
        hub_bus.publish(hub_bus.note(str(index)))
    hub_bus.settle()
    assert writer.batches_committed - before == 1
    assert hub_bus.bus.head == 50


def test_replay_from_a_sequence_number_then_live_with_no_gap_or_duplicate(hub_bus):
    """``since`` replays the journal, then continues live, even while events keep arriving."""
    for index in range(1, 1201):
        hub_bus.publish(hub_bus.note(str(index)))
    hub_bus.settle()
    seen = []
    hub_bus.bus.subscribe("#", lambda e: seen.append(e.seq), since=100, queue_size=300)
    # Interleave live publishing with the catch-up, which reads the journal in chunks.
    for index in range(1201, 1301):
        hub_bus.publish(hub_bus.note(str(index)))
        hub_bus.clock.advance(0)
    hub_bus.settle()
    assert seen == list(range(101, 1301))


def test_a_named_cursor_resumes_after_a_restart(hub_bus):
    """A durable consumer picks up after the last event it finished, across a restart."""
    seen = []
    hub_bus.bus.subscribe("#", lambda e: seen.append(e.seq), cursor="police_link", since=0)
    for index in range(3):
        hub_bus.publish(hub_bus.note(str(index)))
    hub_bus.settle()
    hub_bus.restart()
    for index in range(2):
        hub_bus.publish(hub_bus.note(f"while away {index}"))
    hub_bus.settle()
    resumed = []
    hub_bus.bus.subscribe("#", lambda e: resumed.append(e.seq), cursor="police_link")
    hub_bus.settle()
    assert seen == [1, 2, 3]
    assert resumed == [4, 5]


def test_a_new_cursor_without_since_starts_at_the_live_head(hub_bus):
    """A cursor that has never been saved takes only what is published from now on."""
    hub_bus.publish(hub_bus.note("old"))
    hub_bus.settle()
    seen = []
    hub_bus.bus.subscribe("#", lambda e: seen.append(e.summary), cursor="fresh")
    hub_bus.publish(hub_bus.note("new"))
    hub_bus.settle()
    assert seen == ["new"]


def test_a_slow_subscriber_holds_up_neither_the_publisher_nor_the_others(hub_bus):
    """A subscriber waiting on its own Deferred gets its next event only when done; others go on."""
    slow_calls: list[Deferred] = []
    slow_seen, fast_seen = [], []

    def slow(event):
        slow_seen.append(event.seq)
        waiting = Deferred()
        slow_calls.append(waiting)
        return waiting

    hub_bus.bus.subscribe("#", slow)
    hub_bus.bus.subscribe("#", lambda e: fast_seen.append(e.seq))
    published = [hub_bus.publish(hub_bus.note(str(index))) for index in range(3)]
    hub_bus.settle()
    assert [d.result for d in published] == [1, 2, 3]
    assert fast_seen == [1, 2, 3]
    assert slow_seen == [1]
    slow_calls[0].callback(None)
    assert slow_seen == [1, 2]
    slow_calls[1].callback(None)
    slow_calls[2].callback(None)
    assert slow_seen == [1, 2, 3]


def test_a_failing_subscriber_is_logged_and_isolated(hub_bus, captured_logs):
    """A handler that raises, or fails its Deferred, is counted and logged; delivery goes on."""
    seen = []

    def broken(event):
        if event.summary == "boom":
            raise ValueError("handler bug")
        seen.append(event.summary)

    def failing_later(event):
        waiting = Deferred()
        waiting.errback(RuntimeError("async bug"))
        return waiting

    subscription = hub_bus.bus.subscribe("#", broken, name="broken")
    later = hub_bus.bus.subscribe("#", failing_later, name="failing_later")
    for text in ["ok", "boom", "after"]:
        hub_bus.publish(hub_bus.note(text))
    hub_bus.settle()
    assert seen == ["ok", "after"]
    assert subscription.failed == 1 and subscription.delivered == 3
    assert later.failed == 3
    failures = [entry for entry in captured_logs if entry["event"] == "subscriber_failed"]
    assert {entry["subscriber"] for entry in failures} == {"broken", "failing_later"}
    assert "ValueError: handler bug" in [entry["error"] for entry in failures]


def test_a_coroutine_handler_is_awaited_before_the_next_event(hub_bus):
    """``async def`` handlers work and keep the order."""
    seen = []
    gate: Deferred = Deferred()

    async def handler(event):
        if event.seq == 1:
            await gate
        seen.append(event.seq)

    hub_bus.bus.subscribe("#", handler)
    hub_bus.publish(hub_bus.note("a"))
    hub_bus.publish(hub_bus.note("b"))
    hub_bus.settle()
    assert seen == []
    gate.callback(None)
    assert seen == [1, 2]


def test_overflow_with_catch_up_loses_nothing(hub_bus, captured_logs):
    """A full queue under the default policy falls back to the journal; every event still arrives."""
    release: list[Deferred] = []
    seen = []

    def slow(event):
        seen.append(event.seq)
        waiting = Deferred()
        release.append(waiting)
        return waiting

    subscription = hub_bus.bus.subscribe("#", slow, queue_size=5, name="slow")
    for index in range(40):
        hub_bus.publish(hub_bus.note(str(index)))
    hub_bus.settle()
    assert subscription.overflows == 1 and subscription.dropped == 0
    assert subscription.state is SubscriberState.CATCHING_UP
    while len(seen) < 40:
        release[len(seen) - 1].callback(None)
        hub_bus.settle()
    release[-1].callback(None)
    assert seen == list(range(1, 41))
    assert subscription.state is SubscriberState.LIVE
    assert [entry["event"] for entry in captured_logs if entry.get("subscriber") == "slow"] == [
        "subscriber_overflow",
        "subscriber_level_again",
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(Overflow.DROP_OLDEST, [1, 7, 8, 9, 10]), (Overflow.DROP_NEWEST, [1, 2, 3, 4, 5])],
)
def test_drop_policies_count_what_they_drop(hub_bus, policy, expected):
    """``drop_oldest`` keeps the newest events, ``drop_newest`` the oldest; both count drops."""
    gate: Deferred = Deferred()
    seen = []

    def handler(event):
        seen.append(event.seq)
        return gate if event.seq == 1 else None

    subscription = hub_bus.bus.subscribe("#", handler, queue_size=4, overflow=policy)
    for index in range(10):
        hub_bus.publish(hub_bus.note(str(index)))
    hub_bus.settle()
    gate.callback(None)
    assert seen == expected
    assert subscription.dropped == 5 and subscription.overflows == 1


def test_republishing_an_event_id_returns_its_seq_and_delivers_nothing_again(hub_bus):
    """Publish is idempotent by event id: a retry cannot duplicate an event."""
    seen = []
    hub_bus.bus.subscribe("#", lambda e: seen.append(e.seq))
    event = hub_bus.note("once")
    first = hub_bus.publish(event)
    hub_bus.settle()
    again = hub_bus.publish(event)
    other = hub_bus.publish(hub_bus.note("other"))
    hub_bus.settle()
    assert (first.result, again.result, other.result) == (1, 1, 2)
    assert seen == [1, 2]


def test_unknown_event_types_replay_as_generic_events(tmp_path, hub_clock):
    """An event whose type the reading hub does not know comes back generic, never an exception."""
    writer_side = BusHarness(tmp_path, hub_clock)
    writer_side.publish(writer_side.note("from a plugin since removed"))
    writer_side.close()
    reader_side = BusHarness(tmp_path, hub_clock)
    reader_side.registry = type(reader_side.registry)()  # a hub without the Note type
    reader_side.bus.codec = type(reader_side.codec)(reader_side.registry)
    (event,) = reader_side.bus.replay(since=0)
    assert event.payload == GenericPayload("test.note", {"text": "from a plugin since removed"})
    assert reader_side.bus.codec.to_json(event) == writer_side.codec.to_json(event)
    reader_side.close()


def test_a_failed_commit_fails_the_publish_and_delivers_nothing(hub_bus, captured_logs):
    """When the journal cannot write, the publisher hears so and no subscriber sees the event."""
    seen = []
    hub_bus.bus.subscribe("#", seen.append)
    hub_bus.bus.journal._writer._connection.execute("PRAGMA query_only=1")
    published = hub_bus.publish(hub_bus.note("lost?"))
    hub_bus.settle()
    failure = published.result
    published.addErrback(lambda _f: None)
    assert isinstance(failure.value, sqlite3.OperationalError)
    assert seen == []
    assert [e["event"] for e in captured_logs] == ["journal_append_failed"]
    hub_bus.bus.journal._writer._connection.execute("PRAGMA query_only=0")
    retried = hub_bus.publish(hub_bus.note("after"))
    hub_bus.settle()
    assert retried.result == 1 and len(seen) == 1


def test_retention_prunes_old_events_and_never_reuses_a_seq(hub_bus):
    """Pruning deletes by age; sequence numbers keep counting from where they were."""
    hub_bus.publish(hub_bus.note("old"))
    hub_bus.settle()
    hub_bus.clock.advance(86_400 * 40)
    hub_bus.publish(hub_bus.note("recent"))
    hub_bus.settle()
    pruned = hub_bus.bus.journal.prune(before=hub_bus.clock.seconds() - 86_400 * 31)
    hub_bus.settle()
    assert pruned.result == 1
    hub_bus.bus.journal.prune(before=hub_bus.clock.seconds() + 1)
    hub_bus.settle()
    hub_bus.restart()
    published = hub_bus.publish(hub_bus.note("next"))
    hub_bus.settle()
    assert published.result == 3


def test_a_closed_bus_refuses_to_publish(hub_bus):
    """After close, publish fails with BusClosed instead of silently dropping."""
    hub_bus.bus.close()
    hub_bus.settle()
    failure = hub_bus.publish(hub_bus.note("late")).result
    assert failure.check(BusClosed)
    failure.cleanFailure()
    with pytest.raises(BusClosed):
        hub_bus.bus.subscribe("#", lambda e: None)
    hub_bus.bus = hub_bus._open()


def test_a_cancelled_subscription_gets_nothing_more(hub_bus):
    """Cancelling stops delivery at once."""
    seen = []
    subscription = hub_bus.bus.subscribe("#", seen.append)
    hub_bus.publish(hub_bus.note("one"))
    hub_bus.settle()
    subscription.cancel()
    hub_bus.publish(hub_bus.note("two"))
    hub_bus.settle()
    assert len(seen) == 1
    assert hub_bus.bus.subscriptions == ()


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.sampled_from(["a.x.y", "b.x.y", "a.z.w"])),
        st.tuples(st.just("subscribe"), st.sampled_from(["#", "a.#", "*.x.*"]), st.integers(0, 30)),
        st.tuples(st.just("turn")),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps, queue_size=st.integers(1, 8))
def test_every_subscriber_gets_exactly_the_matching_events_after_its_start(tmp_path_factory, steps, queue_size):
    """Whatever the interleaving of publishes, subscribes and turns, delivery is exact and ordered."""
    from hub.topics import TopicMatcher

    harness = BusHarness(tmp_path_factory.mktemp("bus"))
    subscribers = []
    topics: dict[int, str] = {}
    published = []
    for step in steps:
        if step[0] == "publish":
            event = harness.note("x", topic=step[1])
            deferred = harness.publish(event)
            deferred.addCallback(lambda seq, topic=step[1]: topics.__setitem__(seq, topic))
            published.append(deferred)
        elif step[0] == "subscribe":
            since = min(step[2], harness.bus.head)
            seen: list[int] = []
            harness.bus.subscribe(step[1], lambda e, seen=seen: seen.append(e.seq), since=since, queue_size=queue_size)
            subscribers.append((step[1], since, seen))
        else:
            harness.clock.advance(0)
    harness.settle()
    for pattern, since, seen in subscribers:
        matches = TopicMatcher(pattern)
        expected = [seq for seq in sorted(topics) if seq > since and matches(topics[seq])]
        assert seen == expected
    harness.close()


def test_work_published_with_an_event_is_kept_with_it(hub_bus):
    """``also`` runs in the event's transaction and sees its seq; both are durable together."""
    def remember(connection, seq):
        connection.execute("CREATE TABLE IF NOT EXISTS seen (seq INTEGER)")
        connection.execute("INSERT INTO seen VALUES (?)", (seq,))

    published = hub_bus.bus.publish(hub_bus.note("one"), also=remember)
    hub_bus.settle()
    seq = success_result_of(published)
    rows = sqlite3.connect(hub_bus.journal_path).execute("SELECT seq FROM seen").fetchall()
    assert rows == [(seq,)]


def test_failing_work_keeps_neither_the_event_nor_the_work_and_spares_the_batch(hub_bus):
    """When ``also`` raises, that publish fails alone: others in the same commit still land, in order."""
    def broken(connection, seq):
        connection.execute("CREATE TABLE IF NOT EXISTS seen (seq INTEGER)")
        connection.execute("INSERT INTO seen VALUES (?)", (seq,))
        raise ValueError("incident store refused")

    received = []
    hub_bus.bus.subscribe("#", received.append)
    before = hub_bus.bus.publish(hub_bus.note("before"))
    failing = hub_bus.bus.publish(hub_bus.note("doomed"), also=broken)
    after = hub_bus.bus.publish(hub_bus.note("after"))
    hub_bus.settle()
    assert failure_result_of(failing).check(ValueError)
    assert [e.payload.text for e in received] == ["before", "after"]
    assert success_result_of(after) == success_result_of(before) + 1
    connection = sqlite3.connect(hub_bus.journal_path)
    assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'seen'").fetchall() == []


def test_republishing_an_event_with_work_does_not_do_the_work_twice(hub_bus):
    """A retried publish (same event id) answers with the first seq and skips its work."""
    calls = []
    event = hub_bus.note("once")
    hub_bus.bus.publish(event, also=lambda connection, seq: calls.append(seq))
    hub_bus.settle()
    again = hub_bus.bus.publish(event, also=lambda connection, seq: calls.append(seq))
    hub_bus.settle()
    assert calls == [success_result_of(again)]
