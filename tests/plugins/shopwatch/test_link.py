"""The transaction queue: one request in flight, acceptance by ".", replies, retries, refusals and time-outs."""

from __future__ import annotations

import pytest
import structlog
from twisted.internet.task import Clock

from hub.testing import assert_no_pending_timers, assert_no_result, failure_result_of, success_result_of
from plugins.shopwatch.codec import CCDI, FLEETSYNC, CodecError
from plugins.shopwatch.codec.ccdi import (
    CANCEL_CALL,
    QUERY_MODEL,
    Cancel,
    Function,
    Progress,
    Prompt,
    Query,
    RadioInfo,
    Ring,
    SendSdm,
    TransactionError,
)
from plugins.shopwatch.codec.fleetsync import SendText
from plugins.shopwatch.link import (
    Link,
    LinkClosed,
    LinkSettings,
    NoAnswer,
    QueueFull,
    RadioRefused,
    Request,
)

PROMPT = Prompt()
NOT_READY = TransactionError(0, 0x05)


class Harness:
    """A link on a fake clock; what it writes is decoded back into messages."""

    def __init__(self, dialect=CCDI, **settings):
        self.clock = Clock()
        self.written: list[bytes] = []
        self.unanswered: list[int] = []
        self.refusals: list[tuple[TransactionError, str]] = []
        self.dialect = dialect
        values = dict(handshake=dialect is CCDI, command_timeout_s=2.0, command_retries=3,
                      not_ready_retry_s=0.5, max_queue=3)
        values.update(settings)
        self.link = Link(
            LinkSettings(**values), clock=self.clock, write=self.written.append, encode=dialect.encode,
            log=structlog.get_logger(), no_answer=self.unanswered.append,
            refused=lambda error, label: self.refusals.append((error, label)),
        )

    def sent(self) -> list:
        decoder = self.dialect.decoder("to_radio")
        return [message for data in self.written for message in decoder.feed(data)]

    def radio(self, *messages) -> list[bool]:
        return [self.link.received(message) for message in messages]


def cancel(label="cancel call", **kwargs) -> Request:
    return Request(Cancel(CANCEL_CALL), label, **kwargs)


def model_query() -> Request:
    return Request(Query(QUERY_MODEL), "query model",
                   reply=lambda message: isinstance(message, RadioInfo) and message.kind == "model")


def test_one_request_is_in_flight_and_the_next_waits_for_its_acceptance():
    """The second request is written only after the radio accepted the first with "."."""
    harness = Harness()
    first = harness.link.submit(cancel())
    second = harness.link.submit(Request(Function("0", "3", "1"), "ring on"))
    assert harness.sent() == [Cancel(CANCEL_CALL)]
    assert_no_result(first)
    assert harness.radio(PROMPT) == [True]
    assert success_result_of(first) is None
    assert harness.sent() == [Cancel(CANCEL_CALL), Function("0", "3", "1")]
    harness.radio(PROMPT)
    assert success_result_of(second) is None
    assert harness.link.idle
    assert_no_pending_timers(harness.clock)


def test_a_dot_right_after_a_frame_is_its_trailer_not_an_acceptance():
    """An unsolicited frame's "." does not accept the command in flight; the next "." does."""
    harness = Harness()
    done = harness.link.submit(cancel())
    ring = Ring("0", 2, 0, 0, 0, 0x0A, "1001")
    assert harness.radio(ring, PROMPT) == [False, True]
    assert_no_result(done)
    harness.radio(PROMPT)
    assert success_result_of(done) is None


def test_a_query_completes_with_its_reply_and_other_frames_go_to_the_owner():
    """After the acceptance the link waits for the reply frame; a ring meanwhile is not its business."""
    harness = Harness()
    done = harness.link.submit(model_query())
    assert harness.radio(PROMPT, Ring("0", 2, 0, 0, 0, 1, "1001")) == [True, False]
    assert_no_result(done)
    harness.radio(PROMPT)  # the ring's trailer
    assert harness.radio(RadioInfo("model", "TM8255"), PROMPT) == [True, True]
    assert success_result_of(done) == RadioInfo("model", "TM8255")
    assert_no_pending_timers(harness.clock)


