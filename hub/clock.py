"""The hub's one reading of time: an injected ``IReactorTime`` turned into UTC datetimes.

Nothing in ``hub/`` or ``plugins/`` reads the wall clock itself; everything asks the clock it was given,
so tests drive time with ``twisted.internet.task.Clock``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from twisted.internet.interfaces import IReactorTime


def utc_from_seconds(seconds: float) -> datetime:
    """A timezone-aware UTC datetime for POSIX ``seconds``."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def iso(seconds: float | None) -> str | None:
    """POSIX seconds as ISO 8601 UTC text with a ``Z`` (None stays None): the form of every time in event
    JSON and the API."""
    if seconds is None:
        return None
    return utc_from_seconds(seconds).isoformat().replace("+00:00", "Z")


def now_utc(clock: IReactorTime) -> datetime:
    """The clock's current time as a UTC datetime.

    A real reactor's ``seconds()`` is POSIX time; a test ``Clock`` starts at 0 (1970-01-01T00:00Z).
    """
    return utc_from_seconds(clock.seconds())
