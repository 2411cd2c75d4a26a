"""Specification of the hub's logging: JSON or console lines, context, redaction, Twisted and stdlib routes."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from twisted.internet.defer import Deferred
from twisted.logger import LogBeginner, Logger, LogPublisher, globalLogPublisher
from twisted.python.failure import Failure

import hub
from hub.logging_setup import (
    configure_logging,
    get_logger,
    reset_logging,
    route_twisted_logs,
    twisted_observer,
)

SECRET = "hunter2-camera-password"


def redact(text: str) -> str:
    return text.replace(SECRET, "[redacted]")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging():
    """Leave structlog, the stdlib root logger and contextvars as they were for other tests."""
    yield
    structlog.contextvars.clear_contextvars()
    reset_logging()


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def twisted_log():
    """A private Twisted publisher and beginner, so that tests never begin Twisted's global logging."""
    publisher = LogPublisher()
    beginner = LogBeginner(
        publisher,
        errorStream=io.StringIO(),
        stdio=types.SimpleNamespace(),
        warningsModule=types.SimpleNamespace(showwarning=None),
    )
    return types.SimpleNamespace(publisher=publisher, beginner=beginner, logger=Logger(observer=publisher))


@pytest.fixture
def routed(twisted_log):
    """Twisted's (private) log routed into structlog for the length of a test."""
    stop = route_twisted_logs(beginner=twisted_log.beginner, publisher=twisted_log.publisher)
    yield twisted_log
    stop()


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def boom(message: str) -> Exception:
    try:
        raise RuntimeError(message)
    except RuntimeError as error:
        return error


# --- Output format -------------------------------------------------------------------------------


def test_json_lines_carry_event_level_timestamp_and_bound_context(stream):
    """A line on a non-terminal stream is one JSON object with the event, level, UTC time and context."""
    configure_logging(stream=stream)

    get_logger(adapter="onvif.north", camera="C12").info("camera_offline", attempt=3)

    [line] = json_lines(stream)
    assert line["event"] == "camera_offline"
    assert line["level"] == "info"
    assert line["adapter"] == "onvif.north"
    assert line["camera"] == "C12"
    assert line["attempt"] == 3
    assert line["timestamp"].endswith("Z")


def test_context_bound_through_contextvars_is_included(stream):
    """Context bound with structlog.contextvars (e.g. the incident being handled) lands on every line."""
    configure_logging(stream=stream)
    structlog.contextvars.bind_contextvars(incident="INC-42")

    get_logger().warning("broadcast_failed")

    assert json_lines(stream)[0]["incident"] == "INC-42"


def test_console_output_on_a_terminal_is_readable_text():
    """On a terminal, lines are coloured console text, not JSON."""
    terminal = Terminal()
    configure_logging(stream=terminal)

    get_logger(adapter="shopwatch.town_centre").info("radio_connected")

    output = terminal.getvalue()
    assert "\x1b[" in output
    text = re.sub(r"\x1b\[[0-9;]*m", "", output)
    assert "[info" in text
    assert "radio_connected" in text
    assert "adapter=shopwatch.town_centre" in text
    with pytest.raises(ValueError):
        json.loads(output)


def test_console_format_can_be_forced_and_is_plain_off_a_terminal(stream):
    """format="console" writes console text even to a file, without colour codes."""
    configure_logging(stream=stream, format="console")

    get_logger().info("radio_connected")

    assert "radio_connected" in stream.getvalue()
    assert "\x1b[" not in stream.getvalue()


def test_json_format_can_be_forced_on_a_terminal():
    """format="json" writes JSON even to a terminal."""
    terminal = Terminal()
    configure_logging(stream=terminal, format="json")

    get_logger().info("radio_connected")

    assert json_lines(terminal)[0]["event"] == "radio_connected"


def test_unknown_level_or_format_is_refused_with_the_choices():
    """A misspelt level or format fails at once and names what is accepted."""
    with pytest.raises(ValueError, match="debug, info, warning, error, critical"):
        configure_logging(level="verbose")
    with pytest.raises(ValueError, match="auto, json, console"):
        configure_logging(format="xml")


