"""The hub's configuration: a TOML file validated into frozen attrs classes, every problem reported at once.

``load_config`` reads a file such as config/example.toml. A file that does not fit is refused with a
``ConfigError`` listing each problem with its file, key path, what was found and what was expected;
nothing in it shows a secret. docs/configuration.md is the reference for every key.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, NoReturn

import attrs
from attrs import field, frozen

from hub.api import AdapterType, SimulatorType
from hub.config_reader import (  # Expected, between and one_of are part of this module's public API
    _MISSING_FOUND,
    Expected,
    _Invalid,
    _Issue,
    _Reader,
    _brief,
    _expected_from,
    _fail,
    _unknown_key,
    between,
    one_of,
)
from hub.secrets import Secret, redact

# --- The configuration ------------------------------------------------------------------------------


def _name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 200:
        raise Expected("a name of 1 to 200 characters")


def _plugin_names(_instance: object, _attribute: object, value: object) -> None:
    if not all(isinstance(name, str) and name and not name.isspace() for name in value):
        raise Expected('plugin names as non-empty strings, e.g. ["onvif"]')


def _timezone(_instance: object, _attribute: object, value: object) -> None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(str(value))
    except (ValueError, OSError, LookupError):
        raise Expected('an IANA time zone name, e.g. "Europe/London"') from None


_TIME_RANGE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


def parse_time_range(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` as minutes after midnight (start, end); the end may be earlier (past midnight).

    ``ValueError`` for anything else; an end of ``24:00`` is the end of the day.
    """
    found = _TIME_RANGE.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"{text!r} is not a time range HH:MM-HH:MM")
    start = int(found[1]) * 60 + int(found[2])
    end = int(found[3]) * 60 + int(found[4])
    if end > 24 * 60 or start == end:
        raise ValueError(f"{text!r} is not a time range HH:MM-HH:MM of some length")
    return start, end


def _time_ranges(_instance: object, _attribute: object, value: object) -> None:
    if value is None:
        return
    for text in (value,) if isinstance(value, str) else value:
        try:
            parse_time_range(text)
        except ValueError:
            raise Expected('times of day as "HH:MM-HH:MM" (24-hour, local; "22:00-06:00" runs past midnight)') from None


def _texts(what: str, limit: int = 200) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not all(isinstance(item, str) and 0 < len(item.strip()) <= limit for item in value):
            raise Expected(f"{what} as non-empty strings of at most {limit} characters")

    return check


def _subject_keys(_instance: object, _attribute: object, value: object) -> None:
    if not all(isinstance(item, str) and re.match(r"^[a-z_]+:.+$", item) for item in value):
        raise Expected('subjects as "kind:id", e.g. "fibre_node:node-03" or "camera:42"')


@frozen
class HubSection:
    """``[hub]``: the hub process as a whole. ``data_dir`` is relative to the config file's folder."""

    name: str = field(default="CCTV control room", validator=_name)
    data_dir: Path = field(default=Path("data"))
    shutdown_grace_s: float = field(default=10.0, validator=between(0, 300, above=True))
    #: The room's time zone (an IANA name): rules' ``time_of_day`` and daily maintenance windows read it.
    timezone: str = field(default="Europe/London", validator=_timezone)


@frozen
class JournalConfig:
    """``[journal]``: the SQLite event journal's durability, retention and write batching."""

    synchronous: Literal["full", "normal"] = field(default="full", validator=one_of("full", "normal"))
    retention_days: float = field(default=31.0, validator=between(0, 3650, above=True))
    prune_interval_s: float = field(default=3600.0, validator=between(1, 86400))
    max_batch: int = field(default=2000, validator=between(1, 100_000))


@frozen
class LoggingConfig:
    """``[logging]``: how much the hub logs, and as JSON lines or for a console (``auto`` picks by tty)."""

    level: Literal["debug", "info", "warning", "error"] = field(
        default="info", validator=one_of("debug", "info", "warning", "error")
    )
    format: Literal["auto", "json", "console"] = field(
        default="auto", validator=one_of("auto", "json", "console")
    )


@frozen
class PluginsConfig:
    """``[plugins]``: plugins not to load, by their entry-point name."""

    blocked: tuple[str, ...] = field(default=(), validator=_plugin_names)


