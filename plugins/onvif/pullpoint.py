"""A camera's event subscription: one pull point at a time, long-polled, renewed, and never leaked.

A camera has a few pull points and no way to list them, so one the hub forgets locks others out until it
expires (quirk 3). ``PullPointSubscription`` therefore holds at most one: before opening another (after
a reboot, a lost subscription, or when the adapter restarts it) it unsubscribes the old one, best effort
and in bounded time. It renews before expiry, judging the lifetime from the camera's own CurrentTime and
TerminationTime (the camera's clock may be far from the hub's), and shortens a long poll so that it ends
in time for the renewal: the pull point only ever has one request from the hub at a time.

Subscribing tries a relative InitialTerminationTime (``PT60S``), then an absolute one with ``Z`` in the
camera's time, then none at all (quirk 2), and remembers what worked. SetSynchronizationPoint follows
every subscription, so the camera resends the state of its property events.

While running, what a camera does to a long poll is sorted out here: a connection it holds open for a
while and then closes is its way of saying "nothing" (quirk 6) and is polled again at once; an unknown
subscription, a 404 or 400, or any fault means the pull point is gone, and it is reopened; a pull point
that refuses the credentials the device accepts (quirk 7) is reported as ``PullPointRefused`` so the
adapter can mark the camera degraded. Failures in a row are counted; at ``max_consecutive_failures`` the
run gives up by raising, and the adapter's back-off and health logic take over.

``on_state(kind, detail)`` tells the adapter what happened, kinds being the ``STATE_*`` constants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from plugins.onvif.client import (
    AuthFailed,
    CameraClient,
    CameraError,
    CameraReplyError,
    CameraUnreachable,
    parse_reply,
)
from plugins.onvif.codec import events
from plugins.onvif.codec.events import Notification, Subscription
from plugins.onvif.codec.namespaces import TEV
from plugins.onvif.codec.times import format_datetime, format_duration
from plugins.onvif.transport import ConnectionClosed

TerminationStyle = Literal["relative", "absolute", "absent", "auto"]
_STYLES_IN_ORDER = ("relative", "absolute", "absent")

#: ``on_state`` kinds.
STATE_SUBSCRIBED = "subscribed"  # a pull point is open (detail: the termination style that worked)
STATE_RENEWED = "renewed"
STATE_PULLING = "pulling"  # the first pull on a new pull point was answered: events really flow
STATE_RESUBSCRIBING = "resubscribing"  # the pull point was lost or refused renewal; a new one is opened
STATE_POLL_FAILED = "poll_failed"  # detail: how many in a row, and why
STATE_DEGRADED = "degraded"  # the pull point refuses credentials the device accepts (quirk 7)
STATE_FAILED = "failed"  # the run gives up; the exception it raises says why
STATE_CLOSED = "closed"

#: A long poll the camera held at least this long before closing is its empty answer, not a failure.
QUIET_CLOSE_AFTER_S = 1.0
#: The first poll on a new pull point: short, so whether it works is known at once, and longer than
#: QUIET_CLOSE_AFTER_S, so a camera that hangs up on an idle poll (quirk 6) is told from a broken one.
FIRST_POLL_S = 2

#: Added to the long poll's own timeout for the transport's deadline: the camera answers at its timeout,
#: and the reply takes a moment to arrive.
POLL_GRACE_S = 10.0

#: Lifetimes a camera reports outside this range are not believed (a clock reading year 0, a typo).
_PLAUSIBLE_LIFETIME_S = (1.0, 86400.0)


class PullPointRefused(CameraError):
    """The pull point refuses the credentials the device service accepts (capabilities that lie: quirk 7)."""


class PullPointHeld(CameraError):
    """The camera refused to give back the hub's last pull point; no other is opened until it expires."""


def _gone(error: CameraReplyError) -> bool:
    """Whether a refused Unsubscribe says the pull point no longer exists (so the camera holds nothing)."""
    return error.status in (400, 404) or (error.fault is not None and error.fault.is_unknown_subscription)


