"""Kenwood FleetSync PC serial: STX payload ETX frames, read from noise and cut-short frames alike."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.shopwatch.codec import DIALECTS, FLEETSYNC, CodecError
from plugins.shopwatch.codec.fleetsync import (
    DataReceived,
    DeliveryReport,
    FleetSyncDecoder,
    Identified,
    SendText,
    encode,
    split_unit_id,
    unit_id,
)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"\x02I1001001\x03", Identified("100", "1001")),
        (b"\x02I100100112\x03", Identified("100", "1001", 12)),
        (b"\x02D1001001Man in red coat\x03", DataReceived("100", "1001", "Man in red coat")),
        (b"\x020\x03", DeliveryReport(True)),
        (b"\x021\x03", DeliveryReport(False)),
    ],
)
def test_each_radio_frame_decodes_to_its_message(wire, message):
    """Identity, identity with status, text, delivered and failed each have their frame."""
    decoder = FleetSyncDecoder()
    assert decoder.feed(wire) == [message]
    assert encode(message) == wire


def test_a_text_to_everyone_is_fleet_000_unit_0000():
    """'F' + 0000000 + text addresses every unit."""
    assert encode(SendText("000", "0000", "Lockdown on High St")) == b"\x02F0000000Lockdown on High St\x03"
    assert FleetSyncDecoder("to_radio").feed(b"\x02F1001001Hi\x03") == [SendText("100", "1001", "Hi")]


@pytest.mark.parametrize(("status", "emergency"), [(None, False), (12, False), (94, False), (95, True), (99, True)])
def test_statuses_95_to_99_are_emergencies(status, emergency):
    """Kenwood reserves status 95 to 99 for emergency and man-down."""
    assert Identified("100", "1001", status).emergency is emergency


def test_unit_ids_are_written_fleet_dash_unit():
    """The hub names a FleetSync unit FFF-UUUU and reads that back."""
    assert unit_id("100", "1001") == "100-1001"
    assert split_unit_id("100-1001") == ("100", "1001")
    with pytest.raises(CodecError, match="FFF-UUUU"):
        split_unit_id("1001")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (SendText("100", "1001", "x" * 49), "at most 48"),
        (SendText("10", "1001", "Hi"), "3-digit fleet"),
        (SendText("100", "1001", "Caf\u00e9"), "printable ASCII"),
        (SendText("100", "1001", "a\x03b"), "printable ASCII"),
        (Identified("100", "1001", 100), "00 to 99"),
    ],
)
def test_what_cannot_be_sent_is_refused_with_the_reason(message, reason):
    """No frame with a stray ETX or an over-long text ever reaches the radio."""
    with pytest.raises(CodecError, match=reason):
        encode(message)


def test_noise_and_a_frame_cut_short_are_counted_and_skipped():
    """Bytes outside frames are noise; a frame cut short by a new STX is dropped; the next is read."""
    decoder = FleetSyncDecoder()
    assert decoder.feed(b"\x9c\xfe\r\x02I100\x02I1001001\x03") == [Identified("100", "1001")]
    assert decoder.stats.garbage_bytes == 3 + 5


def test_an_unreadable_payload_is_malformed():
    """A frame whose payload is no FleetSync message is counted as malformed."""
    decoder = FleetSyncDecoder()
    assert decoder.feed(b"\x02Xnonsense\x03\x020\x03") == [DeliveryReport(True)]
    assert decoder.stats.malformed == 1


def test_a_frame_that_lost_its_etx_is_given_up():
    """A payload longer than any FleetSync frame is dropped as overlong, and reading goes on."""
    decoder = FleetSyncDecoder()
    decoder.feed(b"\x02D1001001" + b"x" * 80)
    assert decoder.stats.overlong == 1
    assert decoder.feed(b"\x021\x03") == [DeliveryReport(False)]


def test_the_dialect_defaults_to_two_stop_bits():
    """FleetSync's default line is 9600 baud, 8 data bits, no parity, 2 stop bits."""
    assert FLEETSYNC.line.stop_bits == 2
    assert FLEETSYNC.max_text == 48
    assert set(DIALECTS) == {"ccdi", "fleetsync"}


_digits = st.text("0123456789", min_size=1, max_size=1)
fleet = st.text("0123456789", min_size=3, max_size=3)
unit = st.text("0123456789", min_size=4, max_size=4)
text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=48)
radio_messages = st.one_of(
    st.builds(Identified, fleet, unit, st.one_of(st.none(), st.integers(0, 99))),
    st.builds(DataReceived, fleet, unit, text),
    st.builds(DeliveryReport, st.booleans()),
)


@given(st.binary(max_size=400), st.integers(1, 50))
def test_random_bytes_never_raise(data, chunk):
    """Whatever arrives, in whatever pieces, the decoder never raises."""
    for direction in ("from_radio", "to_radio"):
        decoder = FleetSyncDecoder(direction)
        for start in range(0, len(data), chunk):
            decoder.feed(data[start : start + chunk])


@given(radio_messages)
def test_radio_messages_round_trip(message):
    """Every radio message decodes to itself after encoding."""
    assert FleetSyncDecoder().feed(encode(message)) == [message]


@given(st.builds(SendText, fleet, unit, text))
def test_pc_messages_round_trip(message):
    """Every text the hub sends decodes to itself (the simulator reads them this way)."""
    assert FleetSyncDecoder("to_radio").feed(encode(message)) == [message]


@settings(max_examples=300)
@given(st.binary(max_size=120), radio_messages, st.binary(max_size=120), st.integers(1, 40))
def test_a_valid_frame_in_noise_is_recovered(before, message, after, chunk):
    """A frame with noise before and after it, fed in any pieces, is decoded."""
    wire = before + encode(message) + after
    decoder = FleetSyncDecoder()
    decoded = [decoded for start in range(0, len(wire), chunk) for decoded in decoder.feed(wire[start : start + chunk])]
    assert message in decoded