_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def _listen_address(_instance: object, _attribute: object, value: object) -> None:
    match = _LISTEN.match(value) if isinstance(value, str) else None
    if match is None or not 0 <= int(match.group("port")) <= 65535:
        raise Expected('an address as "HOST:PORT", e.g. "127.0.0.1:8080" (port 0 picks a free one)')


def _both_or_neither(instance: Any, _attribute: object, value: object) -> None:
    if (instance.tls_certificate is None) != (value is None):
        raise Expected("tls_certificate and tls_private_key given together, or neither")


@frozen
class WebConfig:
    """``[web]``: the API, console and live stream server, its TLS, sessions and login throttling.

    Without ``tls_certificate`` and ``tls_private_key`` (PEM files) it serves plain HTTP, which is only
    fit for loopback or a network the room trusts. ``metrics_token`` lets a Prometheus scraper read
    ``/metrics`` with a bearer token instead of a user session.
    """

    enabled: bool = True
    listen: str = field(default="127.0.0.1:8080", validator=_listen_address)
    tls_certificate: Path | None = None
    tls_private_key: Path | None = field(default=None, validator=_both_or_neither)
    session_idle_minutes: float = field(default=30.0, validator=between(1, 24 * 60))
    session_max_hours: float = field(default=12.0, validator=between(1, 7 * 24))
    login_max_failures: int = field(default=5, validator=between(1, 100))
    login_window_s: float = field(default=900.0, validator=between(1, 86400))
    login_lockout_s: float = field(default=300.0, validator=between(1, 86400))
    metrics_token: Secret | None = None
    max_request_bytes: int = field(default=65536, validator=between(1024, 16 * 1024 * 1024))


@frozen
class EscalationConfig:
    """``[incidents.escalation]``: seconds an incident may wait unacknowledged, by severity.

    Past that, a supervisor alert is raised, and raised again every ``repeat_s`` until someone
    acknowledges. A severity left out (or 0) never escalates.
    """

    critical: float = field(default=60.0, validator=between(0, 86400))
    high: float = field(default=300.0, validator=between(0, 86400))
    medium: float = field(default=900.0, validator=between(0, 86400))
    low: float = field(default=0.0, validator=between(0, 86400))
    info: float = field(default=0.0, validator=between(0, 86400))
    repeat_s: float = field(default=120.0, validator=between(10, 86400))


_SEVERITY_NAMES = ("info", "low", "medium", "high", "critical")


def _topic_patterns(_instance: object, _attribute: object, value: object) -> None:
    from hub.topics import TopicPatternError, parse_pattern

    if not value:
        raise Expected('at least one topic pattern, e.g. ["shopwatch.emergency.#"]')
    for pattern in value:
        try:
            parse_pattern(pattern)
        except TopicPatternError as error:
            raise Expected(f"topic patterns of dotted words with * and # ({error})") from None


def _payload_match(_instance: object, _attribute: object, value: object) -> None:
    # The rules read the table; imported here because they import this module.
    from hub.incidents.rules import payload_fields

    try:
        payload_fields(value)
    except ValueError as error:
        raise Expected(str(error)) from None


def _join_keys(_instance: object, _attribute: object, value: object) -> None:
    if not all(key in ("subject", "location") for key in value):
        raise Expected('a list of "subject" and/or "location"')


