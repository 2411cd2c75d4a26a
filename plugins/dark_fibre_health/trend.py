"""Receive power falling over days: its trend, and when it will cross a threshold if it keeps falling.

A dirty connector or a fibre bent in a cabinet loses a fraction of a dB a day; the optic's alarm comes
weeks later, when the link is already at its margin. One ``RxTrend`` per port takes the readings (time,
dBm) and answers "falling how fast, and how long until the low alarm?".

How, and why so:

- Readings are gathered into ``BUCKETS`` buckets per ``trend_window_s`` (two hours each in the default
  week) and each bucket becomes one point, the median of its readings. A reading taken while a port
  renegotiates, or a single sensor glitch, then never reaches the fit; and a week of minute polls is 84
  points, not ten thousand, for the fit and for memory.
- The slope is Theil–Sen's (the median of the slopes between every pair of points), not least squares:
  a few hours of odd readings (a technician's test light, a link flapping) move a least-squares line as
  much as a week of honest ones, but hardly move the median. Readings at or below ``NO_LIGHT_DBM`` are
  no light, not power, and are left out.
- A step is not a trend: when the median of the few points after some point differs from the median of
  the few before it by ``STEP_DB`` or more (a connector re-seated or cleaned, a patch moved), only the
  points after the latest step are fitted, and the forecast waits until they are enough again. A real
  trend is hundredths of a dB per hour; a jump of a dB between hours is something done to the link.
- The fall must be real: beyond ``SIGNIFICANCE`` standard errors of the slope (the points' scatter about
  the line, taken robustly as 1.4826 times the median absolute residual), at least ``MIN_FALL_DB`` over
  the points fitted (a sensor's resolution is 0.1 dB on some vendors), from ``trend_min_points``
  readings spread over at least ``MIN_SPAN_SHARE`` of the window (a day of the default week: a day's
  warming and cooling is not a trend).

Everything scales with ``trend_window_s``, so a test on a one-minute window behaves like a week. Readings
must come in time order (an older one than the newest bucket is dropped). The bucket still filling is
not fitted: the forecast lags by one bucket at most, and each closed set of buckets is fitted once.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

from attrs import frozen

from plugins.dark_fibre_health.config import JudgeConfig

#: Points per window.
BUCKETS = 84
#: Readings at or below this are no light, not power (as codec.optics calls them: no optic reads usefully
#: that low, and a dark port on some vendors reads -40 dBm).
NO_LIGHT_DBM = -30.0
#: A change of level this big between neighbouring groups of points is a step, not a trend.
STEP_DB = 1.0
#: Points on each side of a possible step whose medians are compared.
STEP_SIDE = 3
#: The slope must be this many standard errors below zero.
SIGNIFICANCE = 3.0
#: The fitted fall over the fitted points must be at least this.
MIN_FALL_DB = 0.1
#: The fitted points must span at least this share of the window.
MIN_SPAN_SHARE = 1.0 / 7.0
#: The scale of a normal distribution's median absolute deviation.
MAD_TO_SIGMA = 1.4826
DAY_S = 86400.0


@frozen
class Forecast:
    """Receive power falling ``slope_db_per_day`` (negative), at ``dbm_now`` by the fitted line, crosses
    ``threshold_dbm`` in ``crossing_in_s`` (0 when the line is past it already), from ``points`` readings."""

    slope_db_per_day: float
    crossing_in_s: float
    dbm_now: float
    threshold_dbm: float
    points: int


@frozen
class _Point:
    index: int
    at: float
    dbm: float
    readings: int


@frozen
class _Fit:
    slope_s: float  # dB per second
    intercept: float  # dBm at t0
    t0: float
    stderr_s: float
    span_s: float
    readings: int
    points: int


def theil_sen(times: list[float], values: list[float]) -> float:
    """The median of the slopes between every pair of points with different times."""
    slopes: list[float] = []
    for first in range(len(times) - 1):
        ta, va = times[first], values[first]
        slopes.extend([(vb - va) / (tb - ta)
                       for tb, vb in zip(times[first + 1:], values[first + 1:]) if tb != ta])
    return statistics.median(slopes) if slopes else 0.0


class RxTrend:
    """The receive-power trend of one port over ``config.trend_window_s``."""

    def __init__(self, config: JudgeConfig) -> None:
        self._window_s = config.trend_window_s
        self._min_readings = config.trend_min_points
        self._width_s = config.trend_window_s / BUCKETS
        self._points: deque[_Point] = deque()
        self._open_index: int | None = None
        self._open: list[tuple[float, float]] = []
        self._fitted: tuple[tuple[int, int], _Fit | None] | None = None

    def add(self, at: float, dbm: float) -> None:
        """One reading of ``dbm`` at ``at`` (seconds); no light and non-numbers are left out."""
        if not math.isfinite(dbm) or dbm <= NO_LIGHT_DBM:
            return
        index = math.floor(at / self._width_s)
        if self._open_index is not None and index < self._open_index:
            return
        if self._open_index is not None and index > self._open_index:
            self._close()
        self._open_index = index
        self._open.append((at, dbm))
        while self._points and self._points[0].at < at - self._window_s:
            self._points.popleft()

    def _close(self) -> None:
        assert self._open_index is not None
        self._points.append(_Point(
            index=self._open_index,
            at=statistics.median(at for at, _dbm in self._open),
            dbm=statistics.median(dbm for _at, dbm in self._open),
            readings=len(self._open),
        ))
        self._open = []

    @property
    def readings(self) -> int:
        """Readings held (in closed buckets and the one filling)."""
        return sum(point.readings for point in self._points) + len(self._open)

    def forecast(self, threshold_dbm: float, now: float) -> Forecast | None:
        """When the power will cross ``threshold_dbm`` if it keeps falling as it has; None unless it is
        falling significantly (see the module's notes) and is still above the threshold's side of it."""
        points = [point for point in self._points if point.at >= now - self._window_s]
        if not points:
            return None
        # Closed buckets never change: each set of them is fitted once, however often it is asked.
        key = (points[0].index, points[-1].index)
        if self._fitted is None or self._fitted[0] != key:
            points = points[self._after_last_step(points):]
            self._fitted = (key, self._fit(points) if len(points) >= 3 else None)
        fit = self._fitted[1]
        if fit is None:
            return None
        dbm_now = fit.intercept + fit.slope_s * (now - fit.t0)
        crossing_in_s = max(0.0, (threshold_dbm - dbm_now) / fit.slope_s)
        return Forecast(slope_db_per_day=fit.slope_s * DAY_S, crossing_in_s=crossing_in_s, dbm_now=dbm_now,
                        threshold_dbm=threshold_dbm, points=fit.readings)

    @staticmethod
    def _after_last_step(points: list[_Point]) -> int:
        """Where the points after the latest step start (0 when there is none)."""
        for cut in range(len(points) - 1, 0, -1):
            before = [point.dbm for point in points[max(0, cut - STEP_SIDE):cut]]
            after = [point.dbm for point in points[cut:cut + STEP_SIDE]]
            if abs(statistics.median(after) - statistics.median(before)) >= STEP_DB:
                return cut
        return 0

    def _fit(self, points: list[_Point]) -> _Fit | None:
        """The fitted line when it falls significantly over enough readings and time, else None."""
        readings = sum(point.readings for point in points)
        span_s = points[-1].at - points[0].at
        if readings < self._min_readings or span_s < MIN_SPAN_SHARE * self._window_s:
            return None
        t0 = points[0].at
        times = [point.at - t0 for point in points]
        values = [point.dbm for point in points]
        slope = theil_sen(times, values)
        if slope >= 0 or -slope * span_s < MIN_FALL_DB:
            return None
        intercept = statistics.median(value - slope * t for t, value in zip(times, values))
        residuals = [value - (intercept + slope * t) for t, value in zip(times, values)]
        sigma = MAD_TO_SIGMA * statistics.median(abs(residual) for residual in residuals)
        mean_t = statistics.fmean(times)
        spread = math.sqrt(sum((t - mean_t) ** 2 for t in times))
        stderr = sigma / spread
        if -slope <= SIGNIFICANCE * stderr:
            return None
        return _Fit(slope_s=slope, intercept=intercept, t0=t0, stderr_s=stderr, span_s=span_s,
                    readings=readings, points=len(points))
