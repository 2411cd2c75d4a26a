"""One camera, kept connected: identified, subscribed to, its events turned into hub events.

A ``CameraRunner`` loops for as long as the adapter runs: it reads the camera's clock, services, device
information, profiles, stream and snapshot addresses and presets; makes the camera known in the
directory (and publishes ``onvif.camera.identified`` when what it says about itself changed); opens a
pull-point subscription and hands every notification to ``CameraEvents``. Whatever goes wrong is a
failed attempt for ``CameraHealth``, followed by a wait that grows with each failure in a row; the next
attempt starts from the beginning, so presets are read again after every reconnect (their tokens may
change when a camera reboots). One camera failing never touches another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from hub.clock import now_utc
from hub.directory import Asset
from hub.events import Event, EventFactory, Location, Severity, Subject
from hub.secrets import Secret
from plugins.onvif.client import (
    AuthFailed,
    CameraError,
    CameraReplyError,
    CameraUnreachable,
)
from plugins.onvif.codec.topics import classify
from plugins.onvif.config import CameraConfig, OnvifConfig
from plugins.onvif.events import (
    ALARM_TOPICS,
    AUTH_FAILED,
    CAMERA_EVENT,
    CONNECTING,
    DEGRADED,
    LINE_CROSSED,
    OFFLINE,
    ONLINE,
    PRESET_REACHED,
    STORAGE_FAILED,
    CameraAlarmEnded,
    CameraAlarmStarted,
    CameraEventOccurred,
    CameraEventReceived,
    CameraHealthChanged,
    CameraIdentified,
    CameraRef,
    Item,
    PresetInfo,
    ProfileInfo,
    health_topic,
)
from plugins.onvif.health import (
    REFUSED_LOGIN,
    UNREACHABLE,
    UNUSABLE,
    CameraHealth,
    Transition,
)
from plugins.onvif.pullpoint import STATE_PULLING, STATE_RENEWED, STATE_RESUBSCRIBING, STATE_SUBSCRIBED

#: Alarms the hub ends itself (marked stale) when the camera never clears them: detections, which are
#: momentary by nature. A tamper, a lost signal or an input held on are states that can truly last.
STUCK_KINDS = ("motion", "field")

_STARTED_SEVERITY = {
    "motion": Severity.LOW,
    "field": Severity.LOW,
    "relay": Severity.LOW,
    "video_loss": Severity.MEDIUM,
    "tamper": Severity.HIGH,
    "digital_input": Severity.HIGH,
}
_HEALTH_SEVERITY = {ONLINE: Severity.INFO, OFFLINE: Severity.MEDIUM, AUTH_FAILED: Severity.MEDIUM,
                    DEGRADED: Severity.LOW}
_WORDS = {
    "motion": "motion",
    "tamper": "tamper",
    "video_loss": "video loss",
    "digital_input": "input",
    "relay": "relay",
    "field": "object in field",
}
_HEALTH_WORDS = {ONLINE: "online", OFFLINE: "offline", AUTH_FAILED: "refuses the hub's credentials",
                 DEGRADED: "degraded"}


class CameraUnusable(Exception):
    """The camera answers, but not with what the hub needs (no profiles, no event service)."""


def _items(pairs: Iterable[tuple[str, str]]) -> tuple[Item, ...]:
    return tuple(Item(name=name, value=value) for name, value in pairs)


@attrs.define
class _Alarm:
    """One property alarm of one camera (topic and source): what the camera last said, what the hub said."""

    camera_state: bool | None = None
    active: bool = False
    started_at: float | None = None
    stuck_timer: Any = None
    kind: str = ""
    topic: str = ""
    detail: str | None = None
    source: tuple[Item, ...] = ()


class CameraEvents:
    """Turns one camera's notifications into hub events.

    Property events (a ``State`` that is on or off) become ``started`` and ``ended``: a notification that
    repeats what the camera last said (the ``Initialized`` burst after every synchronisation point) raises
    nothing. A detection not cleared within ``stuck_after_s`` is ended by the hub, marked stale. A topic
    the hub has no meaning for is published whole as ``onvif.camera.event``.
    """

    def __init__(self, *, ref: CameraRef, clock: Any, events: EventFactory, publish: Callable[[Event], None],
                 subject: Subject, location: Location, stuck_after_s: float,
                 clock_offset_s: Callable[[], float], log: Any) -> None:
        self._ref = ref
        self._clock = clock
        self._events = events
        self._publish = publish
        self._subject = subject
        self._location = location
        self._stuck_after_s = stuck_after_s
        self._clock_offset_s = clock_offset_s
        self._log = log
        self._alarms: dict[tuple[str, tuple[Item, ...]], _Alarm] = {}

    @property
    def active(self) -> list[tuple[str, tuple[Item, ...]]]:
        """The alarms the hub has started and not ended, by ONVIF topic and source."""
        return [key for key, alarm in self._alarms.items() if alarm.active]

    def notified(self, notifications: Iterable[Any]) -> None:
        for notification in notifications:
            try:
                self._one(notification)
            except Exception:  # noqa: BLE001 - one odd notification must not lose the others
                self._log.exception("notification_not_mapped", topic=getattr(notification, "topic", None))

    def close(self) -> None:
        """Cancel the stuck-alarm timers (the adapter is stopping; alarms stay as they are)."""
        for alarm in self._alarms.values():
            if alarm.stuck_timer is not None and alarm.stuck_timer.active():
                alarm.stuck_timer.cancel()
            alarm.stuck_timer = None

    def _one(self, notification: Any) -> None:
        signal = classify(notification)
        if signal.kind in ALARM_TOPICS and signal.state is not None:
            self._property(notification, signal.kind, signal.state, signal.detail)
        elif signal.kind == "line_crossed":
            self._occurred(notification, LINE_CROSSED, signal.kind, signal.detail, Severity.LOW, "line crossed")
        elif signal.kind == "storage_failure" and signal.state is not False:
            if signal.state is True and not self._changed(notification, True):
                return  # the failure the camera reports on every synchronisation point is known already
            self._occurred(notification, STORAGE_FAILED, signal.kind, signal.detail, Severity.MEDIUM,
                           "storage failed")
        elif signal.kind == "storage_failure":
            if self._changed(notification, False):
                self._log.info("camera_storage_recovered", topic=notification.topic)
        elif signal.kind == "preset" and (signal.detail or "").lower() == "reached":
            self._occurred(notification, PRESET_REACHED, signal.kind, signal.detail, Severity.INFO,
                           "preset reached")
        else:
            self._generic(notification)

    def _changed(self, notification: Any, state: bool) -> bool:
        """Record what the camera says of a state that has no started/ended pair; True if it is news."""
        alarm = self._alarms.setdefault(self._key(notification), _Alarm())
        news = alarm.camera_state != state
        alarm.camera_state = state
        return news

    def _key(self, notification: Any) -> tuple[str, tuple[Item, ...]]:
        return notification.topic, _items(notification.source)

    def _property(self, notification: Any, kind: str, state: bool, detail: str | None) -> None:
        key = self._key(notification)
        alarm = self._alarms.get(key)
        if alarm is None:
            alarm = self._alarms[key] = _Alarm(kind=kind, topic=notification.topic, detail=detail, source=key[1])
        if alarm.camera_state == state:
            # The Initialized burst after a synchronisation point, or a camera repeating itself.
            self._log.debug("alarm_state_repeated", topic=notification.topic, state=state,
                            operation=notification.operation)
            return
        previous, alarm.camera_state = alarm.camera_state, state
        if state and alarm.active and previous is None and notification.operation == "Changed":
            # On a new pull point (a reboot mid-detection), a camera saying the state *changed* to on was
            # off in between: the old pull point never delivered that end. End the old alarm, start anew.
            self._log.info("alarm_end_missed", topic=notification.topic)
            self._end(alarm, None, stale=True)
        if state and not alarm.active:
            alarm.active = True
            alarm.started_at = self._clock.seconds()
            alarm.detail = detail
            if kind in STUCK_KINDS:
                alarm.stuck_timer = self._clock.callLater(self._stuck_after_s, self._stuck, key)
            payload = CameraAlarmStarted(camera=self._ref, kind=kind, topic=notification.topic, detail=detail,
                                         source=alarm.source, camera_time=notification.raw_utc_time,
                                         data=_items(notification.data))
            self._send(f"{ALARM_TOPICS[kind]}.started", payload, _STARTED_SEVERITY[kind],
                       f"{_WORDS[kind]} started", notification.utc_time, detail)
        elif not state and alarm.active:
            self._end(alarm, notification, stale=False)
        elif not state:
            # Off while never on as far as the hub knows (the first Initialized, or after a stale end).
            self._log.debug("alarm_off_not_active", topic=notification.topic)

    def subscribed(self) -> None:
        """A new pull point is open: what the camera said on the old one no longer counts. The camera's
        next word on each alarm (its Initialized state, or a change) is taken afresh."""
        for alarm in self._alarms.values():
            alarm.camera_state = None

    def _stuck(self, key: tuple[str, tuple[Item, ...]]) -> None:
        alarm = self._alarms[key]
        alarm.stuck_timer = None
        if not alarm.active:
            return
        self._log.warning("alarm_stuck_ended_by_hub", topic=alarm.topic, after_s=self._stuck_after_s)
        self._end(alarm, None, stale=True)

    def _end(self, alarm: _Alarm, notification: Any | None, *, stale: bool) -> None:
        if alarm.stuck_timer is not None and alarm.stuck_timer.active():
            alarm.stuck_timer.cancel()
        alarm.stuck_timer = None
        alarm.active = False
        now = self._clock.seconds()
        lasted = now - alarm.started_at if alarm.started_at is not None else None
        payload = CameraAlarmEnded(
            camera=self._ref, kind=alarm.kind, topic=alarm.topic, detail=alarm.detail, source=alarm.source,
            camera_time=notification.raw_utc_time if notification is not None else None, stale=stale,
            lasted_s=lasted, data=_items(notification.data) if notification is not None else (),
        )
        words = f"{_WORDS[alarm.kind]} ended"
        if stale:
            words += f" (stale: not cleared by the camera within {self._stuck_after_s:g} s)"
        self._send(f"{ALARM_TOPICS[alarm.kind]}.ended", payload, Severity.INFO, words,
                   notification.utc_time if notification is not None else None, alarm.detail)

    def _occurred(self, notification: Any, topic: str, kind: str, detail: str | None, severity: Severity,
                  words: str) -> None:
        payload = CameraEventOccurred(camera=self._ref, kind=kind, topic=notification.topic, detail=detail,
                                      source=_items(notification.source), data=_items(notification.data),
                                      camera_time=notification.raw_utc_time)
        self._send(topic, payload, severity, words, notification.utc_time, detail)

    def _generic(self, notification: Any) -> None:
        payload = CameraEventReceived(
            camera=self._ref, topic=notification.topic, operation=notification.operation,
            source=_items(notification.source), key=_items(notification.key), data=_items(notification.data),
            camera_time=notification.raw_utc_time,
        )
        self._send(CAMERA_EVENT, payload, Severity.INFO, f"event {notification.topic}", notification.utc_time, None)

    def _send(self, topic: str, payload: Any, severity: Severity, words: str, camera_time: datetime | None,
              detail: str | None) -> None:
        summary = f"{describe(self._ref)}: {words}" + (f" ({detail})" if detail and detail not in words else "")
        self._publish(self._events(topic, payload, severity=severity, subject=self._subject,
                                   location=self._location, summary=summary,
                                   occurred_at=self._occurred_at(camera_time)))

    def _occurred_at(self, camera_time: datetime | None) -> datetime | None:
        """The camera's time of the event on the hub's clock; never in the future (a camera's clock may
        jump after the offset was measured), None (the time received) when the camera gave none."""
        if camera_time is None:
            return None
        moment = camera_time - timedelta(seconds=self._clock_offset_s())
        now = now_utc(self._clock)
        return min(moment, now)


def describe(ref: CameraRef) -> str:
    """``Camera 42 (High St / Market Sq)``: how summaries name a camera."""
    return f"Camera {ref.number}" + (f" ({ref.name})" if ref.name else "")


def choose_profile(profiles: tuple[Any, ...], wanted: str | None) -> Any:
    """The configured profile if the camera has it, else the first with PTZ, else the first."""
    if wanted is not None:
        for profile in profiles:
            if profile.token == wanted:
                return profile
    for profile in profiles:
        if profile.has_ptz:
            return profile
    return profiles[0]


def find_preset(presets: tuple[Any, ...], wanted: str) -> Any | None:
    """The preset whose token is ``wanted``, else the one so named (ignoring case and outer spaces)."""
    for preset in presets:
        if preset.token == wanted:
            return preset
    folded = wanted.strip().casefold()
    for preset in presets:
        if preset.name is not None and preset.name.strip().casefold() == folded:
            return preset
    return None


class CameraRunner:
    """Keeps one camera connected for as long as the adapter runs (see the module docstring).

    ``make_subscription(client, on_notifications, on_state)`` builds the camera's ``PullPointSubscription``;
    ``heard()`` is called whenever the camera answers. ``start_delay_s`` spreads the fleet's first
    connections over time.
    """

    def __init__(
        self,
        *,
        number: str,
        camera: CameraConfig,
        fleet: OnvifConfig,
        client: Any,
        make_subscription: Callable[[Any, Callable[[tuple[Any, ...]], None], Callable[[str, str], None]], Any],
        clock: Any,
        events: EventFactory,
        publish: Callable[[Event], None],
        directory: Any,
        source: str,
        heard: Callable[[], None],
        random: Callable[[], float],
        log: Any,
        start_delay_s: float = 0.0,
        close_timeout_s: float = 5.0,
        password: Secret | None = None,
    ) -> None:
        self.number = number
        self.camera = camera
        self.client = client
        #: Secrets this camera is reached with, to be kept out of anything the hub passes on.
        self.secrets: tuple[Secret, ...] = (password,) if password is not None else ()
        self.ref = CameraRef(number=number, name=camera.name, site=camera.site, fibre_node=camera.fibre_node)
        self.subject = Subject(kind="camera", id=number, name=camera.name)
        self.location = Location(name=camera.site, camera=number, latitude=camera.latitude,
                                 longitude=camera.longitude)
        self._make_subscription = make_subscription
        self._clock = clock
        self._events = events
        self._publish = publish
        self._directory = directory
        self._source = source
        self._heard = heard
        self._log = log.bind(camera=number)
        self._start_delay_s = start_delay_s
        self._close_timeout_s = close_timeout_s
        self.health = CameraHealth(
            clock=clock, failures_before_offline=fleet.failures_before_offline,
            recoveries_before_online=fleet.recoveries_before_online, retry_min_s=fleet.retry_min_s,
            retry_max_s=fleet.retry_max_s, random=random,
        )
        self.alarms = CameraEvents(ref=self.ref, clock=clock, events=events, publish=publish, subject=self.subject,
                                   location=self.location, stuck_after_s=fleet.motion_stuck_after_s,
                                   clock_offset_s=lambda: float(getattr(client, "clock_offset_s", 0.0) or 0.0),
                                   log=self._log)
        # What the camera said of itself at the last connection; kept while it is away, so commands
        # can still be tried and the directory still shows it.
        self.profile: Any = None
        self.presets: tuple[Any, ...] = ()
        self.identity: CameraIdentified | None = None
        self._subscription: Any = None
        self._resubscribing = False
        self._refreshing: Deferred[None] | None = None
        self._task: Deferred[None] | None = None
        self._stopping = False

    @property
    def state(self) -> str:
        return self.health.state or CONNECTING

    # --- life ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._put_in_directory()
        self._task = Deferred.fromCoroutine(self._run())
        self._task.addErrback(self._crashed)

    async def stop(self) -> None:
        """Stop trying, give the pull point back to the camera (within ``close_timeout_s``), cancel timers."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        if self._refreshing is not None:
            self._refreshing.cancel()
        self.alarms.close()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await self._close(subscription)

    def _crashed(self, failure: Any) -> None:
        if failure.check(CancelledError):
            return
        # A bug in the loop itself: log it loudly; the rest of the fleet goes on.
        self._log.error("camera_runner_crashed", error=failure.getErrorMessage(), exception=failure.getTraceback())
        return

    async def _run(self) -> None:
        if self._start_delay_s > 0:
            await deferLater(self._clock, self._start_delay_s)
        while not self._stopping:
            await self._attempt()
            if self._stopping:
                return
            delay = self.health.retry_in_s()
            self._log.info("camera_retry_scheduled", in_s=round(delay, 3), failures=self.health.failures)
            await deferLater(self._clock, delay)

    async def _attempt(self) -> None:
        """One connection: connect, subscribe, pull until it breaks. Returns once it has failed."""
        try:
            await self._connect()
            if self._subscription is None:
                # One for the camera's whole run: it unsubscribes its old pull point before opening
                # another, so reconnecting never leaves one behind on the camera (quirk 3).
                self._subscription = self._make_subscription(self.client, self._notified, self._pull_point_state)
            subscription = self._subscription
            try:
                await subscription.open()
            except CameraReplyError as error:
                raise CameraUnusable(f"events cannot be subscribed: {error}") from error
            # Online only once a pull on the new pull point is answered (STATE_PULLING below): a pull
            # point that refuses every pull (quirk 7) must not make the camera flap online and back.
            await subscription.run()
            if not self._stopping:
                raise CameraUnreachable("the event subscription ended")
        except CancelledError:
            raise
        except AuthFailed as error:
            self._failed(REFUSED_LOGIN, f"the camera refuses the hub's credentials: {error}")
        except CameraUnreachable as error:
            self._failed(UNREACHABLE, f"no answer: {error}")
        except CameraUnusable as error:
            self._failed(UNUSABLE, str(error))
        except CameraReplyError as error:
            self._failed(UNUSABLE, f"a reply could not be used: {error}")
        except CameraError as error:
            # The pull point refusing credentials the device accepts (quirk 7), a camera too busy.
            self._failed(UNUSABLE, str(error))
        except Exception as error:  # noqa: BLE001 - an unexpected error is a failed attempt, not a dead camera
            self._log.exception("camera_attempt_crashed")
            self._failed(UNUSABLE, f"unexpected error: {type(error).__name__}")

    def _notified(self, notifications: tuple[Any, ...]) -> None:
        self._answered()
        self.alarms.notified(notifications)

    def _pull_point_state(self, kind: str, detail: str) -> None:
        """What the subscription did by itself. A pull point lost and reopened while the camera kept
        answering is most often a reboot, and a reboot may renumber the presets (quirk 9): read them again."""
        if kind == STATE_SUBSCRIBED:
            self.alarms.subscribed()
        if kind == STATE_RESUBSCRIBING:
            self._resubscribing = True
        elif kind == STATE_SUBSCRIBED and self._resubscribing:
            self._resubscribing = False
            if self._refreshing is None:
                self._refreshing = Deferred.fromCoroutine(self._refresh_presets())
        if kind == STATE_PULLING:
            self._answered()
            self._transition(self.health.succeeded("connected; events flowing"))
        if kind in (STATE_SUBSCRIBED, STATE_RENEWED):
            self._answered()

    async def _refresh_presets(self) -> None:
        try:
            await self.reread_presets()
        except CancelledError:
            pass
        except Exception as error:  # noqa: BLE001 - the next reconnect reads them anyway
            self._log.info("presets_not_reread", error=str(error) or type(error).__name__)
        finally:
            self._refreshing = None

    async def _close(self, subscription: Any) -> None:
        closing = Deferred.fromCoroutine(subscription.close())
        closing.addTimeout(self._close_timeout_s, self._clock)
        try:
            await closing
        except Exception as error:  # noqa: BLE001 - the camera may be gone; the pull point then expires
            self._log.info("pull_point_not_closed", error=str(error) or type(error).__name__)

    async def _connect(self) -> None:
        client = self.client
        await client.sync_clock()
        self._answered()
        services = await client.discover_services()
        info = await client.device_information()
        profiles = tuple(await client.profiles())
        if not profiles:
            raise CameraUnusable("the camera has no media profiles")
        profile = choose_profile(profiles, self.camera.profile)
        if self.camera.profile is not None and profile.token != self.camera.profile:
            self._log.warning("configured_profile_missing", profile=self.camera.profile, using=profile.token)
        snapshot_uri = await self._optional("snapshot_uri", client.snapshot_uri, profile.token)
        await self._optional("stream_uri", client.stream_uri, profile.token)
        presets: tuple[Any, ...] = ()
        if profile.has_ptz:
            presets = tuple(await self._optional("presets", client.presets, profile.token) or ())
        self.profile, self.presets = profile, presets
        identity = CameraIdentified(
            camera=self.ref,
            manufacturer=info.manufacturer,
            model=info.model,
            firmware_version=info.firmware_version,
            serial_number=info.serial_number,
            hardware_id=info.hardware_id,
            media=getattr(client, "media", None),
            profile=profile.token,
            profiles=tuple(ProfileInfo(token=p.token, name=p.name, ptz=p.has_ptz, encoding=p.encoding,
                                       width=p.width, height=p.height) for p in profiles),
            ptz=profile.has_ptz,
            presets=tuple(PresetInfo(token=p.token, name=p.name) for p in presets),
            snapshot=snapshot_uri is not None,
            clock_offset_s=None,
        )
        self._log.info("camera_connected", services=len(services), profile=profile.token, presets=len(presets),
                       model=info.model)
        self._identified(identity)

    def _identified(self, identity: CameraIdentified) -> None:
        """Keep what the camera says of itself; publish it when it changed (first contact, a reboot)."""
        if identity != self.identity:
            self.identity = identity
            offset = getattr(self.client, "clock_offset_s", None)
            payload = attrs.evolve(identity, clock_offset_s=round(offset, 3) if offset is not None else None)
            make = " ".join(part for part in (identity.manufacturer, identity.model) if part) or "unknown make"
            extent = f", {len(identity.presets)} presets" if identity.ptz else ", no PTZ"
            self._publish(self._events(
                CameraIdentified.TYPE, payload, severity=Severity.INFO, subject=self.subject,
                location=self.location, summary=f"{describe(self.ref)}: {make}{extent}",
            ))
        self._put_in_directory()

    async def _optional(self, what: str, call: Callable[[str], Any], token: str) -> Any:
        """A step the camera may refuse without being unusable (a fixed camera has no presets)."""
        try:
            return await call(token)
        except (CameraReplyError, AuthFailed) as error:
            self._log.warning("camera_step_refused", step=what, error=str(error))
            return None

    async def reread_presets(self) -> tuple[Any, ...]:
        """Read the presets again (a command did not find the one asked for: they may have changed)."""
        if self.profile is None or not self.profile.has_ptz:
            return ()
        self.presets = tuple(await self.client.presets(self.profile.token))
        self._answered()
        if self.identity is not None:
            self._identified(attrs.evolve(
                self.identity, presets=tuple(PresetInfo(token=p.token, name=p.name) for p in self.presets)))
        return self.presets

    # --- health ----------------------------------------------------------------------------------------

    def _answered(self) -> None:
        self._heard()

    def _failed(self, what: str, reason: str) -> None:
        self._log.info("camera_attempt_failed", why=what, reason=reason, failures=self.health.failures + 1)
        self._transition(self.health.failed(what, reason))

    def _transition(self, transition: Transition | None) -> None:
        if transition is None:
            return
        state = transition.state
        retry = round(self.health.retry_in_s(), 3) if state != ONLINE else None
        log = self._log.warning if state != ONLINE else self._log.info
        log("camera_state_changed", state=state, previous=transition.previous, reason=transition.reason)
        if self._directory is not None:
            self._directory.set_state("camera", self.number, state, transition.since)
        payload = CameraHealthChanged(camera=self.ref, state=state, previous=transition.previous,
                                      reason=transition.reason, failures=transition.failures, retry_in_s=retry)
        summary = f"{describe(self.ref)} {_HEALTH_WORDS[state]}"
        if state != ONLINE and transition.reason:
            summary += f": {transition.reason}"
        self._publish(self._events(health_topic(state), payload, severity=_HEALTH_SEVERITY[state],
                                   subject=self.subject, location=self.location, summary=summary))

    # --- directory -------------------------------------------------------------------------------------

    def _put_in_directory(self) -> None:
        if self._directory is None:
            return
        known = self._directory.get("camera", self.number)
        attributes: dict[str, Any] = dict(known.attributes) if known is not None and known.source == self._source \
            else {}
        attributes.update(fibre_node=self.camera.fibre_node, site=self.camera.site)
        if self.identity is not None:
            attributes.update(
                manufacturer=self.identity.manufacturer, model=self.identity.model, ptz=self.identity.ptz,
                presets=[{"token": p.token, "name": p.name} for p in self.identity.presets],
                profile=self.identity.profile, snapshot=self.identity.snapshot,
            )
        attributes.setdefault("ptz", False)
        attributes.setdefault("presets", [])
        if self.health.state is not None:
            state, since = self.health.state, self.health.since
        elif known is not None and known.source == self._source and known.state is not None:
            state, since = known.state, known.state_since  # what the last run of this adapter knew
        else:
            state, since = CONNECTING, self._clock.seconds()
        self._directory.put(Asset(
            kind="camera", id=self.number, name=self.camera.name, source=self._source,
            latitude=self.camera.latitude, longitude=self.camera.longitude, state=state, state_since=since,
            attributes=attributes,
        ))