class PullPointSubscription:
    """One camera's pull-point subscription (see the module). ``run`` until ``close``."""

    def __init__(self, client: CameraClient, reactor: Any, log: Any, *,
                 on_notifications: Callable[[tuple[Notification, ...]], None],
                 on_state: Callable[[str, str], None] | None = None,
                 termination_s: float = 60, renew_margin_s: float = 15, pull_timeout_s: float = 30,
                 message_limit: int = 100, termination_style: TerminationStyle = "auto",
                 max_consecutive_failures: int = 3, retry_delay_s: float = 1.0,
                 unsubscribe_timeout_s: float = 5.0) -> None:
        if termination_style not in (*_STYLES_IN_ORDER, "auto"):
            raise ValueError(f"termination_style must be relative, absolute, absent or auto, not {termination_style!r}")
        self._client = client
        self._reactor = reactor
        self._log = log
        self._on_notifications = on_notifications
        self._on_state = on_state
        self.termination_s = termination_s
        self.renew_margin_s = renew_margin_s
        self.pull_timeout_s = pull_timeout_s
        self.message_limit = message_limit
        self.termination_style = termination_style
        self.max_consecutive_failures = max_consecutive_failures
        self.retry_delay_s = retry_delay_s
        self.unsubscribe_timeout_s = unsubscribe_timeout_s
        #: The open subscription (its address rewritten), or None.
        self.subscription: Subscription | None = None
        #: The termination style that worked last; tried first next time.
        self.style_in_use: str | None = None
        #: Hub time at which the pull point is renewed.
        self.renew_at = 0.0
        self.consecutive_failures = 0
        self._margin_s = renew_margin_s
        self._closing = False
        #: Hub time until which the camera still holds a pull point it refused to give back.
        self.unreleased_until = 0.0
        self._unreleased_why = ""
        self._first_pull_pending = False
        self._current: Deferred[Any] | None = None
        self._pull_bodies: dict[int, str] = {}

    # --- opening and closing ------------------------------------------------------------------------

    async def open(self) -> None:
        """Open a pull point (unsubscribing any previous one first), then SetSynchronizationPoint."""
        if self.subscription is not None:
            await self._unsubscribe_quietly()
        self._stop_if_closing()
        held_s = self.unreleased_until - self._reactor.seconds()
        if held_s > 0:
            # The camera answered but kept the last pull point: a new one now would be a second one, and
            # on every retry another, until the camera's few are all held by the hub (quirk 3). Wait
            # until the refused one has expired.
            raise PullPointHeld(f"the camera still holds the hub's last pull point for {held_s:.0f} s "
                                f"(Unsubscribe refused: {self._unreleased_why}); no other is opened until it "
                                f"expires")
        if TEV not in self._client.services:
            raise CameraReplyError("camera offers no Events service")
        try:
            subscription, style = await self._create()
        except AuthFailed as error:
            raise await self._auth_refusal(error, "CreatePullPointSubscription") from None
        try:
            address = self._client.rewrite_address(subscription.address)
        except CameraReplyError:
            # The camera made a pull point at an address nobody can use: it cannot be unsubscribed, and
            # expires by itself after its termination time.
            self._log.warning("pull_point_address_unusable")
            raise
        self.subscription = attrs.evolve(subscription, address=address)
        self.style_in_use = style
        requested = None if style == "absent" else self.termination_s
        self._set_lifetime(self._lifetime(subscription.current_time, subscription.termination_time, requested))
        await self._synchronize()
        self._first_pull_pending = True
        renewal_in = self.renew_at - self._reactor.seconds()
        self._state(STATE_SUBSCRIBED, f"{style} termination, renewal in {renewal_in:.0f} s")

    async def close(self) -> None:
        """Stop running and unsubscribe (best effort, in bounded time). Safe to call more than once."""
        self._closing = True
        if self._current is not None:
            self._current.cancel()
        await self._unsubscribe_quietly()
        self._state(STATE_CLOSED, "")

    async def _create(self) -> tuple[Subscription, str]:
        if self.termination_style == "auto":
            styles = list(_STYLES_IN_ORDER)
            if self.style_in_use in styles:  # what worked last time first
                styles.remove(self.style_in_use)
                styles.insert(0, self.style_in_use)
        else:
            styles = [self.termination_style]
        for style in styles:
            self._stop_if_closing()
            try:
                root = await self._track(self._client.call(
                    TEV, "CreatePullPointSubscription",
                    events.create_pull_point_subscription(termination=self._termination_text(style))))
                return parse_reply(events.parse_create_pull_point_subscription, root), style
            except CameraReplyError as error:
                if style == styles[-1]:
                    raise
                self._log.info("pull_point_termination_refused", style=style, error=str(error))
        raise AssertionError("unreachable")  # pragma: no cover

    def _termination_text(self, style: str) -> str | None:
        if style == "relative":
            return format_duration(self.termination_s)
        if style == "absolute":
            # In the camera's time (quirk 1), with the Z some cameras insist on (quirk 2).
            return format_datetime(self._client.camera_time() + timedelta(seconds=self.termination_s))
        return None

    async def _synchronize(self) -> None:
        assert self.subscription is not None
        try:
            await self._track(self._client.call(
                TEV, "SetSynchronizationPoint", events.set_synchronization_point(), url=self.subscription.address,
                reference_parameters=self.subscription.reference_parameters))
        except CameraError as error:  # cameras vary here; the pull that follows says whether all is well
            self._log.info("pull_point_synchronization_refused", error=str(error))

    async def _unsubscribe_quietly(self) -> None:
        subscription, self.subscription = self.subscription, None
        if subscription is None:
            return
        request = Deferred.fromCoroutine(self._client.call(
            TEV, "Unsubscribe", events.unsubscribe(), url=subscription.address,
            timeout_s=self.unsubscribe_timeout_s, reference_parameters=subscription.reference_parameters))
        # The transport's deadline does not cover waiting for the limiter: bound the whole thing.
        deadline = self._reactor.callLater(self.unsubscribe_timeout_s, request.cancel)
        try:
            await request
        except CancelledError:
            self._log.info("pull_point_unsubscribe_timed_out")
        except (CameraReplyError, AuthFailed) as error:
            self._log.info("pull_point_unsubscribe_failed", error=str(error))
            if not (isinstance(error, CameraReplyError) and _gone(error)):
                # Answered and refused: the camera holds it until its termination time.
                self.unreleased_until = max(self.unreleased_until, self.renew_at + self._margin_s)
                self._unreleased_why = str(error)
        except CameraError as error:
            # No answer (a camera rebooting or away): nothing says it still holds the pull point.
            self._log.info("pull_point_unsubscribe_failed", error=str(error))
        finally:
            if deadline.active():
                deadline.cancel()

    # --- running ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Pull until ``close``; returns then. Opens the pull point first if none is open. Raises the
        ``CameraError`` that made it give up (after ``on_state(STATE_FAILED, ...)``); the pull point is
        still remembered then, so the next ``run`` carries on with it if the camera kept it (a network
        blip), and reopens if not; ``close`` unsubscribes it."""
        self._closing = False
        try:
            if self.subscription is None:
                await self.open()
            while not self._closing:
                if self._reactor.seconds() >= self.renew_at:
                    await self._renew()
                else:
                    await self._pull()
        except CancelledError:
            if self._closing:
                return
            raise
        except CameraError as error:
            if self._closing:
                return
            self._state(STATE_FAILED, str(error))
            raise

    async def _pull(self) -> None:
        subscription = self.subscription
        assert subscription is not None
        now = self._reactor.seconds()
        # Ends in time for the renewal, so the pull point never has two requests from the hub at once.
        timeout = max(1, min(int(self.pull_timeout_s), int(self.renew_at - now)))
        if self._first_pull_pending:
            # A pull point is only known to work once a pull on it is answered (some lie: quirk 7), so
            # the first poll is short and the camera's state is settled at once.
            timeout = min(timeout, FIRST_POLL_S)
        body = self._pull_bodies.get(timeout)
        if body is None:
            body = self._pull_bodies[timeout] = events.pull_messages(timeout_s=timeout,
                                                                     message_limit=self.message_limit)
        try:
            root = await self._track(self._client.call(
                TEV, "PullMessages", body, url=subscription.address, timeout_s=timeout + POLL_GRACE_S,
                reference_parameters=subscription.reference_parameters))
            result = parse_reply(events.parse_pull_messages, root)
        except CameraUnreachable as error:
            if isinstance(error.cause, ConnectionClosed) and self._reactor.seconds() - now >= QUIET_CLOSE_AFTER_S:
                self._pull_answered()
                return  # quirk 6: the camera's empty answer; poll again at once
            await self._failed(error, reopen=False)
            return
        except AuthFailed as error:
            raise await self._auth_refusal(error, "PullMessages") from None
        except CameraReplyError as error:
            # A fault or an error status: the pull point is gone (a reboot drops them all) or broken.
            # An unreadable reply from a pull point that answers: it is still there, ask again.
            await self._failed(error, reopen=error.fault is not None or error.status is not None)
            return
        self._pull_answered()
        lifetime = self._lifetime(result.current_time, result.termination_time, None)
        if lifetime is not None:  # some cameras extend the subscription on each pull
            self.renew_at = self._reactor.seconds() + lifetime - self._margin_s
        if result.notifications:
            try:
                self._on_notifications(result.notifications)
            except Exception:  # noqa: BLE001 - one bad delivery must not end the camera's events
                self._log.exception("pull_point_delivery_failed", count=len(result.notifications))

    def _pull_answered(self) -> None:
        self.consecutive_failures = 0
        if self._first_pull_pending:
            self._first_pull_pending = False
            self._state(STATE_PULLING, "a pull was answered")

    async def _renew(self) -> None:
        subscription = self.subscription
        assert subscription is not None
        style = self.style_in_use if self.style_in_use in ("relative", "absolute") else "relative"
        termination = self._termination_text(style)
        assert termination is not None
        try:
            root = await self._track(self._client.call(
                TEV, "Renew", events.renew(termination=termination), url=subscription.address,
                reference_parameters=subscription.reference_parameters))
            new_termination = parse_reply(events.parse_renew, root)
        except CameraUnreachable as error:
            await self._failed(error, reopen=False)
            return
        except AuthFailed as error:
            raise await self._auth_refusal(error, "Renew") from None
        except CameraReplyError as error:
            # Renewal refused (a lost pull point, or one that will not be renewed): open a new one.
            await self._failed(error, reopen=True)
            return
        estimate = None
        if new_termination is not None:  # in the camera's time, which clock_offset_s tracks
            estimate = self._lifetime(self._client.camera_time(), new_termination, None)
        self._set_lifetime(min(estimate, self.termination_s) if estimate is not None else self.termination_s)
        self._state(STATE_RENEWED, f"renewal in {self.renew_at - self._reactor.seconds():.0f} s")

    async def _failed(self, error: CameraError, *, reopen: bool) -> None:
        """Count a failure; give up at the limit; otherwise reopen or wait a little before the next try."""
        self.consecutive_failures += 1
        count = self.consecutive_failures
        self._state(STATE_POLL_FAILED, f"{count} in a row: {error}")
        if count >= self.max_consecutive_failures:
            raise error
        if reopen:
            self._state(STATE_RESUBSCRIBING, str(error))
            await self.open()
        else:
            # A camera that refuses connections must not be asked again in a tight loop.
            await self._track(deferLater(self._reactor, self.retry_delay_s * count, lambda: None))

    async def _auth_refusal(self, error: AuthFailed, operation: str) -> CameraError:
        """What an auth refusal from the events service means: if the device accepts the same
        credentials, the pull point lies about what it accepts (quirk 7); otherwise they are wrong."""
        try:
            await self._track(self._client.device_information())
        except CameraError:
            return error
        self._state(STATE_DEGRADED, f"{operation} refused the credentials the device accepts")
        return PullPointRefused(f"camera's events service refuses the credentials its device service accepts "
                                f"({operation})")

    # --- helpers ------------------------------------------------------------------------------------

    def _lifetime(self, current: datetime | None, termination: datetime | None,
                  requested: float | None) -> float | None:
        """Seconds the subscription has left, from the camera's own two times when both make sense;
        otherwise what was asked for (None if nothing was)."""
        if current is not None and termination is not None:
            seconds = (termination - current).total_seconds()
            if _PLAUSIBLE_LIFETIME_S[0] <= seconds <= _PLAUSIBLE_LIFETIME_S[1]:
                return seconds
        return requested if requested is not None else None

    def _set_lifetime(self, lifetime: float | None) -> None:
        if lifetime is None:
            lifetime = self.termination_s  # the camera chose and did not say: assume what the hub would ask
        # A short lifetime is renewed halfway through rather than at a margin longer than itself.
        self._margin_s = min(self.renew_margin_s, lifetime / 2)
        self.renew_at = self._reactor.seconds() + lifetime - self._margin_s

    def _stop_if_closing(self) -> None:
        # close() may come while an await that it cannot cancel (an Unsubscribe) is under way: nothing
        # may be opened after it.
        if self._closing:
            raise CancelledError("pull point subscription closed")

    async def _track(self, work: Awaitable[Any]) -> Any:
        """Await ``work`` so that ``close`` can cancel it."""
        current = work if isinstance(work, Deferred) else Deferred.fromCoroutine(work)  # type: ignore[arg-type]
        self._current = current
        try:
            return await current
        finally:
            if self._current is current:
                self._current = None

    def _state(self, kind: str, detail: str) -> None:
        self._log.info("pull_point_state", state=kind, detail=detail)
        if self._on_state is not None:
            try:
                self._on_state(kind, detail)
            except Exception:  # noqa: BLE001 - the adapter's bookkeeping must not stop the events
                self._log.exception("pull_point_state_callback_failed", state=kind)
