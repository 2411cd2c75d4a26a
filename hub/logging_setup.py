"""The hub's logging: structlog for everything, Twisted's and the standard library's logs routed into it.

Log lines are JSON when the stream is not a terminal (production, journald, files) and readable console
text when it is; every line carries the bound context (``adapter=``, ``camera=``, ``incident=``) and
passes through a redaction step last, so that secrets never reach the stream.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable, TextIO

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger
from twisted.logger import (
    ILogObserver,
    LogBeginner,
    LogEvent,
    LogLevel,
    LogPublisher,
    formatEvent,
    globalLogBeginner,
    globalLogPublisher,
)
from zope.interface import provider

__all__ = [
    "FORMATS",
    "LEVELS",
    "configure_logging",
    "get_logger",
    "reset_logging",
    "route_twisted_logs",
    "twisted_observer",
]

#: The level names ``configure_logging`` accepts, lowest first.
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")

#: The output formats ``configure_logging`` accepts.
FORMATS: tuple[str, ...] = ("auto", "json", "console")

_TWISTED_LEVELS = {
    LogLevel.debug: "debug",
    LogLevel.info: "info",
    LogLevel.warn: "warning",
    LogLevel.error: "error",
    LogLevel.critical: "critical",
}

# The root logger's level before the hub changed it, so that reset_logging can put it back.
_root_level_before: int | None = None


def configure_logging(
    *,
    level: str = "info",
    format: str = "auto",
    stream: TextIO = sys.stderr,
    redact: Callable[[str], str] | None = None,
) -> None:
    """Send structlog and the standard library's ``logging`` to ``stream`` at ``level`` and above.

    ``format`` is ``"json"``, ``"console"`` or ``"auto"`` (JSON unless ``stream`` is a terminal).
    ``redact``, if given, is applied to every string in every log line just before it is rendered.
    Calling it again replaces the previous configuration; lines are never written twice.
    """
    level_name = _check_choice("level", level, LEVELS)
    format_name = _check_choice("format", format, FORMATS)
    on_terminal = _isatty(stream)

    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        # The one sanctioned read of the wall clock: log lines are for people and log collectors, which
        # want real time. Event times always come from the injected reactor clock instead.
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # Tracebacks become plain text here, before redaction, so that a secret in an exception message
        # is caught too and no renderer ever prints frame locals (which may hold passwords).
        structlog.processors.format_exc_info,
    ]
    if redact is not None:
        processors.append(_Redactor(redact))
    if format_name == "json" or (format_name == "auto" and not on_terminal):
        processors.append(structlog.processors.JSONRenderer())
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=on_terminal))

    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level_name),
        logger_factory=structlog.PrintLoggerFactory(stream),
        # Loggers look the configuration up on every call, so reconfiguring (tests, a level change at
        # start-up) reaches loggers that were made before it.
        cache_logger_on_first_use=False,
    )
    _route_stdlib_logging(logging.getLevelName(level_name.upper()))


def reset_logging() -> None:
    """Undo ``configure_logging``: structlog's defaults, and the standard library's root logger as it was.

    Twisted routing is undone separately, by the function ``route_twisted_logs`` returned.
    """
    global _root_level_before
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ForwardToStructlog)]:
        root.removeHandler(handler)
    if _root_level_before is not None:
        root.setLevel(_root_level_before)
        _root_level_before = None


def get_logger(**context: Any) -> FilteringBoundLogger:
    """A hub logger with ``context`` bound to every line it writes, e.g. ``get_logger(adapter=name)``.

    The logger follows the configuration current when it logs, not when it was made, so a module may
    create its logger at import time.
    """
    # structlog's lazy proxy with initial values is bind(**context) deferred to each call, which is what
    # keeps import-time loggers on the configuration set up later by configure_logging.
    return structlog.get_logger("hub", **context)


@provider(ILogObserver)
def twisted_observer(event: LogEvent) -> None:
    """Write one Twisted log event as a structlog line bound with ``system="twisted"``.

    A failure attached to the event (``log_failure``: unhandled errors in Deferreds, ``Logger.failure``)
    comes out with its traceback under ``exception``.
    """
    method = _TWISTED_LEVELS.get(event.get("log_level"), "info")
    fields: dict[str, Any] = {"system": "twisted"}
    namespace = event.get("log_namespace")
    if namespace:
        fields["namespace"] = namespace
    message = formatEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        fields["exception"] = failure.getTraceback()
        if not message:
            # Deferred's "unhandled error" failure event has an empty format; say what failed instead.
            message = f"{failure.type.__name__}: {failure.getErrorMessage()}"
    getattr(structlog.get_logger("twisted"), method)(message, **fields)


def route_twisted_logs(
    *, beginner: LogBeginner | None = None, publisher: LogPublisher | None = None
) -> Callable[[], None]:
    """Send Twisted's log (``twisted.logger`` and ``twisted.python.log``) through structlog.

    Begins Twisted's logging if nothing has yet (so that events buffered since start-up are replayed and
    Twisted stops printing critical errors to stderr on its own); if something has (trial, an embedding
    application), only adds the observer. Routing twice never doubles lines. Returns a function that
    removes the observer. ``beginner`` and ``publisher`` default to Twisted's global ones; tests pass a
    private pair.
    """
    beginner = globalLogBeginner if beginner is None else beginner
    publisher = globalLogPublisher if publisher is None else publisher
    # Removing first keeps at most one copy on the publisher however often this is called.
    publisher.removeObserver(twisted_observer)
    if _has_begun(beginner):
        publisher.addObserver(twisted_observer)
    else:
        beginner.beginLoggingTo([twisted_observer], discardBuffer=False, redirectStandardIO=False)

    def stop_routing() -> None:
        publisher.removeObserver(twisted_observer)

    return stop_routing


def _has_begun(beginner: LogBeginner) -> bool:
    # Twisted offers no public way to ask, and beginning twice is not harmless: it logs a "selected twice"
    # warning, and under trial it would take over from trial's own observers. The beginner drops its
    # temporary observer exactly when it begins; if that attribute ever disappears, assume it has begun
    # (adding the observer still routes everything, at worst alongside Twisted's stderr fallback).
    return getattr(beginner, "_temporaryObserver", None) is None


class _ForwardToStructlog(logging.Handler):
    """Hands standard-library log records (pyserial and other libraries) to structlog."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info and record.exc_info[0] is not None:
                fields["exc_info"] = record.exc_info
            if record.stack_info:
                fields["stack"] = record.stack_info
            structlog.get_logger(record.name).log(
                _standard_level(record.levelno), record.getMessage(), **fields
            )
        except Exception:  # noqa: BLE001 - logging must never raise into the caller; stdlib reports it
            self.handleError(record)