@frozen
class IncidentRuleConfig:
    """One ``[[incidents.rules]]`` table: which events open an incident, join one, or are left alone.

    Rules are tried in order; the first whose ``topics`` pattern and ``min_severity`` match decides.
    ``action`` is ``open`` (open an incident, or join an open one that matches by ``join_on``),
    ``join`` (only join an open one) or ``ignore``. ``join_on`` lists ``subject`` and/or ``location``:
    an event joins an open incident with the same subject (or location) seen within ``join_window_s``.
    An event that names an ``incident_id`` always joins that incident.
    """

    name: str = field(validator=_name)
    topics: tuple[str, ...] = field(default=("#",), validator=_topic_patterns)
    min_severity: Literal["info", "low", "medium", "high", "critical"] = field(
        default="info", validator=one_of(*_SEVERITY_NAMES)
    )
    action: Literal["open", "join", "ignore"] = field(default="open", validator=one_of("open", "join", "ignore"))
    join_on: tuple[str, ...] = field(default=("subject",), validator=_join_keys)
    join_window_s: float = field(default=900.0, validator=between(0, 7 * 86400))
    category: str | None = None
    priority: int | None = field(default=None, validator=attrs.validators.optional(between(1, 5)))
    # --- more to match on: an empty list matches anything ---
    sources: tuple[str, ...] = field(default=(), validator=_texts("event sources (shopwatch.pubwatch) or patterns (shopwatch.*)"))
    locations: tuple[str, ...] = field(default=(), validator=_texts("location names, site names or UPRNs"))
    members: tuple[str, ...] = field(default=(), validator=_texts("radio units (1001, 100-1002) or member names"))
    cameras: tuple[str, ...] = field(default=(), validator=_texts("camera numbers", 20))
    time_of_day: tuple[str, ...] = field(default=(), validator=_time_ranges)
    # payload field (dotted for nested ones) -> the value or values it may have; Any so that the check words
    # what is wrong with a value that is not a table, as with one that is.
    payload: Any = field(factory=dict, validator=_payload_match)
    # --- what the rule does besides opening or joining ---
    sop: tuple[str, ...] = field(default=(), validator=_texts("SOP steps", 300))
    move_cameras: MoveCamerasConfig | None = None
    police: Literal["auto", "offer"] | None = field(
        default=None, validator=attrs.validators.optional(one_of("auto", "offer"))
    )
    police_adapter: str | None = None
    broadcast: BroadcastConfig | None = None
    escalate_after_s: float | None = field(default=None, validator=attrs.validators.optional(between(0, 86400)))


@frozen
class MoveCamerasConfig:
    """``move_cameras = { preset = "...", count = 1, within_m = 300 }`` in a rule: turn the cameras nearest
    the event to a preset. Nearest means, in order: the cameras the event names (its location's camera, a
    camera subject), the member's cameras in the radio scheme's directory, the cameras behind a fibre node,
    then cameras within ``within_m`` metres of the event's coordinates, closest first; ``count`` of them.
    """

    preset: str = field(validator=_name)
    count: int = field(default=1, validator=between(1, 12))
    within_m: float = field(default=300.0, validator=between(1, 20000))
    adapter: str | None = None


@frozen
class BroadcastConfig:
    """``broadcast = { adapter = "pubwatch", text = "..." }`` in a rule: text every unit of a radio scheme."""

    adapter: str = field(validator=_name)
    text: str = field(validator=_name)


def _default_rules() -> tuple[IncidentRuleConfig, ...]:
    return (IncidentRuleConfig(name="high and critical events", min_severity="high"),)


@frozen
class IncidentsConfig:
    """``[incidents]``: the rules that raise incidents, and escalation of unacknowledged ones.

    With no ``[[incidents.rules]]`` every event of severity high or critical opens (or joins) one.
    ``root_cause_topics`` are the events an open root-cause incident gathers about the things it covers
    (docs/incidents.md, "Root causes"): what an outage explains, such as a camera going offline. Any
    other event about a covered thing (a tamper, a help-point button) is not explained by the outage and
    is decided by the rules as usual, so a real alarm is never hidden inside an outage.
    """

    rules: tuple[IncidentRuleConfig, ...] = field(factory=_default_rules)
    escalation: EscalationConfig = field(factory=EscalationConfig)
    maintenance: tuple[MaintenanceWindowConfig, ...] = ()
    root_cause_topics: tuple[str, ...] = field(
        default=("*.camera.offline", "*.camera.online", "*.camera.degraded", "*.video_loss.*", "fibre.#"),
        validator=_topic_patterns,
    )