def test_a_query_whose_acceptance_was_lost_still_completes_on_its_reply():
    """Noise can eat the "."; the reply alone is answer enough."""
    harness = Harness()
    done = harness.link.submit(model_query())
    harness.radio(RadioInfo("model", "TM8255"))
    assert success_result_of(done) == RadioInfo("model", "TM8255")


def test_an_unanswered_request_is_sent_again_then_fails_as_no_answer():
    """With 3 retries it is written 4 times, command_timeout_s apart, then fails; no_answer counts it."""
    harness = Harness()
    done = harness.link.submit(cancel())
    for _ in range(3):
        harness.clock.advance(1.9)
        assert_no_result(done)
        harness.clock.advance(0.1)
    assert len(harness.sent()) == 4
    harness.clock.advance(2.0)
    failure = failure_result_of(done)
    assert failure.check(NoAnswer)
    assert "did not answer (sent 4 times)" in failure.getErrorMessage()
    assert harness.unanswered == [1]
    assert_no_pending_timers(harness.clock)


def test_unanswered_requests_are_counted_in_a_row_and_any_answer_resets_the_count():
    """Two silent requests in a row count 1 then 2; an accepted one starts again from 0."""
    harness = Harness(command_retries=0)
    for _ in range(2):
        harness.link.submit(cancel()).addErrback(lambda failure: None)
        harness.clock.advance(2.0)
    assert harness.unanswered == [1, 2]
    harness.link.submit(cancel())
    harness.radio(PROMPT)
    harness.link.submit(cancel()).addErrback(lambda failure: None)
    harness.clock.advance(2.0)
    assert harness.unanswered == [1, 2, 1]


def test_a_query_accepted_but_never_answered_times_out_too():
    """The reply gets its own command_timeout_s after the acceptance."""
    harness = Harness(command_retries=0)
    done = harness.link.submit(model_query())
    harness.clock.advance(1.5)
    harness.radio(PROMPT)
    harness.clock.advance(1.9)
    assert_no_result(done)
    harness.clock.advance(0.1)
    assert failure_result_of(done).check(NoAnswer)


def test_not_ready_is_retried_after_the_pause_and_a_checksum_error_at_once():
    """Error 0/05 waits not_ready_retry_s before resending; 0/02 resends straight away."""
    harness = Harness()
    done = harness.link.submit(cancel())
    harness.radio(NOT_READY, PROMPT)
    harness.clock.advance(0.4)
    assert len(harness.sent()) == 1
    harness.clock.advance(0.1)
    assert len(harness.sent()) == 2
    harness.radio(TransactionError(0, 0x02), PROMPT)
    harness.clock.advance(0)
    assert len(harness.sent()) == 3
    harness.radio(PROMPT)
    assert success_result_of(done) is None
    assert harness.refusals == []


def test_a_radio_that_stays_not_ready_fails_the_request_with_its_reason():
    """After command_retries resends, not ready is the request's failure, with the number of attempts."""
    harness = Harness(command_retries=1)
    done = harness.link.submit(cancel())
    harness.radio(NOT_READY, PROMPT)
    harness.clock.advance(0.5)
    harness.radio(NOT_READY, PROMPT)
    failure = failure_result_of(done)
    assert failure.check(RadioRefused)
    assert failure.getErrorMessage() == "the radio refused it: radio not ready (2 attempts)"
    assert harness.refusals == [(NOT_READY, "cancel call")]


def test_any_other_refusal_fails_the_request_at_once_and_the_queue_moves_on():
    """Error 0/03 (parameter) is not retried: the request fails with the meaning, the next is sent."""
    harness = Harness()
    done = harness.link.submit(cancel())
    following = harness.link.submit(cancel("second"))
    harness.radio(TransactionError(0, 0x03), PROMPT)
    assert failure_result_of(done).getErrorMessage() == "the radio refused it: parameter error"
    assert len(harness.sent()) == 2
    harness.radio(PROMPT)
    assert success_result_of(following) is None


def test_a_fatal_error_is_reported_even_with_nothing_in_flight():
    """ETYPE 1 goes to refused(); unasked, the error frame is left to the owner."""
    harness = Harness()
    assert harness.radio(TransactionError(1, 0x10)) == [False]
    assert harness.refusals == [(TransactionError(1, 0x10), "")]


