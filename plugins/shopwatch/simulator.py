"""A stand-in for a scheme's base radio and its handsets, for the demo, for trials and for the tests.

``BaseRadio`` is the radio, sans-IO: hub bytes in, radio bytes out, in Tait CCDI or Kenwood FleetSync.
``PtyRadio`` puts one on a pseudo-terminal behind a symlink the hub opens as its ``port``, so the hub's real
serial port code talks to it, and can unplug it and plug it back in. ``Scenario`` plays handsets for the demo.
``SHOPWATCH_SIMULATOR`` lets ``hub demo`` start one from a ``[simulators.NAME]`` table, and ``add_arguments``
and ``run`` make ``hub shopwatch-sim`` for a terminal of its own.
"""

from __future__ import annotations

import argparse
import random as random_module
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence

import structlog
from attrs import field, frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred

from hub.api import CueRefused, CueSpec, SimulatorContext, SimulatorType
from hub.config import Expected, between, one_of
from plugins.shopwatch.codec import DIALECTS, Dialect, ccdi, fleetsync
from plugins.shopwatch.pty_link import PtyLink

Delivery = Literal["ack", "fail", "silent"]

#: What a Tait base answers to the model and serial queries (a TM8255 is a TM8200 mobile used as a base).
MODEL = "TM8255"
SERIAL = "19234567"
VERSIONS = "QMB2AA 03.08.00"
DISPLAY = "SHOPWATCH"

#: What a radio sends at power-up before its first frame (seen on real TM8200s).
POWER_UP_BYTES = b"\x9c\xfe\x0d"


@frozen
class Handset:
    """One handset the base radio can hear, and what becomes of messages sent to it.

    ``delivery`` is ``ack`` (it acknowledges), ``fail`` (the radio reports it was not received) or ``silent``
    (no report at all, as when the radio gives no auto-acknowledge for that unit).
    """

    unit: str
    delivery: Delivery = "ack"


@frozen
class SentMessage:
    """A message the hub had the base radio send: to ``address`` (as the hub wrote it), the handset it reached
    (None for a group send or an unknown unit), and the report the radio gave (None when it gave none)."""

    address: str
    text: str
    unit: str | None
    delivered: bool | None


