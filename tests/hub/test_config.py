"""A config file is validated into frozen classes, or refused with every problem it has, secrets unseen."""

from __future__ import annotations

import enum
import pickle
from pathlib import Path
from typing import Literal

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.api import AdapterType, SimulatorType
from hub.config import (
    AdapterInstanceConfig,
    ConfigError,
    ConfigProblem,
    Expected,
    HubConfig,
    HubSection,
    JournalConfig,
    LoggingConfig,
    PluginsConfig,
    SimulatorInstanceConfig,
    SupervisionConfig,
    between,
    blocked_plugins,
    load_config,
    read_toml,
    validate,
)
from hub.secrets import SECRET_EXPECTED, Secret

EXAMPLE = Path(__file__).parents[2] / "config" / "example.toml"


class Mode(enum.Enum):
    PUSH = "push"
    PULL = "pull"


@attrs.frozen
class Camera:
    number: int = attrs.field(validator=between(1, 9999))
    name: str = ""


@attrs.frozen
class WidgetConfig:
    """A stand-in adapter type's settings, using each kind of field a plugin might."""

    port: int = attrs.field(validator=between(1, 65535))
    host: str = "localhost"
    password: Secret | None = None
    mode: Mode = Mode.PUSH
    cameras: tuple[Camera, ...] = ()
    timeout_s: float | None = None
    label: int = 0
    api_token: int = 0
    flavour: Literal["plain", "fancy"] = "plain"
    log_file: Path = Path("widget.log")


WIDGET = AdapterType(name="widget", config_class=WidgetConfig, factory=lambda ctx: None)
TYPES = {"widget": WIDGET}
WIDGET_A = '[adapters.a]\ntype = "widget"\nport = 1\n'


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None, types=TYPES) -> HubConfig:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return load_config(path, types, environ or {})


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None, types=TYPES) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ, types)
    return caught.value


def by_key(error: ConfigError) -> dict[str, ConfigProblem]:
    return {problem.key_path: problem for problem in error.problems}


# --- Valid files ----------------------------------------------------------------------------------------


def test_example_file_is_valid() -> None:
    """config/example.toml loads, and states the defaults."""
    config = load_config(EXAMPLE, TYPES, {})
    assert config.hub == HubSection(data_dir=EXAMPLE.parent / "data")
    assert config.journal == JournalConfig()
    assert config.logging == LoggingConfig()
    assert config.plugins == PluginsConfig()
    assert config.adapters == ()
    assert config.path == EXAMPLE


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    """Every section and key may be left out."""
    config = load(tmp_path, "")
    assert config.journal.synchronous == "full"
    assert config.journal.max_batch == 2000
    assert config.logging.level == "info"
    assert config.hub.shutdown_grace_s == 10.0
    assert config.plugins.blocked == ()


def test_default_data_dir_is_beside_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without data_dir, data lives in a "data" folder beside the config file, wherever the hub is started."""
    monkeypatch.chdir("/")
    assert load(tmp_path, "").hub.data_dir == tmp_path / "data"


def test_relative_data_dir_is_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative data_dir is taken from the config file's folder, not the working directory."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hub.toml").write_text('[hub]\ndata_dir = "../var/hub"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("etc/hub.toml"), TYPES, {})
    assert config.hub.data_dir == tmp_path / "etc" / "../var/hub"
    assert config.hub.data_dir.is_absolute()
    assert config.path == tmp_path / "etc" / "hub.toml"


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    """An absolute data_dir is used as written."""
    assert load(tmp_path, '[hub]\ndata_dir = "/srv/hub"\n').hub.data_dir == Path("/srv/hub")


def test_integers_are_accepted_for_numbers(tmp_path: Path) -> None:
    """A whole number is fine where a number is expected, and is read as a float."""
    config = load(tmp_path, "[journal]\nretention_days = 90\n")
    assert config.journal.retention_days == 90.0
    assert isinstance(config.journal.retention_days, float)


def test_adapter_table_becomes_an_instance(tmp_path: Path) -> None:
    """An [adapters.NAME] table gives the name, type, runtime keys, and settings of the type's class."""
    config = load(
        tmp_path,
        """
        [adapters.town_centre]
        type = "widget"
        enabled = false
        port = 4001
        mode = "pull"
        timeout_s = 2.5
        flavour = "fancy"
        cameras = [{ number = 1, name = "Market St" }, { number = 2 }]

        [adapters.town_centre.supervision]
        restart_max_s = 60
        silence_timeout_s = 120
        """,
    )
    (instance,) = config.adapters
    assert instance == AdapterInstanceConfig(
        name="town_centre",
        type="widget",
        enabled=False,
        supervision=SupervisionConfig(restart_max_s=60.0, silence_timeout_s=120.0),
        settings=WidgetConfig(
            port=4001,
            mode=Mode.PULL,
            timeout_s=2.5,
            flavour="fancy",
            cameras=(Camera(1, "Market St"), Camera(2)),
            log_file=tmp_path / "widget.log",
        ),
    )
    assert instance.source == "widget.town_centre"


