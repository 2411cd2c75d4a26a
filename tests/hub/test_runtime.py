"""The adapter runtime supervises each adapter instance: health events, back-off restarts, silence alarms."""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest
import structlog
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import LogCapture
from twisted.application.service import MultiService, Service
from twisted.internet import defer, task
from twisted.internet.defer import Deferred

from hub.api import AdapterContext, AdapterType
from hub.events import AdapterHealthChanged, AdapterState, EventFactory, Severity, Subject
from hub.runtime import AdapterStatus, BackoffPolicy, SupervisedAdapter
from hub.testing import assert_no_result, success_result_of
from tests.hub.fakes import RecordingBus

NAME = "shopwatch.town_centre"


@frozen
class Supervision:
    """A stand-in for ``hub.config.SupervisionConfig``: the supervisor reads only these fields."""

    restart_initial_s: float = 1.0
    restart_max_s: float = 30.0
    restart_factor: float = 2.0
    restart_jitter: float = 0.0
    healthy_after_s: float = 60.0
    silence_timeout_s: float | None = None


@frozen
class RadioConfig:
    port: str = "/dev/ttyUSB0"


# --- Fake adapters ---------------------------------------------------------------------------------


class FakeAdapter(Service):
    """An adapter whose start (and stop) does whatever the test says."""

    def __init__(
        self,
        context: AdapterContext,
        start: Callable[["FakeAdapter"], Any] | None,
        stop: Callable[["FakeAdapter"], Any] | None,
    ) -> None:
        self.context = context
        self._start = start
        self._stop = stop
        self.stopped = False

    def startService(self) -> Any:
        Service.startService(self)
        return self._start(self) if self._start is not None else None

    def stopService(self) -> Any:
        Service.stopService(self)
        self.stopped = True
        return self._stop(self) if self._stop is not None else None


class FakeAdapters:
    """A factory for ``FakeAdapter``: the nth start behaves as ``starts[n]`` (the last one repeats)."""

    def __init__(
        self,
        *starts: Callable[[FakeAdapter], Any] | None,
        stop: Callable[[FakeAdapter], Any] | None = None,
    ) -> None:
        self._starts = list(starts) or [None]
        self._stop = stop
        self.built: list[FakeAdapter] = []

    def __call__(self, context: AdapterContext) -> FakeAdapter:
        start = self._starts[min(len(self.built), len(self._starts) - 1)]
        adapter = FakeAdapter(context, start, self._stop)
        self.built.append(adapter)
        return adapter

    @property
    def latest(self) -> FakeAdapter:
        return self.built[-1]


def raising(error: BaseException) -> Callable[[Any], Any]:
    def start(_adapter: Any) -> Any:
        raise error

    return start


def failing(error: BaseException) -> Callable[[Any], Any]:
    return lambda _adapter: defer.fail(error)


class CrashingAdapter(Service):
    """Runs for ``crash_after`` seconds, then reports that its serial line dropped."""

    def __init__(self, context: AdapterContext, crash_after: float = 3.0) -> None:
        self.context = context
        self._crash_after = crash_after
        self._timer: Any = None

    def startService(self) -> None:
        Service.startService(self)
        self._timer = self.context.reactor.callLater(
            self._crash_after, self.context.fail, OSError("serial line dropped")
        )

    def stopService(self) -> None:
        Service.stopService(self)
        if self._timer.active():
            self._timer.cancel()


class ChattyAdapter(Service):
    """Hears from its partner every second, as a healthy radio gateway does."""

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self._loop = task.LoopingCall(context.heard)
        self._loop.clock = context.reactor

    def startService(self) -> None:
        Service.startService(self)
        self._loop.start(1.0, now=False)

    def stopService(self) -> None:
        Service.stopService(self)
        self._loop.stop()


# --- Harness ----------------------------------------------------------------------------------------


