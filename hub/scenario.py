"""Plays a demo's script (``[scenario]``): at each step a narrator's line and cues to the simulators, on the
injected clock, so an audience watches an evening in the control room unfold at a watchable pace.

Each step is said on the demo's output and published as a ``hub.scenario.step`` event (a protected topic: it
opens no incident), so the console's event stream tells the same story. A cue that cannot be played (an
unknown simulator or cue, arguments the simulator refuses) is one clear line; the rest of the show goes on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred

from hub.api import CueRefused, CueSpec
from hub.config import ScenarioConfig, ScenarioCue, ScenarioStep
from hub.events import EventFactory, ScenarioStepPlayed, Severity, Subject

SOURCE = "hub.scenario"
TOPIC = ScenarioStepPlayed.TYPE


@frozen
class Scene:
    """One step as the player plays it: its number (from 1), the step, and the cues that passed the check."""

    number: int
    step: ScenarioStep
    cues: tuple[ScenarioCue, ...]


def programme(config: ScenarioConfig) -> list[str]:
    """The script in a few lines, for the demo's banner: when each step comes (after the start, at the speed
    played), what it is, and how often it all repeats."""
    speed = config.speed
    steps = sorted(config.steps, key=lambda step: step.at_s)
    lines = [f"{clock_text(step.at_s / speed):>7}  {step.say}" for step in steps]
    if config.repeat_s is not None and steps:
        lines.append(f"and again every {clock_text(config.repeat_s / speed)}")
    return lines


def start_scenario(hub: Any, say: Callable[[str], None]) -> ScenarioPlayer | None:
    """Play a running hub's ``[scenario]`` on its simulators, as a child service of the hub (so it stops
    first, before the simulators it cues); None when the config has no steps. ``say`` prints a line."""
    config = hub.config.scenario
    if not config.steps or hub.bus is None:
        return None
    player = ScenarioPlayer(config, hub.simulators, clock=hub.reactor, publish=hub.bus.publish, events=hub.events,
                            say=say, failed=hub.simulator_failures, skipped=getattr(hub, "skipped_simulators", {}),
                            log=hub.log.bind(component="scenario"))
    player.setName("scenario")
    player.setServiceParent(hub)
    return player


def clock_text(seconds: float) -> str:
    """``seconds`` as ``M:SS`` (``H:MM:SS`` past an hour), for the programme and the narration."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cue_text(cue: ScenarioCue) -> str:
    """``simulator.cue(name=value, ...)``, as the narration and the problems name a cue."""
    arguments = ", ".join(f"{name}={value!r}" for name, value in cue.arguments.items())
    return f"{cue.simulator}.{cue.cue}({arguments})"


def check_cue(cue: ScenarioCue, simulators: Mapping[str, Any], failed: Mapping[str, str] | None = None) -> str | None:
    """Why ``cue`` cannot be played on the running ``simulators`` (None: it can): the simulator is not running
    (``failed`` says why, when it failed to start), takes no cues, has no such cue, or the arguments do not fit
    the cue's ``CueSpec`` (a missing one, one it does not take). The values are the simulator's to check."""
    service = simulators.get(cue.simulator)
    if service is None:
        if failed and cue.simulator in failed:
            return f"simulator {cue.simulator} is not running ({failed[cue.simulator]})"
        running = ", ".join(sorted(simulators)) or "none"
        return f"no simulator named {cue.simulator} is running (running: {running})"
    specs = getattr(service, "cues", None)
    if not specs or not callable(getattr(service, "cue", None)):
        return f"simulator {cue.simulator} takes no cues"
    spec = next((spec for spec in specs if isinstance(spec, CueSpec) and spec.name == cue.cue), None)
    if spec is None:
        names = ", ".join(spec.name for spec in specs if isinstance(spec, CueSpec))
        return f"simulator {cue.simulator} has no cue {cue.cue!r} (it has: {names})"
    missing = [name for name in spec.arguments if name not in cue.arguments]
    if missing:
        return f"{cue.simulator}.{cue.cue} needs {_arguments(missing)} {', '.join(missing)}"
    takes = (*spec.arguments, *spec.optional)
    unknown = [name for name in cue.arguments if name not in takes]
    if unknown:
        return (f"{cue.simulator}.{cue.cue} takes no {_arguments(unknown)} {', '.join(unknown)} "
                f"(it takes: {', '.join(takes) or 'none'})")
    return None


