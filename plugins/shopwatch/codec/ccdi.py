"""Tait CCDI v3 (Command and Control Data Interface), sans-IO.

A frame is ``IDENT SIZE PARAMETERS CHECKSUM <CR>`` in printable ASCII: one letter, two upper-case hex digits
counting the parameter characters, the parameters, and two hex digits that make the byte sum of everything
before them zero modulo 256. The radio also sends a bare ``.`` (not framed) for "transaction OK": once for
each command it accepts, and once after every frame it sends.

Letters mean different things in each direction (``s`` is "send SDM" from the PC and "a received SDM" from
the radio; ``d`` is "dial" and "display"), so a decoder is made for one direction.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Literal

from attrs import frozen

from plugins.shopwatch.codec import CodecError, DecoderStats, Direction

CR = 0x0D
PROMPT_BYTE = 0x2E  # "."
MAX_PARAMETERS = 255
#: Longest text one short data message carries.
MAX_SDM_TEXT = 32
#: The SDM address that reaches every unit: ``*`` is a wildcard in group sends.
ALL_UNITS = "********"
ADDRESS_LENGTH = 8

# PROGRESS types the adapter acts on.
PROGRESS_EMERGENCY_STARTED = 0x03
PROGRESS_EMERGENCY_ENDED = 0x04
PROGRESS_SELCALL_RETRY = 0x16
PROGRESS_DATA_RECEIVED = 0x19
PROGRESS_SDM_AUTO_ACK = 0x1D
PROGRESS_RADIO_RESTARTED = 0x1F

# RING TYPE1: what kind of call came in.
RING_VOICE = 0
RING_STATUS = 2
RING_INTERROGATION = 3
RING_SDM = 4
RING_DATA = 5
RING_REMOTE_MONITOR = 6
RING_ALARM_REQUEST = 9  # TYPE4: an emergency alarm request
NO_STATUS = 0xFF

# Cancel and query parameters.
CANCEL_CALL = 0
DELETE_SDM = 1
QUERY_MODEL = 0
QUERY_SDM = 1
QUERY_VERSIONS = 3
QUERY_SERIAL = 4
QUERY_TEST = 5
QUERY_GPS = 6
QUERY_DISPLAY = 7

_ERROR_MEANINGS = {
    (0, 0x01): "unsupported command",
    (0, 0x02): "checksum error",
    (0, 0x03): "parameter error",
    (0, 0x05): "radio not ready",
    (0, 0x06): "command not accepted",
}

_INFO_KINDS = {"m": "model", "v": "versions", "n": "serial", "j": "test", "d": "display"}
_INFO_IDENTS = {kind: ident for ident, kind in _INFO_KINDS.items()}

# --- Radio to PC ----------------------------------------------------------------------------------


@frozen
class Prompt:
    """``.``: transaction OK. Alone it accepts the command in flight; after a frame it closes that frame."""


@frozen
class UnreadableFrame:
    """A frame from the radio that could not be read (bad checksum, or fields that make no sense).

    It carries nothing, but the radio follows it with a ``.`` like any frame: whoever keeps the handshake
    must take that ``.`` as its trailer, not as the acceptance of a command.
    """


@frozen
class TransactionError:
    """``e``: the radio refused the command in flight (ETYPE 0) or hit a fatal error (ETYPE 1)."""

    etype: int
    errnum: int

    @property
    def not_ready(self) -> bool:
        return self.etype == 0 and self.errnum == 0x05

    @property
    def fatal(self) -> bool:
        return self.etype == 1

    @property
    def meaning(self) -> str:
        if self.fatal:
            return f"fatal radio error {self.errnum:02X}"
        return _ERROR_MEANINGS.get((self.etype, self.errnum), f"transaction error {self.errnum:02X}")


@frozen
class Progress:
    """``p``: the radio reports progress: PTYPE and whatever parameters that type carries."""

    ptype: int
    detail: str = ""

    @property
    def para1(self) -> str:
        return self.detail[:1]


@frozen
class Ring:
    """``r``: an incoming call. ``status`` is None when no status code came with it (``FF``).

    ``call_type`` is TYPE1 (voice, status, SDM, ...), ``priority`` TYPE2 (1: emergency), ``scope`` TYPE3
    (individual, group, super-group) and ``alarm`` TYPE4 (9: emergency alarm request).
    """

    category: str
    call_type: int
    priority: int
    scope: int
    alarm: int
    status: int | None
    caller: str

    @property
    def emergency(self) -> bool:
        return self.priority == 1 or self.alarm == RING_ALARM_REQUEST


@frozen
class ReceivedSdm:
    """``s`` from the radio: the held short data message (empty when none is held)."""

    text: str


@frozen
class RadioInfo:
    """A reply to a query: model, versions, serial, test readings or display."""

    kind: Literal["model", "versions", "serial", "test", "display"]
    text: str


# --- PC to radio ----------------------------------------------------------------------------------


@frozen
class Cancel:
    """``c``: 0 cancels the call (and clears emergency), 1 deletes the held SDM."""

    what: int


@frozen
class Dial:
    """``d``: 0 dials Selcall, 1 DTMF, then the digits."""

    mode: int
    digits: str


@frozen
class Function:
    """``f``: FUNC SUB QUAL, e.g. ``0 3 1`` turns RING output on."""

    function: str
    sub: str
    qualifier: str


@frozen
class GoToChannel:
    """``g``: change to a channel."""

    channel: str


@frozen
class Query:
    """``q``: ask for model (0), the held SDM (1), versions (3), serial (4), test readings (5), GPS (6), display (7)."""

    what: int


@frozen
class SendSdm:
    """``s`` from the PC: send ``text`` to ``address`` (8 characters, ``*`` wildcards for a group).

    ``lead_in`` is in units of 20 ms, 0 to 255.
    """

    address: str
    text: str
    lead_in: int = 0


#: RING output on, PROGRESS output on, received SDMs pushed without a query. A restart loses them.
STARTUP_FUNCTIONS = (Function("0", "3", "1"), Function("0", "4", "1"), Function("1", "0", "1"))

# --- Framing --------------------------------------------------------------------------------------

_HEX_PAIRS = {f"{value:02X}".encode("ascii"): value for value in range(256)}
_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")


def checksum(body: bytes) -> int:
    """The checksum of IDENT, SIZE and PARAMETERS: two's complement of the low byte of their sum."""
    return (-sum(body)) & 0xFF


