"""Receive-power trends: a steady fall is forecast weeks before the alarm; noise, a step and too little
data are not trends. Readings every ten minutes over made-up days."""

from __future__ import annotations

import random

import pytest

from plugins.dark_fibre_health.config import JudgeConfig
from plugins.dark_fibre_health.trend import Forecast, RxTrend, theil_sen

DAY = 86400.0
POLL = 600.0
ALARM = -14.0
WARN_S = 14 * DAY


def feed(trend: RxTrend, power, days: float, *, start: float = 0.0, every: float = POLL) -> float:
    """Readings of ``power(t)`` every ``every`` seconds for ``days`` days; returns the time of the last."""
    t = start
    end = start + days * DAY
    while t < end:
        trend.add(t, power(t))
        t += every
    return t - every


def first_warning(trend: RxTrend, power, days: float, *, start: float = 0.0):
    """Feed readings and forecast after each; the time and forecast of the first within two weeks."""
    t = start
    while t < start + days * DAY:
        trend.add(t, power(t))
        forecast = trend.forecast(ALARM, t)
        if forecast is not None and forecast.crossing_in_s <= WARN_S:
            return t, forecast
        t += POLL
    return None, None


def falling(rate_per_day: float, start_dbm: float = -8.0, noise: float = 0.0, seed: int = 1):
    rng = random.Random(seed)
    return lambda t: start_dbm + rate_per_day * t / DAY + (rng.uniform(-noise, noise) if noise else 0.0)


def test_a_power_falling_a_fifth_of_a_db_a_day_warns_two_weeks_before_the_alarm():
    """From -8 dBm at 0.2 dB/day the -14 dBm alarm is 30 days away: the warning comes on about day 16,
    with the slope and the crossing right, and weeks before the power reaches the alarm."""
    trend = RxTrend(JudgeConfig())
    power = falling(-0.2, noise=0.1)
    warned_at, forecast = first_warning(trend, power, 40)
    assert warned_at is not None
    assert 15.5 * DAY <= warned_at <= 16.5 * DAY
    assert forecast.slope_db_per_day == pytest.approx(-0.2, abs=0.01)
    assert forecast.crossing_in_s == pytest.approx(30 * DAY - warned_at, rel=0.05)
    assert forecast.dbm_now == pytest.approx(power(warned_at), abs=0.15)
    assert forecast.threshold_dbm == ALARM
    assert 900 <= forecast.points <= 7 * 144  # a week of readings, less the bucket still filling
    assert power(warned_at) > -11.5  # still 2.5 dB of margin


def test_the_fall_is_seen_after_a_day_and_forecast_far_off():
    """After a little over a day the slope is known; the crossing is then almost a month away."""
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(-0.2, noise=0.1), 1.2)
    forecast = trend.forecast(ALARM, t)
    assert forecast is not None
    assert forecast.slope_db_per_day == pytest.approx(-0.2, abs=0.03)
    assert 25 * DAY < forecast.crossing_in_s < 33 * DAY


def test_less_than_a_day_of_readings_is_not_a_trend():
    """Half a day falling fast is forecast nothing: a day's warming and cooling looks like that too."""
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(-2.0), 0.5)
    assert trend.forecast(ALARM, t) is None


def test_too_few_readings_are_not_a_trend():
    """Spread over two days but only eight readings: fewer than trend_min_points (12)."""
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(-1.0), 2, every=DAY / 4)
    assert trend.readings == 8
    assert trend.forecast(ALARM, t) is None


@pytest.mark.parametrize("seed", range(3))
def test_noise_without_a_trend_never_warns(seed):
    """±0.3 dB of noise around -8 dBm for sixty days: never a forecast inside two weeks."""
    trend = RxTrend(JudgeConfig())
    warned_at, forecast = first_warning(trend, falling(0.0, noise=0.3, seed=seed), 60)
    assert (warned_at, forecast) == (None, None)


def test_a_flat_power_has_no_forecast():
    trend = RxTrend(JudgeConfig())
    t = feed(trend, lambda t: -8.0, 5)
    assert trend.forecast(ALARM, t) is None


def test_a_rising_power_has_no_forecast():
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(+0.2), 5)
    assert trend.forecast(ALARM, t) is None


def test_a_step_is_not_a_trend():
    """Steady at -8 dBm, then a connector re-seated badly: -9.5 dBm and steady. No forecast after the
    step; the history before it describes another link."""
    trend = RxTrend(JudgeConfig())
    step_at = 5 * DAY
    power = lambda t: (-8.0 if t < step_at else -9.5) + random.Random(int(t)).uniform(-0.1, 0.1)
    t = feed(trend, power, 12)
    assert trend.forecast(ALARM, t) is None
    for now in range(int(step_at), int(t), int(POLL * 6)):
        assert trend.forecast(ALARM, float(now)) is None