def test_adapters_keep_the_file_order(tmp_path: Path) -> None:
    """Instances come in the order the file lists them."""
    config = load(tmp_path, '[adapters.b]\ntype = "widget"\nport = 1\n' + WIDGET_A)
    assert [instance.name for instance in config.adapters] == ["b", "a"]


def test_paths_in_adapter_settings_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    """Every path in the file, the adapters' too, is taken from the config file's folder."""
    config = load(tmp_path, WIDGET_A + 'log_file = "logs/a.log"\n')
    assert config.adapters[0].settings.log_file == tmp_path / "logs" / "a.log"


def test_blocked_plugins(tmp_path: Path) -> None:
    """[plugins] blocked lists plugin names."""
    assert load(tmp_path, '[plugins]\nblocked = ["onvif", "police_link"]\n').plugins.blocked == (
        "onvif",
        "police_link",
    )


# --- Refusals: every problem at once, each one located and explained -------------------------------------


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Problems in several sections and adapters all come back in one error, in file order."""
    error = problems(
        tmp_path,
        """
        [hub]
        shutdown_grace_s = 0
        [journal]
        synchronous = "fast"
        max_batch = 0
        [logging]
        level = "loud"
        [adapters.one]
        type = "widget"
        port = 70000
        [adapters.two]
        type = "widget"
        port = "4001"
        [adapters.two.supervision]
        restart_jitter = 2
        """,
    )
    assert [problem.key_path for problem in error.problems] == [
        "hub.shutdown_grace_s",
        "journal.synchronous",
        "journal.max_batch",
        "logging.level",
        "adapters.one.port",
        "adapters.two.supervision.restart_jitter",
        "adapters.two.port",
    ]


def test_each_problem_names_file_key_found_and_expected(tmp_path: Path) -> None:
    """A problem reads "file: key.path: found X, expected Y"."""
    error = problems(tmp_path, "[hub]\nshutdown_grace_s = 301\n")
    (problem,) = error.problems
    assert problem == ConfigProblem(
        file=str(tmp_path / "hub.toml"),
        key_path="hub.shutdown_grace_s",
        found="301 (an integer)",
        expected="a number above 0 and at most 300",
    )
    assert str(problem) == (
        f"{tmp_path / 'hub.toml'}: hub.shutdown_grace_s: found 301 (an integer), "
        "expected a number above 0 and at most 300"
    )


def test_error_lists_one_problem_per_line(tmp_path: Path) -> None:
    """str(ConfigError) has one line per problem."""
    error = problems(tmp_path, '[logging]\nlevel = "loud"\nformat = "xml"\n')
    assert str(error).splitlines() == [str(problem) for problem in error.problems]
    assert len(error.problems) == 2


def test_error_survives_pickling(tmp_path: Path) -> None:
    """A ConfigError can cross a process boundary whole."""
    error = problems(tmp_path, '[logging]\nlevel = "loud"\n')
    assert pickle.loads(pickle.dumps(error)).problems == error.problems


@pytest.mark.parametrize(
    ("text", "key", "found", "expected"),
    [
        ('[journal]\nmax_batch = "2000"', "journal.max_batch", '"2000" (a string)', "a whole number"),
        ("[journal]\nmax_batch = 20.5", "journal.max_batch", "20.5 (a float)", "a whole number"),
        ("[journal]\nmax_batch = true", "journal.max_batch", "true (a boolean)", "a whole number"),
        ("[journal]\nretention_days = true", "journal.retention_days", "true (a boolean)", "a number"),
        ("[journal]\nretention_days = nan", "journal.retention_days", "nan (a float)", "a finite number"),
        ("[journal]\nretention_days = inf", "journal.retention_days", "inf (a float)", "a finite number"),
        ("[journal]\nretention_days = 1e308", "journal.retention_days", "1e+308 (a float)",
         "a number above 0 and at most 3650"),
        ("[journal]\nsynchronous = 1", "journal.synchronous", "1 (an integer)", "one of: full, normal"),
        ("[hub]\nname = 5", "hub.name", "5 (an integer)", "a string"),
        ('[hub]\nname = ""', "hub.name", '"" (a string)', "a name of 1 to 200 characters"),
        ("[hub]\ndata_dir = []", "hub.data_dir", "an array of 0 items",
         "a path (a string), relative to the config file's folder or absolute"),
        ("hub = 3", "hub", "3 (an integer)", "a table"),
        ('[plugins]\nblocked = "onvif"', "plugins.blocked", '"onvif" (a string)', "an array"),
        ("[plugins]\nblocked = [1]", "plugins.blocked[0]", "1 (an integer)", "a string"),
        ("[plugins]\nblocked = ['']", "plugins.blocked", "an array of 1 item",
         'plugin names as non-empty strings, e.g. ["onvif"]'),
        ("[hub]\nshutdown_grace_s = 1979-05-27", "hub.shutdown_grace_s", "1979-05-27 (a date)", "a number"),
    ],
)
def test_wrong_values_are_described(tmp_path: Path, text: str, key: str, found: str, expected: str) -> None:
    """Each wrong value is shown briefly with its TOML type, next to what was expected."""
    problem = by_key(problems(tmp_path, text))[key]
    assert (problem.found, problem.expected) == (found, expected)


def test_huge_integer_is_refused(tmp_path: Path) -> None:
    """An integer beyond 64 bits is refused with its size, not its digits."""
    problem = by_key(problems(tmp_path, "[journal]\nmax_batch = " + "9" * 400))["journal.max_batch"]
    assert problem.found == "an integer of about 400 digits"
    assert problem.expected == "a whole number that fits in 64 bits"


def test_long_string_is_shortened(tmp_path: Path) -> None:
    """A long value is cut short in the message, with its length."""
    problem = by_key(problems(tmp_path, f'[hub]\nname = "{"x" * 5000}"'))["hub.name"]
    assert problem.found.endswith("… (a string of 5000 characters)")
    assert len(problem.found) < 100


def test_unknown_keys_are_refused_with_the_allowed_keys(tmp_path: Path) -> None:
    """A key the hub does not know is an error listing the keys it does, and a near miss is suggested."""
    error = problems(tmp_path, "colour = 1\n[hub]\nshutdown_grace = 5\n")
    problem = by_key(error)["hub.shutdown_grace"]
    assert problem.found == "an unknown key"
    assert problem.expected == "one of: data_dir, name, shutdown_grace_s, timezone (did you mean shutdown_grace_s?)"
    assert by_key(error)["colour"].expected == "one of: adapters, hub, incidents, journal, logging, map, partners, plugins, scenario, simulators, web"


def test_unknown_key_never_shows_its_value(tmp_path: Path) -> None:
    """A misspelt key might hold a password, so its value is never shown."""
    error = problems(tmp_path, WIDGET_A + 'pasword = "hunter2"\n')
    assert by_key(error)["adapters.a.pasword"].expected.startswith("one of: api_token, cameras, enabled")
    assert "hunter2" not in str(error)


def test_unknown_key_in_a_nested_table(tmp_path: Path) -> None:
    """Unknown keys are found at any depth, with the path to them."""
    error = problems(tmp_path, WIDGET_A + 'cameras = [{ number = 1, zoom = 2 }]\n')
    assert by_key(error)["adapters.a.cameras[0].zoom"].expected == "one of: name, number"


def test_missing_required_key(tmp_path: Path) -> None:
    """A key without a default must be given."""
    problem = by_key(problems(tmp_path, '[adapters.a]\ntype = "widget"\n'))["adapters.a.port"]
    assert (problem.found, problem.expected) == ("nothing (the key is missing)", "a whole number")


def test_unknown_adapter_type_lists_the_known_types(tmp_path: Path) -> None:
    """An adapter type no plugin offers is refused with the types that are installed."""
    error = problems(tmp_path, '[adapters.a]\ntype = "onvif"\nport = 1\n')
    problem = by_key(error)["adapters.a.type"]
    assert problem.found == '"onvif" (a string)'
    assert problem.expected == "an installed adapter type, one of: widget"


def test_adapter_type_that_is_not_a_string(tmp_path: Path) -> None:
    """A type that is not a name is refused with the installed types, like an unknown one."""
    problem = by_key(problems(tmp_path, "[adapters.a]\ntype = 5\n"))["adapters.a.type"]
    assert problem.found == "5 (an integer)"
    assert problem.expected == "an installed adapter type, one of: widget"


def test_adapter_without_a_type(tmp_path: Path) -> None:
    """Every adapter table needs a type."""
    error = problems(tmp_path, "[adapters.a]\nport = 1\n", types={})
    problem = by_key(error)["adapters.a.type"]
    assert problem.found == "nothing (the key is missing)"
    assert problem.expected == "an installed adapter type, one of: (none: no plugin offers an adapter type)"


def test_adapter_name_must_be_lower_case_words(tmp_path: Path) -> None:
    """An instance name becomes part of event sources, so it is lower-case letters, digits and underscores."""
    error = problems(tmp_path, '[adapters."Town Centre"]\ntype = "widget"\nport = 1\n')
    assert by_key(error)['adapters."Town Centre"'].found == 'an adapter named "Town Centre"'


def test_adapter_runtime_keys_are_checked(tmp_path: Path) -> None:
    """enabled and the supervision table are checked like any other key."""
    error = problems(
        tmp_path,
        WIDGET_A + 'enabled = "yes"\nsupervision = { restart_max_s = 0.5, '
        "restart_initial_s = 2, backoff = 1 }\n",
    )
    keys = by_key(error)
    assert keys["adapters.a.enabled"].expected == "true or false"
    assert keys["adapters.a.supervision.backoff"].found == "an unknown key"
    assert keys["adapters.a.supervision.restart_max_s"].expected == "a number at least restart_initial_s (2)"


def test_cross_field_check_against_a_default(tmp_path: Path) -> None:
    """A check that compares two keys says when the value it refused is a default."""
    error = problems(tmp_path, WIDGET_A + 'supervision = { restart_initial_s = 600 }\n')
    problem = by_key(error)["adapters.a.supervision.restart_max_s"]
    assert problem.found == "300.0 (a float), the default"


def test_enums_literals_and_optionals_in_adapter_settings(tmp_path: Path) -> None:
    """An adapter's enum, Literal and Optional fields say what they accept."""
    error = problems(
        tmp_path, WIDGET_A + 'mode = "poll"\nflavour = "sour"\ntimeout_s = "soon"\n'
    )
    keys = by_key(error)
    assert keys["adapters.a.mode"].expected == "one of: push, pull"
    assert keys["adapters.a.flavour"].expected == "one of: plain, fancy"
    assert keys["adapters.a.timeout_s"].expected == "a number"


