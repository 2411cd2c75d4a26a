"""Reading raw TOML values into typed attrs instances, collecting every problem rather than stopping at one.

It also holds the checks config classes use to say what they expected (``Expected``, ``between``, ``one_of``),
which ``hub.config`` re-exports; nothing but ``hub.config`` should need to import from here.
"""

from __future__ import annotations

import collections.abc
import difflib
import enum
import json
import math
import re
import types
import typing
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, NoReturn

import attrs
import cattrs
from attrs import define

from hub.secrets import SECRET_EXPECTED, Secret, SecretUnavailable, secret_from_config

# --- Checks that config classes (the hub's and plugins') use --------------------------------------


class Expected(ValueError):
    """Raised by a config class's validator; the message says what was expected, for a person.

    ``raise Expected("a TCP port from 1 to 65535")`` reads in the error as
    ``found 0 (an integer), expected a TCP port from 1 to 65535``.
    """


def between(low: float, high: float, *, above: bool = False) -> Any:
    """A validator: a number from ``low`` to ``high``, or above ``low`` (not equal) when ``above``."""
    text = f"a number above {low:g} and at most {high:g}" if above else f"a number from {low:g} to {high:g}"

    def check(_instance: object, _attribute: object, value: object) -> None:
        # Written so that NaN, which fails every comparison, is refused too.
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            (low < value <= high) if above else (low <= value <= high)
        )
        if not ok:
            raise Expected(text)

    return check


def _literal_text(choice: object) -> str:
    if isinstance(choice, bool):
        return "true" if choice else "false"
    return str(choice)


def one_of(*choices: object) -> Any:
    """A validator: one of ``choices`` (the TOML reading of a ``Literal`` checks this too)."""
    text = "one of: " + ", ".join(_literal_text(choice) for choice in choices)

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not any(value == choice and type(value) is type(choice) for choice in choices):
            raise Expected(text)

    return check


# --- How values are read ----------------------------------------------------------------------------------


@define
class _Issue:
    """A problem found while reading, located relative to the value being read."""

    path: tuple[str | int, ...]
    value: object
    expected: str
    found: str | None = None  # said outright instead of describing ``value``
    hidden: bool = False
    public: bool = False  # ``value`` is where a secret lives (a variable name, a path), never one

    def under(self, *prefix: str | int, hidden: bool = False) -> "_Issue":
        return attrs.evolve(self, path=prefix + self.path, hidden=self.hidden or hidden)

    def render(self) -> tuple[str, str, str]:
        hidden = self.hidden and not self.public
        found = self.found if self.found is not None else _describe(self.value, hidden=hidden)
        expected = _scrub(self.expected, self.value) if hidden else self.expected
        return _key_path(self.path), found, expected


class _Invalid(Exception):
    def __init__(self, issues: Iterable[_Issue]) -> None:
        super().__init__()
        self.issues = list(issues)


def _fail(value: object, expected: str, **kwargs: Any) -> NoReturn:
    raise _Invalid([_Issue((), value, expected, **kwargs)])


_MISSING_FOUND = "nothing (the key is missing)"
_MAX_STRING = 10_000
_INT64 = (-(2**63), 2**63 - 1)
_SENSITIVE = re.compile(r"pass|secret|key|token|credential|private", re.IGNORECASE)