def test_debug_lines_are_dropped_at_info_level(stream):
    """Below the configured level nothing is written."""
    configure_logging(stream=stream, level="info")

    get_logger().debug("frame_received")
    get_logger().info("camera_online")

    assert [line["event"] for line in json_lines(stream)] == ["camera_online"]


def test_debug_lines_are_written_at_debug_level(stream):
    """At debug level, debug lines are written."""
    configure_logging(stream=stream, level="DEBUG")

    get_logger().debug("frame_received")

    assert json_lines(stream)[0]["level"] == "debug"


def test_exceptions_are_written_with_their_traceback(stream):
    """log.exception writes the traceback under "exception"."""
    configure_logging(stream=stream)

    try:
        raise ConnectionError("fibre node unreachable")
    except ConnectionError:
        get_logger().exception("probe_failed")

    [line] = json_lines(stream)
    assert line["level"] == "error"
    assert "Traceback" in line["exception"]
    assert "ConnectionError: fibre node unreachable" in line["exception"]


def test_reconfiguring_does_not_double_lines(stream):
    """A second configure_logging replaces the first: structlog and stdlib lines are written once."""
    configure_logging(stream=stream)
    configure_logging(stream=stream)

    get_logger().info("hub_started")
    logging.getLogger("serial").warning("port_closed")

    assert [line["event"] for line in json_lines(stream)] == ["hub_started", "port_closed"]


def test_reconfiguring_reaches_loggers_made_before_it(stream):
    """A logger made before configure_logging (e.g. at import time) follows the later configuration."""
    log = get_logger(adapter="police_link")
    configure_logging(stream=stream)

    log.info("link_up")

    assert json_lines(stream)[0]["adapter"] == "police_link"


def test_bound_context_is_visible_to_capture_logs():
    """Tests elsewhere can assert on hub logs with structlog's capture_logs."""
    configure_logging(stream=io.StringIO())

    with capture_logs() as logs:
        get_logger(adapter="onvif.north").info("preset_moved", preset=4)

    assert logs == [{"adapter": "onvif.north", "preset": 4, "event": "preset_moved", "log_level": "info"}]


# --- Redaction -----------------------------------------------------------------------------------


def test_redaction_removes_a_secret_from_the_message(stream):
    """A secret interpolated into the event text is redacted."""
    configure_logging(stream=stream, redact=redact)

    get_logger().warning("login failed with password %s", SECRET)

    assert SECRET not in stream.getvalue()
    assert json_lines(stream)[0]["event"] == "login failed with password [redacted]"


def test_redaction_removes_a_secret_from_bound_and_nested_values(stream):
    """Secrets in bound context, in nested values and in objects' text are redacted."""
    configure_logging(stream=stream, redact=redact)

    class Credentials:
        def __repr__(self) -> str:
            return f"Credentials(user='admin', password='{SECRET}')"

    log = get_logger(camera="C12", url=f"rtsp://admin:{SECRET}@10.0.0.5/stream1")
    log.info("stream_opened", auth={"password": SECRET, "tries": [SECRET]}, credentials=Credentials())

    assert SECRET not in stream.getvalue()
    [line] = json_lines(stream)
    assert line["url"] == "rtsp://admin:[redacted]@10.0.0.5/stream1"
    assert line["auth"] == {"password": "[redacted]", "tries": ["[redacted]"]}
    assert line["credentials"] == "Credentials(user='admin', password='[redacted]')"


def test_redaction_removes_a_secret_from_exception_text(stream):
    """A secret in an exception's message does not reach the traceback written to the log."""
    configure_logging(stream=stream, redact=redact)

    try:
        raise PermissionError(f"camera refused password {SECRET}")
    except PermissionError:
        get_logger().exception("camera_login_failed")

    assert SECRET not in stream.getvalue()
    assert "PermissionError: camera refused password [redacted]" in json_lines(stream)[0]["exception"]


