"""xsd:dateTime and xsd:duration as cameras write them, read leniently and written strictly.

Cameras send ``-`` or a space where ``T`` belongs, leave off the ``Z``, add fractions, and sometimes send
values no calendar has (minute 61, ``0000-00-00T00:00:00Z``). Reading never raises: a time that cannot be
a real instant is ``None`` and the caller carries on without it. Writing always gives the plain UTC form
with ``Z`` that every camera accepts.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

_DATETIME = re.compile(
    r"""\s*
    (?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})
    [Tt\x20-]
    (?P<hour>\d{1,2}):(?P<minute>\d{1,2}):(?P<second>\d{1,2})
    (?:[.,](?P<fraction>\d{1,30}))?
    \s*(?P<zone>[Zz]|[+-]\d{1,2}(?::?\d{2})?)?
    \s*""",
    re.VERBOSE,
)

_DURATION = re.compile(
    r"""\s*(?P<sign>-)?P
    (?:(?P<years>\d{1,9})Y)?
    (?:(?P<months>\d{1,9})M)?
    (?:(?P<weeks>\d{1,9})W)?
    (?:(?P<days>\d{1,9})D)?
    (?:T
        (?:(?P<hours>\d{1,9})H)?
        (?:(?P<minutes>\d{1,9})M)?
        (?:(?P<seconds>\d{1,9}(?:[.,]\d{1,9})?)S)?
    )?\s*""",
    re.VERBOSE | re.IGNORECASE,
)

# xsd:duration years and months have no fixed length; a subscription lifetime in months is nonsense
# anyway, so the usual approximations do.
_SECONDS_PER = {
    "years": 365 * 86400,
    "months": 30 * 86400,
    "weeks": 7 * 86400,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
}


def parse_datetime(text: str | None) -> datetime | None:
    """An aware UTC datetime from an xsd:dateTime-ish text, or None when it is missing or impossible.

    A time with no zone is taken as UTC (ONVIF's UtcTime, CurrentTime and TerminationTime are UTC).
    A leap second (``:60``) is read as ``:59``; ``24:00:00`` as midnight of the next day.
    """
    if not text or len(text) > 80:
        return None
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":  # the usual form: C-speed on the hot path
        try:
            return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
        except ValueError:
            pass  # e.g. minute 61 or "24:00:00": the careful reading below decides
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    microsecond = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    next_day = False
    if hour == 24 and minute == 0 and second == 0 and microsecond == 0:
        hour, next_day = 0, True
    if second == 60:
        second = 59
    try:
        zone = _zone(match["zone"])
        moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)
        if next_day:
            moment += timedelta(days=1)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:-2] if len(digits) > 2 else digits)
    minutes = int(digits[-2:]) if len(digits) > 2 else 0
    if hours > 14 or minutes > 59:
        raise ValueError("no such UTC offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def format_datetime(moment: datetime) -> str:
    """``2026-11-22T10:00:00Z``: UTC, whole seconds. A naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str | None) -> float | None:
    """Seconds in an xsd:duration (``PT60S``, ``PT1M``, ``P0DT0H1M0S``), or None if it is not one."""
    if not text or len(text) > 80:
        return None
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    if all(parts[name] is None for name in ("years", "months", "weeks", "days", "hours", "minutes", "seconds")):
        return None  # "P" and "PT" alone are not durations
    if text.strip().upper().endswith("T"):
        return None  # "P1DT": a T with nothing after it
    total = sum(int(parts[name]) * scale for name, scale in _SECONDS_PER.items() if parts[name] is not None)
    if parts["seconds"] is not None:
        total += float(parts["seconds"].replace(",", "."))
    return -float(total) if parts["sign"] else float(total)


def format_duration(seconds: float) -> str:
    """``PT60S`` (seconds only: the form every camera reads); fractions kept to the millisecond."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds, not {seconds!r}")
    rounded = round(seconds, 3)
    if rounded == int(rounded):
        return f"PT{int(rounded)}S"
    return f"PT{rounded:.3f}".rstrip("0") + "S"