def test_same_problems_in_two_adapters_are_both_reported(tmp_path: Path) -> None:
    """A mistake copied into several adapter tables is reported in each."""
    table = '[adapters.NAME]\ntype = "widget"\nport = 0\n'
    error = problems(tmp_path, table.replace("NAME", "a") + table.replace("NAME", "b"))
    assert [problem.key_path for problem in error.problems] == ["adapters.a.port", "adapters.b.port"]


def test_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    """Bad TOML is refused with where tomllib stopped."""
    (problem,) = problems(tmp_path, "[hub]\nname = 'x'\nshutdown_grace_s = = 3\n").problems
    assert problem.key_path == "line 3, column 20"
    assert problem.found.startswith("a syntax error (")
    assert problem.expected == "valid TOML"


def test_missing_file(tmp_path: Path) -> None:
    """A config file that is not there is a ConfigError, not an OSError."""
    with pytest.raises(ConfigError) as caught:
        read_toml(tmp_path / "nope.toml")
    (problem,) = caught.value.problems
    assert str(problem) == f"{tmp_path / 'nope.toml'}: found no readable file (No such file or directory), " \
        "expected a readable TOML file"


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    """A file in another encoding is refused with where it stops being UTF-8."""
    (tmp_path / "hub.toml").write_bytes(b'[hub]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_toml(tmp_path / "hub.toml")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    """Arrays nested thousands deep are a ConfigError, not a RecursionError."""
    with pytest.raises(ConfigError):
        load(tmp_path, "x = " + "[" * 5000 + "]" * 5000)


def test_config_class_that_is_not_attrs_is_a_problem(tmp_path: Path) -> None:
    """A plugin whose config class is unusable gives a problem for its tables, not a traceback."""
    broken = {"widget": AdapterType(name="widget", config_class=dict, factory=lambda ctx: None)}
    error = problems(tmp_path, '[adapters.a]\ntype = "widget"\n', types=broken)
    assert "unusable config_class" in by_key(error)["adapters.a"].found


@attrs.frozen
class ClashingConfig:
    type: str = "mine"


def test_config_class_must_leave_the_runtime_keys_alone(tmp_path: Path) -> None:
    """A config class with a field named like a runtime key (type, enabled, supervision) is refused."""
    clashing = {"widget": AdapterType(name="widget", config_class=ClashingConfig, factory=lambda ctx: None)}
    error = problems(tmp_path, '[adapters.a]\ntype = "widget"\n', types=clashing)
    assert "fields named type" in by_key(error)["adapters.a"].found


# --- Simulators --------------------------------------------------------------------------------------


@attrs.frozen
class RadioSimConfig:
    """A stand-in simulator type's settings."""

    link: Path
    dialect: Literal["ccdi", "fleetsync"] = "ccdi"
    units: tuple[str, ...] = ()
    every_s: float = attrs.field(default=30.0, validator=between(1, 3600))


SIMULATORS = {"radio_sim": SimulatorType(name="radio_sim", config_class=RadioSimConfig, factory=lambda ctx: None)}


def load_simulators(tmp_path: Path, text: str, simulator_types=SIMULATORS) -> HubConfig:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return load_config(path, TYPES, {}, simulator_types=simulator_types)


def simulator_problems(tmp_path: Path, text: str, simulator_types=SIMULATORS) -> dict[str, ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_simulators(tmp_path, text, simulator_types)
    return by_key(caught.value)


def test_a_simulator_table_becomes_an_instance_of_its_type(tmp_path: Path) -> None:
    """[simulators.NAME] is validated into the simulator type's config class; paths are from the config folder."""
    config = load_simulators(
        tmp_path,
        '[simulators.shop_radio]\ntype = "radio_sim"\nlink = "radio-link"\nunits = ["1001", "1002"]\n'
        '[simulators.pub_radio]\ntype = "radio_sim"\nlink = "/tmp/pub"\ndialect = "fleetsync"\nenabled = false\n',
    )
    assert config.simulators == (
        SimulatorInstanceConfig(name="shop_radio", type="radio_sim",
                                settings=RadioSimConfig(link=tmp_path / "radio-link", units=("1001", "1002"))),
        SimulatorInstanceConfig(name="pub_radio", type="radio_sim", enabled=False,
                                settings=RadioSimConfig(link=Path("/tmp/pub"), dialect="fleetsync")),
    )
    assert config.adapters == ()


def test_a_file_without_simulators_has_none(tmp_path: Path) -> None:
    """Simulators are optional; without simulator types given, a file with none still loads."""
    assert load(tmp_path, WIDGET_A).simulators == ()


def test_every_problem_in_a_simulator_table_is_reported_with_its_key_path(tmp_path: Path) -> None:
    """Bad values, unknown and missing keys in a simulator table are each reported under simulators.NAME."""
    keys = simulator_problems(
        tmp_path, '[simulators.radio]\ntype = "radio_sim"\ndialect = "morse"\nevery_s = 0\nspeed = 3\n'
        'enabled = "yes"\n'
    )
    assert set(keys) == {"simulators.radio.link", "simulators.radio.dialect", "simulators.radio.every_s",
                         "simulators.radio.speed", "simulators.radio.enabled"}
    assert keys["simulators.radio.link"].found == "nothing (the key is missing)"
    assert keys["simulators.radio.dialect"].expected == "one of: ccdi, fleetsync"
    assert keys["simulators.radio.every_s"].expected == "a number from 1 to 3600"
    assert keys["simulators.radio.speed"].found == "an unknown key"
    assert keys["simulators.radio.enabled"].expected == "true or false"


def test_an_unknown_simulator_type_lists_the_known_ones(tmp_path: Path) -> None:
    """A simulator type no plugin offers is refused with the installed simulator types."""
    keys = simulator_problems(tmp_path, '[simulators.radio]\ntype = "shopwatch"\nlink = "x"\n')
    assert keys["simulators.radio.type"].found == '"shopwatch" (a string)'
    assert keys["simulators.radio.type"].expected == "an installed simulator type, one of: radio_sim"
    missing = simulator_problems(tmp_path, "[simulators.radio]\nlink = 'x'\n", simulator_types={})
    assert missing["simulators.radio.type"].expected == (
        "an installed simulator type, one of: (none: no plugin offers a simulator type)")


def test_a_simulator_name_must_be_lower_case_words_and_its_table_a_table(tmp_path: Path) -> None:
    """Simulator names follow the adapter rule; [simulators] must hold tables."""
    keys = simulator_problems(tmp_path, '[simulators."Shop Radio"]\ntype = "radio_sim"\nlink = "x"\n')
    assert keys['simulators."Shop Radio"'].found == 'a simulator named "Shop Radio"'
    assert simulator_problems(tmp_path, "simulators = 3\n")["simulators"].expected == (
        "a table holding one [simulators.NAME] table per simulator")


def test_simulator_and_adapter_problems_are_reported_together(tmp_path: Path) -> None:
    """One run of the check reports the adapters' and the simulators' problems at once."""
    keys = simulator_problems(tmp_path, '[adapters.a]\ntype = "widget"\nport = 0\n'
                                        '[simulators.radio]\ntype = "radio_sim"\n')
    assert set(keys) == {"adapters.a.port", "simulators.radio.link"}


@attrs.frozen
class EnabledSimConfig:
    enabled: bool = True


def test_a_simulator_config_class_must_leave_the_hubs_keys_alone(tmp_path: Path) -> None:
    """A simulator config class with a field named type or enabled is refused, as for adapters."""
    clashing = {"radio_sim": SimulatorType(name="radio_sim", config_class=EnabledSimConfig, factory=lambda ctx: None)}
    keys = simulator_problems(tmp_path, '[simulators.radio]\ntype = "radio_sim"\n', simulator_types=clashing)
    assert "fields named enabled" in keys["simulators.radio"].found


def _explode(_instance: object, _attribute: object, _value: object) -> None:
    raise RuntimeError("validator bug")


@attrs.frozen
class FragileConfig:
    value: int = attrs.field(default=0, validator=_explode)


def test_unexpected_exception_in_a_check_becomes_a_problem(tmp_path: Path) -> None:
    """A plugin validator that crashes is reported as a problem at its key."""
    fragile = {"widget": AdapterType(name="widget", config_class=FragileConfig, factory=lambda ctx: None)}
    error = problems(tmp_path, '[adapters.a]\ntype = "widget"\nvalue = 1\n', types=fragile)
    assert by_key(error)["adapters.a.value"].expected == "a valid value (validator bug)"


@attrs.frozen
class PlainAttrsConfig:
    port: int = attrs.field(validator=attrs.validators.ge(2))


def test_attrs_validator_messages_are_reworded(tmp_path: Path) -> None:
    """attrs' own validators give "a value >= 2" rather than their Python wording."""
    plain = {"widget": AdapterType(name="widget", config_class=PlainAttrsConfig, factory=lambda ctx: None)}
    error = problems(tmp_path, WIDGET_A, types=plain)
    assert by_key(error)["adapters.a.port"].expected == "a value >= 2"


def test_validate_accepts_a_parsed_document(tmp_path: Path) -> None:
    """validate works on a dict already read, so callers can read once and check blocked plugins first."""
    raw = {"plugins": {"blocked": ["onvif"]}, "adapters": {"a": {"type": "widget", "port": 7}}}
    config = validate(raw, tmp_path / "hub.toml", TYPES, {})
    assert config.plugins.blocked == ("onvif",)
    assert config.adapters[0].settings.port == 7


@pytest.mark.parametrize(
    ("raw", "blocked"),
    [
        ({"plugins": {"blocked": ["onvif", "x"]}}, ("onvif", "x")),
        ({}, ()),
        ({"plugins": 3}, ()),
        ({"plugins": {"blocked": "onvif"}}, ()),
        ({"plugins": {"blocked": ["onvif", 3]}}, ()),
        ([], ()),
    ],
)
def test_blocked_plugins_is_read_leniently(raw: object, blocked: tuple[str, ...]) -> None:
    """blocked_plugins reads the list before validation, and gives () for anything malformed."""
    assert blocked_plugins(raw, Path("hub.toml")) == blocked


def test_sections_check_themselves_when_built_in_code() -> None:
    """The config classes refuse bad values when constructed directly, too."""
    with pytest.raises(Expected, match="a number from 0 to 1"):
        SupervisionConfig(restart_jitter=2)
    with pytest.raises(Expected, match="one of: full, normal"):
        JournalConfig(synchronous="fast")  # type: ignore[arg-type]


# --- Secrets ----------------------------------------------------------------------------------------------


def test_secret_from_environment(tmp_path: Path) -> None:
    """A { env = "NAME" } secret is read from the environment given."""
    config = load(tmp_path, WIDGET_A + 'password = { env = "WIDGET_PW" }\n',
                  environ={"WIDGET_PW": "hunter2"})
    assert config.adapters[0].settings.password == Secret("hunter2")


def test_secret_from_file_beside_the_config(tmp_path: Path) -> None:
    """A { file = "PATH" } secret is read from a file relative to the config file."""
    (tmp_path / "widget.pw").write_text("hunter2\n")
    config = load(tmp_path, WIDGET_A + 'password = { file = "widget.pw" }\n')
    assert config.adapters[0].settings.password.reveal() == "hunter2"


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    """A missing environment variable is reported at the key, naming the variable."""
    error = problems(tmp_path, WIDGET_A + 'password = { env = "WIDGET_PW" }\n')
    problem = by_key(error)["adapters.a.password.env"]
    assert (problem.found, problem.expected) == ("no environment variable WIDGET_PW", "WIDGET_PW to be set")


def test_unreadable_secret_file_names_the_path(tmp_path: Path) -> None:
    """A missing secret file is reported at the key, naming the file."""
    error = problems(tmp_path, WIDGET_A + 'password = { file = "widget.pw" }\n')
    assert str(tmp_path / "widget.pw") in by_key(error)["adapters.a.password.file"].found


def test_secret_written_in_the_file_is_refused_unseen(tmp_path: Path) -> None:
    """A password typed into the config is refused, and not repeated in the error."""
    error = problems(tmp_path, WIDGET_A + 'password = "hunter2"\n')
    problem = by_key(error)["adapters.a.password"]
    assert problem.found == "a string (hidden)"
    assert problem.expected == SECRET_EXPECTED
    assert "hunter2" not in str(error)


def test_secret_looking_keys_are_hidden(tmp_path: Path) -> None:
    """A key named like a token or password never has its value shown, whatever its type."""
    error = problems(tmp_path, WIDGET_A + 'api_token = "hunter2"\n')
    assert by_key(error)["adapters.a.api_token"].found == "a string (hidden)"
    assert "hunter2" not in str(error)


def test_secret_is_hidden_in_the_config_repr(tmp_path: Path) -> None:
    """The loaded config prints secrets as ***."""
    config = load(tmp_path, WIDGET_A + 'password = { env = "WIDGET_PW" }\n',
                  environ={"WIDGET_PW": "hunter2"})
    assert "hunter2" not in repr(config)
    assert "Secret('***')" in repr(config)


def test_secret_is_blanked_where_it_was_misplaced(tmp_path: Path) -> None:
    """A secret's value is blanked out of every message, even one about another key that holds it."""
    error = problems(
        tmp_path,
        WIDGET_A + 'password = { env = "WIDGET_PW" }\nlabel = "hunter2"\n'
        '[hub]\nname = ["hunter2"]\nfoo_hunter2 = 1\n',
        environ={"WIDGET_PW": "hunter2"},
    )
    assert by_key(error)["adapters.a.label"].found == '"***" (a string)'
    assert "hunter2" not in str(error)
    assert all("hunter2" not in text for problem in error.problems for text in attrs.astuple(problem))


BROKEN_WITH_SECRET = """
[hub]
name = 7
shutdown_grace_s = "x"
[journal]
retention_days = -1
[adapters.a]
type = "widget"
port = "p"
password = { env = "WIDGET_PW" }
label = "LABEL"
host = 5
[adapters.b]
type = "gadget"
"""


@settings(max_examples=60, deadline=None)
@given(value=st.text(min_size=1, max_size=300).filter(lambda text: "*" not in text))
def test_secret_never_appears_in_errors_whatever_it_holds(tmp_path_factory: pytest.TempPathFactory,
                                                          value: str) -> None:
    """Whatever the variable holds (quotes, newlines, key names, text also in the file), it is unseen."""
    folder = tmp_path_factory.mktemp("secret", numbered=True)
    path = folder / "hub.toml"
    path.write_text(BROKEN_WITH_SECRET.replace("LABEL", value.replace("\\", "\\\\").replace('"', '\\"')
                                               if value.isprintable() else "plain"))
    baseline = problems_for(path, "unrelated-value")
    # Only text the message would hold anyway (e.g. a secret of "a") may still show, and then only by chance.
    assume(value not in baseline)
    with pytest.raises(ConfigError) as caught:
        load_config(path, TYPES, {"WIDGET_PW": value})
    assert value not in str(caught.value)
    assert value not in repr(caught.value)


def problems_for(path: Path, secret: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, TYPES, {"WIDGET_PW": secret})
    return str(caught.value)


# --- Web, incidents and partners ------------------------------------------------------------------------


def test_incident_rules_with_bad_patterns_or_join_keys_are_refused_before_the_hub_starts(tmp_path):
    """A rule's topic pattern and join keys are checked with the rest of the file, each named."""
    error = problems(
        tmp_path,
        '[[incidents.rules]]\nname = "radio"\ntopics = ["shopwatch..raised"]\njoin_on = ["street"]\n'
        '[[incidents.rules]]\nname = "empty"\ntopics = []\n',
    )
    found = by_key(error)
    assert "dotted words" in found["incidents.rules[0].topics"].expected
    assert found["incidents.rules[0].join_on"].expected == 'a list of "subject" and/or "location"'
    assert "at least one topic pattern" in found["incidents.rules[1].topics"].expected


def test_web_listen_tls_pair_and_partner_names_are_checked(tmp_path):
    """listen must be HOST:PORT, TLS files come in pairs, and partner names are like adapter names."""
    error = problems(
        tmp_path,
        '[web]\nlisten = "8080"\ntls_certificate = "hub.crt"\n'
        '[partners.Town-BID]\nkey = { env = "K" }\n',
        {"K": "partner-key-value"},
    )
    found = by_key(error)
    assert "HOST:PORT" in found["web.listen"].expected
    assert "together" in found["web.tls_private_key"].expected
    assert "lower-case" in found["partners.Town-BID"].expected
    assert "partner-key-value" not in str(error)