def _aware(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and getattr(value, "tzinfo", None) is None:
        raise Expected("a date-time with its offset, e.g. 2026-11-22T01:00:00Z")


@frozen
class MaintenanceWindowConfig:
    """One ``[[incidents.maintenance]]`` table: while it lasts, matching events open nothing and trigger no
    rule's actions (they are still journaled). Either ``starts`` and ``ends`` (date-times with offsets) or
    ``daily`` (``"HH:MM-HH:MM"`` in ``[hub] timezone``); what it covers is matched like a rule's ``topics``,
    ``sources`` and ``cameras``, and ``subjects`` as ``kind:id`` (``fibre_node:node-03``).
    """

    name: str = field(validator=_name)
    starts: datetime | None = field(default=None, validator=_aware)
    ends: datetime | None = field(default=None, validator=_aware)
    daily: str | None = field(default=None, validator=_time_ranges)
    topics: tuple[str, ...] = field(default=("#",), validator=_topic_patterns)
    sources: tuple[str, ...] = field(default=(), validator=_texts("event sources or patterns"))
    cameras: tuple[str, ...] = field(default=(), validator=_texts("camera numbers", 20))
    subjects: tuple[str, ...] = field(default=(), validator=_subject_keys)
    reason: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.daily is None and (self.starts is None or self.ends is None):
            raise Expected("either daily or both starts and ends")
        if self.starts is not None and self.ends is not None and self.ends <= self.starts:
            raise Expected("ends after starts")


@frozen
class PartnerConfig:
    """One ``[partners.NAME]`` table: a partner that posts incident reports over HTTP with its own key.

    ``key`` is a secret (``{env = ...}`` or ``{file = ...}``) the partner sends as
    ``Authorization: Bearer KEY``; ``rate_per_minute`` and ``burst`` bound how fast it may post.
    """

    key: Secret
    display_name: str | None = None
    rate_per_minute: float = field(default=30.0, validator=between(0.1, 6000))
    burst: int = field(default=10, validator=between(1, 1000))
    enabled: bool = True


@frozen
class MapSite:
    """A named place drawn on the console map (a shop, a pub, a node cabinet) at WGS84 coordinates."""

    name: str = field(validator=_name)
    lat: float = field(validator=between(-90, 90))
    lon: float = field(validator=between(-180, 180))
    kind: str = "site"


@frozen
class MapConfig:
    """``[map]``: the console map. Works offline: points are drawn from coordinates on a plain canvas.

    ``image`` is an optional council map image, stretched over ``bounds`` = [south, west, north, east];
    ``tile_url`` an optional tile server on the room's own network ({z}/{x}/{y}).
    """

    image: Path | None = None
    bounds: tuple[float, float, float, float] | None = None
    tile_url: str | None = None
    sites: tuple[MapSite, ...] = ()


def _simulator_name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not re.match(r"^[a-z0-9_]{1,64}$", value):
        raise Expected('the name of a [simulators.NAME] table, e.g. "pubwatch_radio"')


def _cue_name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9_]{0,63}$", value):
        raise Expected('a cue name such as "emergency" or "node_down"')