class _Reader:
    """Reads raw TOML values into typed ones, collecting every problem instead of stopping at the first.

    cattrs dispatches on the type; the hooks are strict (no "5" for 5, no 3.7 for 3) and raise
    ``_Invalid`` with located problems. Attrs classes are read here rather than by cattrs' generated code
    so that each field's validators run separately and every failing field is named.
    """

    def __init__(self, environ: Mapping[str, str], base_dir: Path, *, read_secrets: bool = True) -> None:
        self._environ = environ
        self._read_secrets = read_secrets
        self._base_dir = base_dir
        self._hints: dict[type, dict[str, Any]] = {}
        self.secrets: list[Secret] = []
        converter = cattrs.Converter()
        converter.register_structure_hook_func(lambda t: t is Any or t is object, lambda v, _t: v)
        for simple_type, hook in [
            (str, self._str), (int, self._int), (float, self._float), (bool, self._bool),
            (Path, self._path), (Secret, self._secret),
            (datetime, _exact(datetime, "a date-time")), (date, _exact(date, "a date")),
            (time, _exact(time, "a time")),
        ]:
            converter.register_structure_hook(simple_type, hook)
        converter.register_structure_hook_func(_is_literal, self._literal)
        converter.register_structure_hook_func(_is_enum, self._enum)
        converter.register_structure_hook_func(_is_union, self._union)
        converter.register_structure_hook_func(_is_sequence, self._sequence)
        converter.register_structure_hook_func(_is_mapping, self._mapping)
        converter.register_structure_hook_func(lambda t: attrs.has(t) and t is not Secret, self.table)
        self._converter = converter

    def read(self, value: object, type_: Any) -> Any:
        try:
            return self._converter.structure(value, type_)
        except _Invalid:
            raise
        except Exception as error:  # noqa: BLE001 - a plugin's odd type or check is a problem, not a crash
            _fail(value, _expected_from(error))

    def table(self, raw: object, cls: type, *, also_allowed: tuple[str, ...] = ()) -> Any:
        """An instance of attrs class ``cls`` from a TOML table, or ``_Invalid`` naming every bad key."""
        if not isinstance(raw, dict):
            _fail(raw, "a table")
        fields = [a for a in attrs.fields(cls) if a.init]
        hints = self._type_hints(cls)
        by_key = {a.alias: a for a in fields}
        issues = [_unknown_key(key, (*by_key, *also_allowed)) for key in raw if key not in by_key]
        kwargs: dict[str, Any] = {}
        known: dict[str, Any] = {}  # every field's value as far as it is known, for the validators
        failed: set[str] = set()
        for a in fields:
            type_ = hints.get(a.name, a.type)
            hidden = _is_sensitive(a.alias, type_)
            if a.alias in raw:
                try:
                    kwargs[a.alias] = known[a.name] = self.read(raw[a.alias], type_)
                except _Invalid as invalid:
                    issues.extend(issue.under(a.alias, hidden=hidden) for issue in invalid.issues)
                    failed.add(a.name)
            elif a.default is attrs.NOTHING:
                issues.append(_Issue((a.alias,), None, _describe_type(type_), found=_MISSING_FOUND))
                failed.add(a.name)
            elif type_ is Path and isinstance(a.default, Path) and not a.default.is_absolute():
                kwargs[a.alias] = known[a.name] = self._base_dir / a.default
            elif isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                if not a.default.takes_self:
                    known[a.name] = a.default.factory()
            else:
                known[a.name] = a.default
        issues.extend(self._check_fields(fields, known, failed, raw, hints))
        if issues:
            raise _Invalid(issues)
        try:
            return cls(**kwargs)
        except Exception as error:  # noqa: BLE001 - a check that needs the whole instance
            _fail(raw, _expected_from(error), found=f"a table that does not fit together ({_kinds(raw)})",
                  hidden=any(_is_sensitive(key, Any) for key in raw))

    def _check_fields(self, fields: list[attrs.Attribute], known: dict[str, Any], failed: set[str],
                      raw: dict[str, Any], hints: dict[str, Any]) -> list[_Issue]:
        # Each validator is run on its own, against the values known so far, so that every failing field
        # is reported rather than only the first one the class's __init__ meets.
        stand_in = types.SimpleNamespace(**known)
        issues = []
        for a in fields:
            if a.validator is None or a.converter is not None or a.name in failed or a.name not in known:
                continue
            try:
                a.validator(stand_in, a, known[a.name])
            except AttributeError:
                continue  # it needs a field that is already reported, or the real instance
            except Exception as error:  # noqa: BLE001
                hidden = _is_sensitive(a.alias, hints.get(a.name, a.type))
                if a.alias in raw:
                    issues.append(_Issue((a.alias,), raw[a.alias], _expected_from(error), hidden=hidden))
                else:
                    found = f"{_describe(a.default, hidden=hidden)}, the default"
                    issues.append(_Issue((a.alias,), None, _expected_from(error), found=found))
        return issues

    def _type_hints(self, cls: type) -> dict[str, Any]:
        if cls not in self._hints:
            try:
                self._hints[cls] = typing.get_type_hints(cls)
            except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to what attrs recorded
                self._hints[cls] = {}
        return self._hints[cls]

    # Leaf hooks: each takes the raw value and the wanted type, and returns the typed value.

    def _str(self, value: object, _type: Any) -> str:
        if not isinstance(value, str):
            _fail(value, "a string")
        if len(value) > _MAX_STRING:
            _fail(value, f"a string of at most {_MAX_STRING} characters")
        return value

    def _int(self, value: object, _type: Any) -> int:
        if type(value) is not int:
            _fail(value, "a whole number")
        if not _INT64[0] <= value <= _INT64[1]:
            _fail(value, "a whole number that fits in 64 bits")
        return value

    def _float(self, value: object, _type: Any) -> float:
        if type(value) not in (int, float):
            _fail(value, "a number")
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            _fail(value, "a finite number")
        return number

    def _bool(self, value: object, _type: Any) -> bool:
        if type(value) is not bool:
            _fail(value, "true or false")
        return value

    def _path(self, value: object, _type: Any) -> Path:
        if not isinstance(value, str) or not value or "\0" in value or len(value) > 4096:
            _fail(value, "a path (a string), relative to the config file's folder or absolute")
        return self._base_dir / value

    def _secret(self, value: object, _type: Any) -> Secret:
        try:
            secret = secret_from_config(value, self._environ, self._base_dir)
        except SecretUnavailable as error:
            if not self._read_secrets and error.key is not None:
                # A well-formed reference whose value is not here (a command that needs no secret,
                # run by someone without the service's environment): an empty stand-in, never used.
                return Secret("")
            if error.key is None:
                _fail(value, error.expected, found=error.found, hidden=True)
            raise _Invalid([_Issue((error.key,), value[error.key], error.expected,  # type: ignore[index]
                                   found=error.found, public=True)]) from None
        self.secrets.append(secret)
        return secret

    def _literal(self, value: object, type_: Any) -> Any:
        choices = typing.get_args(type_)
        for choice in choices:
            if value == choice and type(value) is type(choice):
                return choice
        _fail(value, _describe_type(type_))

    def _enum(self, value: object, type_: type[enum.Enum]) -> enum.Enum:
        for member in type_:
            if value == member.value and type(value) is type(member.value):
                return member
        _fail(value, _describe_type(type_))

    def _union(self, value: object, type_: Any) -> Any:
        # TOML has no null: an Optional key is one left out, so None is never a choice here.
        choices = [arg for arg in typing.get_args(type_) if arg is not type(None)]
        if len(choices) == 1:
            return self.read(value, choices[0])
        for choice in choices:
            try:
                return self.read(value, choice)
            except _Invalid:
                continue
        _fail(value, _describe_type(type_))

    def _sequence(self, value: object, type_: Any) -> Any:
        if not isinstance(value, list):
            _fail(value, "an array")
        args = typing.get_args(type_)
        if typing.get_origin(type_) is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                _fail(value, f"an array of {len(args)} items")
            item_types = list(args)
        else:
            item_types = [args[0] if args else Any] * len(value)
        items, issues = [], []
        for index, (item, item_type) in enumerate(zip(value, item_types)):
            try:
                items.append(self.read(item, item_type))
            except _Invalid as invalid:
                issues.extend(issue.under(index) for issue in invalid.issues)
        if issues:
            raise _Invalid(issues)
        origin = typing.get_origin(type_) or type_
        if origin is list:
            return items
        if origin in (frozenset, collections.abc.Set):
            return frozenset(items)
        return tuple(items)

    def _mapping(self, value: object, type_: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            _fail(value, "a table")
        args = typing.get_args(type_)
        value_type = args[1] if len(args) == 2 else Any
        result, issues = {}, []
        for key, item in value.items():
            try:
                result[key] = self.read(item, value_type)
            except _Invalid as invalid:
                hidden = _is_sensitive(key, value_type)
                issues.extend(issue.under(key, hidden=hidden) for issue in invalid.issues)
        if issues:
            raise _Invalid(issues)
        return result


def _exact(cls: type, expected: str) -> Any:
    def hook(value: object, _type: Any) -> Any:
        if type(value) is not cls:
            _fail(value, expected)
        return value

    return hook


def _is_literal(type_: Any) -> bool:
    return typing.get_origin(type_) is Literal


def _is_enum(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, enum.Enum)


def _is_union(type_: Any) -> bool:
    return typing.get_origin(type_) in (typing.Union, types.UnionType)


def _is_sequence(type_: Any) -> bool:
    return type_ in (tuple, list) or typing.get_origin(type_) in (
        tuple, list, collections.abc.Sequence, collections.abc.Set, frozenset)


def _is_mapping(type_: Any) -> bool:
    return type_ is dict or typing.get_origin(type_) in (dict, collections.abc.Mapping)


def _is_sensitive(key: object, type_: Any) -> bool:
    return (isinstance(key, str) and bool(_SENSITIVE.search(key))) or _mentions_secret(type_)


def _mentions_secret(type_: Any) -> bool:
    if type_ is Secret:
        return True
    if typing.get_origin(type_) is Literal:
        return False
    return any(_mentions_secret(arg) for arg in typing.get_args(type_))


# --- Describing values, types and places for people ---------------------------------------------------------


def _describe_type(type_: Any) -> str:
    """What a value of ``type_`` looks like in TOML, said for a person."""
    simple = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
              Path: "a path (a string)", Secret: SECRET_EXPECTED, datetime: "a date-time", date: "a date",
              time: "a time"}
    if type_ in simple:
        return simple[type_]
    if type_ is Any or type_ is object:
        return "any value"
    if _is_literal(type_):
        return "one of: " + ", ".join(_literal_text(choice) for choice in typing.get_args(type_))
    if _is_enum(type_):
        return "one of: " + ", ".join(_literal_text(member.value) for member in type_)
    if _is_union(type_):
        return " or ".join(_describe_type(a) for a in typing.get_args(type_) if a is not type(None))
    if _is_sequence(type_):
        return "an array"
    if _is_mapping(type_) or attrs.has(type_):
        return "a table"
    return f"a {getattr(type_, '__name__', type_)}"


