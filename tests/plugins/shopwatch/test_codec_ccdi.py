"""Tait CCDI v3: the vectors from the protocol notes, every message both ways, and a decoder that survives
whatever a real line does to it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.shopwatch.codec import CCDI, CodecError
from plugins.shopwatch.codec.ccdi import (
    ALL_UNITS,
    STARTUP_FUNCTIONS,
    Cancel,
    CcdiDecoder,
    Dial,
    Function,
    GoToChannel,
    Progress,
    Prompt,
    Query,
    RadioInfo,
    ReceivedSdm,
    Ring,
    SendSdm,
    TransactionError,
    UnreadableFrame,
    checksum,
    encode,
    frame,
)

# --- The notes' vectors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (Cancel(0), b"c0100C\r"),
        (Query(1), b"q011FD\r"),
        (ReceivedSdm(""), b"s002D\r"),
        (SendSdm("12345678", "Hi", lead_in=0xFF), b"s0CFF12345678Hi39\r"),
        (TransactionError(0, 3), b"e03003A5\r"),
        (SendSdm("0800TEST", "Hi!", lead_in=5), b"s0D050800TESTHi!DA\r"),
    ],
)
def test_the_vectors_in_the_protocol_notes_encode_exactly(message, wire):
    """Each vector from radio-serial.md is what the encoder writes."""
    assert encode(message) == wire


def test_the_worked_checksum_example_holds():
    """s0D050800TESTHi! sums to 0x426, so its checksum is 0x100 - 0x26 = 0xDA."""
    body = b"s0D050800TESTHi!"
    assert sum(body) == 0x426
    assert checksum(body) == 0xDA


@pytest.mark.parametrize(
    ("wire", "direction", "message"),
    [
        (b"c0100C\r", "to_radio", Cancel(0)),
        (b"q011FD\r", "to_radio", Query(1)),
        (b"s002D\r", "from_radio", ReceivedSdm("")),
        (b"s0CFF12345678Hi39\r", "to_radio", SendSdm("12345678", "Hi", 0xFF)),
        (b"e03003A5\r", "from_radio", TransactionError(0, 3)),
    ],
)
def test_the_vectors_decode_to_their_messages(wire, direction, message):
    """Each vector decodes, in its direction, to the message it stands for."""
    decoder = CcdiDecoder(direction)
    assert decoder.feed(wire) == [message]
    assert decoder.stats.dropped == 0


def test_letters_are_read_by_direction():
    """'s' is a received SDM from the radio and a send-SDM from the PC; 'd' is display and dial."""
    assert CcdiDecoder("from_radio").feed(frame("s", "Hello")) == [ReceivedSdm("Hello")]
    assert CcdiDecoder("to_radio").feed(frame("d", "012345")) == [Dial(0, "12345")]
    assert CcdiDecoder("from_radio").feed(frame("d", "CH 1")) == [RadioInfo("display", "CH 1")]


def test_a_bare_dot_is_a_prompt_only_from_the_radio():
    """The radio's '.' is transaction OK; a PC never sends one, so from a PC it is noise."""
    assert CcdiDecoder("from_radio").feed(b".") == [Prompt()]
    decoder = CcdiDecoder("to_radio")
    assert decoder.feed(b".") == []
    assert decoder.stats.garbage_bytes == 1


# --- Message meanings ----------------------------------------------------------------------------


def test_a_ring_carries_its_types_status_and_caller():
    """RCAT, TYPE1-4, STATUS and CALLER_ID are read field by field; FF means no status."""
    [ring] = CcdiDecoder().feed(frame("r", "02000" + "0A" + "1001"))
    assert ring == Ring("0", 2, 0, 0, 0, 0x0A, "1001")
    [plain] = CcdiDecoder().feed(frame("r", "00000FF1002"))
    assert plain.status is None and not plain.emergency


@pytest.mark.parametrize(("params", "emergency"), [("00100FF1001", True), ("00009FF1001", True), ("00000FF1001", False)])
def test_an_emergency_is_emergency_priority_or_an_alarm_request(params, emergency):
    """TYPE2 1 (emergency priority) or TYPE4 9 (alarm request) is an emergency; nothing else is."""
    [ring] = CcdiDecoder().feed(frame("r", params))
    assert ring.emergency is emergency