def test_a_full_queue_refuses_commands_but_not_the_adapters_own_requests():
    """With max_queue 3 waiting, a fourth command fails as queue full; an internal request still queues."""
    harness = Harness(max_queue=3)
    harness.link.submit(cancel("in flight"))
    for index in range(3):
        harness.link.submit(cancel(f"waiting {index}"))
    failure = failure_result_of(harness.link.submit(cancel("one too many")))
    assert failure.check(QueueFull)
    assert "queue full" in failure.getErrorMessage()
    assert_no_result(harness.link.submit(cancel("keep-alive", internal=True)))
    assert harness.link.waiting == 4


def test_a_message_the_codec_refuses_fails_with_its_reason_and_is_never_written():
    """A 40-character SDM fails with the codec's words and nothing goes on the wire."""
    harness = Harness()
    failure = failure_result_of(harness.link.submit(Request(SendSdm("********", "x" * 40), "broadcast")))
    assert failure.check(CodecError)
    assert "at most 32 characters" in failure.getErrorMessage()
    assert harness.written == []


def test_after_a_radio_restart_the_reinitialisation_goes_first_then_the_interrupted_request():
    """restarted() sends its requests first, then the request in flight from its first attempt."""
    harness = Harness(command_retries=1)
    interrupted = harness.link.submit(Request(SendSdm("********", "Suspect north"), "broadcast"))
    harness.clock.advance(2.0)  # one time-out: attempt 2 in flight
    harness.radio(Progress(0x1F), PROMPT)
    ring_on, = harness.link.restarted([Request(Function("0", "3", "1"), "ring on", internal=True)])
    assert harness.sent()[-1] == Function("0", "3", "1")
    harness.radio(PROMPT)
    assert success_result_of(ring_on) is None
    assert harness.sent()[-1] == SendSdm("********", "Suspect north")
    harness.clock.advance(2.0)  # attempt 1 again, so a second time-out is not yet the end
    assert_no_result(interrupted)
    harness.radio(PROMPT)
    assert success_result_of(interrupted) is None


def test_closing_fails_everything_with_the_reason_and_leaves_no_timer():
    """In flight and waiting requests fail as LinkClosed; later ones too; no timer is left."""
    harness = Harness()
    in_flight = harness.link.submit(cancel())
    waiting = harness.link.submit(cancel("second"))
    harness.link.close("adapter stopped")
    for done in (in_flight, waiting, harness.link.submit(cancel("late"))):
        failure = failure_result_of(done)
        assert failure.check(LinkClosed) and failure.getErrorMessage() == "adapter stopped"
    assert [failure_result_of(d).check(LinkClosed) for d in harness.link.restarted([cancel()])] == [LinkClosed]
    assert_no_pending_timers(harness.clock)


def test_without_a_handshake_a_request_completes_once_written():
    """FleetSync has no acceptance: each request completes as it is written, and frames are the owner's."""
    harness = Harness(FLEETSYNC)
    first = harness.link.submit(Request(SendText("100", "1001", "Thanks"), "message"))
    second = harness.link.submit(Request(SendText("000", "0000", "All clear"), "broadcast"))
    assert success_result_of(first) is None and success_result_of(second) is None
    assert harness.sent() == [SendText("100", "1001", "Thanks"), SendText("000", "0000", "All clear")]
    assert harness.radio(PROMPT) == [False]
    assert_no_pending_timers(harness.clock)


@pytest.mark.parametrize("retries", [0, 2])
def test_command_retries_bounds_the_attempts(retries):
    """A request is written 1 + command_retries times at most."""
    harness = Harness(command_retries=retries)
    harness.link.submit(cancel()).addErrback(lambda failure: None)
    for _ in range(retries + 2):
        harness.clock.advance(2.0)
    assert len(harness.sent()) == retries + 1


def test_a_transport_that_answers_inside_write_leaves_no_time_out_behind():
    """If the "." arrives during write() itself, the request completes and its time-out is cancelled."""
    harness = Harness()
    harness.link._write = lambda data: (harness.written.append(data), harness.link.received(PROMPT))
    first = harness.link.submit(cancel())
    second = harness.link.submit(cancel("second"))
    assert success_result_of(first) is None and success_result_of(second) is None
    assert_no_pending_timers(harness.clock)