class BaseRadio:
    """A base radio, sans-IO: ``feed`` it what the hub wrote and write out what it returns.

    In CCDI it accepts each command with ``.``, answers queries (model, held SDM, versions, serial, display)
    with the reply and a ``.`` trailer, honours the start-up functions (RING and PROGRESS output, SDM push),
    holds one received SDM until the hub deletes it with ``c1`` (another SDM meanwhile is lost, as on a real
    radio), and reports deliveries of the hub's SDMs to single units with PROGRESS 1D. A ``slow`` radio holds
    each command's ``.`` until ``ready()``, and refuses a command sent before then with error 0/05. In
    FleetSync it takes ``F`` frames and reports ``0`` (delivered) or ``1`` (failed).

    The handset methods (``emergency``, ``status``, ``text``) and the faults (``noise``, ``restart``) return the
    bytes the radio writes because of them; an output the hub has not switched on produces nothing, as on a
    real radio. Everything the hub sent is kept, decoded, in ``commands``; its messages in ``sent``.
    """

    def __init__(
        self,
        dialect: str | Dialect = "ccdi",
        handsets: Iterable[Handset] = (),
        *,
        slow: bool = False,
        random: random_module.Random | None = None,
        log: Any = None,
    ) -> None:
        self.dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect
        self.handsets = {handset.unit: handset for handset in handsets}
        self.slow = slow
        # Seeded by default: the same noise every run, so a test that sees it fail sees it fail again.
        self._random = random if random is not None else random_module.Random(0)
        self._log = log if log is not None else structlog.get_logger()
        self._decoder = self.dialect.decoder("to_radio")
        self._ccdi = self.dialect.name == "ccdi"
        self.commands: list[Any] = []
        self.sent: list[SentMessage] = []
        self.ring_output = False
        self.progress_output = False
        self.sdm_push = False
        self.held_sdm: str | None = None
        #: SDMs from handsets that the radio could not take because the hub had not deleted the last one.
        self.lost_sdms = 0
        self.restarts = 0
        self.emergencies: set[str] = set()
        self._pending: Any = None
        self._garble_next = False
        self._interrupt: tuple[type, ...] | None = None

    @property
    def busy(self) -> bool:
        """A slow radio is still working on a command; it accepts it when ``ready()`` is called."""
        return self._pending is not None

    # --- the hub's side ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Take bytes the hub wrote; return what the radio writes in answer."""
        stats = self._decoder.stats
        bad_before, malformed_before = stats.bad_checksums, stats.malformed
        messages = self._decoder.feed(data)
        out = bytearray()
        if self._ccdi:
            # A frame the radio could not read is refused (0/02 checksum, 0/03 parameters), before the ones
            # it could: the order within one read is lost, and a hub has one command in flight anyway.
            for _ in range(stats.bad_checksums - bad_before):
                out += self._unsolicited(ccdi.TransactionError(0, 0x02))
            for _ in range(stats.malformed - malformed_before):
                out += self._unsolicited(ccdi.TransactionError(0, 0x03))
        for message in messages:
            self.commands.append(message)
            out += self._command(message)
        return bytes(out)

    def ready(self) -> bytes:
        """A slow radio finishes the command it was working on: its ``.`` and any reply."""
        message, self._pending = self._pending, None
        if message is None:
            return b""
        return self._accept(message)

    # --- handsets ------------------------------------------------------------------------------------

    def emergency(self, unit: str) -> bytes:
        """A handset's emergency button: an emergency-priority call with the alarm request flag."""
        self.emergencies.add(unit)
        if self._ccdi:
            ring = ccdi.Ring("0", ccdi.RING_VOICE, 1, 0, ccdi.RING_ALARM_REQUEST, None, unit)
            return self._ring(ring)
        return self._unsolicited(fleetsync.Identified(*fleetsync.split_unit_id(unit), status=99))

    def status(self, unit: str, code: str) -> bytes:
        """A handset's preset status button; ``code`` as the radio sends it (CCDI ``"0A"``, FleetSync ``"12"``)."""
        if self._ccdi:
            return self._ring(ccdi.Ring("0", ccdi.RING_STATUS, 0, 0, 0, int(code, 16), unit))
        return self._unsolicited(fleetsync.Identified(*fleetsync.split_unit_id(unit), status=int(code)))

    def text(self, unit: str, text: str) -> bytes:
        """A handset sends a short text. CCDI: announced by a ring and PROGRESS 19, pushed or held for ``q1``."""
        if not self._ccdi:
            return self._unsolicited(fleetsync.DataReceived(*fleetsync.split_unit_id(unit), text))
        if self.held_sdm is not None:
            # The hub has not deleted the last one (c1): a real radio takes no further SDM.
            self.lost_sdms += 1
            self._log.info("radio_sdm_lost", unit=unit, held=self.held_sdm)
            return b""
        self.held_sdm = text
        out = self._ring(ccdi.Ring("0", ccdi.RING_SDM, 0, 0, 0, None, unit))
        out += self._progress(ccdi.PROGRESS_DATA_RECEIVED)
        if self.sdm_push:
            out += self._unsolicited(ccdi.ReceivedSdm(text))
        return out

    def end_emergency(self) -> bytes:
        """The emergency is over at the radio: PROGRESS 04 (CCDI; FleetSync has no such message)."""
        self.emergencies.clear()
        return self._progress(ccdi.PROGRESS_EMERGENCY_ENDED) if self._ccdi else b""

    def base_emergency(self) -> bytes:
        """The base itself goes into emergency mode: PROGRESS 03 (CCDI only)."""
        return self._progress(ccdi.PROGRESS_EMERGENCY_STARTED) if self._ccdi else b""

    # --- faults --------------------------------------------------------------------------------------

    def noise(self, count: int) -> bytes:
        """``count`` bytes of line noise: high bytes, as a wrong baud rate or a long cable gives. None of them is
        a ``.``, a frame's first byte or a CR, so noise can break a frame but never look like one."""
        return bytes(self._random.randrange(0x80, 0x100) for _ in range(count))

    def restart(self, *, power_up_bytes: bool = True) -> bytes:
        """The radio restarts: a command it was working on is lost, the start-up functions are off again, and
        (CCDI) it says PROGRESS 1F, whatever the outputs were, as a real radio does."""
        self.restarts += 1
        self._pending = None
        self.ring_output = self.progress_output = self.sdm_push = False
        self._log.info("radio_restarted", restarts=self.restarts)
        if not self._ccdi:
            return POWER_UP_BYTES if power_up_bytes else b""
        out = POWER_UP_BYTES if power_up_bytes else b""
        return out + self._unsolicited(ccdi.Progress(ccdi.PROGRESS_RADIO_RESTARTED))

    def garble_next(self) -> None:
        """Spoil the next frame the radio writes: a wrong checksum (CCDI), a byte that is not text (FleetSync)."""
        self._garble_next = True

    def restart_on_next(self, *kinds: type) -> None:
        """Restart instead of accepting the next command (of one of ``kinds``, if given): the radio restarts in
        the middle of that transaction, and the hub never gets its ``.``."""
        self._interrupt = kinds or (object,)

    # --- commands ------------------------------------------------------------------------------------

    def _command(self, message: Any) -> bytes:
        if self._interrupt is not None and isinstance(message, self._interrupt):
            self._interrupt = None
            return self.restart()
        if not self._ccdi:
            return self._fleetsync_command(message)
        if self._pending is not None:
            # One command at a time: this one came before the last one's "." (error 0/05, not ready).
            return self._unsolicited(ccdi.TransactionError(0, 0x05))
        refusal = self._refusal(message)
        if refusal is not None:
            return self._unsolicited(refusal)
        if self.slow:
            self._pending = message
            return b""
        return self._accept(message)

    def _refusal(self, message: Any) -> ccdi.TransactionError | None:
        if isinstance(message, ccdi.Query) and message.what not in _QUERY_REPLIES:
            return ccdi.TransactionError(0, 0x01 if message.what in (ccdi.QUERY_TEST, ccdi.QUERY_GPS) else 0x03)
        return None

    def _accept(self, message: Any) -> bytes:
        out = b"."
        if isinstance(message, ccdi.Function):
            self._function(message)
        elif isinstance(message, ccdi.Query):
            out += self._unsolicited(self._reply(message.what))
        elif isinstance(message, ccdi.Cancel):
            if message.what == ccdi.CANCEL_CALL:
                self.emergencies.clear()
            else:
                self.held_sdm = None
        elif isinstance(message, ccdi.SendSdm):
            out += self._deliver(message.address, message.text, group="*" in message.address)
        return out

    def _function(self, message: ccdi.Function) -> None:
        setting = {("0", "3"): "ring_output", ("0", "4"): "progress_output", ("1", "0"): "sdm_push"}.get(
            (message.function, message.sub)
        )
        if setting is not None:
            setattr(self, setting, message.qualifier == "1")

    def _reply(self, what: int) -> Any:
        if what == ccdi.QUERY_SDM:
            return ccdi.ReceivedSdm(self.held_sdm or "")
        kind, text = _QUERY_REPLIES[what]
        return ccdi.RadioInfo(kind, text)

    def _deliver(self, address: str, text: str, *, group: bool) -> bytes:
        handset = None if group else self._handset_for(address)
        delivered: bool | None
        if group:
            # Nobody acknowledges a group send; the radio only says it went out (FleetSync) or nothing (CCDI).
            delivered = None if self._ccdi else True
        elif handset is None:
            delivered = False  # nobody answered the auto-acknowledge
        else:
            delivered = {"ack": True, "fail": False, "silent": None}[handset.delivery]
        if self._ccdi and not self.progress_output:
            delivered = None  # the report is a PROGRESS message, which the hub has not switched on
        self.sent.append(SentMessage(address, text, handset.unit if handset else None, delivered))
        if delivered is None:
            return b""
        if self._ccdi:
            return self._progress(ccdi.PROGRESS_SDM_AUTO_ACK, "1" if delivered else "0")
        return self._unsolicited(fleetsync.DeliveryReport(delivered))

    def _fleetsync_command(self, message: Any) -> bytes:
        if not isinstance(message, fleetsync.SendText):
            return b""
        address = fleetsync.unit_id(message.fleet, message.unit)
        everyone = (message.fleet, message.unit) == (fleetsync.ALL_FLEETS, fleetsync.ALL_UNITS_IN_FLEET)
        return self._deliver(address, message.text, group=everyone)

    def _handset_for(self, address: str) -> Handset | None:
        # CCDI SDM addresses are 8 characters and unit ids as the radio shows a caller are often shorter
        # (Selcall "12345"), so a hub may pad them; a handset answers to its id however it was padded.
        for unit, handset in self.handsets.items():
            if address == unit or address.strip(" _") == unit or address.lstrip("0") == unit.lstrip("0"):
                return handset
        return None

    # --- output --------------------------------------------------------------------------------------

    def _ring(self, ring: ccdi.Ring) -> bytes:
        return self._unsolicited(ring) if self.ring_output else b""

    def _progress(self, ptype: int, detail: str = "") -> bytes:
        return self._unsolicited(ccdi.Progress(ptype, detail)) if self.progress_output else b""

    def _unsolicited(self, message: Any) -> bytes:
        data = self.dialect.encode(message)
        if self._garble_next:
            self._garble_next = False
            data = _garbled(data, ccdi_frame=self._ccdi)
        # CCDI: every frame the radio sends, a refusal too, is followed by "." (ready for the next command).
        return data + b"." if self._ccdi else data