def test_redaction_applies_to_console_output_too():
    """Console lines are redacted like JSON lines."""
    terminal = Terminal()
    configure_logging(stream=terminal, redact=redact)

    get_logger(key=SECRET).info("partner_key_checked")

    assert SECRET not in terminal.getvalue()
    assert "[redacted]" in terminal.getvalue()


# --- Twisted's log -------------------------------------------------------------------------------


def test_twisted_error_comes_out_as_json_with_system_twisted(stream, routed):
    """A Twisted Logger().error(...) is one structlog JSON line with system="twisted"."""
    configure_logging(stream=stream)

    routed.logger.error("Lost connection to {peer}", peer="police.force_control_room")

    [line] = json_lines(stream)
    assert line["system"] == "twisted"
    assert line["level"] == "error"
    assert line["event"] == "Lost connection to police.force_control_room"
    assert "timestamp" in line


def test_twisted_failure_comes_out_with_its_traceback(stream, routed):
    """A Twisted Logger().failure(...) carries the failure's traceback under "exception"."""
    configure_logging(stream=stream)

    routed.logger.failure("Handling a radio frame failed", Failure(boom("bad checksum")))

    [line] = json_lines(stream)
    assert line["system"] == "twisted"
    assert line["level"] == "critical"
    assert line["event"] == "Handling a radio frame failed"
    assert "Traceback" in line["exception"]
    assert "RuntimeError: bad checksum" in line["exception"]


def test_twisted_levels_map_to_structlog_levels_and_are_filtered(stream, routed):
    """Twisted's levels become structlog's, and Twisted debug is dropped at info."""
    configure_logging(stream=stream, level="info")

    routed.logger.debug("noise")
    routed.logger.info("one")
    routed.logger.warn("two")
    routed.logger.critical("three")

    assert [(line["event"], line["level"]) for line in json_lines(stream)] == [
        ("one", "info"),
        ("two", "warning"),
        ("three", "critical"),
    ]


def test_twisted_lines_are_redacted(stream, routed):
    """Secrets in Twisted messages and tracebacks are redacted."""
    configure_logging(stream=stream, redact=redact)

    routed.logger.info("Connecting with {password}", password=SECRET)
    routed.logger.failure("Login failed", Failure(boom(f"refused {SECRET}")))

    assert SECRET not in stream.getvalue()
    assert len(json_lines(stream)) == 2


def test_routing_twice_does_not_double_lines(stream, twisted_log):
    """Routing Twisted's log again neither adds a second observer nor begins Twisted's logging twice."""
    configure_logging(stream=stream)
    route_twisted_logs(beginner=twisted_log.beginner, publisher=twisted_log.publisher)
    stop = route_twisted_logs(beginner=twisted_log.beginner, publisher=twisted_log.publisher)

    twisted_log.logger.info("once")
    stop()

    # Beginning twice would have logged Twisted's "primary log target selected twice" warning.
    assert [line["event"] for line in json_lines(stream)] == ["once"]


def test_routing_replays_what_twisted_logged_before_it(stream, twisted_log):
    """Events Twisted logged before routing began are written, not lost."""
    configure_logging(stream=stream)
    twisted_log.logger.info("early")

    stop = route_twisted_logs(beginner=twisted_log.beginner, publisher=twisted_log.publisher)
    stop()

    assert [line["event"] for line in json_lines(stream)] == ["early"]


def test_routing_when_twisted_logging_already_began_only_adds_the_observer(stream, twisted_log):
    """Under trial or an embedding application that began Twisted's logging, routing just adds on."""
    configure_logging(stream=stream)
    twisted_log.beginner.beginLoggingTo([], redirectStandardIO=False)

    stop = route_twisted_logs(beginner=twisted_log.beginner, publisher=twisted_log.publisher)
    twisted_log.logger.info("added")
    stop()

    assert [line["event"] for line in json_lines(stream)] == ["added"]