@pytest.mark.parametrize(
    ("error", "not_ready", "fatal", "meaning"),
    [
        (TransactionError(0, 5), True, False, "radio not ready"),
        (TransactionError(0, 2), False, False, "checksum error"),
        (TransactionError(0, 6), False, False, "command not accepted"),
        (TransactionError(1, 0x10), False, True, "fatal radio error 10"),
    ],
)
def test_errors_say_what_went_wrong(error, not_ready, fatal, meaning):
    """Error 0/05 is 'not ready' (worth retrying); ETYPE 1 is fatal; each has a meaning for people."""
    assert (error.not_ready, error.fatal, error.meaning) == (not_ready, fatal, meaning)


def test_progress_keeps_its_type_and_parameters():
    """PROGRESS 1D 1 is an SDM auto-acknowledge that says the unit received it."""
    [progress] = CcdiDecoder().feed(frame("p", "1D1"))
    assert progress == Progress(0x1D, "1")
    assert progress.para1 == "1"


def test_the_startup_functions_turn_on_ring_progress_and_sdm_push():
    """f031, f041 and f101 go to the radio at start-up."""
    assert [encode(function)[:6] for function in STARTUP_FUNCTIONS] == [b"f03031", b"f03041", b"f03101"]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (SendSdm("1234", "Hi"), "8 characters"),
        (SendSdm(ALL_UNITS, "x" * 33), "at most 32"),
        (SendSdm(ALL_UNITS, "Café"), "printable ASCII"),
        (SendSdm(ALL_UNITS, "line\rbreak"), "printable ASCII"),
        (SendSdm(ALL_UNITS, "Hi", lead_in=256), "lead-in"),
        (Query(12), "digit"),
        (object(), "no frame"),
    ],
)
def test_what_cannot_be_sent_is_refused_with_the_reason(message, reason):
    """Encoding never puts a broken frame on the wire: CodecError names the problem."""
    with pytest.raises(CodecError, match=reason):
        encode(message)


# --- A real line: noise, partial frames, bad checksums ---------------------------------------------


def test_power_up_bytes_before_the_first_frame_are_counted_and_skipped():
    """9C FE 0D, seen at power-up, is dropped and the frame after it read."""
    decoder = CcdiDecoder()
    assert decoder.feed(b"\x9c\xfe\r" + frame("p", "1F") + b".") == [Progress(0x1F), Prompt()]
    assert decoder.stats.garbage_bytes == 3


def test_a_bad_checksum_is_counted_and_the_next_frame_still_read():
    """A frame whose checksum is wrong is dropped; the frame after it is not."""
    broken = bytearray(frame("r", "00100FF1001"))
    broken[-2] ^= 0x01
    decoder = CcdiDecoder()
    assert decoder.feed(bytes(broken) + frame("p", "03")) == [UnreadableFrame(), Progress(0x03)]
    assert decoder.stats.bad_checksums == 1


def test_a_dot_inside_a_frame_with_a_bad_checksum_is_text_not_a_prompt():
    """Only the "." after the spoilt frame comes out, after the mark that says a frame was lost, even when
    the frame arrives in pieces."""
    broken = bytearray(frame("s", "Hi. Red coat."))
    broken[-2] ^= 0x01
    wire = bytes(broken) + b"."
    decoder = CcdiDecoder()
    messages = [message for byte in wire for message in decoder.feed(bytes([byte]))]
    assert messages == [UnreadableFrame(), Prompt()]


def test_a_partial_frame_cut_off_by_a_new_frame_is_dropped_at_once():
    """A frame cut short by the next one does not hold that one back until more bytes come."""
    decoder = CcdiDecoder()
    assert decoder.feed(b"r0B00100" + frame("p", "04")) == [Progress(0x04)]
    assert decoder.stats.garbage_bytes == 8


def test_frames_split_anywhere_across_reads_are_joined():
    """A frame that arrives one byte per read is the same frame."""
    wire = frame("r", "00100FF1001") + b"." + frame("s", "Shoplifter, red coat") + b"."
    decoder = CcdiDecoder()
    messages = [message for byte in wire for message in decoder.feed(bytes([byte]))]
    assert messages == [Ring("0", 0, 1, 0, 0, None, "1001"), Prompt(), ReceivedSdm("Shoplifter, red coat"), Prompt()]
    assert decoder.stats.dropped == 0