_QUERY_REPLIES = {
    ccdi.QUERY_MODEL: ("model", MODEL),
    ccdi.QUERY_SDM: None,  # answered from the held SDM
    ccdi.QUERY_VERSIONS: ("versions", VERSIONS),
    ccdi.QUERY_SERIAL: ("serial", SERIAL),
    ccdi.QUERY_DISPLAY: ("display", DISPLAY),
}


def _garbled(data: bytes, *, ccdi_frame: bool) -> bytes:
    if ccdi_frame:
        # The two hex digits before the CR are the checksum: make it one off.
        wrong = (int(data[-3:-1], 16) + 1) & 0xFF
        return data[:-3] + b"%02X\r" % wrong
    return data[:2] + b"\x7f" + data[2:]


# --- on a pseudo-terminal -------------------------------------------------------------------------------


class PtyRadio:
    """A ``BaseRadio`` on a pseudo-terminal whose slave ``link_path`` points at: the hub's ``port``.

    The handset and fault methods of the radio are here too, writing what the radio says to the hub.
    ``vanish()`` and ``come_back()`` unplug and replug the device. A slow radio accepts each command
    ``busy_s`` after it arrived. ``when(test)`` fires once ``test(radio)`` holds after something happened,
    so a test waits for the hub's commands rather than for time.
    """

    def __init__(
        self,
        reactor: Any,
        link_path: str | Path,
        radio: BaseRadio,
        *,
        busy_s: float = 0.05,
        log: Any = None,
    ) -> None:
        self._reactor = reactor
        self.radio = radio
        self._busy_s = busy_s
        self._log = log if log is not None else structlog.get_logger()
        self.link = PtyLink(reactor, link_path, self._received, log=self._log)
        self._busy_call: Any = None
        self._waiting: list[tuple[Callable[[BaseRadio], bool], Deferred[BaseRadio]]] = []

    @property
    def link_path(self) -> Path:
        return self.link.link_path

    @property
    def commands(self) -> list[Any]:
        """What the hub sent the radio, decoded, oldest first."""
        return self.radio.commands

    def open(self) -> None:
        self.link.open()

    def close(self) -> None:
        self._cancel_busy()
        self.link.close()
        for _test, waiting in self._waiting:
            waiting.cancel()
        self._waiting.clear()

    def vanish(self) -> None:
        """Unplug the device: the hub's port hangs up and the path is gone until ``come_back()``."""
        self._cancel_busy()
        self.link.vanish()

    def come_back(self) -> None:
        """Plug the device back in at the same path (a new pty behind it). The radio keeps its state, as a
        USB serial adapter pulled out and put back does not restart the radio behind it."""
        self.link.come_back()

    def when(self, test: Callable[[BaseRadio], bool]) -> "Deferred[BaseRadio]":
        """Fires with the radio as soon as ``test(radio)`` is true (at once if it already is)."""
        waiting: Deferred[BaseRadio] = Deferred(lambda cancelled: self._forget(cancelled))
        if test(self.radio):
            waiting.callback(self.radio)
        else:
            self._waiting.append((test, waiting))
        return waiting

    # --- the radio's handsets and faults, said to the hub -----------------------------------------

    def emergency(self, unit: str) -> None:
        self._say(self.radio.emergency(unit))

    def status(self, unit: str, code: str) -> None:
        self._say(self.radio.status(unit, code))

    def text(self, unit: str, text: str) -> None:
        self._say(self.radio.text(unit, text))

    def end_emergency(self) -> None:
        self._say(self.radio.end_emergency())

    def base_emergency(self) -> None:
        self._say(self.radio.base_emergency())

    def noise(self, count: int) -> None:
        self._say(self.radio.noise(count))

    def restart(self) -> None:
        self._cancel_busy()
        self._say(self.radio.restart())

    def garble_next(self) -> None:
        self.radio.garble_next()

    def restart_on_next(self, *kinds: type) -> None:
        self.radio.restart_on_next(*kinds)

    # --- helpers -------------------------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._say(self.radio.feed(data))
        if self.radio.busy and self._busy_call is None:
            self._busy_call = self._reactor.callLater(self._busy_s, self._ready)

    def _ready(self) -> None:
        self._busy_call = None
        self._say(self.radio.ready())

    def _say(self, data: bytes) -> None:
        self.link.write(data)
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiting):
            test, waiting = entry
            if test(self.radio):
                self._waiting.remove(entry)
                waiting.callback(self.radio)

    def _forget(self, cancelled: Deferred[BaseRadio]) -> None:
        self._waiting = [entry for entry in self._waiting if entry[1] is not cancelled]

    def _cancel_busy(self) -> None:
        call, self._busy_call = self._busy_call, None
        if call is not None and call.active():
            call.cancel()


