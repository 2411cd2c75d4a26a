"""The ``hub`` command and plugin simulators: check-config validates [simulators.NAME] tables against the
installed simulator types, and the demo banner says which simulators run and which failed to start."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from attrs import field, frozen

from hub import cli
from hub.api import SimulatorType
from hub.config import between
from hub.hookspecs import hookimpl
from hub.plugins import make_plugin_manager


@frozen
class RadioSimConfig:
    link: Path
    every_s: float = field(default=30.0, validator=between(1, 3600))


class RadioSimPlugin:
    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [SimulatorType(name="radio_sim", config_class=RadioSimConfig, factory=lambda context: None)]


@pytest.fixture(autouse=True)
def only_the_test_plugin(monkeypatch):
    """The hub command sees the test's simulator plugin instead of the installed entry points."""
    real = make_plugin_manager
    monkeypatch.setattr(cli, "make_plugin_manager", lambda **kwargs: real(
        **kwargs, load_entry_points=False, extra_plugins=[(RadioSimPlugin(), "radio_sim_plugin")]))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\ndata_dir = "data"\n' + text)
    return path


def test_check_config_accepts_simulators_and_counts_them(tmp_path, capsys):
    """A valid simulator table passes check-config, which says how many simulators it found."""
    path = write(tmp_path, '[simulators.shop]\ntype = "radio_sim"\nlink = "shop-radio"\n'
                           '[simulators.pub]\ntype = "radio_sim"\nlink = "pub-radio"\nenabled = false\n')
    assert cli.main(["check-config", str(path)]) == cli.EXIT_OK
    assert capsys.readouterr().out == f"{path}: ok (0 adapter(s), 0 enabled; 2 simulator(s), 1 enabled)\n"


def test_check_config_refuses_a_bad_simulator_table_with_its_key_paths(tmp_path, capsys):
    """Every problem in a simulator table is listed with its key path; an unknown type lists the known ones."""
    path = write(tmp_path, '[simulators.shop]\ntype = "radio_sim"\nevery_s = 0\n'
                           '[simulators.pub]\ntype = "pubwatch"\n')
    assert cli.main(["check-config", str(path)]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: simulators.shop.link: found nothing (the key is missing), expected a path (a string)",
        f"{path}: simulators.shop.every_s: found 0 (an integer), expected a number from 1 to 3600",
        f'{path}: simulators.pub.type: found "pubwatch" (a string), expected an installed simulator type, '
        "one of: radio_sim",
    ]


def test_plugins_lists_simulator_types(capsys):
    """hub plugins names each plugin's simulator types after its adapter types."""
    assert cli.main(["plugins"]) == cli.EXIT_OK
    assert "radio_sim_plugin  unknown  adapter types: -  simulator types: radio_sim" in capsys.readouterr().out


def hub_with(failures: dict[str, str]) -> Any:
    return SimpleNamespace(web=None, simulator_failures=failures, skipped_adapters={}, skipped_simulators={})


def test_the_demo_banner_names_each_simulator_and_why_one_failed(tmp_path):
    """The banner lists the enabled simulators with their types, and says FAILED with the reason for one."""
    path = write(tmp_path, '[simulators.shop]\ntype = "radio_sim"\nlink = "a"\n'
                           '[simulators.pub]\ntype = "radio_sim"\nlink = "b"\n'
                           '[simulators.spare]\ntype = "radio_sim"\nlink = "c"\nenabled = false\n')
    config, _host = cli.load(path)
    banner = cli._demo_banner(path, config, hub_with({"pub": "OSError: no pseudo-terminals left"}), {
        "operator": "a", "supervisor": "b", "auditor": "c"})
    [line] = [line for line in banner.splitlines() if line.startswith("  simulators:")]
    assert line == ("  simulators:     shop (radio_sim), pub (radio_sim) FAILED to start: "
                    "OSError: no pseudo-terminals left")


def test_the_demo_banner_has_no_simulator_line_without_simulators(tmp_path):
    """A demo configuration without simulators shows no simulators line."""
    path = write(tmp_path, "")
    config, _host = cli.load(path)
    banner = cli._demo_banner(path, config, hub_with({}), {"operator": "a", "supervisor": "b", "auditor": "c"})
    assert "simulators:" not in banner