def _arguments(names: list[str]) -> str:
    return "argument" if len(names) == 1 else "arguments"


class ScenarioPlayer(Service):
    """Plays ``config``'s steps on ``simulators`` (running simulator services by instance name).

    ``clock`` is the reactor (``seconds``, ``callLater``); ``publish`` puts an event on the bus (returns a
    Deferred); ``events`` makes the hub's events (``hub.events.EventFactory``); ``say`` takes each line the
    audience should read (the demo prints it). ``failed`` maps simulators that failed to start to why, and
    ``skipped`` those left out on purpose (``only_when``): cues to a skipped simulator are passed over
    without a word, since the same script serves a hub that runs it and one that does not.

    Every cue is checked at start against the simulators' ``cues``: one that cannot be played is said once
    (``problems``) and left out, and the rest plays. Steps are played ``at_s / speed`` seconds after the
    start, and again every ``repeat_s / speed`` seconds when the script repeats.
    """

    def __init__(
        self,
        config: ScenarioConfig,
        simulators: Mapping[str, Any],
        *,
        clock: Any,
        publish: Callable[[Any], Any] | None = None,
        events: EventFactory | None = None,
        say: Callable[[str], None] = lambda line: None,
        failed: Mapping[str, str] | None = None,
        skipped: Mapping[str, str] | None = None,
        log: Any = None,
    ) -> None:
        self.config = config
        self._simulators = simulators
        self._clock = clock
        self._publish = publish
        self._events = events.for_source(SOURCE) if events is not None else None
        self._say = say
        self._failed = dict(failed or {})
        self._skipped = dict(skipped or {})
        self._log = log if log is not None else structlog.get_logger("hub.scenario")
        self.scenes: tuple[Scene, ...] = ()
        #: Each cue that cannot be played, as the line said at start.
        self.problems: list[str] = []
        #: Steps played so far, as (round, step number).
        self.played: list[tuple[int, int]] = []
        self._round = 1
        self._next = 0
        self._round_start = 0.0
        self._call: Any = None

    # --- what the audience is told before it starts ----------------------------------------------------

    def programme(self) -> list[str]:
        """The script in a few lines (``programme``)."""
        return programme(self.config)

    # --- the service -----------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self.scenes = self._check()
        for problem in self.problems:
            self._say(f"  scenario: {problem}")
            self._log.warning("scenario_cue_left_out", problem=problem)
        self._round, self._next = 1, 0
        self._round_start = self._clock.seconds()
        self._log.info("scenario_started", scenario=self.config.name, steps=len(self.scenes),
                       speed=self.config.speed, repeat_s=self.config.repeat_s)
        self._schedule()

    def stopService(self) -> None:
        super().stopService()
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    @property
    def finished(self) -> bool:
        """Every step was played and the script does not repeat (or there was nothing to play)."""
        return self.running and self._call is None

    # --- checking ---------------------------------------------------------------------------------------

    def _check(self) -> tuple[Scene, ...]:
        self.problems = []
        steps = sorted(self.config.steps, key=lambda step: step.at_s)  # stable: steps at one time keep order
        scenes = []
        for number, step in enumerate(steps, start=1):
            playable = []
            for cue in step.cues:
                if cue.simulator in self._skipped and cue.simulator not in self._simulators:
                    continue
                problem = check_cue(cue, self._simulators, self._failed)
                if problem is None:
                    playable.append(cue)
                else:
                    self.problems.append(f"step {number} ({_brief(step.say)}): {cue_text(cue)} left out: {problem}")
            scenes.append(Scene(number, step, tuple(playable)))
        return tuple(scenes)

    # --- playing ----------------------------------------------------------------------------------------

    def _schedule(self) -> None:
        self._call = None
        if not self.scenes:
            return
        if self._next == len(self.scenes):
            if self.config.repeat_s is None:
                self._log.info("scenario_finished", scenario=self.config.name)
                return
            self._round += 1
            self._next = 0
            self._round_start += self.config.repeat_s / self.config.speed
        scene = self.scenes[self._next]
        due = self._round_start + scene.step.at_s / self.config.speed
        self._call = self._clock.callLater(max(0.0, due - self._clock.seconds()), self._play)

    def _play(self) -> None:
        self._call = None
        scene = self.scenes[self._next]
        self._next += 1
        try:
            self._play_scene(scene)
        finally:
            if self.running:
                self._schedule()

    def _play_scene(self, scene: Scene) -> None:
        total = len(self.scenes)
        elapsed = scene.step.at_s / self.config.speed
        self._say(f">>> {self.config.name}, scene {scene.number} of {total} (round {self._round}, "
                  f"+{clock_text(elapsed)}): {scene.step.say}")
        self.played.append((self._round, scene.number))
        log = self._log.bind(scenario=self.config.name, step=scene.number, round=self._round)
        log.info("scenario_step", say=scene.step.say)
        played, refused = [], []
        for cue in scene.cues:
            problem = self._cue(cue, log)
            if problem is None:
                played.append(f"{cue.simulator}.{cue.cue}")
            else:
                refused.append(problem)
                self._say(f"    not played: {problem}")
        self._narrate(scene, tuple(played), tuple(refused))

    def _cue(self, cue: ScenarioCue, log: Any) -> str | None:
        """Play one cue; why it could not be played, or None. A cue's Deferred that fails later is said then."""
        service = self._simulators.get(cue.simulator)
        if service is None:  # stopped since the start
            return f"{cue_text(cue)}: simulator {cue.simulator} is not running"
        try:
            result = service.cue(cue.cue, dict(cue.arguments))
        except CueRefused as refusal:
            log.warning("scenario_cue_refused", cue=cue_text(cue), reason=str(refusal))
            return f"{cue_text(cue)}: {refusal}"
        except Exception as error:  # noqa: BLE001 - a simulator's bug must not stop the show
            log.error("scenario_cue_failed", cue=cue_text(cue), error=f"{type(error).__name__}: {error}")
            return f"{cue_text(cue)}: failed ({type(error).__name__}: {error})"
        if inspect.iscoroutine(result):
            result = Deferred.fromCoroutine(result)
        if isinstance(result, Deferred):
            result.addErrback(self._late_failure, cue, log)
        log.info("scenario_cue_played", cue=cue_text(cue))
        return None

    def _late_failure(self, failure: Any, cue: ScenarioCue, log: Any) -> None:
        reason = failure.getErrorMessage() if failure.check(CueRefused) else (
            f"{failure.type.__name__}: {failure.getErrorMessage()}")
        log.warning("scenario_cue_failed", cue=cue_text(cue), error=reason)
        self._say(f"    {cue_text(cue)} failed: {reason}")

    def _narrate(self, scene: Scene, played: tuple[str, ...], refused: tuple[str, ...]) -> None:
        if self._publish is None or self._events is None:
            return
        payload = ScenarioStepPlayed(scenario=self.config.name, step=scene.number, steps=len(self.scenes),
                                     round=self._round, say=scene.step.say, cues=played, refused=refused)
        event = self._events(
            TOPIC, payload, severity=Severity.INFO,
            subject=Subject(kind="scenario", id=self.config.name),
            summary=f"Scene {scene.number} of {len(self.scenes)}: {scene.step.say}",
        )
        try:
            publishing = self._publish(event)
        except Exception as error:  # noqa: BLE001 - the narration is not worth stopping the show for
            self._log.error("scenario_step_not_published", error=f"{type(error).__name__}: {error}")
            return
        if isinstance(publishing, Deferred):
            publishing.addErrback(lambda failure: self._log.error(
                "scenario_step_not_published", error=failure.getErrorMessage()))


def _brief(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