def _say(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 300:
        raise Expected("what the narrator says, 1 to 300 characters")


@frozen
class ScenarioCue:
    """One cue of a scenario step: ``{ simulator = "pubwatch_radio", cue = "emergency", arguments = {...} }``.

    The simulator checks the ``arguments`` when the cue is played (``hub.api.CueSpec``)."""

    simulator: str = field(validator=_simulator_name)
    cue: str = field(validator=_cue_name)
    arguments: dict[str, Any] = field(factory=dict)


@frozen
class ScenarioStep:
    """One ``[[scenario.steps]]`` table: ``at_s`` seconds after the start (of each round), the narrator
    ``say``s what happens and the ``cues`` are played."""

    at_s: float = field(validator=between(0, 7 * 86400))
    say: str = field(validator=_say)
    cues: tuple[ScenarioCue, ...] = ()


@frozen
class ScenarioConfig:
    """``[scenario]``: a scripted demo that ``hub demo`` plays on the simulators (hub/scenario.py).

    ``steps`` are played ``at_s`` seconds after the start, divided by ``speed`` (2: twice as fast); with
    ``repeat_s`` the whole script starts again every ``repeat_s`` seconds (also divided by ``speed``), which
    must be longer than the last step's ``at_s``. No steps: nothing is played.
    """

    name: str = field(default="The scenario", validator=_name)
    speed: float = field(default=1.0, validator=between(0.01, 1000))
    repeat_s: float | None = field(default=None, validator=attrs.validators.optional(between(1, 7 * 86400)))
    steps: tuple[ScenarioStep, ...] = ()

    def __attrs_post_init__(self) -> None:
        last = max((step.at_s for step in self.steps), default=0.0)
        if self.repeat_s is not None and self.repeat_s <= last:
            raise Expected(f"repeat_s longer than the last step's at_s ({last:g})")


def _at_least_initial(instance: Any, _attribute: object, value: float) -> None:
    if value < instance.restart_initial_s:
        raise Expected(f"a number at least restart_initial_s ({instance.restart_initial_s:g})")


@frozen
class SupervisionConfig:
    """How the runtime restarts one adapter instance, and when it calls a silent partner lost.

    After a failure the adapter restarts after ``restart_initial_s``, growing by ``restart_factor`` up to
    ``restart_max_s``, each delay varied by up to ``restart_jitter`` of itself; once it has run
    ``healthy_after_s`` the delay starts again from the beginning. ``silence_timeout_s`` (off when unset)
    raises a health alarm when the far end has not been heard from for that long.
    """

    restart_initial_s: float = field(default=1.0, validator=between(0.1, 3600))
    restart_max_s: float = field(default=300.0, validator=[between(0.1, 86400), _at_least_initial])
    restart_factor: float = field(default=2.0, validator=between(1, 10))
    restart_jitter: float = field(default=0.25, validator=between(0, 1))
    healthy_after_s: float = field(default=60.0, validator=between(1, 86400))
    silence_timeout_s: float | None = field(
        default=None, validator=attrs.validators.optional(between(1, 86400))
    )


_INSTANCE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")

#: When an adapter or simulator instance runs: only as root, or only when not root.
OnlyWhen = Literal["root", "not_root"]
ONLY_WHEN = ("root", "not_root")


@frozen(kw_only=True)
class AdapterInstanceConfig:
    """One ``[adapters.NAME]`` table: an instance of an adapter type, with its type's own settings."""

    name: str = field(validator=attrs.validators.matches_re(_INSTANCE_NAME))
    type: str
    settings: object
    enabled: bool = True
    supervision: SupervisionConfig = field(factory=SupervisionConfig)
    #: ``only_when``: "root" or "not_root" runs the instance only when the hub does (or does not) run as
    #: root; None: always. One config then serves both ways (the demo's fibre nodes in network namespaces
    #: as root, simulated otherwise); a skipped instance is logged and shown as skipped, never as failed.
    only_when: OnlyWhen | None = None

    @property
    def source(self) -> str:
        """The instance's event source name, ``<type>.<name>``."""
        return f"{self.type}.{self.name}"


@frozen(kw_only=True)
class SimulatorInstanceConfig:
    """One ``[simulators.NAME]`` table: a simulator for a demo or trial, with its type's own settings."""

    name: str = field(validator=attrs.validators.matches_re(_INSTANCE_NAME))
    type: str
    settings: object
    enabled: bool = True
    only_when: OnlyWhen | None = None  # as AdapterInstanceConfig's


def only_when_holds(only_when: OnlyWhen | None, *, root: bool) -> bool:
    """Whether an instance with this ``only_when`` runs in a hub that is (``root``) or is not root."""
    return only_when is None or (only_when == "root") == root


@frozen(kw_only=True)
class HubConfig:
    """A whole, valid configuration. ``path`` is the file it came from, made absolute."""

    path: Path
    hub: HubSection = field(factory=HubSection)
    journal: JournalConfig = field(factory=JournalConfig)
    logging: LoggingConfig = field(factory=LoggingConfig)
    plugins: PluginsConfig = field(factory=PluginsConfig)
    web: WebConfig = field(factory=WebConfig)
    incidents: IncidentsConfig = field(factory=IncidentsConfig)
    partners: dict[str, PartnerConfig] = field(factory=dict)
    map: MapConfig = field(factory=MapConfig)
    scenario: ScenarioConfig = field(factory=ScenarioConfig)
    adapters: tuple[AdapterInstanceConfig, ...] = ()
    simulators: tuple[SimulatorInstanceConfig, ...] = ()


_SECTIONS: dict[str, type] = {
    "hub": HubSection,
    "journal": JournalConfig,
    "logging": LoggingConfig,
    "plugins": PluginsConfig,
    "web": WebConfig,
    "incidents": IncidentsConfig,
    "map": MapConfig,
    "scenario": ScenarioConfig,
}

# The keys of an adapter table that belong to the hub; every other key is the adapter type's.
RUNTIME_KEYS = ("type", "enabled", "supervision", "only_when")
# The same for a simulator table.
SIMULATOR_RUNTIME_KEYS = ("type", "enabled", "only_when")


@frozen
class _AdapterRuntimeKeys:
    """The keys of an adapter table, besides ``type``, that the runtime reads."""

    enabled: bool = True
    supervision: SupervisionConfig = field(factory=SupervisionConfig)
    only_when: OnlyWhen | None = field(default=None, validator=attrs.validators.optional(one_of(*ONLY_WHEN)))


@frozen
class _SimulatorRuntimeKeys:
    """The keys of a simulator table, besides ``type``, that the hub reads."""

    enabled: bool = True
    only_when: OnlyWhen | None = field(default=None, validator=attrs.validators.optional(one_of(*ONLY_WHEN)))


# --- Errors -------------------------------------------------------------------------------------------


@frozen
class ConfigProblem:
    """One thing wrong with a config file. An empty ``key_path`` means the file as a whole."""

    file: str
    key_path: str
    found: str
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key_path}" if self.key_path else self.file
        return f"{where}: found {self.found}, expected {self.expected}"