def _route_stdlib_logging(level: int) -> None:
    global _root_level_before
    root = logging.getLogger()
    # One forwarding handler at most, so a second configure_logging never doubles library lines.
    for handler in [h for h in root.handlers if isinstance(h, _ForwardToStructlog)]:
        root.removeHandler(handler)
    if _root_level_before is None:
        _root_level_before = root.level
    root.setLevel(level)
    root.addHandler(_ForwardToStructlog(level))


def _standard_level(levelno: int) -> int:
    # structlog's filtering loggers know only the five standard levels; custom ones (e.g. 25) round down.
    return min(max(levelno // 10 * 10, logging.DEBUG), logging.CRITICAL)


class _Redactor:
    """The last processor before rendering: passes every string in the line through ``redact``."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return {key: self._value(value) for key, value in event_dict.items()}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self._value(item) for item in value)
        # Any other object would be rendered as text by the renderer (its __structlog__ or its repr),
        # and that text can hold a secret (a config object, a URL with credentials): make the text here
        # instead, where it can still be redacted.
        to_text = getattr(value, "__structlog__", None)
        text = to_text() if callable(to_text) else repr(value)
        return self._redact(text) if isinstance(text, str) else self._value(text)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    normalised = value.lower() if isinstance(value, str) else value
    if normalised not in choices:
        raise ValueError(f"unknown log {name} {value!r}; expected one of {', '.join(choices)}")
    return normalised


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream is no terminal
        return False
