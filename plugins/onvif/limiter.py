"""How many requests the hub has open at once: a cap per camera and a cap over all cameras.

Cheap cameras and NVRs fall over when polled too hard (quirk 10), and a regional room has a thousand of
them behind the same uplinks, so every request but the long poll waits its turn here. Waiting is in two
stages, each first come first served: a request first takes one of its camera's slots, then one of the
overall slots. A camera with many requests queued therefore holds at most ``per_camera`` places in the
overall queue, and cannot starve the others. Each camera's queue is bounded: a camera that stopped
answering must not collect an ever longer line of operators' button presses.

The long poll (PullMessages) does not come here: each camera has exactly one open at a time by
construction, it spends most of its life waiting for the camera, and holding a slot for it would leave a
per-camera cap of 2 with room for one real request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from twisted.internet.defer import CancelledError, Deferred

T = TypeVar("T")

#: Requests one camera may have waiting (beyond the ones running) before more are refused at once.
DEFAULT_MAX_WAITING_PER_CAMERA = 32


class LimiterBusy(Exception):
    """Too many requests are waiting for this camera already; this one was never sent."""


class _Slots:
    """A counted set of slots with a FIFO of Deferreds waiting for one."""

    __slots__ = ("in_use", "limit", "waiting")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.waiting: deque[Deferred[None]] = deque()

    def take(self) -> Deferred[None] | None:
        """None if a slot was free (and is now taken); otherwise a Deferred that fires once it is."""
        if self.in_use < self.limit and not self.waiting:
            self.in_use += 1
            return None
        waiter: Deferred[None] = Deferred(self._cancelled)
        self.waiting.append(waiter)
        return waiter

    def _cancelled(self, waiter: Deferred[None]) -> None:
        # A cancelled waiter has not got its slot: it only leaves the line (Deferred then fails it with
        # CancelledError).
        try:
            self.waiting.remove(waiter)
        except ValueError:
            pass

    def give_back(self) -> None:
        """Free a slot: it passes straight to the first waiter, if any."""
        if self.waiting:
            self.waiting.popleft().callback(None)  # the slot changes hands; in_use stays
        else:
            self.in_use -= 1

    @property
    def idle(self) -> bool:
        return self.in_use == 0 and not self.waiting


class Limiter:
    """Runs work for a camera once both a camera slot and an overall slot are free (see the module)."""

    def __init__(self, overall: int, per_camera: int, *,
                 max_waiting_per_camera: int = DEFAULT_MAX_WAITING_PER_CAMERA) -> None:
        if overall < 1 or per_camera < 1:
            raise ValueError(f"limits must be at least 1 (overall={overall}, per_camera={per_camera})")
        self.overall = overall
        self.per_camera = per_camera
        self.max_waiting_per_camera = max_waiting_per_camera
        self._overall = _Slots(overall)
        self._cameras: dict[str, _Slots] = {}

    def running(self, camera: str | None = None) -> int:
        """Requests running now, for one camera or over all."""
        if camera is None:
            return self._overall.in_use
        slots = self._cameras.get(camera)
        return slots.in_use if slots is not None else 0

    def waiting(self, camera: str | None = None) -> int:
        """Requests waiting now, for one camera or over all."""
        if camera is None:
            return sum(len(slots.waiting) for slots in self._cameras.values()) + len(self._overall.waiting)
        slots = self._cameras.get(camera)
        return len(slots.waiting) if slots is not None else 0

    async def run(self, camera: str, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()`` once this camera and the hub have room; raises ``LimiterBusy`` at once if the
        camera's queue is full. Cancelling while waiting leaves the queue without running ``work``."""
        slots = self._cameras.get(camera)
        if slots is None:
            slots = self._cameras[camera] = _Slots(self.per_camera)
        elif len(slots.waiting) >= self.max_waiting_per_camera:
            raise LimiterBusy(f"{len(slots.waiting)} requests are waiting for camera {camera} already")
        camera_turn = slots.take()
        if camera_turn is not None:
            try:
                await camera_turn
            except CancelledError:
                self._forget_if_idle(camera, slots)
                raise
        try:
            overall_turn = self._overall.take()
            if overall_turn is not None:
                await overall_turn
            try:
                return await work()
            finally:
                self._overall.give_back()
        finally:
            slots.give_back()
            self._forget_if_idle(camera, slots)

    def _forget_if_idle(self, camera: str, slots: _Slots) -> None:
        # Cameras come and go with the config; an idle one costs nothing to make again.
        if slots.idle and self._cameras.get(camera) is slots:
            del self._cameras[camera]