class ConfigError(Exception):
    """A config file was refused; ``problems`` holds every problem found, section by section."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


# --- Reading and validating ---------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str],
    adapter_types: Mapping[str, AdapterType],
    environ: Mapping[str, str] = os.environ,
    *,
    simulator_types: Mapping[str, SimulatorType] | None = None,
) -> HubConfig:
    """Read and validate a config file; ``ConfigError`` lists every problem."""
    return validate(read_toml(path), Path(path), adapter_types, environ, simulator_types=simulator_types)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed TOML document at ``path``; an unreadable file or bad syntax is a ``ConfigError``."""
    file = str(path)

    def refuse(found: str, expected: str, key_path: str = "") -> NoReturn:
        raise ConfigError([ConfigProblem(file, key_path, found, expected)])

    try:
        data = Path(path).read_bytes()
    except OSError as error:
        refuse(f"no readable file ({error.strerror or type(error).__name__})", "a readable TOML file")
    try:
        # utf-8-sig: Windows editors start files with a byte-order mark that TOML itself does not allow.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        refuse(f"bytes that are not UTF-8 text (at byte {error.start})", "a UTF-8 text file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", message, re.DOTALL)
        if match:
            refuse(f"a syntax error ({match.group(1)})", "valid TOML", key_path=match.group(2))
        refuse(f"a syntax error ({message})", "valid TOML")
    except RecursionError:
        refuse("arrays or tables nested too deeply to read", "valid TOML nested a few levels deep")
    except Exception as error:  # noqa: BLE001 - e.g. an integer of thousands of digits; never a traceback
        refuse(f"TOML that cannot be read ({_brief(str(error), 120)})", "valid TOML")