# --- the demo's handsets ----------------------------------------------------------------------------------


#: Status codes the demo's handsets press, as each dialect sends them; the demo config gives them meanings.
DEFAULT_STATUS_CODES = {"ccdi": ("01", "02", "0A"), "fleetsync": ("10", "11", "12")}
DEFAULT_UNITS = {"ccdi": ("1001", "1002", "1003", "1004"), "fleetsync": ("100-1001", "100-1002", "100-1003")}
DEFAULT_TEXTS = (
    "Two lads heading to Market St",
    "Banned male back in store",
    "Shoplifter, red coat, running",
    "All quiet now, thanks",
    "Drunk male refusing to leave",
)


class Scenario:
    """Plays the demo's handsets: every ``period_s`` (varied by a quarter either way) something happens, in a
    cycle: a status button, a text, an emergency that ends a step later, another text.

    ``radio`` is anything with ``status``, ``text``, ``emergency`` and ``end_emergency`` (a ``PtyRadio``).
    """

    def __init__(
        self,
        reactor: Any,
        radio: Any,
        *,
        units: Sequence[str],
        status_codes: Sequence[str],
        texts: Sequence[str] = DEFAULT_TEXTS,
        period_s: float = 30.0,
        random: random_module.Random | None = None,
        log: Any = None,
    ) -> None:
        if not units:
            raise ValueError("a scenario needs at least one unit to play")
        self._reactor = reactor
        self._radio = radio
        self._units = tuple(units)
        self._status_codes = tuple(status_codes)
        self._texts = tuple(texts)
        self._period_s = period_s
        self._random = random if random is not None else random_module.Random()
        self._log = log if log is not None else structlog.get_logger()
        self._steps = (self._status, self._text, self._status, self._emergency, self._end_emergency, self._text)
        self._step = 0
        self._call: Any = None

    @property
    def running(self) -> bool:
        return self._call is not None

    def start(self) -> None:
        if self._call is None:
            self._schedule()

    def stop(self) -> None:
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _schedule(self) -> None:
        delay = self._period_s * self._random.uniform(0.75, 1.25)
        self._call = self._reactor.callLater(delay, self._play)

    def _play(self) -> None:
        step = self._steps[self._step % len(self._steps)]
        self._step += 1
        step()
        self._schedule()

    def _unit(self) -> str:
        return self._random.choice(self._units)

    def _status(self) -> None:
        if not self._status_codes:
            return self._text()
        unit, code = self._unit(), self._random.choice(self._status_codes)
        self._log.info("scenario_status", unit=unit, code=code)
        self._radio.status(unit, code)

    def _text(self) -> None:
        if not self._texts:
            return
        unit, text = self._unit(), self._random.choice(self._texts)
        self._log.info("scenario_text", unit=unit, text=text)
        self._radio.text(unit, text)

    def _emergency(self) -> None:
        unit = self._unit()
        self._log.info("scenario_emergency", unit=unit)
        self._radio.emergency(unit)

    def _end_emergency(self) -> None:
        self._log.info("scenario_emergency_ended")
        self._radio.end_emergency()


