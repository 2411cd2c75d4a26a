"""Benchmarks run by ``hub bench``: each measures the hub beside the physical limit it stands on."""

from __future__ import annotations

import resource


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0 to 1) of already sorted samples, nearest rank; NaN when there are none."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def cpu_seconds() -> float:
    """User plus system CPU of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