def test_a_step_up_after_cleaning_does_not_hide_a_new_fall_for_long():
    """Falling 0.5 dB/day for four days, then cleaned (back up 2 dB to -8 dBm), then falling again: the
    forecast starts from the new level only, once a day of it is known."""
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(-0.5), 4)
    assert trend.forecast(ALARM, t).slope_db_per_day == pytest.approx(-0.5, abs=0.01)
    cleaned_at = t + POLL
    after = lambda t: -8.0 - 0.5 * (t - cleaned_at) / DAY
    t = feed(trend, after, 0.5, start=cleaned_at)
    assert trend.forecast(ALARM, t) is None  # half a day since the step
    t = feed(trend, after, 1.0, start=t + POLL)
    forecast = trend.forecast(ALARM, t)
    assert forecast is not None
    assert forecast.slope_db_per_day == pytest.approx(-0.5, abs=0.02)
    assert forecast.dbm_now == pytest.approx(after(t), abs=0.05)


def test_a_few_odd_hours_do_not_bend_the_trend():
    """Falling 0.2 dB/day for a week, with three hours reading 5 dB low (a test light on the fibre):
    the slope is still 0.2 dB/day, where least squares would be thrown off."""
    trend = RxTrend(JudgeConfig())
    odd = {2 * 24 + 5, 4 * 24 + 10, 6 * 24 + 1}
    base = falling(-0.2)
    power = lambda t: base(t) - (5.0 if int(t // 3600) in odd else 0.0)
    t = feed(trend, power, 7)
    forecast = trend.forecast(ALARM, t)
    assert forecast is not None
    assert forecast.slope_db_per_day == pytest.approx(-0.2, abs=0.01)


def test_no_light_readings_are_left_out():
    """A port with no light reads -40 dBm on some optics: that is not power."""
    trend = RxTrend(JudgeConfig())
    t = 0.0
    for index in range(7 * 144):
        t = index * POLL
        trend.add(t, -40.0 if index % 5 == 0 else -8.0 - 0.2 * t / DAY)
        trend.add(t + 1, float("nan"))
    assert trend.readings == 7 * 144 - (7 * 144 + 4) // 5
    assert trend.forecast(ALARM, t).slope_db_per_day == pytest.approx(-0.2, abs=0.005)


def test_readings_older_than_the_window_are_forgotten():
    """A fall that stopped more than a window ago is no longer a trend."""
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(-0.5), 5)
    assert trend.forecast(ALARM, t) is not None
    level = -8.0 - 0.5 * 5
    t = feed(trend, lambda t: level, 8, start=t + POLL)
    assert trend.forecast(ALARM, t) is None


def test_a_power_already_past_the_threshold_by_the_line_crosses_in_no_time():
    trend = RxTrend(JudgeConfig())
    t = feed(trend, falling(-1.0, start_dbm=-12.0), 3)
    forecast = trend.forecast(ALARM, t)
    assert forecast is not None and forecast.crossing_in_s == 0.0


def test_everything_scales_with_the_window():
    """On a one-minute window (a test on a live agent) a power falling 0.1 dB a second, read every
    second, is forecast after about nine seconds."""
    trend = RxTrend(JudgeConfig(trend_window_s=60.0, trend_min_points=5, trend_warn_s=60.0))
    forecasts: list[tuple[float, Forecast | None]] = []
    for second in range(30):
        trend.add(float(second), -8.0 - 0.1 * second)
        forecasts.append((float(second), trend.forecast(ALARM, float(second))))
    first = next(at for at, forecast in forecasts if forecast is not None)
    assert 8.0 <= first <= 11.0
    at, forecast = forecasts[-1]
    assert forecast.slope_db_per_day == pytest.approx(-0.1 * DAY)
    assert forecast.crossing_in_s == pytest.approx((ALARM - (-8.0 - 0.1 * at)) / -0.1, abs=1.5)


def test_readings_out_of_order_are_dropped():
    trend = RxTrend(JudgeConfig())
    trend.add(10 * 3600.0, -8.0)
    trend.add(5 * 3600.0, -20.0)
    assert trend.readings == 1


def test_theil_sen_is_the_median_pairwise_slope():
    assert theil_sen([0, 1, 2, 3, 4], [0, 1, 2, 3, 40]) == 1.0
    assert theil_sen([0, 0], [1, 2]) == 0.0
