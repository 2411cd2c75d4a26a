"""Times and durations as cameras write them: read leniently, never raising; written in the one form
every camera accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.onvif.codec.times import format_datetime, format_duration, parse_datetime, parse_duration

TEN = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:00:00Z", TEN),
        ("2026-11-22T10:00:00", TEN),  # no zone: UTC
        ("2026-11-22T10:00:00z", TEN),
        ("2026-11-22-10:00:00Z", TEN),  # "-" where "T" belongs
        ("2026-11-22 10:00:00", TEN),
        ("  2026-11-22T10:00:00Z\n", TEN),
        ("2026-11-22T10:00:00.000Z", TEN),
        ("2026-11-22T10:00:00.5Z", TEN + timedelta(milliseconds=500)),
        ("2026-11-22T10:00:00.123456789Z", TEN + timedelta(microseconds=123456)),
        ("2026-11-22T11:00:00+01:00", TEN),
        ("2026-11-22T05:30:00-0430", TEN),
        ("2026-11-22T18:00:00+08", TEN),
        ("2026-1-2T3:4:5Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-11-21T24:00:00Z", datetime(2026, 11, 22, tzinfo=UTC)),  # end of day
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),  # leap second
    ],
)
def test_times_in_every_form_cameras_send_are_read_as_utc(text, expected):
    """Separators, zones, fractions and missing Z all give the same aware UTC instant."""
    moment = parse_datetime(text)
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "0000-00-00T00:00:00Z",
        "2026-11-22T10:61:00Z",  # minute 61
        "2026-11-22T25:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-11-22T10:00:61Z",
        "2026-11-22T10:00:00+25:00",
        "2026-11-22",
        "10:00:00",
        "PT60S",
        "2026-11-22T10:00:00Q",
        "yesterday",
        "2026-11-22T10:00:00Z" * 10,
        "9999-12-31T23:59:59-14:00",  # beyond datetime.max once in UTC
    ],
)
def test_impossible_or_foreign_times_are_none(text):
    """Values no calendar holds, and things that are not times, are None rather than an error."""
    assert parse_datetime(text) is None


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_reading_any_text_as_a_time_never_raises(text):
    """Whatever a camera sends, the answer is an aware UTC datetime or None."""
    moment = parse_datetime(text)
    assert moment is None or moment.tzinfo is UTC


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
@settings(max_examples=100, deadline=None)
def test_a_written_time_reads_back_to_the_same_second(moment):
    """format_datetime then parse_datetime is the identity, to the second."""
    assert parse_datetime(format_datetime(moment)) == moment.replace(microsecond=0)


def test_times_are_written_in_utc_with_z_and_whole_seconds():
    """Aware times are converted to UTC; naive ones are taken as UTC already."""
    assert format_datetime(TEN + timedelta(microseconds=999)) == "2026-11-22T10:00:00Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2026, 11, 22, 12, 0, tzinfo=plus_two)) == "2026-11-22T10:00:00Z"
    assert format_datetime(datetime(2026, 11, 22, 10, 0)) == "2026-11-22T10:00:00Z"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT60S", 60.0),
        ("PT1M", 60.0),
        ("P0DT0H1M0S", 60.0),
        ("PT1H", 3600.0),
        ("P1D", 86400.0),
        ("P1W", 604800.0),
        ("PT1.5S", 1.5),
        ("PT0S", 0.0),
        ("pt10s", 10.0),
        (" PT10S ", 10.0),
        ("P1DT2H3M4S", 86400 + 7200 + 180 + 4.0),
        ("-PT5S", -5.0),
    ],
)
def test_durations_are_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "P", "PT", "P1DT", "60", "PT-5S", "T60S", "PT60", "2026-11-22T10:00:00Z"])
def test_what_is_not_a_duration_is_none(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(60, "PT60S"), (60.0, "PT60S"), (0, "PT0S"), (1.5, "PT1.5S"), (0.1234, "PT0.123S"), (3600, "PT3600S")],
)
def test_durations_are_written_in_seconds(seconds, text):
    """Seconds only, the form every camera reads; fractions to the millisecond."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds, abs=0.001)


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_a_negative_or_infinite_duration_is_refused(seconds):
    with pytest.raises(ValueError, match="duration"):
        format_duration(seconds)