class Harness:
    """One fake clock, one recording bus and one log capture shared by the supervisors of a test."""

    def __init__(self) -> None:
        self.clock = task.Clock()
        self.bus = RecordingBus()
        self.logs = LogCapture()
        self.supervisors: list[SupervisedAdapter] = []

    def supervise(
        self,
        factory: Callable[[AdapterContext], Any],
        *,
        name: str = NAME,
        supervision: Supervision = Supervision(),
        redact: Callable[[str], str] = lambda text: text,
        seed: int = 1,
        evidence: Any = None,
    ) -> SupervisedAdapter:
        supervisor = SupervisedAdapter(
            name=name,
            adapter_type=AdapterType(name="shopwatch", config_class=RadioConfig, factory=factory),
            config=RadioConfig(),
            supervision=supervision,
            reactor=self.clock,
            bus=self.bus,
            log=structlog.wrap_logger(None, processors=[self.logs]),
            events=EventFactory(self.clock, name),
            random=random.Random(seed),
            redact=redact,
            evidence=evidence,
        )
        self.supervisors.append(supervisor)
        return supervisor

    def health(self, adapter: str = NAME) -> list[AdapterHealthChanged]:
        return [
            event.payload
            for event in self.bus.events
            if isinstance(event.payload, AdapterHealthChanged) and event.payload.adapter == adapter
        ]

    def states(self, adapter: str = NAME) -> list[str]:
        return [payload.state.value for payload in self.health(adapter)]

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [entry for entry in self.logs.entries if entry["event"] == event]


@pytest.fixture
def hub() -> Any:
    harness = Harness()
    yield harness
    # Like Buildbot's test reactor: whatever a test did, stopping leaves no timer behind.
    for supervisor in harness.supervisors:
        if supervisor.running:
            success_result_of(supervisor.stopService())
    assert harness.clock.getDelayedCalls() == []


# --- Back-off policy --------------------------------------------------------------------------------


