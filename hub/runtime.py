"""The adapter runtime: each configured adapter instance runs as a supervised Twisted service.

A ``SupervisedAdapter`` starts its adapter, turns every failure (at build, at start or at run time) into an
``adapter.health`` event and a restart after a capped, jittered back-off, and watches for a partner that
goes quiet. Each instance is supervised on its own, so one failing adapter never stops the others.
"""

from __future__ import annotations

import inspect
import math
import random as random_module
import traceback
from typing import Any, Callable, Protocol

import attrs
from attrs import field, frozen
from twisted.application.service import IService, Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from hub.api import AdapterContext, AdapterType
from hub.events import AdapterHealthChanged, AdapterState, EventFactory, Severity, Subject

_SEVERITY = {
    AdapterState.STARTING: Severity.INFO,
    AdapterState.RUNNING: Severity.INFO,
    AdapterState.STOPPED: Severity.INFO,
    AdapterState.RESTARTING: Severity.MEDIUM,
    AdapterState.FAILED: Severity.HIGH,
    AdapterState.SILENT: Severity.HIGH,
}


class Supervision(Protocol):
    """How one adapter instance is supervised; ``hub.config.SupervisionConfig`` has these fields.

    ``silence_timeout_s`` is None when the partner is not expected to talk on its own (no watchdog).
    """

    restart_initial_s: float
    restart_max_s: float
    restart_factor: float
    restart_jitter: float
    healthy_after_s: float
    silence_timeout_s: float | None


class Publisher(Protocol):
    """The part of the bus the runtime uses: ``publish`` fires with the sequence number once durable."""

    def publish(self, event: Any) -> "Deferred[int]": ...