def frame(ident: str, params: str) -> bytes:
    """One frame, CR included. ``CodecError`` if the parameters cannot be sent."""
    if len(params) > MAX_PARAMETERS:
        raise CodecError(f"CCDI parameters are at most {MAX_PARAMETERS} characters, not {len(params)}")
    body = f"{ident}{len(params):02X}{params}".encode("ascii")
    return body + b"%02X\r" % checksum(body)


def _printable(text: str, what: str) -> str:
    if not text.isascii() or not text.isprintable():
        raise CodecError(f"{what} may only hold printable ASCII characters: {text!r}")
    return text


def _digit(value: int, what: str, limit: int = 9) -> str:
    if not isinstance(value, int) or not 0 <= value <= limit:
        raise CodecError(f"{what} must be a digit from 0 to {limit}, not {value!r}")
    return f"{value:X}"


def encode(message: Any) -> bytes:
    """The bytes for one message, in either direction. ``CodecError`` says what cannot be sent."""
    if isinstance(message, Prompt):
        return b"."
    encoder = _ENCODERS.get(type(message))
    if encoder is None:
        raise CodecError(f"CCDI has no frame for {type(message).__name__}")
    ident, params = encoder(message)
    return frame(ident, params)


def _encode_send_sdm(message: SendSdm) -> tuple[str, str]:
    if len(message.address) != ADDRESS_LENGTH:
        raise CodecError(f"an SDM address is {ADDRESS_LENGTH} characters, not {message.address!r}")
    _printable(message.address, "an SDM address")
    if len(message.text) > MAX_SDM_TEXT:
        raise CodecError(f"an SDM carries at most {MAX_SDM_TEXT} characters; this text has {len(message.text)}")
    _printable(message.text, "an SDM text")
    if not isinstance(message.lead_in, int) or not 0 <= message.lead_in <= 0xFF:
        raise CodecError(f"the SDM lead-in is 0 to 255 (x 20 ms), not {message.lead_in!r}")
    return "s", f"{message.lead_in:02X}{message.address}{message.text}"


