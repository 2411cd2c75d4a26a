"""What the decoder threw away and what the radio refused, turned into a few line error events.

Real lines drop a frame now and then, and a radio says a few noise bytes at power-up; an operator needs
to hear about a line that keeps doing it, not about every byte. So each kind of trouble is counted in a
window of ``window_s`` seconds that opens at its first occurrence: once the count reaches the kind's
threshold, one event carries it, and no other of that kind is published until the window has passed.
Every drop is logged at debug all the same.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from plugins.shopwatch.codec import DecoderStats
from plugins.shopwatch.events import CHECKSUM, FATAL, MALFORMED, NOISE, NOT_ANSWERING, RADIO_ERROR

#: Noise is counted in bytes and frames whole; a CCDI frame is about this long. A frame that fails its
#: checksum is skipped byte by byte, so its bytes count as noise too: the noise alarm waits for as many
#: frames' worth of bytes as the checksum alarm waits for frames, so one bad frame raises neither.
NOISE_BYTES_PER_FRAME = 16


@attrs.define
class _Window:
    opened_at: float
    count: int = 0
    reported: bool = False


class LineHealth:
    """Counts line trouble by kind and calls ``report(kind, count, detail)`` at most once per kind per window.

    Bad checksums and malformed frames need ``alarm_after`` in a window, noise ``alarm_after`` frames'
    worth of bytes; a refusal, a fatal error or a radio that stopped answering is reported the first time.
    """

    def __init__(
        self,
        *,
        clock: Any,
        window_s: float,
        alarm_after: int,
        report: Callable[[str, int, str], None],
        log: Any,
    ) -> None:
        self._clock = clock
        self._window_s = window_s
        self._thresholds = {NOISE: alarm_after * NOISE_BYTES_PER_FRAME, CHECKSUM: alarm_after, MALFORMED: alarm_after,
                            RADIO_ERROR: 1, FATAL: 1, NOT_ANSWERING: 1}
        self._report = report
        self._log = log
        self._windows: dict[str, _Window] = {}

    def decoded(self, before: DecoderStats, after: DecoderStats) -> None:
        """Account for what the decoder dropped between two snapshots of its counters."""
        checksums = after.bad_checksums - before.bad_checksums
        malformed = (after.malformed - before.malformed) + (after.overlong - before.overlong)
        garbage = after.garbage_bytes - before.garbage_bytes
        if not (checksums or malformed or garbage):
            return
        self._log.debug("line_bytes_dropped", noise_bytes=garbage, bad_checksums=checksums, malformed=malformed)
        if checksums:
            self.record(CHECKSUM, checksums)
        if malformed:
            self.record(MALFORMED, malformed)
        if garbage:
            self.record(NOISE, garbage)

    def record(self, kind: str, count: int = 1, detail: str | None = None) -> None:
        now = self._clock.seconds()
        window = self._windows.get(kind)
        if window is None or now - window.opened_at >= self._window_s:
            window = self._windows[kind] = _Window(opened_at=now)
        window.count += count
        if window.reported or window.count < self._thresholds[kind]:
            return
        window.reported = True
        self._report(kind, window.count, detail if detail is not None else self._describe(kind, window.count))

    def _describe(self, kind: str, count: int) -> str:
        window = f"{self._window_s:g} s"
        if kind == NOISE:
            return f"{count} bytes of noise outside any frame within {window}"
        if kind == CHECKSUM:
            return f"{count} frames with bad checksums within {window}"
        if kind == MALFORMED:
            return f"{count} frames that could not be read within {window}"
        return f"{count} {kind.replace('_', ' ')} within {window}"