def blocked_plugins(raw: object, path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The plugin names ``[plugins] blocked`` lists, read before plugins load (and so before validation).

    Anything malformed gives ``()``: ``validate`` reports it properly once the plugins are known.
    ``path`` is taken for symmetry with ``validate``; the answer does not depend on it.
    """
    plugins = raw.get("plugins") if isinstance(raw, dict) else None
    blocked = plugins.get("blocked") if isinstance(plugins, dict) else None
    if isinstance(blocked, list) and all(isinstance(name, str) for name in blocked):
        return tuple(blocked)
    return ()


def validate(
    raw: Mapping[str, Any],
    path: str | os.PathLike[str],
    adapter_types: Mapping[str, AdapterType],
    environ: Mapping[str, str],
    *,
    read_secrets: bool = True,
    simulator_types: Mapping[str, SimulatorType] | None = None,
) -> HubConfig:
    """The ``HubConfig`` a parsed document describes; ``ConfigError`` lists every problem in it.

    ``[simulators.NAME]`` tables are checked against ``simulator_types`` (none known when not given) as
    adapter tables are against ``adapter_types``.

    Relative paths are taken from the folder of ``path``; secrets are read from ``environ`` or from
    files. No problem shows a secret: values of secret fields are hidden, and every secret that was read
    is blanked out of the messages as well, in case a value ended up where it should not.

    ``read_secrets=False`` is for commands that need no secret (``hub user add``, ``hub audit verify``):
    a secret reference that is well formed but whose variable or file is not there is accepted, with an
    empty stand-in, so an administrator need not hold every partner's key to add a user.
    """
    absolute = Path(os.path.abspath(path))
    reader = _Reader(environ, absolute.parent, read_secrets=read_secrets)
    issues: list[_Issue] = []
    config = None
    try:
        config = _validate(raw, absolute, adapter_types, simulator_types or {}, reader, issues)
    except Exception as error:  # noqa: BLE001 - a bug here must still come out as a config error
        issues.append(_Issue((), None, "a file the hub can check (please report this as a bug)",
                             found=f"an unexpected {type(error).__name__} while checking"))
    if issues or config is None:
        file = str(path)
        problems = [
            ConfigProblem(*(redact(text, reader.secrets) for text in (file, *issue.render())))
            for issue in issues
        ]
        raise ConfigError(problems)
    return config


def _validate(
    raw: Mapping[str, Any],
    path: Path,
    adapter_types: Mapping[str, AdapterType],
    simulator_types: Mapping[str, SimulatorType],
    reader: "_Reader",
    issues: list["_Issue"],
) -> HubConfig | None:
    if not isinstance(raw, Mapping):
        issues.append(_Issue((), raw, "a TOML document"))
        return None
    allowed = (*_SECTIONS, "partners", "adapters", "simulators")
    for key in raw:
        if key not in allowed:
            issues.append(_unknown_key(key, allowed))
    sections: dict[str, Any] = {}
    for key, section_class in _SECTIONS.items():
        try:
            sections[key] = reader.table(raw.get(key, {}), section_class)
        except _Invalid as invalid:
            issues.extend(issue.under(key) for issue in invalid.issues)
    try:
        sections["partners"] = _partners(reader, raw.get("partners", {}))
    except _Invalid as invalid:
        issues.extend(issue.under("partners") for issue in invalid.issues)
    try:
        adapters = _adapters(reader, raw.get("adapters", {}), adapter_types)
    except _Invalid as invalid:
        issues.extend(issue.under("adapters") for issue in invalid.issues)
    try:
        simulators = _simulators(reader, raw.get("simulators", {}), simulator_types)
    except _Invalid as invalid:
        issues.extend(issue.under("simulators") for issue in invalid.issues)
    if issues:
        return None
    # Rules whose actions name an adapter, checked against the adapters above (imported here: the rule
    # actions module reads this one).
    from hub.incidents.actions import rule_target_issues

    for problem in rule_target_issues(sections["incidents"], adapters, adapter_types):
        issues.append(_Issue(("incidents", *problem.path), None, problem.expected, found=problem.found))
    if issues:
        return None
    return HubConfig(path=path, adapters=adapters, simulators=simulators, **sections)


def _partners(reader: _Reader, raw: object) -> dict[str, PartnerConfig]:
    if not isinstance(raw, dict):
        _fail(raw, "a table holding one [partners.NAME] table per partner")
    partners, issues = {}, []
    for name, body in raw.items():
        if not _INSTANCE_NAME.match(name):
            issues.append(_Issue((name,), None, "a name of 1 to 64 lower-case letters, digits and underscores",
                                 found=f"a partner named {_brief(json.dumps(name, ensure_ascii=False))}"))
            continue
        try:
            partners[name] = reader.table(body, PartnerConfig)
        except _Invalid as invalid:
            issues.extend(issue.under(name) for issue in invalid.issues)
    if issues:
        raise _Invalid(issues)
    return partners


# Adapter tables are read here, not in the reader: only the hub knows which of their keys are its own
# (RUNTIME_KEYS) and which belong to the adapter type's config_class.


def _adapters(
    reader: _Reader, raw: object, adapter_types: Mapping[str, AdapterType]
) -> tuple[AdapterInstanceConfig, ...]:
    if not isinstance(raw, dict):
        _fail(raw, "a table holding one [adapters.NAME] table per adapter instance")
    instances, issues = [], []
    for name, body in raw.items():
        try:
            instances.append(_adapter(reader, name, body, adapter_types))
        except _Invalid as invalid:
            issues.extend(issue.under(name) for issue in invalid.issues)
    if issues:
        raise _Invalid(issues)
    return tuple(instances)


def _adapter(
    reader: _Reader, name: str, body: object, adapter_types: Mapping[str, AdapterType]
) -> AdapterInstanceConfig:
    type_name, runtime, settings = _typed_table(
        reader, body, name, adapter_types, "adapter", RUNTIME_KEYS, _AdapterRuntimeKeys
    )
    try:
        return AdapterInstanceConfig(name=name, type=type_name, enabled=runtime.enabled,
                                     supervision=runtime.supervision, only_when=runtime.only_when,
                                     settings=settings)
    except Exception as error:  # noqa: BLE001
        _fail(body, _expected_from(error), found="an adapter table the hub cannot use")


def _simulators(
    reader: _Reader, raw: object, simulator_types: Mapping[str, SimulatorType]
) -> tuple[SimulatorInstanceConfig, ...]:
    if not isinstance(raw, dict):
        _fail(raw, "a table holding one [simulators.NAME] table per simulator")
    instances, issues = [], []
    for name, body in raw.items():
        try:
            type_name, runtime, settings = _typed_table(
                reader, body, name, simulator_types, "simulator", SIMULATOR_RUNTIME_KEYS, _SimulatorRuntimeKeys
            )
            instances.append(
                SimulatorInstanceConfig(name=name, type=type_name, enabled=runtime.enabled,
                                        only_when=runtime.only_when, settings=settings)
            )
        except _Invalid as invalid:
            issues.extend(issue.under(name) for issue in invalid.issues)
    if issues:
        raise _Invalid(issues)
    return tuple(instances)


def _typed_table(
    reader: _Reader,
    body: object,
    name: str,
    types: Mapping[str, AdapterType | SimulatorType],
    kind: str,
    runtime_keys: tuple[str, ...],
    runtime_class: type,
) -> tuple[str, Any, Any]:
    """An adapter or simulator table read: its type's name, the hub's keys and the type's own settings.

    ``kind`` ("adapter" or "simulator") only words the problems; ``runtime_keys`` are the keys that are
    the hub's (``type`` and those ``runtime_class`` reads), every other key is the type's config class's.
    """
    issues = []
    if not _INSTANCE_NAME.match(name):
        issues.append(_Issue((), None, "a name of 1 to 64 lower-case letters, digits and underscores",
                             found=f"{_article(kind)} named {_brief(json.dumps(name, ensure_ascii=False))}"))
    if not isinstance(body, dict):
        raise _Invalid([*issues, _Issue((), body, "a table")])
    type_name = body.get("type")
    found_type = types.get(type_name) if isinstance(type_name, str) else None
    if found_type is None:
        known = ", ".join(sorted(types)) or f"(none: no plugin offers {_article(kind)} type)"
        found = None if "type" in body else _MISSING_FOUND
        expected = f"an installed {kind} type, one of: {known}"
        issues.append(_Issue(("type",), type_name, expected, found=found))
    runtime = settings = None
    try:
        runtime_raw = {key: value for key, value in body.items() if key in runtime_keys and key != "type"}
        runtime = reader.table(runtime_raw, runtime_class)
    except _Invalid as invalid:
        issues.extend(invalid.issues)
    if found_type is not None:
        # Without a known type there is no knowing which other keys belong: they are left unchecked.
        settings_raw = {k: v for k, v in body.items() if k not in runtime_keys}
        try:
            fields = attrs.fields(found_type.config_class)
            reserved = [a.alias for a in fields if a.alias in runtime_keys]
            if reserved:
                raise TypeError(f"it has fields named {', '.join(reserved)}, which are the hub's keys")
            settings = reader.table(settings_raw, found_type.config_class, also_allowed=runtime_keys)
        except _Invalid as invalid:
            issues.extend(invalid.issues)
        except Exception as error:  # noqa: BLE001 - config_class is not an attrs class
            found = f"{kind} type {type_name} with an unusable config_class ({error})"
            issues.append(_Issue((), None, f"{_article(kind)} type whose config_class is a frozen attrs class",
                                 found=found))
    if issues or runtime is None:
        raise _Invalid(issues)
    return type_name, runtime, settings


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