def test_the_returned_function_stops_routing(stream, twisted_log):
    """After the returned function is called, Twisted's events no longer reach structlog."""
    configure_logging(stream=stream)
    stop = route_twisted_logs(beginner=twisted_log.beginner, publisher=twisted_log.publisher)

    stop()
    twisted_log.logger.info("unrouted")

    assert stream.getvalue() == ""


def test_unhandled_error_in_a_deferred_comes_out_with_its_traceback(stream):
    """A Deferred collected with an unhandled failure is logged through structlog with its traceback."""
    configure_logging(stream=stream)
    globalLogPublisher.addObserver(twisted_observer)
    try:
        deferred: Deferred[None] = Deferred()
        deferred.errback(boom("adapter start failed"))
        del deferred
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(twisted_observer)

    lines = [line for line in json_lines(stream) if line.get("system") == "twisted"]
    assert lines[0]["event"] == "Unhandled error in Deferred:"
    assert all(line["level"] == "critical" for line in lines)
    [failure_line] = [line for line in lines if "exception" in line]
    assert "RuntimeError: adapter start failed" in failure_line["exception"]


@pytest.mark.slow
def test_in_a_fresh_process_twisted_errors_come_out_once_as_json():
    """In a real process, routing begins Twisted's logging once, and its errors are JSON lines only.

    Twisted's own stderr fallback for critical errors is gone, so nothing is printed twice, and the
    global reactor is never imported.
    """
    script = textwrap.dedent(
        """
        import gc, sys
        from twisted.internet.defer import Deferred
        from hub.logging_setup import configure_logging, route_twisted_logs
        configure_logging()
        route_twisted_logs()
        route_twisted_logs()
        d = Deferred()
        d.errback(ZeroDivisionError("boom"))
        del d
        gc.collect()
        assert "twisted.internet.reactor" not in sys.modules
        """
    )
    root = str(Path(hub.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["Unhandled error in Deferred:", "ZeroDivisionError: boom"]
    assert all(line["system"] == "twisted" for line in lines)
    assert "ZeroDivisionError: boom" in lines[1]["exception"]


# --- The standard library's logging --------------------------------------------------------------


def test_stdlib_logs_come_out_once_through_structlog(stream):
    """A library's stdlib warning (pyserial's, say) is written once, as JSON, naming its logger."""
    configure_logging(stream=stream)

    logging.getLogger("serial").warning("port %s disappeared", "/dev/ttyUSB0")

    [line] = json_lines(stream)
    assert line == {
        "logger": "serial",
        "event": "port /dev/ttyUSB0 disappeared",
        "level": "warning",
        "timestamp": line["timestamp"],
    }


def test_stdlib_logs_follow_the_configured_level(stream):
    """Stdlib records below the configured level are dropped; custom levels round down to a standard one."""
    configure_logging(stream=stream, level="warning")

    logging.getLogger("serial").info("port_opened")
    logging.getLogger("serial").log(35, "between_warning_and_error")

    [line] = json_lines(stream)
    assert (line["event"], line["level"]) == ("between_warning_and_error", "warning")


def test_stdlib_exceptions_are_written_with_their_traceback_and_redacted(stream):
    """A stdlib logger.exception writes the traceback, redacted like the rest."""
    configure_logging(stream=stream, redact=redact)

    try:
        raise OSError(f"open failed for {SECRET}")
    except OSError:
        logging.getLogger("pysnmp").exception("probe_failed")

    assert SECRET not in stream.getvalue()
    assert "OSError: open failed for [redacted]" in json_lines(stream)[0]["exception"]


def test_reset_logging_removes_the_stdlib_route_and_restores_the_root_level(stream):
    """reset_logging leaves the stdlib root logger as it found it."""
    root = logging.getLogger()
    level_before = root.level
    configure_logging(stream=stream, level="debug")
    configure_logging(stream=stream, level="error")

    reset_logging()
    logging.getLogger("serial").error("after_reset")

    assert root.level == level_before
    assert stream.getvalue() == ""