# --- [simulators.NAME] type = "shopwatch" -----------------------------------------------------------------


def _unit_ids(instance: Any, _attribute: object, value: dict[str, Any]) -> None:
    dialect = instance.dialect
    for unit in value:
        if dialect == "fleetsync":
            try:
                fleetsync.split_unit_id(unit)
            except ValueError:
                raise Expected('FleetSync unit ids written FFF-UUUU, e.g. "100-1001"') from None
        elif not (1 <= len(unit) <= 8 and unit.isascii() and unit.isalnum()):
            raise Expected('CCDI unit ids of 1 to 8 letters or digits, e.g. "1001"')


def _status_codes(instance: Any, _attribute: object, value: tuple[str, ...]) -> None:
    for code in value:
        if instance.dialect == "fleetsync" and not (len(code) == 2 and code.isdigit()):
            raise Expected('FleetSync status codes of two decimal digits, e.g. "12"')
        if instance.dialect == "ccdi" and not (
            len(code) == 2 and all(c in "0123456789ABCDEF" for c in code) and code != "FF"
        ):
            raise Expected('CCDI status codes of two upper-case hex digits, e.g. "0A"')


def _texts(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if any(not text.strip() or len(text) > 32 or not (text.isascii() and text.isprintable()) for text in value):
        raise Expected("texts of 1 to 32 printable ASCII characters")


@frozen
class SimulatedUnit:
    """One handset the simulator plays: what becomes of the hub's messages to it."""

    delivery: Delivery = field(default="ack", validator=one_of("ack", "fail", "silent"))


@frozen
class ShopwatchSimulatorConfig:
    """A ``[simulators.NAME]`` table with ``type = "shopwatch"``: a base radio on a pseudo-terminal.

    ``link`` is the path the simulator makes a symlink to its pty at (relative to the config file's folder):
    the adapter's ``port``. ``units`` are the handsets it plays (left out: four CCDI or three FleetSync ones);
    ``scenario`` has them raise emergencies, press status buttons and send texts every ``period_s`` or so.
    ``slow`` makes the radio take ``busy_s`` over each command, refusing any sent meanwhile.
    """

    link: Path
    dialect: Literal["ccdi", "fleetsync"] = field(default="ccdi", validator=one_of("ccdi", "fleetsync"))
    scenario: bool = True
    period_s: float = field(default=30.0, validator=between(0.1, 3600))
    units: dict[str, SimulatedUnit] = field(factory=dict, validator=_unit_ids)
    status_codes: tuple[str, ...] = field(default=(), validator=_status_codes)
    texts: tuple[str, ...] = field(default=DEFAULT_TEXTS, validator=_texts)
    slow: bool = False
    busy_s: float = field(default=0.05, validator=between(0.001, 5))

    def handsets(self) -> tuple[Handset, ...]:
        units = self.units or {unit: SimulatedUnit() for unit in DEFAULT_UNITS[self.dialect]}
        return tuple(Handset(unit, settings.delivery) for unit, settings in units.items())

    def codes(self) -> tuple[str, ...]:
        return self.status_codes or DEFAULT_STATUS_CODES[self.dialect]


#: What a demo's script may have the radio's handsets do (``hub.scenario``); see ``ShopwatchSimulator.cue``.
CUES = (
    CueSpec("status", "a member presses a status button (code as the radio sends it: CCDI \"01\", FleetSync "
                      "\"10\")", arguments=("unit", "code")),
    CueSpec("emergency", "a member presses the handset's emergency button", arguments=("unit",)),
    CueSpec("end_emergency", "the emergency ends at the base radio (CCDI only: FleetSync has no such message)"),
    CueSpec("text", "a member sends a short text (1 to 32 characters)", arguments=("unit", "text")),
)


class ShopwatchSimulator(Service):
    """A simulated base radio as a Twisted service: the pty and link while running, the scenario if asked.

    ``cue(name, arguments)`` plays one of ``CUES`` for a demo's script; arguments it cannot use (a unit it
    does not play, a code the dialect cannot carry, a text too long) raise ``CueRefused`` saying why.
    """

    cues = CUES

    def __init__(
        self,
        reactor: Any,
        config: ShopwatchSimulatorConfig,
        *,
        log: Any = None,
        random: random_module.Random | None = None,
    ) -> None:
        self.config = config
        self._log = log if log is not None else structlog.get_logger()
        self._random = random if random is not None else random_module.Random()
        handsets = config.handsets()
        radio = BaseRadio(config.dialect, handsets, slow=config.slow, random=self._random, log=self._log)
        self.radio = PtyRadio(reactor, config.link, radio, busy_s=config.busy_s, log=self._log)
        self.scenario = Scenario(
            reactor,
            self.radio,
            units=[handset.unit for handset in handsets],
            status_codes=config.codes(),
            texts=config.texts,
            period_s=config.period_s,
            random=self._random,
            log=self._log,
        )

    def startService(self) -> None:
        self.radio.open()
        super().startService()
        self._log.info(
            "radio_simulator_started",
            link=str(self.config.link),
            dialect=self.config.dialect,
            units=[handset.unit for handset in self.config.handsets()],
            scenario=self.config.scenario,
        )
        if self.config.scenario:
            self.scenario.start()

    def stopService(self) -> None:
        super().stopService()
        self.scenario.stop()
        self.radio.close()

    def cue(self, name: str, arguments: dict[str, Any]) -> None:
        """Have a handset (or the base) do what cue ``name`` says, now; ``CueRefused`` if it cannot."""
        if not self.running:
            raise CueRefused("the radio is not running")
        if name == "status":
            unit = self._cued_unit(arguments)
            self.radio.status(unit, self._cued_code(arguments))
        elif name == "emergency":
            self.radio.emergency(self._cued_unit(arguments))
        elif name == "end_emergency":
            if self.config.dialect != "ccdi":
                raise CueRefused("a FleetSync radio sends no end of an emergency: the operator ends it from the "
                                 "incident")
            self.radio.end_emergency()
        elif name == "text":
            unit = self._cued_unit(arguments)
            text = arguments.get("text")
            if not (isinstance(text, str) and 0 < len(text.strip()) and len(text) <= 32 and text.isascii()
                    and text.isprintable()):
                raise CueRefused(f"text {text!r} is not 1 to 32 printable ASCII characters")
            self.radio.text(unit, text)
        else:
            raise CueRefused(f"no cue {name!r}; the radio's cues: {', '.join(spec.name for spec in CUES)}")
        self._log.info("radio_cue_played", cue=name, **{key: str(value) for key, value in arguments.items()})

    def _cued_unit(self, arguments: dict[str, Any]) -> str:
        unit = arguments.get("unit")
        units = [handset.unit for handset in self.config.handsets()]
        if isinstance(unit, int) and not isinstance(unit, bool):
            unit = str(unit)
        if unit not in units:
            raise CueRefused(f"unit {unit!r} is not one of the radio's handsets ({', '.join(units)})")
        return unit

    def _cued_code(self, arguments: dict[str, Any]) -> str:
        code = arguments.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = f"{code:02d}"
        if isinstance(code, str) and self.config.dialect == "ccdi":
            code = code.upper()
        try:
            _status_codes(self.config, None, (code,) if isinstance(code, str) else ("",))
        except Expected as error:
            raise CueRefused(f"status code {arguments.get('code')!r} is not one this radio can send "
                             f"(expected {error})") from None
        return code


def simulator_factory(context: SimulatorContext) -> ShopwatchSimulator:
    return ShopwatchSimulator(context.reactor, context.config, log=context.log)


SHOPWATCH_SIMULATOR = SimulatorType(
    name="shopwatch",
    config_class=ShopwatchSimulatorConfig,
    factory=simulator_factory,
    description="a Tait CCDI or Kenwood FleetSync base radio and its handsets on a pseudo-terminal (demo only)",
)


# --- hub shopwatch-sim ------------------------------------------------------------------------------------


def _handset_argument(text: str) -> tuple[str, Delivery]:
    unit, _colon, delivery = text.partition(":")
    delivery = delivery or "ack"
    if delivery not in ("ack", "fail", "silent"):
        raise argparse.ArgumentTypeError(f"delivery is ack, fail or silent, not {delivery!r}")
    return unit, delivery  # type: ignore[return-value]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", required=True, type=Path,
                        help="path to make a symlink to the radio's pty at: the adapter's port")
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="ccdi", help="protocol (default ccdi)")
    parser.add_argument("--unit", action="append", type=_handset_argument, default=[], metavar="UNIT[:DELIVERY]",
                        help="a handset to play, repeatable; DELIVERY is ack (default), fail or silent")
    parser.add_argument("--period", type=float, default=30.0, help="seconds between scenario steps (default 30)")
    parser.add_argument("--no-scenario", action="store_true", help="play nothing by itself; type commands instead")
    parser.add_argument("--slow", action="store_true", help="take a while over each command, refusing others")


