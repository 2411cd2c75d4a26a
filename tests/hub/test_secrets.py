"""Secrets never show themselves, and come only from the environment or a file the config names."""

from __future__ import annotations

import pickle
from pathlib import Path

import attrs
import pytest

from hub.secrets import (
    SECRET_EXPECTED,
    Secret,
    SecretUnavailable,
    collect_secrets,
    redact,
    secret_from_config,
)


def test_repr_and_str_hide_the_value() -> None:
    """A secret prints as Secret('***'), however it is printed."""
    secret = Secret("hunter2")
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('***')"
    assert "hunter2" not in repr([secret, {"pw": secret}])


def test_reveal_gives_the_value() -> None:
    """reveal() is the one way to the value."""
    assert Secret("hunter2").reveal() == "hunter2"


def test_equality_compares_values() -> None:
    """Secrets with the same value are equal and hash alike; different values are not equal."""
    assert Secret("a") == Secret("a")
    assert hash(Secret("a")) == hash(Secret("a"))
    assert Secret("a") != Secret("b")


def test_is_immutable() -> None:
    """A secret cannot be changed after it is made."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Secret("a")._value = "b"  # type: ignore[misc]


def test_must_hold_a_string() -> None:
    """A secret holds text, nothing else."""
    with pytest.raises(TypeError):
        Secret(1234)  # type: ignore[arg-type]


def test_from_environment_variable(tmp_path: Path) -> None:
    """{ env = "NAME" } takes the secret from that environment variable."""
    secret = secret_from_config({"env": "CAM_PW"}, {"CAM_PW": "s3cret"}, tmp_path)
    assert secret == Secret("s3cret")


def test_from_file_relative_to_the_config_folder(tmp_path: Path) -> None:
    """{ file = "PATH" } reads a file relative to the config's folder and drops one trailing newline."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "cam.pw").write_text("s3cret\n\n")
    secret = secret_from_config({"file": "secrets/cam.pw"}, {}, tmp_path)
    assert secret.reveal() == "s3cret\n"


def test_file_with_windows_line_ending(tmp_path: Path) -> None:
    """A file saved with a CRLF line ending loses the CRLF."""
    (tmp_path / "pw").write_bytes(b"s3cret\r\n")
    assert secret_from_config({"file": "pw"}, {}, tmp_path).reveal() == "s3cret"


def test_from_absolute_file(tmp_path: Path) -> None:
    """An absolute file path is used as it is."""
    (tmp_path / "pw").write_text("s3cret")
    assert secret_from_config({"file": str(tmp_path / "pw")}, {}, Path("/nowhere")).reveal() == "s3cret"


def test_missing_environment_variable_names_it(tmp_path: Path) -> None:
    """A missing variable is refused with its name."""
    with pytest.raises(SecretUnavailable) as caught:
        secret_from_config({"env": "CAM_PW"}, {"OTHER": "x"}, tmp_path)
    assert caught.value.key == "env"
    assert "CAM_PW" in caught.value.found


def test_empty_environment_variable_is_refused(tmp_path: Path) -> None:
    """An empty variable is refused: an empty password is always a mistake."""
    with pytest.raises(SecretUnavailable, match="CAM_PW is empty"):
        secret_from_config({"env": "CAM_PW"}, {"CAM_PW": ""}, tmp_path)


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    """A missing file is refused with its full path."""
    with pytest.raises(SecretUnavailable) as caught:
        secret_from_config({"file": "nope.pw"}, {}, tmp_path)
    assert str(tmp_path / "nope.pw") in caught.value.found
    assert caught.value.key == "file"


def test_folder_is_not_a_secret_file(tmp_path: Path) -> None:
    """Only a regular file can hold a secret."""
    with pytest.raises(SecretUnavailable, match="not a regular file"):
        secret_from_config({"file": "."}, {}, tmp_path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    """A file holding only a newline holds no secret."""
    (tmp_path / "pw").write_text("\n")
    with pytest.raises(SecretUnavailable, match="empty"):
        secret_from_config({"file": "pw"}, {}, tmp_path)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """A secret file must be UTF-8 text."""
    (tmp_path / "pw").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SecretUnavailable, match="not UTF-8"):
        secret_from_config({"file": "pw"}, {}, tmp_path)


@pytest.mark.parametrize(
    "value",
    ["hunter2", {"env": "A", "file": "b"}, {"value": "hunter2"}, {}, ["env", "A"], 1234],
)
def test_anything_but_one_env_or_file_is_refused(value: object, tmp_path: Path) -> None:
    """A plain string, or any table but { env } or { file }, is refused, and the refusal holds no value."""
    with pytest.raises(SecretUnavailable) as caught:
        secret_from_config(value, {"A": "x"}, tmp_path)
    assert caught.value.expected == SECRET_EXPECTED
    assert caught.value.found is None
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("name", ["", 5, "A=B", "A\0B"])
def test_environment_variable_name_must_be_a_name(name: object, tmp_path: Path) -> None:
    """The env key must hold a usable variable name."""
    with pytest.raises(SecretUnavailable, match="the name of an environment variable"):
        secret_from_config({"env": name}, {}, tmp_path)


def test_redact_replaces_every_occurrence() -> None:
    """Every occurrence of every secret's value becomes ***."""
    text = "login hunter2 failed; hunter2 and pa55 refused"
    assert redact(text, [Secret("hunter2"), Secret("pa55")]) == "login *** failed; *** and *** refused"


def test_redact_hides_the_longer_secret_whole() -> None:
    """When one secret contains another, the longer one is hidden whole."""
    assert redact("key abc123", [Secret("abc"), Secret("abc123")]) == "key ***"


def test_redact_ignores_empty_values() -> None:
    """An empty secret leaves the text alone."""
    assert redact("text", [Secret("")]) == "text"


@attrs.frozen
class _Inner:
    token: Secret


@attrs.frozen
class _Outer:
    password: Secret
    inner: _Inner
    keys: tuple[Secret, ...]
    by_name: dict[str, Secret]
    plain: str = "not secret"


def test_collect_secrets_walks_nested_values() -> None:
    """collect_secrets finds secrets in nested attrs instances, tuples and mappings, in order."""
    outer = _Outer(
        password=Secret("a"),
        inner=_Inner(token=Secret("b")),
        keys=(Secret("c"), Secret("d")),
        by_name={"x": Secret("e")},
    )
    assert [secret.reveal() for secret in collect_secrets(outer)] == ["a", "b", "c", "d", "e"]


def test_collect_secrets_of_plain_values_is_empty() -> None:
    """Values without secrets give an empty list."""
    assert collect_secrets(_Inner(token="no")) == []  # type: ignore[arg-type]
    assert collect_secrets(42) == []


def test_survives_pickling_without_showing_the_value() -> None:
    """A pickled secret comes back equal, and still prints as ***."""
    copy = pickle.loads(pickle.dumps(Secret("hunter2")))
    assert copy == Secret("hunter2")
    assert repr(copy) == "Secret('***')"
