"""The ``hub`` command and plugin schemas: two plugins claiming one schema name are refused by check-config
(and so by run and demo) before anything touches the database."""

from __future__ import annotations

from pathlib import Path

from hub import cli
from hub.api import PluginSchema
from hub.hookspecs import hookimpl
from hub.plugins import make_plugin_manager


class KeepsDoors:
    @hookimpl
    def hub_register_schemas(self) -> list[PluginSchema]:
        return [PluginSchema(name="doors", migrations=())]


def test_check_config_refuses_two_plugins_with_one_schema_name_naming_both(tmp_path, monkeypatch, capsys):
    """The error names the schema and both plugins; the exit code is bad input and no database is made."""
    real = make_plugin_manager
    monkeypatch.setattr(cli, "make_plugin_manager", lambda **kwargs: real(
        **kwargs, load_entry_points=False, extra_plugins=[(KeepsDoors(), "doors"), (KeepsDoors(), "more_doors")]))
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\ndata_dir = "data"\n')

    assert cli.main(["check-config", str(path)]) == cli.EXIT_BAD_INPUT

    error = capsys.readouterr().err
    assert "plugin schema 'doors'" in error and "'doors'" in error and "'more_doors'" in error
    assert not Path(tmp_path / "data").exists()


def test_check_config_accepts_plugins_with_distinct_schema_names(tmp_path, monkeypatch, capsys):
    """One schema per plugin is fine."""
    real = make_plugin_manager
    monkeypatch.setattr(cli, "make_plugin_manager", lambda **kwargs: real(
        **kwargs, load_entry_points=False, extra_plugins=[(KeepsDoors(), "doors")]))
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\ndata_dir = "data"\n')
    assert cli.main(["check-config", str(path)]) == cli.EXIT_OK
    assert capsys.readouterr().out.startswith(f"{path}: ok")