def config_from_arguments(args: argparse.Namespace) -> ShopwatchSimulatorConfig:
    """The simulator config the command line asks for; ``Expected`` (a ValueError) if it is wrong."""
    return ShopwatchSimulatorConfig(
        link=args.link.absolute(),
        dialect=args.dialect,
        scenario=not args.no_scenario,
        period_s=args.period,
        units={unit: SimulatedUnit(delivery) for unit, delivery in args.unit},
        slow=args.slow,
    )


#: What can be typed at ``hub shopwatch-sim`` while it runs.
CONSOLE_HELP = (
    "emergency UNIT | status UNIT CODE | text UNIT WORDS... | end | base-emergency | noise [N] | "
    "garble | restart | vanish | back | help"
)


def console_command(radio: PtyRadio, line: str) -> str:
    """Do what one typed line asks of the radio; the answer to print."""
    words = line.split()
    if not words:
        return ""
    verb, rest = words[0].lower(), words[1:]
    try:
        if verb == "emergency" and len(rest) == 1:
            radio.emergency(rest[0])
        elif verb == "status" and len(rest) == 2:
            radio.status(rest[0], rest[1].upper() if radio.radio.dialect.name == "ccdi" else rest[1])
        elif verb == "text" and len(rest) >= 2:
            radio.text(rest[0], " ".join(rest[1:]))
        elif verb == "end" and not rest:
            radio.end_emergency()
        elif verb == "base-emergency" and not rest:
            radio.base_emergency()
        elif verb == "noise" and len(rest) <= 1:
            radio.noise(int(rest[0]) if rest else 16)
        elif verb == "garble" and not rest:
            radio.garble_next()
        elif verb == "restart" and not rest:
            radio.restart()
        elif verb == "vanish" and not rest:
            radio.vanish()
        elif verb == "back" and not rest:
            radio.come_back()
        else:
            return CONSOLE_HELP
    except (ValueError, RuntimeError) as error:
        return f"cannot: {error}"
    return "ok"