def _encode_ring(message: Ring) -> tuple[str, str]:
    if len(message.category) != 1:
        raise CodecError(f"RCAT is one character, not {message.category!r}")
    status = NO_STATUS if message.status is None else message.status
    if not 0 <= status <= 0xFF:
        raise CodecError(f"a status code is 00 to FF, not {status!r}")
    fields = [_digit(value, name, 15) for value, name in [
        (message.call_type, "TYPE1"), (message.priority, "TYPE2"), (message.scope, "TYPE3"),
        (message.alarm, "TYPE4")]]
    return "r", _printable(f"{message.category}{''.join(fields)}{status:02X}{message.caller}", "a ring")


def _encode_error(message: TransactionError) -> tuple[str, str]:
    if not 0 <= message.errnum <= 0xFF:
        raise CodecError(f"ERRNUM is 00 to FF, not {message.errnum!r}")
    return "e", f"{_digit(message.etype, 'ETYPE')}{message.errnum:02X}"


def _encode_progress(message: Progress) -> tuple[str, str]:
    if not 0 <= message.ptype <= 0xFF:
        raise CodecError(f"PTYPE is 00 to FF, not {message.ptype!r}")
    return "p", _printable(f"{message.ptype:02X}{message.detail}", "progress parameters")


def _encode_function(message: Function) -> tuple[str, str]:
    if len(message.function) != 1 or len(message.sub) != 1 or not message.qualifier:
        raise CodecError("a function is one FUNC character, one SUB character and a qualifier")
    return "f", _printable(f"{message.function}{message.sub}{message.qualifier}", "a function")


def _encode_dial(message: Dial) -> tuple[str, str]:
    if not message.digits:
        raise CodecError("dialling needs digits")
    return "d", _printable(f"{_digit(message.mode, 'the dial mode', 1)}{message.digits}", "dial digits")


def _encode_channel(message: GoToChannel) -> tuple[str, str]:
    if not message.channel:
        raise CodecError("a channel change needs a channel")
    return "g", _printable(message.channel, "a channel")


def _encode_info(message: RadioInfo) -> tuple[str, str]:
    ident = _INFO_IDENTS.get(message.kind)
    if ident is None:
        raise CodecError(f"no CCDI reply carries {message.kind!r}")
    return ident, _printable(message.text, "a reply")


_ENCODERS: dict[type, Callable[[Any], tuple[str, str]]] = {
    TransactionError: _encode_error,
    Progress: _encode_progress,
    Ring: _encode_ring,
    ReceivedSdm: lambda message: ("s", _printable(message.text, "an SDM text")),
    RadioInfo: _encode_info,
    Cancel: lambda message: ("c", _digit(message.what, "the cancel type", 1)),
    Dial: _encode_dial,
    Function: _encode_function,
    GoToChannel: _encode_channel,
    Query: lambda message: ("q", _digit(message.what, "the query type")),
    SendSdm: _encode_send_sdm,
}

# --- Parsing parameters (raise ValueError on nonsense: the frame is then counted as malformed) -----


def _hex(text: str) -> int:
    if len(text) != 2 or text.upper() != text:
        raise ValueError(f"not two upper-case hex digits: {text!r}")
    return int(text, 16)


def _parse_error(params: str) -> TransactionError:
    if len(params) != 3 or not params[0].isdigit():
        raise ValueError(f"an error is ETYPE and two hex digits: {params!r}")
    return TransactionError(int(params[0]), _hex(params[1:]))


def _parse_progress(params: str) -> Progress:
    if len(params) < 2:
        raise ValueError(f"a progress message starts with two hex digits: {params!r}")
    return Progress(_hex(params[:2]), params[2:])


def _parse_ring(params: str) -> Ring:
    if len(params) < 7:
        raise ValueError(f"a ring is RCAT, four types and a status: {params!r}")
    types = [int(character, 16) for character in params[1:5]]
    status = _hex(params[5:7])
    return Ring(params[0], *types, None if status == NO_STATUS else status, params[7:])


def _parse_send_sdm(params: str) -> SendSdm:
    if len(params) < 2 + ADDRESS_LENGTH or len(params) > 2 + ADDRESS_LENGTH + MAX_SDM_TEXT:
        raise ValueError(f"send SDM is a lead-in, an 8-character address and up to 32 characters: {params!r}")
    return SendSdm(params[2:10], params[10:], _hex(params[:2]))


def _single_digit(params: str, limit: int) -> int:
    if len(params) != 1 or not params.isdigit() or int(params) > limit:
        raise ValueError(f"expected one digit from 0 to {limit}: {params!r}")
    return int(params)


def _parse_function(params: str) -> Function:
    if len(params) < 3:
        raise ValueError(f"a function is FUNC SUB QUAL: {params!r}")
    return Function(params[0], params[1], params[2:])