def test_a_frame_with_a_good_checksum_but_nonsense_fields_is_malformed():
    """An error frame whose ERRNUM is not hex is counted as malformed, not guessed at."""
    decoder = CcdiDecoder()
    assert decoder.feed(frame("e", "0ZZ") + frame("p", "03")) == [UnreadableFrame(), Progress(0x03)]
    assert decoder.stats.malformed == 1


def test_at_most_one_frame_is_held_between_reads():
    """An endless stream with no CR never grows the decoder's buffer past one frame."""
    decoder = CcdiDecoder()
    for _ in range(100):
        decoder.feed(b"rFF" + b"A" * 100)
    assert len(decoder._pending) <= 1 + 2 + 255 + 2


# --- Properties ----------------------------------------------------------------------------------

_printable_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=32)
_hex_digit = st.integers(0, 15)

from_radio_messages = st.one_of(
    st.builds(TransactionError, st.integers(0, 1), st.integers(0, 255)),
    st.builds(Progress, st.integers(0, 255), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)),
    st.builds(Ring, st.sampled_from("0123"), _hex_digit, _hex_digit, _hex_digit, _hex_digit,
              st.one_of(st.none(), st.integers(0, 254)), st.text("0123456789*", max_size=8)),
    st.builds(ReceivedSdm, _printable_text),
    st.builds(RadioInfo, st.sampled_from(["model", "versions", "serial", "test", "display"]), _printable_text),
)
to_radio_messages = st.one_of(
    st.builds(Cancel, st.integers(0, 1)),
    st.builds(Dial, st.integers(0, 1), st.text("0123456789", min_size=1, max_size=10)),
    st.builds(Function, st.sampled_from("01"), st.sampled_from("0134"), st.sampled_from(["0", "1", "12"])),
    st.builds(GoToChannel, st.text("0123456789", min_size=1, max_size=3)),
    st.builds(Query, st.sampled_from([0, 1, 3, 4, 5, 6, 7])),
    st.builds(SendSdm, st.text("0123456789*", min_size=8, max_size=8), _printable_text, st.integers(0, 255)),
)


@given(st.binary(max_size=600), st.integers(1, 64))
def test_random_bytes_never_raise(data, chunk):
    """Whatever arrives, in whatever pieces, the decoder returns messages and never raises."""
    for direction in ("from_radio", "to_radio"):
        decoder = CcdiDecoder(direction)
        for start in range(0, len(data), chunk):
            decoder.feed(data[start : start + chunk])


@given(from_radio_messages)
def test_radio_messages_round_trip(message):
    """Every message a radio sends decodes to itself after encoding."""
    assert CcdiDecoder("from_radio").feed(encode(message)) == [message]


@given(to_radio_messages)
def test_pc_messages_round_trip(message):
    """Every command a PC sends decodes to itself after encoding (the simulator depends on it)."""
    assert CcdiDecoder("to_radio").feed(encode(message)) == [message]


@settings(max_examples=300)
@given(st.binary(max_size=120), from_radio_messages, st.binary(max_size=120), st.integers(1, 40))
def test_a_valid_frame_in_noise_is_recovered(before, message, after, chunk):
    """A frame with noise before and after it, fed in any pieces, is decoded."""
    wire = before + encode(message) + after
    decoder = CcdiDecoder("from_radio")
    decoded = [decoded for start in range(0, len(wire), chunk) for decoded in decoder.feed(wire[start : start + chunk])]
    # A frame can only be lost to noise that ends in a frame prefix whose own checksum works out; the
    # checksum and the CR make that vanishingly rare, and hypothesis would show it here.
    assert message in decoded


def test_the_dialect_names_its_defaults():
    """CCDI runs at 9600 8N1 by default and carries 32 characters per SDM."""
    assert (CCDI.line.baud, CCDI.line.bytesize, CCDI.line.parity, CCDI.line.stop_bits) == (9600, 8, "none", 1)
    assert CCDI.max_text == 32
    assert CCDI.decoder().feed(encode(Query(0))) == []  # a from-radio decoder does not read PC commands