def run(args: argparse.Namespace) -> int:
    # The one place that starts the real reactor; imported here so that importing this module never does.
    from twisted.internet import stdio
    from twisted.internet.task import react
    from twisted.protocols.basic import LineReceiver

    from hub.logging_setup import configure_logging

    try:
        config = config_from_arguments(args)
    except ValueError as error:
        print(f"hub shopwatch-sim: {error}", file=sys.stderr)
        return 2
    configure_logging(level="info", format="console", stream=sys.stderr)

    class Console(LineReceiver):
        delimiter = b"\n"

        def __init__(self, radio: PtyRadio) -> None:
            self._radio = radio

        def lineReceived(self, line: bytes) -> None:
            answer = console_command(self._radio, line.decode("utf-8", "replace"))
            if answer:
                self.sendLine(answer.encode("utf-8"))

    def main(reactor: Any) -> "Deferred[None]":
        simulator = ShopwatchSimulator(reactor, config, log=structlog.get_logger().bind(simulator="shopwatch-sim"))
        simulator.startService()
        # Stopped before the reactor goes, so the symlink is removed on Ctrl-C.
        reactor.addSystemEventTrigger("before", "shutdown", simulator.stopService)
        if sys.stdin.isatty():
            stdio.StandardIO(Console(simulator.radio), reactor=reactor)
            print(f"radio on {config.link}; type: {CONSOLE_HELP}", file=sys.stderr)
        return Deferred()  # runs until interrupted

    react(main)
    return 0  # pragma: no cover - react exits the process