def _toml_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    for cls, kind in [(str, "a string"), (int, "an integer"), (float, "a float"), (dict, "a table"),
                      (list, "an array"), (datetime, "a date-time"), (date, "a date"), (time, "a time")]:
        if isinstance(value, cls):
            return kind
    return f"a {type(value).__name__}"


def _describe(value: object, *, hidden: bool = False) -> str:
    """A short description of a raw value and its TOML type; never the value itself when ``hidden``."""
    kind = _toml_kind(value)
    if hidden:
        return f"{kind} (hidden)"
    if isinstance(value, dict):
        return f"a table with keys: {_brief(', '.join(map(str, value)))}" if value else "an empty table"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        if value.bit_length() > 128:
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        if len(value) > 60:
            return f"{_brief(text)} (a string of {len(value)} characters)"
    elif isinstance(value, (datetime, date, time)):
        text = value.isoformat()
    else:
        text = repr(value)
    return f"{_brief(text)} ({kind})"


def _kinds(raw: dict[str, Any]) -> str:
    return "keys: " + _brief(", ".join(map(str, raw))) if raw else "no keys"


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key_path(path: tuple[str | int, ...]) -> str:
    """A dotted TOML key path (``adapters.town_centre.port``); array items as ``[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        part = str(part)
        key = part if _BARE_KEY.match(part) else json.dumps(part, ensure_ascii=False)
        text += ("." if text else "") + _brief(key)
    return text


def _unknown_key(key: str, allowed: Iterable[str]) -> _Issue:
    allowed = sorted(allowed)
    expected = "one of: " + ", ".join(allowed) if allowed else "no keys here"
    close = difflib.get_close_matches(key[:100], allowed, n=1)
    if close:
        expected += f" (did you mean {close[0]}?)"
    # Never described: a mistyped key may well hold a password.
    return _Issue((key,), None, expected, found="an unknown key")


def _expected_from(error: BaseException) -> str:
    """What a failed check expected, from its exception; attrs' own validators get a plainer wording."""
    if isinstance(error, Expected):
        return str(error)
    message = str(error.args[0]) if error.args else ""
    match = re.fullmatch(r"'[^']*' must be (.+?)(?:: .*| \(got .*)?", message, re.DOTALL)
    if match:
        return _brief(f"a value {match.group(1)}", 120)
    if message:
        return _brief(f"a valid value ({message})", 160)
    return f"a valid value (the check raised {type(error).__name__})"


def _scrub(text: str, value: object) -> str:
    """``text`` without ``value`` in it, as written or as repr shows it, for fields that are hidden."""
    if isinstance(value, str) and value:
        text = text.replace(value, "***").replace(repr(value)[1:-1], "***")
    elif isinstance(value, dict):
        for item in value.values():
            text = _scrub(text, item)
    return text
