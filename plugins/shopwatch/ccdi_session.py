"""The conversation with a Tait base radio in CCDI: setting it up, keeping it awake, and reading what it says.

At start (and after the radio restarts) the hub turns RING and PROGRESS output on and has received SDMs
pushed, then asks the model and serial number. While idle it asks the model every ``keepalive_s``, so a
hung line is noticed. Rings become emergencies and status reports, PROGRESS messages end emergencies and
confirm deliveries, and received SDMs are fetched if not pushed, reported, and deleted so the radio can
take the next one.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from twisted.internet.defer import DeferredList
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from hub.events import Severity
from plugins.shopwatch.alerts import Alerts
from plugins.shopwatch.codec import CodecError
from plugins.shopwatch.codec.ccdi import (
    ADDRESS_LENGTH,
    CANCEL_CALL,
    DELETE_SDM,
    PROGRESS_DATA_RECEIVED,
    PROGRESS_EMERGENCY_ENDED,
    PROGRESS_EMERGENCY_STARTED,
    PROGRESS_RADIO_RESTARTED,
    PROGRESS_SDM_AUTO_ACK,
    PROGRESS_SELCALL_RETRY,
    QUERY_MODEL,
    QUERY_SDM,
    QUERY_SERIAL,
    RING_SDM,
    STARTUP_FUNCTIONS,
    Cancel,
    Progress,
    Query,
    RadioInfo,
    ReceivedSdm,
    Ring,
    SendSdm,
    TransactionError,
)
from plugins.shopwatch.config import ShopwatchConfig
from plugins.shopwatch.deliveries import Deliveries
from plugins.shopwatch.events import (
    ALARM_REQUEST,
    BASE_EMERGENCY_MODE,
    EMERGENCY_CALL,
    RADIO_ERROR,
    RadioIdentified,
    RadioRestarted,
)
from plugins.shopwatch.line_health import LineHealth
from plugins.shopwatch.link import Link, LinkClosed, Request
from plugins.shopwatch.members import BASE_UNIT, UNIDENTIFIED_UNIT

#: How long an announced SDM may take to be pushed before the hub asks for it.
SDM_PUSH_WAIT_S = 1.0
#: A PROGRESS 03 (emergency mode) within this long of a ring that raised an emergency is that emergency.
RING_ATTRIBUTION_S = 10.0

_UNIT = re.compile(r"^[A-Za-z0-9]{1,8}$")


def _info(kind: str) -> Callable[[Any], bool]:
    return lambda message: isinstance(message, RadioInfo) and message.kind == kind


def _function_label(function: Any) -> str:
    return f"function {function.function}/{function.sub}/{function.qualifier}"


class CcdiSession:
    """Everything CCDI-specific the adapter does, over a ``Link`` it shares with the commands."""

    #: PROGRESS 1D acknowledges SDMs to one unit; a group SDM gets no report.
    reports_group_sends = False

    def __init__(
        self,
        *,
        config: ShopwatchConfig,
        link: Link,
        deliveries: Deliveries,
        alerts: Alerts,
        line_health: LineHealth,
        announce: Callable[[Any, Severity, str], None],
        clock: Any,
        log: Any,
    ) -> None:
        self._config = config
        self._link = link
        self._deliveries = deliveries
        self._alerts = alerts
        self._line_health = line_health
        self._announce = announce  # publishes an event about the radio itself
        self._clock = clock
        self._log = log
        self._keepalive_call: IDelayedCall | None = None
        self._sdm_wait: IDelayedCall | None = None
        self._fetching_sdm = False
        self._deleting_sdm = False
        self._sdm_caller: str | None = None
        self._last_ring: tuple[str, float] | None = None
        self._stopped = False

    # --- life ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._initialise(restarted=False)
        if self._config.keepalive_s:
            self._keepalive_call = self._clock.callLater(self._config.keepalive_s, self._keepalive)

    def stop(self) -> None:
        self._stopped = True
        for call in (self._keepalive_call, self._sdm_wait):
            if call is not None and call.active():
                call.cancel()
        self._keepalive_call = self._sdm_wait = None

    def _initialise(self, *, restarted: bool) -> None:
        functions = [Request(function, _function_label(function), internal=True) for function in STARTUP_FUNCTIONS]
        queries = [
            Request(Query(QUERY_MODEL), "query model", reply=_info("model"), internal=True),
            Request(Query(QUERY_SERIAL), "query serial number", reply=_info("serial"), internal=True),
        ]
        if restarted:
            settled = self._link.restarted(functions + queries)
        else:
            settled = [self._link.submit(request) for request in functions + queries]
        DeferredList(settled[: len(functions)], consumeErrors=True).addCallback(self._initialised, restarted)
        DeferredList(settled[len(functions):], consumeErrors=True).addCallback(self._identified)

    def _initialised(self, results: list[tuple[bool, Any]], restarted: bool) -> None:
        failures = [result for ok, result in results if not ok]
        if any(failure.check(LinkClosed) for failure in failures):
            return  # stopping: nothing to say about the radio
        if failures:
            self._log.warning("radio_initialise_failed", errors=[failure.getErrorMessage() for failure in failures])
        else:
            self._log.info("radio_initialised")
        if restarted:
            ok = not failures
            summary = f"{self._config.scheme} base radio restarted; " + (
                "its settings were sent again" if ok else "setting it up again failed: rings and texts may be missed"
            )
            self._announce(RadioRestarted(reinitialised=ok), Severity.MEDIUM, summary)

    def _identified(self, results: list[tuple[bool, Any]]) -> None:
        if not all(ok for ok, _result in results):
            failures = [result for ok, result in results if not ok]
            if not any(failure.check(LinkClosed) for failure in failures):
                self._log.warning("radio_identify_failed",
                                  errors=[failure.getErrorMessage() for failure in failures])
            return
        model, serial = (reply.text for _ok, reply in results)
        self._log.info("radio_identified", model=model, serial=serial)
        self._announce(RadioIdentified(model=model, serial=serial), Severity.INFO,
                       f"{self._config.scheme} base radio: {model}, serial number {serial}")

    def _keepalive(self) -> None:
        self._keepalive_call = self._clock.callLater(self._config.keepalive_s, self._keepalive)
        # Commands in flight show the radio is answering well enough; only an idle line needs asking.
        if self._link.idle:
            request = Request(Query(QUERY_MODEL), "keep-alive", reply=_info("model"), internal=True)
            self._link.submit(request).addErrback(self._request_failed, "keep-alive")

    # --- commands ------------------------------------------------------------------------------------

    def group_request(self, text: str) -> Request:
        return Request(SendSdm(self._config.group(), text, self._config.lead_in), "broadcast SDM")

    def unit_request(self, unit: str, text: str) -> Request:
        if not _UNIT.match(unit):
            raise CodecError(f"a CCDI unit is 1 to 8 letters or digits, not {unit!r}")
        # SDM addresses are 8 characters; a Selcall id ("12345") is padded on the left with zeros.
        address = unit.rjust(ADDRESS_LENGTH, "0")
        return Request(SendSdm(address, text, self._config.lead_in), f"SDM to {unit}")

    def end_emergency_request(self, unit: str) -> Request:
        return Request(Cancel(CANCEL_CALL), f"cancel call (end emergency of {unit})")

    # --- from the radio ------------------------------------------------------------------------------

    def received(self, message: Any) -> None:
        """A message the link did not take: unsolicited news from the radio."""
        if isinstance(message, Ring):
            self._ring(message)
        elif isinstance(message, Progress):
            self._progress(message)
        elif isinstance(message, ReceivedSdm):
            self._pushed_sdm(message)
        elif isinstance(message, TransactionError):
            if not message.fatal:  # fatal ones were reported by the link
                self._log.warning("radio_error_unasked", error=message.meaning)
                self._line_health.record(RADIO_ERROR, detail=f"the radio reported {message.meaning} unasked")
        else:
            self._log.info("radio_message_ignored", message=repr(message))

    def _ring(self, ring: Ring) -> None:
        caller = ring.caller or UNIDENTIFIED_UNIT
        self._last_ring = (caller, self._clock.seconds())
        if ring.call_type == RING_SDM:
            self._sdm_caller = caller
            self._sdm_announced()
        if ring.emergency:
            trigger = EMERGENCY_CALL if ring.priority == 1 else ALARM_REQUEST
            self._alerts.emergency(caller, trigger, status=ring.status)
        elif ring.status is not None:
            self._alerts.status(caller, f"{ring.status:02X}", ring.status)
        else:
            self._alerts.heard(caller)
            self._log.info("ring_received", unit=caller, call_type=ring.call_type)

    def _progress(self, progress: Progress) -> None:
        ptype = progress.ptype
        if ptype == PROGRESS_EMERGENCY_STARTED:
            # Only an emergency ring starts emergency mode: after an ordinary one (a status, a text) its
            # caller is not the one in trouble, and naming them would send help to the wrong member.
            recent = (self._last_ring is not None and self._last_ring[0] in self._alerts.active
                      and self._clock.seconds() - self._last_ring[1] <= RING_ATTRIBUTION_S)
            self._alerts.emergency(self._last_ring[0] if recent else BASE_UNIT, BASE_EMERGENCY_MODE)
        elif ptype == PROGRESS_EMERGENCY_ENDED:
            self._alerts.ended_by_radio("the base radio left emergency mode")
        elif ptype == PROGRESS_DATA_RECEIVED:
            self._sdm_announced()
        elif ptype == PROGRESS_SDM_AUTO_ACK:
            if progress.para1 in ("0", "1"):
                self._deliveries.report(progress.para1 == "1")
            else:
                self._log.warning("delivery_report_unreadable", detail=progress.detail)
        elif ptype == PROGRESS_RADIO_RESTARTED:
            self._restarted()
        elif ptype == PROGRESS_SELCALL_RETRY:
            self._log.info("radio_selcall_retry", detail=progress.detail)
        else:
            self._log.debug("radio_progress", ptype=f"{ptype:02X}", detail=progress.detail)

    def _restarted(self) -> None:
        self._log.warning("radio_restarted")
        # Whatever the radio held or was fetching is gone with its memory.
        self._fetching_sdm = self._deleting_sdm = False
        self._initialise(restarted=True)

    # --- received short data messages ----------------------------------------------------------------

    def _sdm_announced(self) -> None:
        if self._sdm_wait is None and not self._fetching_sdm and not self._stopped:
            self._sdm_wait = self._clock.callLater(SDM_PUSH_WAIT_S, self._fetch_sdm)

    def _fetch_sdm(self) -> None:
        self._sdm_wait = None
        self._fetching_sdm = True
        request = Request(Query(QUERY_SDM), "query SDM", reply=lambda message: isinstance(message, ReceivedSdm),
                          internal=True)

        def fetched(reply: ReceivedSdm) -> None:
            self._fetching_sdm = False
            self._sdm(reply.text)

        def not_fetched(failure: Failure) -> None:
            self._fetching_sdm = False
            self._request_failed(failure, "query SDM")

        self._link.submit(request).addCallbacks(fetched, not_fetched)

    def _pushed_sdm(self, message: ReceivedSdm) -> None:
        if self._sdm_wait is not None and self._sdm_wait.active():
            self._sdm_wait.cancel()
        self._sdm_wait = None
        self._sdm(message.text)

    def _sdm(self, text: str) -> None:
        if not text:
            self._log.info("sdm_none_held")
            return
        if self._deleting_sdm:
            # The radio holds one SDM until it is deleted: this is the one already reported.
            self._log.info("sdm_repeat_ignored")
            return
        sender, self._sdm_caller = self._sdm_caller or UNIDENTIFIED_UNIT, None
        self._alerts.text(sender, text)
        # Deleted at once: until it is, the radio takes no further SDM.
        self._deleting_sdm = True

        def deleted(result: object) -> None:
            self._deleting_sdm = False
            if isinstance(result, Failure):
                self._request_failed(result, "delete SDM")

        self._link.submit(Request(Cancel(DELETE_SDM), "delete SDM", internal=True)).addBoth(deleted)

    def _request_failed(self, failure: Failure, label: str) -> None:
        if failure.check(LinkClosed):
            return
        # The link has counted and reported it; this is for whoever reads the log.
        self._log.warning("radio_request_failed", request=label, error=failure.getErrorMessage())
