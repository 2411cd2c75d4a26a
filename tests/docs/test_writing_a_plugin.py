"""docs/writing-a-plugin.md is executable: its example plugin is built from the page and its tests pass.

Every fenced block preceded by ``<!-- file: PATH -->`` is a piece of PATH in the example project; pieces
of one file are joined in the order they appear. The project is written to a temporary folder, and
its own tests run there in a fresh interpreter, with the hub's author kit as installed.
"""

from __future__ import annotations

import configparser
import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from hub.config import ConfigError, validate
from hub.plugins import make_plugin_manager

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"

# A fence is three or more backticks; it closes with the same run. The comment before it names the file.
_BLOCK = re.compile(
    r"^(?:<!-- file: (?P<file>\S+) -->\n)?"
    r"(?P<fence>`{3,})(?P<lang>[\w-]*)\n(?P<body>.*?)\n(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)

PLUGIN_SHAPE = [
    "setup.cfg",
    "panic_panel/__init__.py",
    "panic_panel/config.py",
    "panic_panel/events.py",
    "panic_panel/codec.py",
    "panic_panel/adapter.py",
    "panic_panel/simulator.py",
    "panic_panel/plugin.py",
    "panic_panel/README.md",
    "tests/test_panic_panel.py",
]


def blocks(text: str) -> list[tuple[str | None, str, str]]:
    """Every fenced block as ``(file or None, language, body)``, in page order."""
    return [(m["file"], m["lang"], m["body"]) for m in _BLOCK.finditer(text)]


def files(text: str) -> dict[str, str]:
    """The example project: each named file, its pieces joined in page order."""
    joined: dict[str, list[str]] = {}
    for name, _lang, body in blocks(text):
        if name is not None:
            joined.setdefault(name, []).append(body)
    return {name: "\n\n".join(pieces) + "\n" for name, pieces in joined.items()}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def project(doc, tmp_path_factory) -> Path:
    """The example project, written out from the page."""
    root = tmp_path_factory.mktemp("hub-panic-panel")
    for name, content in files(doc).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def panic_panel(project, monkeypatch):
    """The example package imported from the written-out project, forgotten again afterwards."""
    monkeypatch.syspath_prepend(str(project))
    yield importlib.import_module("panic_panel.plugin")
    for name in [name for name in sys.modules if name == "panic_panel" or name.startswith("panic_panel.")]:
        del sys.modules[name]


def host_for(plugin_module):
    """A plugin host with the page's plugin (a fresh instance of it) and the core plugin."""
    return make_plugin_manager(
        load_entry_points=False, extra_plugins=[(plugin_module.PanicPanelPlugin(), "panic_panel")]
    )


def test_the_page_builds_a_plugin_of_the_standard_shape(doc):
    """Every file a plugin folder must have is on the page."""
    assert sorted(set(PLUGIN_SHAPE) - set(files(doc))) == []


def test_every_python_block_compiles(doc):
    """Each Python file on the page, and each free-standing Python example, is valid Python."""
    for name, content in files(doc).items():
        if name.endswith(".py"):
            compile(content, name, "exec")
    for name, lang, body in blocks(doc):
        if name is None and lang == "python":
            compile(textwrap.dedent(body), "<example>", "exec")


def test_the_examples_own_tests_pass(project):
    """The page's tests/test_panic_panel.py passes against the page's plugin, with the author kit."""
    paths = [str(project), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= 20, result.stdout


def test_the_entry_point_names_the_plugin_object(project, panic_panel):
    """setup.cfg's hub.plugins entry point loads the page's plugin object."""
    parser = configparser.ConfigParser()
    parser.read(project / "setup.cfg")
    [line] = [line for line in parser["options.entry_points"]["hub.plugins"].splitlines() if line.strip()]
    name, value = (part.strip() for part in line.split("="))
    entry_point = importlib.metadata.EntryPoint(name=name, value=value, group="hub.plugins")
    assert name == "panic_panel"
    assert entry_point.load() is panic_panel.plugin


def test_the_plugin_registers_with_the_hub_without_failures(panic_panel):
    """The page's plugin passes the hub's checks: known hooks only, well-formed answers."""
    host = host_for(panic_panel)
    assert list(host.adapter_types()) == ["panic_panel"]
    event_types = {payload_class.TYPE for payload_class in host.event_types()}
    assert {"panic_panel.alarm.raised", "panic_panel.alarm.cleared"} <= event_types
    assert host.failures == []


def test_the_configuration_example_is_valid(project, panic_panel):
    """The page's TOML validates against the page's config class, its PIN read from the environment."""
    host = host_for(panic_panel)
    raw = tomllib.loads((project / "hub.toml").read_text())
    config = validate(raw, project / "hub.toml", host.adapter_types(), {"TOWN_HALL_PANEL_PIN": "4321"})
    town_hall, depot = config.adapters
    assert town_hall.source == "panic_panel.town_hall"
    assert town_hall.settings.pin.reveal() == "4321"
    assert town_hall.settings.zone_name(3) == "Reception door"
    assert town_hall.supervision.silence_timeout_s == 95
    assert (depot.enabled, depot.settings.port) == (False, 10001)


def test_the_check_config_example_shows_what_the_hub_says(doc, project, panic_panel):
    """The problems the page shows for a bad port and an unset PIN are the hub's own words."""
    host = host_for(panic_panel)
    raw = tomllib.loads((project / "hub.toml").read_text())
    raw["adapters"]["town_hall"]["port"] = 100001
    with pytest.raises(ConfigError) as raised:
        validate(raw, "hub.toml", host.adapter_types(), {})
    [shown] = [body for _name, lang, body in blocks(doc) if lang == "text" and "hub.toml:" in body]
    assert shown.splitlines() == str(raised.value).splitlines()