def test_backoff_grows_by_the_factor_up_to_the_cap() -> None:
    """Without jitter each failure doubles the delay until it reaches the cap, then stays there."""
    policy = BackoffPolicy(initial_s=1.0, max_s=30.0, factor=2.0, jitter=0.0)
    delays = [policy.delay(attempt, random.Random(0)) for attempt in range(1, 9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_backoff_survives_an_adapter_that_has_failed_for_ever() -> None:
    """A huge attempt count gives the cap, not an overflow."""
    policy = BackoffPolicy(initial_s=0.5, max_s=300.0, factor=3.0, jitter=0.0)
    assert policy.delay(10**6, random.Random(0)) == 300.0
    assert policy.delay(10**400, random.Random(0)) == 300.0
    flat = BackoffPolicy(initial_s=5.0, max_s=5.0, factor=1.0, jitter=0.0)
    assert flat.delay(10**400, random.Random(0)) == 5.0


def test_backoff_jitter_is_reproducible_from_the_seed() -> None:
    """The same seed gives the same delays, so a test can pin them."""
    policy = BackoffPolicy(initial_s=1.0, max_s=60.0, factor=2.0, jitter=0.5)
    first = [policy.delay(n, rng) for rng in [random.Random(7)] for n in range(1, 6)]
    again = [policy.delay(n, rng) for rng in [random.Random(7)] for n in range(1, 6)]
    assert first == again
    assert first != [1.0, 2.0, 4.0, 8.0, 16.0]


@given(
    initial=st.floats(min_value=0.01, max_value=100),
    ratio=st.floats(min_value=1, max_value=1000),
    factor=st.floats(min_value=1, max_value=10),
    jitter=st.floats(min_value=0, max_value=1),
    attempt=st.integers(min_value=1, max_value=10**30),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_stays_within_the_jitter_band_and_under_the_cap(
    initial: float, ratio: float, factor: float, jitter: float, attempt: int, seed: int
) -> None:
    """Every delay lies within ``jitter`` of the un-jittered delay and never exceeds the cap."""
    policy = BackoffPolicy(initial_s=initial, max_s=initial * ratio, factor=factor, jitter=jitter)
    base = BackoffPolicy(initial_s=initial, max_s=initial * ratio, factor=factor, jitter=0.0).delay(
        attempt, random.Random(0)
    )
    delay = policy.delay(attempt, random.Random(seed))
    assert base * (1 - jitter) * (1 - 1e-9) <= delay <= policy.max_s
    assert delay <= base * (1 + jitter) * (1 + 1e-9)


@pytest.mark.parametrize(
    "arguments",
    [
        dict(initial_s=0, max_s=1),
        dict(initial_s=2, max_s=1),
        dict(initial_s=1, max_s=2, factor=0.5),
        dict(initial_s=1, max_s=2, jitter=1.5),
        dict(initial_s=1, max_s=2, jitter=-0.1),
    ],
)
def test_backoff_refuses_settings_that_make_no_sense(arguments: dict[str, float]) -> None:
    """A zero start, a cap below the start, a shrinking factor or jitter outside 0..1 is refused."""
    with pytest.raises(ValueError):
        BackoffPolicy(**arguments)


def test_backoff_counts_attempts_from_one() -> None:
    """Attempt 0 is a mistake in the caller, not a zero delay."""
    with pytest.raises(ValueError):
        BackoffPolicy(initial_s=1, max_s=2).delay(0, random.Random(0))


# --- Starting ---------------------------------------------------------------------------------------


def test_a_healthy_adapter_is_announced_starting_then_running(hub: Harness) -> None:
    """Starting publishes ``starting`` and then ``running``, each an info-level adapter health event."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters)
    hub.clock.advance(5)
    supervisor.startService()

    assert hub.bus.topics() == ["adapter.health.starting", "adapter.health.running"]
    for event, state in zip(hub.bus.events, [AdapterState.STARTING, AdapterState.RUNNING]):
        assert event.source == NAME
        assert event.severity is Severity.INFO
        assert event.subject == Subject(kind="adapter", id=NAME)
        assert event.payload == AdapterHealthChanged(adapter=NAME, adapter_type="shopwatch", state=state)
    assert [event.summary for event in hub.bus.events] == [f"{NAME} is starting", f"{NAME} is running"]
    assert adapters.latest.running
    assert supervisor.status == AdapterStatus(
        name=NAME,
        adapter_type="shopwatch",
        state=AdapterState.RUNNING,
        attempt=0,
        last_error=None,
        last_heard_at=None,
        started_at=5.0,
    )


def test_the_adapter_is_given_its_context(hub: Harness) -> None:
    """The factory receives the instance name, type, clock, bus, config, event factory and a bound log."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters)
    supervisor.startService()

    context = adapters.latest.context
    assert context.name == NAME
    assert context.adapter_type == "shopwatch"
    assert context.reactor is hub.clock
    assert context.bus is hub.bus
    assert context.config == RadioConfig()
    assert context.events.source == NAME
    context.log.info("radio_opened")
    assert hub.logged("radio_opened") == [{"event": "radio_opened", "adapter": NAME, "log_level": "info"}]


def test_running_waits_for_the_adapter_start_deferred(hub: Harness) -> None:
    """An adapter whose start returns a Deferred is only running once that Deferred fires."""
    opened: Deferred[None] = Deferred()
    supervisor = hub.supervise(FakeAdapters(lambda _adapter: opened))
    supervisor.startService()
    assert hub.states() == ["starting"]
    assert supervisor.status.state is AdapterState.STARTING

    opened.callback(None)
    assert hub.states() == ["starting", "running"]


def test_the_supervisor_hands_out_the_adapters_service_while_it_has_one(hub: Harness) -> None:
    """``service`` is what the factory returned (where /metrics finds ``metrics()``), None once failed or
    stopped, and the new instance after a restart."""
    adapters = FakeAdapters(None, raising(OSError("port gone")), None)
    supervisor = hub.supervise(adapters)
    assert supervisor.service is None
    supervisor.startService()
    first = adapters.latest
    assert supervisor.service is first
    first.context.fail(OSError("serial line dropped"))
    assert supervisor.service is None
    hub.clock.advance(1)  # the second start fails in startService, leaving no service behind
    assert supervisor.service is None
    hub.clock.advance(2)
    assert supervisor.service is adapters.latest is not first
    success_result_of(supervisor.stopService())
    assert supervisor.service is None


def test_the_supervisor_is_named_after_its_instance() -> None:
    """A hub's MultiService can find an adapter's supervisor by the instance name."""
    harness = Harness()
    parent = MultiService()
    harness.supervise(FakeAdapters()).setServiceParent(parent)
    assert parent.getServiceNamed(NAME).name == NAME


# --- Failing ---------------------------------------------------------------------------------------


def test_an_exception_in_the_factory_is_a_failure_with_a_retry(hub: Harness) -> None:
    """A factory that raises gives a high-severity ``failed`` event naming the error and the back-off."""
    supervisor = hub.supervise(raising(ValueError("unknown baud rate 9601")))
    supervisor.startService()

    assert hub.states() == ["starting", "failed"]
    failed = hub.bus.events[-1]
    assert failed.severity is Severity.HIGH
    assert failed.payload == AdapterHealthChanged(
        adapter=NAME,
        adapter_type="shopwatch",
        state=AdapterState.FAILED,
        reason="ValueError: unknown baud rate 9601",
        attempt=1,
        retry_in_s=1.0,
    )
    assert failed.summary == f"{NAME} failed: ValueError: unknown baud rate 9601; retrying in 1.0 s"
    [entry] = hub.logged("adapter_failed")
    assert entry["log_level"] == "error"
    assert entry["adapter"] == NAME
    assert entry["phase"] == "factory"
    assert entry["error"] == "ValueError: unknown baud rate 9601"
    assert "Traceback" in entry["exception"]
    assert supervisor.status.state is AdapterState.FAILED
    assert supervisor.status.last_error == "ValueError: unknown baud rate 9601"


def test_a_factory_that_returns_no_service_is_a_failure(hub: Harness) -> None:
    """A factory returning something that is not an IService fails with a message saying so."""
    supervisor = hub.supervise(lambda context: object())
    supervisor.startService()
    assert hub.states() == ["starting", "failed"]
    assert hub.health()[-1].reason.startswith("TypeError: adapter type 'shopwatch' factory returned")


def test_an_exception_in_start_service_stops_the_instance_and_restarts(hub: Harness) -> None:
    """A start that raises is a failure; the half-started instance is stopped and a new one started."""
    adapters = FakeAdapters(raising(OSError("could not open port /dev/ttyUSB0")), None)
    supervisor = hub.supervise(adapters)
    supervisor.startService()

    assert hub.states() == ["starting", "failed"]
    assert hub.health()[-1].reason == "OSError: could not open port /dev/ttyUSB0"
    assert hub.logged("adapter_failed")[0]["phase"] == "start"
    assert adapters.built[0].stopped

    hub.clock.advance(0.999)
    assert hub.states() == ["starting", "failed"]
    hub.clock.advance(0.001)
    assert hub.states() == ["starting", "failed", "restarting", "running"]
    assert hub.bus.events[2].severity is Severity.MEDIUM
    assert hub.bus.events[2].summary == f"{NAME} is restarting after 1 consecutive failure"
    assert hub.health()[2].attempt == 1
    assert len(adapters.built) == 2
    assert adapters.latest.running
    assert supervisor.status.state is AdapterState.RUNNING


def test_a_failed_start_deferred_is_a_failure(hub: Harness) -> None:
    """A start whose Deferred fails, at once or later, is a failure like a raise."""
    later: Deferred[None] = Deferred()
    adapters = FakeAdapters(failing(ConnectionRefusedError("police link refused")), lambda _a: later)
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    assert hub.states() == ["starting", "failed"]
    assert hub.health()[-1].reason == "ConnectionRefusedError: police link refused"

    hub.clock.advance(1)
    assert hub.states() == ["starting", "failed", "restarting"]
    later.errback(TimeoutError("no answer from peer"))
    assert hub.states() == ["starting", "failed", "restarting", "failed"]
    assert hub.health()[-1].reason == "TimeoutError: no answer from peer"
    assert hub.health()[-1].attempt == 2
    assert adapters.built[1].stopped


def test_a_failure_reported_at_run_time_restarts_the_adapter(hub: Harness) -> None:
    """An adapter calling ``context.fail`` is stopped, reported and started again after the back-off."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    first = adapters.latest

    hub.clock.advance(10)
    first.context.fail(OSError("serial line hung up"))
    assert first.stopped
    assert hub.states() == ["starting", "running", "failed"]
    assert hub.health()[-1].reason == "OSError: serial line hung up"
    assert hub.logged("adapter_failed")[0]["phase"] == "run"
    assert supervisor.status.started_at is None

    hub.clock.advance(1)
    assert hub.states() == ["starting", "running", "failed", "restarting", "running"]
    assert adapters.latest is not first
    assert adapters.latest.context is not first.context
    assert supervisor.status.started_at == 11.0


def test_a_failure_reported_while_starting_abandons_that_start(hub: Harness) -> None:
    """``context.fail`` during a start still pending cancels that start; it never becomes running."""
    pending: Deferred[None] = Deferred()
    adapters = FakeAdapters(lambda _adapter: pending, None)
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    adapters.latest.context.fail(OSError("modem hung up"))

    assert hub.states() == ["starting", "failed"]
    assert pending.called  # cancelled, so the abandoned instance is not kept waiting for ever
    assert adapters.built[0].stopped
    hub.clock.advance(1)
    assert hub.states() == ["starting", "failed", "restarting", "running"]


def test_calls_from_a_replaced_context_are_ignored(hub: Harness) -> None:
    """``fail`` or ``heard`` from an instance that was already replaced changes nothing."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    old = adapters.latest.context
    old.fail(OSError("line dropped"))
    old.fail(OSError("line dropped again"))
    assert hub.states() == ["starting", "running", "failed"]

    hub.clock.advance(1)
    old.fail(OSError("late callback from the old port"))
    old.heard()
    assert hub.states() == ["starting", "running", "failed", "restarting", "running"]
    assert supervisor.status.state is AdapterState.RUNNING
    assert supervisor.status.attempt == 1
    assert supervisor.status.last_heard_at is None
    assert [entry["error"] for entry in hub.logged("adapter_stale_fail_ignored")] == [
        "OSError: line dropped again",
        "OSError: late callback from the old port",
    ]


def test_an_error_while_stopping_a_failed_instance_is_logged_not_raised(hub: Harness) -> None:
    """An instance whose stop raises is logged and the restart goes ahead."""
    adapters = FakeAdapters(stop=raising(RuntimeError("port already closed")))
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    adapters.latest.context.fail(OSError("line dropped"))

    [entry] = hub.logged("adapter_stop_failed")
    assert entry["error"] == "RuntimeError: port already closed"
    hub.clock.advance(1)
    assert hub.states()[-1] == "running"


# --- Back-off ---------------------------------------------------------------------------------------


def test_consecutive_failures_back_off_up_to_the_cap(hub: Harness) -> None:
    """Each consecutive failure waits longer, doubling from the initial delay until the cap."""
    supervisor = hub.supervise(FakeAdapters(raising(OSError("no such port"))))
    supervisor.startService()
    for _ in range(7):
        hub.clock.advance(hub.health()[-1].retry_in_s)

    failures = [payload for payload in hub.health() if payload.state is AdapterState.FAILED]
    assert [payload.attempt for payload in failures] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [payload.retry_in_s for payload in failures] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert supervisor.status.attempt == 8


def test_a_run_longer_than_healthy_after_resets_the_back_off(hub: Harness) -> None:
    """Once the adapter has run for ``healthy_after_s`` the next failure backs off from the start."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters, supervision=Supervision(healthy_after_s=60))
    supervisor.startService()
    adapters.latest.context.fail(OSError("first"))
    hub.clock.advance(1)
    hub.clock.advance(59)
    adapters.latest.context.fail(OSError("second, too soon to count as healthy"))
    assert hub.health()[-1].attempt == 2
    assert hub.health()[-1].retry_in_s == 2

    hub.clock.advance(2)
    assert supervisor.status.attempt == 2
    hub.clock.advance(60)
    assert supervisor.status.attempt == 0
    adapters.latest.context.fail(OSError("third, after a healthy hour"))
    assert hub.health()[-1].attempt == 1
    assert hub.health()[-1].retry_in_s == 1


# --- Silence watchdog -------------------------------------------------------------------------------


def test_a_quiet_partner_raises_one_silent_event_per_episode(hub: Harness) -> None:
    """Nothing heard for the timeout gives one ``silent`` event, however long the silence lasts."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters, supervision=Supervision(silence_timeout_s=30))
    supervisor.startService()
    hub.clock.advance(10)
    adapters.latest.context.heard()
    hub.clock.advance(10)
    adapters.latest.context.heard()
    assert supervisor.status.last_heard_at == 20

    hub.clock.advance(29.9)
    assert hub.states() == ["starting", "running"]
    hub.clock.advance(0.1)
    assert hub.states() == ["starting", "running", "silent"]
    silent = hub.bus.events[-1]
    assert silent.severity is Severity.HIGH
    assert silent.payload.silent_for_s == pytest.approx(30)
    assert silent.summary == f"{NAME} has gone quiet: nothing heard for 30.0 s"
    assert hub.logged("adapter_silent")[0]["log_level"] == "warning"
    assert supervisor.status.state is AdapterState.SILENT

    hub.clock.pump([10] * 30)
    assert hub.states() == ["starting", "running", "silent"]


def test_hearing_from_a_silent_partner_announces_recovery(hub: Harness) -> None:
    """The first sign of life after a silence publishes ``running`` again, and a new silence counts anew."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters, supervision=Supervision(silence_timeout_s=30))
    supervisor.startService()
    hub.clock.advance(100)
    adapters.latest.context.heard()

    assert hub.states() == ["starting", "running", "silent", "running"]
    recovered = hub.bus.events[-1]
    assert recovered.severity is Severity.INFO
    assert recovered.payload.silent_for_s == 100
    assert recovered.summary == f"{NAME} recovered: heard again after 100.0 s of silence"
    assert supervisor.status.state is AdapterState.RUNNING

    adapters.latest.context.heard()
    assert hub.states() == ["starting", "running", "silent", "running"]
    hub.clock.advance(30)
    assert hub.states() == ["starting", "running", "silent", "running", "silent"]


def test_silence_does_not_restart_the_adapter(hub: Harness) -> None:
    """A silent partner is reported, not restarted: the same instance keeps running."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters, supervision=Supervision(silence_timeout_s=5))
    supervisor.startService()
    hub.clock.advance(600)
    assert len(adapters.built) == 1
    assert adapters.latest.running


def test_without_a_silence_timeout_there_is_no_watchdog(hub: Harness) -> None:
    """An adapter configured with no silence timeout is never reported silent."""
    supervisor = hub.supervise(FakeAdapters(), supervision=Supervision(silence_timeout_s=None))
    supervisor.startService()
    hub.clock.advance(10_000)
    assert hub.states() == ["starting", "running"]
    assert hub.clock.getDelayedCalls() == []


def test_a_chatty_partner_is_never_silent(hub: Harness) -> None:
    """Steady signs of life keep the watchdog quiet."""
    supervisor = hub.supervise(ChattyAdapter, supervision=Supervision(silence_timeout_s=3))
    supervisor.startService()
    hub.clock.pump([0.5] * 2000)
    assert hub.states() == ["starting", "running"]
    assert supervisor.status.last_heard_at == 1000


# --- Stopping ---------------------------------------------------------------------------------------


def test_stopping_a_running_adapter_stops_it_and_leaves_no_timer(hub: Harness) -> None:
    """Stopping stops the instance, publishes ``stopped`` and cancels the watchdog and health timers."""
    adapters = FakeAdapters()
    supervisor = hub.supervise(adapters, supervision=Supervision(silence_timeout_s=30))
    supervisor.startService()
    assert hub.clock.getDelayedCalls() != []

    assert success_result_of(supervisor.stopService()) is None
    assert adapters.latest.stopped
    assert hub.states() == ["starting", "running", "stopped"]
    assert hub.bus.events[-1].severity is Severity.INFO
    assert supervisor.status.state is AdapterState.STOPPED
    assert hub.clock.getDelayedCalls() == []


def test_stopping_during_the_back_off_cancels_the_restart(hub: Harness) -> None:
    """A restart waiting on its back-off timer never happens once the supervisor is stopped."""
    adapters = FakeAdapters(raising(OSError("no such port")))
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    success_result_of(supervisor.stopService())

    assert hub.clock.getDelayedCalls() == []
    hub.clock.advance(100)
    assert hub.states() == ["starting", "failed", "stopped"]
    assert len(adapters.built) == 1


def test_stopping_during_a_start_abandons_it(hub: Harness) -> None:
    """Stopping while the adapter is still starting cancels the start and stops the instance."""
    pending: Deferred[None] = Deferred()
    adapters = FakeAdapters(lambda _adapter: pending)
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    success_result_of(supervisor.stopService())

    assert pending.called
    assert adapters.latest.stopped
    assert hub.states() == ["starting", "stopped"]


def test_stopping_waits_for_the_adapter_to_stop(hub: Harness) -> None:
    """The supervisor's stop fires once the instance's own stop has, and only then is ``stopped`` sent."""
    closed: Deferred[None] = Deferred()
    supervisor = hub.supervise(FakeAdapters(stop=lambda _adapter: closed))
    supervisor.startService()
    stopping = supervisor.stopService()

    assert_no_result(stopping)
    assert hub.states() == ["starting", "running"]
    closed.callback(None)
    success_result_of(stopping)
    assert hub.states() == ["starting", "running", "stopped"]


def test_an_error_while_stopping_is_logged_and_the_stop_completes(hub: Harness) -> None:
    """An instance whose stop fails is logged; the supervisor still stops cleanly."""
    supervisor = hub.supervise(FakeAdapters(stop=failing(RuntimeError("close timed out"))))
    supervisor.startService()
    success_result_of(supervisor.stopService())

    assert [entry["error"] for entry in hub.logged("adapter_stop_failed")] == [
        "RuntimeError: close timed out"
    ]
    assert hub.states()[-1] == "stopped"


# --- Secrets and a failing bus ----------------------------------------------------------------------


def test_secrets_are_redacted_from_reasons_summaries_and_logs(hub: Harness) -> None:
    """Every error text passes through ``redact`` before it is published or logged."""
    adapters = FakeAdapters(raising(ConnectionError("login admin:hunter2 refused by 10.0.0.5")), None)
    supervisor = hub.supervise(adapters, redact=lambda text: text.replace("hunter2", "[redacted]"))
    supervisor.startService()

    assert hub.health()[-1].reason == "ConnectionError: login admin:[redacted] refused by 10.0.0.5"
    assert "hunter2" not in repr(hub.bus.events)
    assert "hunter2" not in repr(hub.logs.entries)
    assert "[redacted]" in hub.logged("adapter_failed")[0]["exception"]
    assert "hunter2" not in repr(supervisor.status)


def test_a_redactor_that_fails_leaves_only_the_error_type(hub: Harness) -> None:
    """If the message cannot be redacted it is left out rather than shown as it is."""

    def broken_redact(text: str) -> str:
        raise KeyError("secret store not loaded")

    supervisor = hub.supervise(FakeAdapters(raising(ConnectionError("key=abc123"))), redact=broken_redact)
    supervisor.startService()
    assert hub.health()[-1].reason == "ConnectionError"
    assert "abc123" not in repr(hub.bus.events) + repr(hub.logs.entries)


def test_a_bus_that_cannot_publish_does_not_stop_supervision(hub: Harness) -> None:
    """A health event the bus refuses is logged; the adapter is still started, failed and restarted."""
    hub.bus.fail_with = OSError("journal disk full")
    adapters = FakeAdapters(raising(OSError("no such port")), None)
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    hub.clock.advance(1)

    assert supervisor.status.state is AdapterState.RUNNING
    assert len(adapters.built) == 2
    assert [entry["state"] for entry in hub.logged("health_publish_failed")] == [
        "starting",
        "failed",
        "restarting",
        "running",
    ]
    assert hub.logged("health_publish_failed")[0]["error"] == "OSError: journal disk full"


def test_a_bus_that_raises_does_not_stop_supervision(hub: Harness) -> None:
    """A bus whose ``publish`` raises instead of failing its Deferred is survived just the same."""

    def publish(event: Any) -> Deferred[int]:
        raise RuntimeError("bus not open yet")

    hub.bus.publish = publish  # type: ignore[method-assign]
    supervisor = hub.supervise(FakeAdapters())
    supervisor.startService()
    assert supervisor.status.state is AdapterState.RUNNING
    success_result_of(supervisor.stopService())
    assert len(hub.logged("health_publish_failed")) == 3


# --- Isolation --------------------------------------------------------------------------------------


def test_one_crashing_adapter_does_not_disturb_another(hub: Harness) -> None:
    """Under one MultiService, an adapter crashing every few seconds backs off; its neighbour runs on."""
    radio = "shopwatch.town_centre"
    cameras = "onvif.high_street"
    jitter = 0.1
    supervision = Supervision(restart_jitter=jitter, silence_timeout_s=10)
    parent = MultiService()
    hub.supervise(CrashingAdapter, name=radio, supervision=supervision).setServiceParent(parent)
    built: list[ChattyAdapter] = []

    def build_steady(context: AdapterContext) -> ChattyAdapter:
        built.append(ChattyAdapter(context))
        return built[-1]

    steady_supervisor = hub.supervise(build_steady, name=cameras, supervision=supervision)
    steady_supervisor.setServiceParent(parent)
    parent.startService()

    hub.clock.pump([1] * 300)

    failures = [payload for payload in hub.health(radio) if payload.state is AdapterState.FAILED]
    assert len(failures) >= 8
    assert [payload.attempt for payload in failures] == list(range(1, len(failures) + 1))
    assert all(payload.reason == "OSError: serial line dropped" for payload in failures)
    for payload in failures:
        base = min(30.0, 2.0 ** (payload.attempt - 1))
        assert base * (1 - jitter) <= payload.retry_in_s <= min(30.0, base * (1 + jitter))
    growing = [payload.retry_in_s for payload in failures[:5]]
    assert growing == sorted(growing)

    assert hub.states(cameras) == ["starting", "running"]
    assert steady_supervisor.status.state is AdapterState.RUNNING
    assert steady_supervisor.status.attempt == 0
    assert len(built) == 1 and built[0].running

    success_result_of(parent.stopService())
    assert hub.states(radio)[-1] == "stopped"
    assert hub.states(cameras)[-1] == "stopped"
    assert hub.clock.getDelayedCalls() == []


def test_starting_again_before_the_old_stop_finishes_is_not_reported_stopped(hub: Harness) -> None:
    """A supervisor restarted while its old instance is still closing ends up running, not stopped."""
    closed: Deferred[None] = Deferred()
    adapters = FakeAdapters(stop=lambda _adapter: closed)
    supervisor = hub.supervise(adapters)
    supervisor.startService()
    stopping = supervisor.stopService()
    supervisor.startService()
    closed.callback(None)

    success_result_of(stopping)
    assert hub.states() == ["starting", "running", "starting", "running"]
    assert supervisor.status.state is AdapterState.RUNNING


# --- What the context carries -----------------------------------------------------------------------


def test_every_start_hands_the_adapter_the_evidence_store(hub: Harness, tmp_path: Any) -> None:
    """The context of each (re)start carries the store the supervisor was given; None when there is none."""
    from hub.evidence import EvidenceStore

    store = EvidenceStore(tmp_path)
    factory = FakeAdapters()
    hub.supervise(factory, evidence=store).startService()
    assert factory.latest.context.evidence is store
    bare = FakeAdapters()
    hub.supervise(bare, name="shopwatch.other").startService()
    assert bare.latest.context.evidence is None