def _parse_dial(params: str) -> Dial:
    if len(params) < 2:
        raise ValueError(f"dial is a mode and digits: {params!r}")
    return Dial(_single_digit(params[0], 1), params[1:])


def _nonempty(params: str) -> str:
    if not params:
        raise ValueError("empty parameters")
    return params


_FROM_RADIO: dict[int, Callable[[str], Any]] = {
    ord("e"): _parse_error,
    ord("p"): _parse_progress,
    ord("r"): _parse_ring,
    ord("s"): ReceivedSdm,
    **{ord(ident): (lambda kind: lambda params: RadioInfo(kind, params))(kind) for ident, kind in _INFO_KINDS.items()},
}

_TO_RADIO: dict[int, Callable[[str], Any]] = {
    ord("c"): lambda params: Cancel(_single_digit(params, 1)),
    ord("d"): _parse_dial,
    ord("f"): _parse_function,
    ord("g"): lambda params: GoToChannel(_nonempty(params)),
    ord("q"): lambda params: Query(_single_digit(params, 9)),
    ord("s"): _parse_send_sdm,
}

_PROMPT = Prompt()
_UNREADABLE = UnreadableFrame()


class CcdiDecoder:
    """Reads CCDI from a byte stream fed in pieces of any size; never raises, never wedges.

    Anything that is not a whole, well-formed frame is skipped one byte at a time, so the next frame is
    found however the stream was broken. A frame that cannot be complete (a CR too early, a byte that is
    not printable ASCII) is given up at once rather than waited for. At most one frame's worth of bytes is
    ever held between calls.
    """

    def __init__(self, direction: Direction = "from_radio") -> None:
        if direction not in ("from_radio", "to_radio"):
            raise ValueError(f"direction is from_radio or to_radio, not {direction!r}")
        self.direction = direction
        self._parsers = _FROM_RADIO if direction == "from_radio" else _TO_RADIO
        # Only the radio sends the bare ".".
        self._prompts = direction == "from_radio"
        self._pending = b""
        # How many bytes at the start of ``_pending`` still lie inside an unreadable frame already reported.
        self._inside = 0
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._pending + data if self._pending else bytes(data)
        # The last index inside an unreadable frame: a "." up to there is its text, not a prompt.
        inside_until = self._inside - 1
        messages: list[Any] = []
        stats = self.stats
        parsers = self._parsers
        length = len(buffer)
        position = 0
        garbage = 0
        while position < length:
            ident = buffer[position]
            if ident == PROMPT_BYTE and self._prompts and position > inside_until:
                messages.append(_PROMPT)
                stats.prompts += 1
                position += 1
                continue
            parse = parsers.get(ident)
            if parse is None:
                garbage += 1
                position += 1
                continue
            if length - position < 3:
                break  # the size is not here yet
            size = _HEX_PAIRS.get(buffer[position + 1 : position + 3])
            if size is None:
                garbage += 1
                position += 1
                continue
            end = position + 5 + size  # where the CR must be
            if end >= length:
                # Incomplete. Wait for the rest, unless what is here already rules the frame out.
                if buffer.find(b"\r", position + 3) != -1 or _NOT_PRINTABLE.search(buffer, position + 3):
                    garbage += 1
                    position += 1
                    continue
                break
            if buffer[end] != CR or buffer.find(b"\r", position + 3, end) != -1:
                garbage += 1
                position += 1
                continue
            body = buffer[position : end - 2]
            check = _HEX_PAIRS.get(buffer[end - 2 : end])
            if check is None or (sum(body) + check) & 0xFF:
                stats.bad_checksums += 1
                if self._prompts and end > inside_until:
                    messages.append(_UNREADABLE)
                    inside_until = end
                garbage += 1
                position += 1
                continue
            try:
                params = buffer[position + 3 : end - 2].decode("ascii")
                if not params.isprintable():
                    raise ValueError("not printable")
                message = parse(params)
            except ValueError:
                # The checksum says the radio meant these bytes; they are still nothing we can use.
                stats.malformed += 1
                if self._prompts:
                    messages.append(_UNREADABLE)
                position = end + 1
                continue
            messages.append(message)
            stats.frames += 1
            position = end + 1
        stats.garbage_bytes += garbage
        self._pending = buffer[position:]
        self._inside = max(0, inside_until - position + 1)
        return messages
