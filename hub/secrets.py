"""Secrets (camera passwords, partner keys): a value that never shows itself, and where config finds it.

A config file never holds a secret, only where to find one: ``{ env = "NAME" }`` or ``{ file = "PATH" }``.
Whatever is printed, logged or raised shows ``Secret('***')``; only ``reveal()`` gives the value, and only
the code that hands it to a device or partner should call it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterable, Mapping

import attrs
from attrs import field, frozen

#: What a secret's config value must look like, used in every error about one.
SECRET_EXPECTED = '{ env = "NAME" } or { file = "PATH" }; secrets are not written in config files'

# A secret file is a password or a key, never large; the cap keeps a mistaken path such as /dev/zero
# from filling memory.
_MAX_FILE_BYTES = 64 * 1024


@frozen(repr=False)
class Secret:
    """A value that must never appear in logs, events or error messages.

    Two secrets are equal when their values are; the hash is of the value, which does not reveal it.
    ``attrs.asdict`` and cattrs' ``unstructure`` do see the value: never use them on config for output.
    """

    _value: str = field(validator=attrs.validators.instance_of(str))

    def reveal(self) -> str:
        """The secret itself, for the one place that needs it (a login, a signature)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class SecretUnavailable(ValueError):
    """A secret could not be taken from where the config points; nothing in it is the secret.

    ``key`` is the part of the config value at fault (``"env"`` or ``"file"``), or None for the whole
    value. ``found`` is None when the value itself should be described, hidden, by the caller.
    """

    def __init__(self, found: str | None, expected: str, key: str | None = None) -> None:
        super().__init__(f"found {found or '(hidden)'}, expected {expected}")
        self.found = found
        self.expected = expected
        self.key = key


def secret_from_config(value: object, environ: Mapping[str, str], base_dir: Path) -> Secret:
    """The secret a config value points to: an environment variable, or a file relative to ``base_dir``.

    Raises ``SecretUnavailable`` naming the variable or the file, never the value. A file's contents
    lose one trailing newline (editors add one); an empty secret is refused, since it is always a mistake.
    """
    if not isinstance(value, dict) or len(value) != 1 or not value.keys() <= {"env", "file"}:
        raise SecretUnavailable(None, SECRET_EXPECTED)
    (kind, where), = value.items()
    if kind == "env":
        if not isinstance(where, str) or not where or "=" in where or "\0" in where:
            raise SecretUnavailable(None, "the name of an environment variable", key="env")
        text = environ.get(where)
        if text is None:
            raise SecretUnavailable(f"no environment variable {where}", f"{where} to be set", key="env")
        if not text:
            raise SecretUnavailable(f"environment variable {where} is empty", f"{where} to hold the secret",
                                    key="env")
        return Secret(text)
    if not isinstance(where, str) or not where or "\0" in where:
        raise SecretUnavailable(None, "a file path, relative to the config file's folder", key="file")
    return Secret(_read_secret_file(base_dir / where))


def _read_secret_file(path: Path) -> str:
    expected = f"a readable file {path} holding the secret"
    try:
        # A FIFO or a device would block or never end; only a regular file can hold a secret.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise SecretUnavailable(f"{path}, which is not a regular file", expected, key="file")
        with open(path, "rb") as secret_file:
            data = secret_file.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        raise SecretUnavailable(f"no readable file {path} ({error.strerror})", expected, key="file") from None
    if len(data) > _MAX_FILE_BYTES:
        raise SecretUnavailable(f"{path}, which is larger than 64 KiB", expected, key="file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{path}, which is not UTF-8 text", expected, key="file") from None
    text = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not text:
        raise SecretUnavailable(f"{path}, which is empty", expected, key="file")
    return text


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """``text`` with every occurrence of any secret's value replaced by ``***``."""
    # Longest first, so that a secret containing another is hidden whole rather than half.
    for value in sorted({secret.reveal() for secret in secrets}, key=len, reverse=True):
        if value:
            text = text.replace(value, "***")
    return text


def collect_secrets(obj: Any) -> list[Secret]:
    """Every ``Secret`` inside an attrs instance, following nested attrs instances, sequences and mappings."""
    found: list[Secret] = []
    seen: set[int] = set()
    pending = [obj]
    while pending:
        item = pending.pop()
        # Frozen config cannot form cycles, but a plugin's class might; each object is walked once.
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Secret):
            found.append(item)
        elif attrs.has(type(item)):
            pending.extend(getattr(item, a.name) for a in reversed(attrs.fields(type(item))))
        elif isinstance(item, Mapping):
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(reversed(list(item)))
    return found