def _positive(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be greater than 0, got {value!r}")


def _at_least_initial(instance: "BackoffPolicy", attribute: attrs.Attribute, value: float) -> None:
    if not value >= instance.initial_s:
        raise ValueError(f"{attribute.name} ({value!r}) must be at least initial_s ({instance.initial_s!r})")


def _at_least_one(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 1:
        raise ValueError(f"{attribute.name} must be at least 1 so that delays never shrink, got {value!r}")


def _fraction(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


@frozen
class BackoffPolicy:
    """Delays before restarting after consecutive failures: exponential, capped, jittered.

    The nth consecutive failure waits ``initial_s * factor ** (n - 1)`` seconds, at most ``max_s``,
    scaled by a random factor in ``[1 - jitter, 1 + jitter]`` and capped again at ``max_s``. The jitter
    keeps adapters that failed together (a switch reboot takes every camera away) from all retrying in
    the same instant.
    """

    initial_s: float = field(validator=_positive)
    max_s: float = field(validator=_at_least_initial)
    factor: float = field(default=2.0, validator=_at_least_one)
    jitter: float = field(default=0.1, validator=_fraction)

    @classmethod
    def from_supervision(cls, supervision: Supervision) -> "BackoffPolicy":
        return cls(
            initial_s=supervision.restart_initial_s,
            max_s=supervision.restart_max_s,
            factor=supervision.restart_factor,
            jitter=supervision.restart_jitter,
        )

    def delay(self, attempt: int, random: random_module.Random) -> float:
        """Seconds to wait after the ``attempt``-th consecutive failure (``attempt`` >= 1)."""
        if attempt < 1:
            raise ValueError(f"attempt counts failures from 1, got {attempt!r}")
        exponent = attempt - 1
        # Decide whether the cap is reached before computing the power: an adapter that has failed all
        # month must not overflow a float (or turn a huge int into one).
        if self.factor == 1:
            base = self.initial_s
        elif exponent < math.log(self.max_s / self.initial_s) / math.log(self.factor):
            base = min(self.max_s, self.initial_s * self.factor**exponent)
        else:
            base = self.max_s
        return min(self.max_s, base * random.uniform(1 - self.jitter, 1 + self.jitter))


@frozen
class AdapterStatus:
    """A snapshot of one supervised adapter, for the console and ``/healthz``.

    ``attempt`` counts consecutive failures (0 once healthy). Times are the reactor's ``seconds()``:
    ``started_at`` is when the current run reached running (None when not running), ``last_heard_at``
    when the far end last showed it was alive (None if never).
    """

    name: str
    adapter_type: str
    state: AdapterState
    attempt: int
    last_error: str | None
    last_heard_at: float | None
    started_at: float | None


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class SupervisedAdapter(Service):
    """Runs one configured adapter instance and keeps it running.

    Each (re)start calls ``adapter_type.factory`` with a fresh ``AdapterContext`` and starts the service
    it returns. A failure while building it, while starting it, or later (the adapter calls
    ``context.fail``) is logged, published as ``adapter.health.failed`` and followed by a restart after
    ``BackoffPolicy`` delays; the count of consecutive failures resets once the adapter has run for
    ``supervision.healthy_after_s``. ``context.heard`` feeds the silence watchdog. Health events are
    published with the ``events`` factory, so their source is the adapter instance itself.

    Every error text that is logged or published goes through ``redact`` first, because exception
    messages from partner libraries often quote URLs, logins or keys.
    """

    def __init__(
        self,
        *,
        name: str,
        adapter_type: AdapterType,
        config: Any,
        supervision: Supervision,
        reactor: IReactorTime,
        bus: Publisher,
        log: Any,
        events: EventFactory,
        random: random_module.Random | None = None,
        redact: Callable[[str], str] = lambda text: text,
        directory: Any = None,
        evidence: Any = None,
        database: Any = None,
    ) -> None:
        self.name = name
        self._directory = directory
        self._evidence = evidence
        self._database = database
        self._adapter_type = adapter_type
        self._config = config
        self._supervision = supervision
        self.backoff = BackoffPolicy.from_supervision(supervision)
        self._reactor = reactor
        self._bus = bus
        self._log = log.bind(adapter=name)
        self._events = events
        self._random = random if random is not None else random_module.Random()
        self._redact = redact

        # Each start attempt gets a new generation; a context whose generation is no longer current
        # belongs to an instance that already failed or was stopped, so its calls are ignored.
        self._generation = 0
        self._inner: IService | None = None
        self._starting: Deferred[Any] | None = None
        self._pending_stops: set[Deferred[None]] = set()
        self._restart_call: IDelayedCall | None = None
        self._healthy_call: IDelayedCall | None = None
        self._watchdog_call: IDelayedCall | None = None

        self._state = AdapterState.STOPPED
        self._failures = 0
        self._last_error: str | None = None
        self._last_heard_at: float | None = None
        self._started_at: float | None = None
        # When the watchdog last saw a sign of life (being started counts as one).
        self._quiet_since = 0.0
        self._heard_since_armed = False

    @property
    def status(self) -> AdapterStatus:
        """Where this adapter stands now, for the console and health checks."""
        return AdapterStatus(
            name=self.name,
            adapter_type=self._adapter_type.name,
            state=self._state,
            attempt=self._failures,
            last_error=self._last_error,
            last_heard_at=self._last_heard_at,
            started_at=self._started_at,
        )

    @property
    def service(self) -> IService | None:
        """The adapter's own service (what its type's factory returned) while it has one, else None:
        what ``/metrics`` asks for the adapter's ``metrics()``."""
        return self._inner

    # --- Service --------------------------------------------------------------------------------

    def startService(self) -> None:
        Service.startService(self)
        self._failures = 0
        self._begin(AdapterState.STARTING, f"{self.name} is starting")

    def stopService(self) -> "Deferred[None]":
        Service.stopService(self)
        self._generation += 1
        self._cancel_timers(restart=True)
        self._abandon_start()
        inner, self._inner = self._inner, None
        if inner is not None:
            self._stop_inner(inner)
        return Deferred.fromCoroutine(self._finish_stopping())

    async def _finish_stopping(self) -> None:
        self._started_at = None
        pending = list(self._pending_stops)
        if pending:
            await DeferredList(pending)
        if self.running:
            # Started again before the old instance had finished stopping; it is not stopped now.
            return
        self._state = AdapterState.STOPPED
        self._log.info("adapter_stopped")
        await self._publish(AdapterState.STOPPED, f"{self.name} stopped")

    # --- Starting -------------------------------------------------------------------------------

    def _begin(self, state: AdapterState, summary: str) -> None:
        self._generation += 1
        generation = self._generation
        self._state = state
        self._log.info(f"adapter_{state.value}", attempt=self._failures)
        self._publish(state, summary)
        context = AdapterContext(
            name=self.name,
            adapter_type=self._adapter_type.name,
            reactor=self._reactor,
            bus=self._bus,
            log=self._log,
            config=self._config,
            events=self._events,
            heard=lambda: self._heard(generation),
            fail=lambda error: self._context_failed(generation, error),
            directory=self._directory,
            evidence=self._evidence,
            database=self._database,
        )
        starting = Deferred.fromCoroutine(self._start(generation, context))
        if not starting.called:
            self._starting = starting
        starting.addCallback(self._start_settled, generation, starting)
        starting.addErrback(self._supervisor_error)

    async def _start(self, generation: int, context: AdapterContext) -> tuple[str, BaseException | None]:
        """Build and start the adapter; report the phase that failed and why, instead of raising."""
        try:
            service = self._adapter_type.factory(context)
            if not IService.providedBy(service):
                raise TypeError(
                    f"adapter type {self._adapter_type.name!r} factory returned {service!r}, "
                    "not a twisted.application.service.IService"
                )
        except Exception as error:
            return ("factory", error)
        if generation != self._generation:
            # The adapter called context.fail while it was being built; it was never started.
            return ("factory", None)
        self._inner = service
        try:
            result = service.startService()
            if inspect.isawaitable(result):
                await result
        except Exception as error:
            return ("start", error)
        return ("start", None)

    def _start_settled(
        self, outcome: tuple[str, BaseException | None], generation: int, starting: Deferred[Any]
    ) -> None:
        if self._starting is starting:
            self._starting = None
        if generation != self._generation:
            return
        phase, error = outcome
        if error is not None:
            self._failed(generation, error, phase)
        else:
            self._running(generation)

    def _abandon_start(self) -> None:
        # A start still waiting on its Deferred when the adapter fails or stops would otherwise keep
        # the abandoned instance (and its coroutine) alive for good.
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.cancel()

    def _running(self, generation: int) -> None:
        now = self._reactor.seconds()
        self._state = AdapterState.RUNNING
        self._started_at = now
        self._log.info("adapter_running", attempt=self._failures)
        self._publish(AdapterState.RUNNING, f"{self.name} is running")
        self._healthy_call = self._reactor.callLater(
            self._supervision.healthy_after_s, self._healthy, generation
        )
        self._quiet_since = now
        self._arm_watchdog(self._supervision.silence_timeout_s)

    def _healthy(self, generation: int) -> None:
        self._healthy_call = None
        if generation != self._generation:
            return
        if self._failures:
            self._log.info("adapter_healthy", after_failures=self._failures)
        self._failures = 0

    # --- Failing and restarting ----------------------------------------------------------------

    def _context_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            # An instance that was already replaced or stopped is still calling back (a late
            # timer or connection loss); it must not take down its successor.
            self._log.info("adapter_stale_fail_ignored", error=self._reason(error))
            return
        self._failed(generation, error, "run")

    def _failed(self, generation: int, error: BaseException, phase: str) -> None:
        self._generation += 1
        self._cancel_timers(restart=False)
        self._abandon_start()
        inner, self._inner = self._inner, None
        self._failures += 1
        delay = self.backoff.delay(self._failures, self._random)
        reason = self._reason(error)
        self._state = AdapterState.FAILED
        self._last_error = reason
        self._started_at = None
        self._log.error(
            "adapter_failed",
            phase=phase,
            error=reason,
            attempt=self._failures,
            retry_in_s=round(delay, 3),
            exception=self._traceback(error),
        )
        self._publish(
            AdapterState.FAILED,
            f"{self.name} failed: {reason}; retrying in {delay:.1f} s",
            reason=reason,
            attempt=self._failures,
            retry_in_s=delay,
        )
        if inner is not None:
            # The restart does not wait for this stop: a stop that hangs must not keep the adapter
            # down for good. If the old instance still holds its port, the new one fails and backs off.
            self._stop_inner(inner)
        self._restart_call = self._reactor.callLater(delay, self._restart)

    def _restart(self) -> None:
        self._restart_call = None
        if not self.running:
            return
        self._begin(
            AdapterState.RESTARTING,
            f"{self.name} is restarting after {_plural(self._failures, 'consecutive failure')}",
        )

    def _stop_inner(self, inner: IService) -> None:
        stopping = Deferred.fromCoroutine(self._stop_quietly(inner))
        if not stopping.called:
            self._pending_stops.add(stopping)
            stopping.addBoth(lambda result: self._pending_stops.discard(stopping))

    async def _stop_quietly(self, inner: IService) -> None:
        try:
            result = inner.stopService()
            if inspect.isawaitable(result):
                await result
        except Exception as error:
            self._log.error(
                "adapter_stop_failed", error=self._reason(error), exception=self._traceback(error)
            )

    # --- Silence watchdog ----------------------------------------------------------------------

    def _heard(self, generation: int) -> None:
        if generation != self._generation:
            return
        now = self._reactor.seconds()
        self._last_heard_at = now
        if self._state is AdapterState.SILENT:
            silent_for = now - self._quiet_since
            self._quiet_since = now
            self._state = AdapterState.RUNNING
            self._log.info("adapter_recovered", silent_for_s=round(silent_for, 3))
            self._publish(
                AdapterState.RUNNING,
                f"{self.name} recovered: heard again after {silent_for:.1f} s of silence",
                reason=f"heard again after {silent_for:.1f} s of silence",
                silent_for_s=silent_for,
            )
            self._arm_watchdog(self._supervision.silence_timeout_s)
        else:
            self._quiet_since = now
            # Cheaper than moving the timer on every message: the timer notices and re-arms itself.
            self._heard_since_armed = True

    def _arm_watchdog(self, delay: float | None) -> None:
        if delay is None:
            return
        self._heard_since_armed = False
        self._watchdog_call = self._reactor.callLater(max(0.0, delay), self._watchdog)

    def _watchdog(self) -> None:
        self._watchdog_call = None
        timeout = self._supervision.silence_timeout_s
        now = self._reactor.seconds()
        if self._heard_since_armed:
            self._arm_watchdog(self._quiet_since + timeout - now)
            return
        # Silence raises an alarm but does not restart the adapter: a partner may simply have nothing
        # to say (a quiet night on the radio), and a restart would not cure a cut cable or a hung
        # device at the far end; an operator decides. The adapter itself calls context.fail when it
        # knows the link is broken.
        silent_for = now - self._quiet_since
        self._state = AdapterState.SILENT
        self._log.warning("adapter_silent", silent_for_s=round(silent_for, 3), timeout_s=timeout)
        self._publish(
            AdapterState.SILENT,
            f"{self.name} has gone quiet: nothing heard for {silent_for:.1f} s",
            reason=f"nothing heard for {silent_for:.1f} s (silence timeout {timeout} s)",
            attempt=self._failures,
            silent_for_s=silent_for,
        )

    # --- Helpers ---------------------------------------------------------------------------------

    def _cancel_timers(self, *, restart: bool) -> None:
        calls = [self._healthy_call, self._watchdog_call]
        self._healthy_call = self._watchdog_call = None
        if restart:
            calls.append(self._restart_call)
            self._restart_call = None
        for call in calls:
            if call is not None and call.active():
                call.cancel()

    def _reason(self, error: BaseException) -> str:
        try:
            return self._redact(_describe(error))
        except Exception:
            # If the message cannot be shown safely, the type alone still says a lot and leaks nothing.
            return type(error).__name__

    def _traceback(self, error: BaseException) -> str:
        try:
            return self._redact("".join(traceback.format_exception(error)).rstrip())
        except Exception:
            return type(error).__name__

    def _publish(self, state: AdapterState, summary: str, **fields: Any) -> "Deferred[None]":
        """Publish a health event; a bus failure is logged and never reaches the supervisor."""
        fields.setdefault("attempt", self._failures)
        try:
            payload = AdapterHealthChanged(
                adapter=self.name, adapter_type=self._adapter_type.name, state=state, **fields
            )
            event = self._events(
                f"adapter.health.{state.value}",
                payload,
                severity=_SEVERITY[state],
                subject=Subject(kind="adapter", id=self.name),
                summary=summary,
            )
            published = self._bus.publish(event)
        except Exception as error:
            self._health_publish_failed(error, state)
            return succeed(None)
        return published.addCallbacks(
            lambda _seq: None, lambda failure: self._health_publish_failed(failure.value, state)
        )

    def _health_publish_failed(self, error: BaseException, state: AdapterState) -> None:
        self._log.error("health_publish_failed", state=state.value, error=self._reason(error))

    def _supervisor_error(self, failure: Any) -> None:
        # Only a bug in this module lands here; log it rather than leave an unhandled Deferred error.
        self._log.error(
            "supervisor_error", error=self._reason(failure.value), exception=self._traceback(failure.value)
        )

