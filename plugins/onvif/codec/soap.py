"""SOAP 1.2 envelopes around request bodies, and the body (or fault) out of a camera's reply.

Request builders elsewhere in the codec return a body element as XML text with its namespaces declared on
it; ``envelope`` wraps it, with the WS-Security and WS-Addressing headers the caller asks for. On the way
back, ``body_of`` hands a reply parser the first element of the body, or raises the fault the camera sent,
so a parser never mistakes a fault for an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from attrs import field, frozen
from lxml import etree

from plugins.onvif.codec.namespaces import (
    NS,
    SOAP_ENV,
    SOAP_ENV_11,
    TDS,
    TEV,
    TPTZ,
    TR2,
    TRT,
    WSA,
)
from plugins.onvif.codec.xml import child, children, local_name, text_of

if TYPE_CHECKING:
    from plugins.onvif.codec.wsse import UsernameToken

#: How much of a fault's reason text is kept: enough to read, not enough to carry a camera's whole page.
MAX_REASON_CHARS = 240


class ReplyError(ValueError):
    """A well-formed reply that is not the answer to the operation asked (wrong body, missing element)."""


# --- Faults -----------------------------------------------------------------------------------------

#: Fault (sub)codes that mean "who you are was not accepted": ONVIF's ter:NotAuthorized and the
#: WS-Security faults cameras send instead, a digest made with a skewed clock among them.
_AUTH_CODES = frozenset(
    {
        "NotAuthorized",
        "FailedAuthentication",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedCheck",
        "MessageExpired",
        "SecurityTokenUnavailable",
        "UnsupportedSecurityToken",
    }
)
_AUTH_REASONS = (
    "not authorized",
    "not authorised",
    "notauthorized",
    "unauthorized",
    "time check",
    "authentication fail",
    "failedauthentication",
)
#: Fault names and reasons meaning the subscription addressed no longer exists (rebooted camera,
#: expired or dropped pull point).
_UNKNOWN_SUBSCRIPTION_CODES = frozenset(
    {
        "ResourceUnknownFault",
        "ResourceUnknown",
        "UnknownSubscription",
        "InvalidSubscription",
        "SubscriptionNotFound",
        "DestinationUnreachable",
    }
)
_UNKNOWN_SUBSCRIPTION_REASONS = (
    "resource unknown",
    "resourceunknown",
    "unknown resource",
    "unknown subscription",
    "no such subscription",
    "subscription not found",
    "subscription does not exist",
    "invalid subscription",
)

_PREFIX_OF_NAMESPACE = {namespace: prefix for prefix, namespace in NS.items()}
_PREFIX_OF_NAMESPACE[SOAP_ENV_11] = "s"
_WHITESPACE = re.compile(r"\s+")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _local(qname: str) -> str:
    return qname.rsplit(":", 1)[-1]


@frozen(str=False)
class SoapFault(Exception):
    """A SOAP fault a camera answered with. Codes are QNames with the prefix the hub uses for their
    namespace (``ter:NotAuthorized`` whatever the camera called ``ter``), or as sent when the namespace is
    not one the hub knows. ``details`` names the elements in the fault's Detail (WS-ResourceFramework puts
    ``ResourceUnknownFault`` there)."""

    code: str
    subcodes: tuple[str, ...]
    reason: str
    details: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        codes = " / ".join((self.code, *self.subcodes))
        return f"SOAP fault {codes}: {self.reason}" if self.reason else f"SOAP fault {codes}"

    @property
    def not_authorized(self) -> bool:
        """The camera refused the credentials or the time they were signed at (re-sync the clock once)."""
        for qname in (self.code, *self.subcodes):
            if _local(qname) in _AUTH_CODES or qname.startswith("wsse:"):
                return True
        reason = self.reason.casefold()
        return any(marker in reason for marker in _AUTH_REASONS)

    @property
    def is_unknown_subscription(self) -> bool:
        """The subscription addressed is gone: open a new pull point instead of retrying this one."""
        for qname in (*self.subcodes, *self.details):
            if _local(qname) in _UNKNOWN_SUBSCRIPTION_CODES:
                return True
        reason = self.reason.casefold()
        return any(marker in reason for marker in _UNKNOWN_SUBSCRIPTION_REASONS)


def _qname_text(element: etree._Element | None) -> str | None:
    """A QName-valued element's text, its prefix rewritten to the hub's for a namespace the hub knows."""
    text = text_of(element)
    if text is None:
        return None
    prefix, colon, name = text.partition(":")
    if not colon:
        return text
    namespace = element.nsmap.get(prefix) if element is not None else None
    known = _PREFIX_OF_NAMESPACE.get(namespace) if namespace else None
    return f"{known}:{name}" if known else text


def _element_qname(element: etree._Element) -> str:
    name = local_name(element)
    namespace = etree.QName(element).namespace
    known = _PREFIX_OF_NAMESPACE.get(namespace) if namespace else None
    if known:
        return f"{known}:{name}"
    return f"{element.prefix}:{name}" if element.prefix else name


def _short_reason(text: str) -> str:
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def parse_fault(fault: etree._Element) -> SoapFault:
    """The ``SoapFault`` a Fault element describes, in the SOAP 1.2 shape or the 1.1 one."""
    code_element = child(fault, "Code")
    if code_element is not None:  # SOAP 1.2: Code/Value, Code/Subcode/Value nested, Reason/Text
        code = _qname_text(child(code_element, "Value")) or ""
        subcodes = []
        subcode = child(code_element, "Subcode")
        while subcode is not None and len(subcodes) < 8:
            value = _qname_text(child(subcode, "Value"))
            if value:
                subcodes.append(value)
            subcode = child(subcode, "Subcode")
        texts = children(child(fault, "Reason"), "Text")
        english = [text for text in texts if (text.get(_XML_LANG) or "").startswith("en")]
        reason = text_of((english or texts or [None])[0]) or ""
        detail = child(fault, "Detail")
    else:  # SOAP 1.1: faultcode, faultstring, detail
        code = _qname_text(child(fault, "faultcode")) or ""
        subcodes = []
        reason = text_of(child(fault, "faultstring")) or ""
        detail = child(fault, "detail")
    details = ()
    if detail is not None:
        details = tuple(_element_qname(item) for item in detail if isinstance(item.tag, str))[:8]
    return SoapFault(code=code, subcodes=tuple(subcodes), reason=_short_reason(reason), details=details)


# --- Envelopes --------------------------------------------------------------------------------------


def envelope(
    body_xml: str,
    *,
    security: UsernameToken | None = None,
    action: str | None = None,
    to: str | None = None,
    reference_parameters: Sequence[str] = (),
) -> bytes:
    """A SOAP 1.2 request around ``body_xml``, as UTF-8 bytes.

    ``action`` and ``to`` become WS-Addressing headers (not marked mustUnderstand: cameras that ignore
    WS-Addressing would otherwise fault). ``reference_parameters`` are header elements a subscription
    reference told the hub to echo (``Subscription.reference_parameters``).
    """
    from xml.sax.saxutils import escape

    headers = []
    if security is not None:
        headers.append(security.header_xml())
    if action is not None:
        headers.append(f'<wsa:Action xmlns:wsa="{WSA}">{escape(action)}</wsa:Action>')
    if to is not None:
        headers.append(f'<wsa:To xmlns:wsa="{WSA}">{escape(to)}</wsa:To>')
    headers.extend(reference_parameters)
    header = f"<s:Header>{''.join(headers)}</s:Header>" if headers else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}">{header}<s:Body>{body_xml}</s:Body></s:Envelope>'
    ).encode()


def body_of(root: etree._Element) -> etree._Element:
    """The first element in the reply's Body. Raises ``SoapFault`` for a fault and ``ReplyError`` for a
    document that is not a SOAP envelope or has an empty body."""
    tag = root.tag
    if not isinstance(tag, str) or tag not in (f"{{{SOAP_ENV}}}Envelope", f"{{{SOAP_ENV_11}}}Envelope"):
        raise ReplyError(f"reply is not a SOAP envelope (root element {local_name(root) or '?'})")
    body = child(root, "Body")
    if body is None:
        raise ReplyError("reply has no SOAP Body")
    for element in body:
        if not isinstance(element.tag, str):
            continue
        if local_name(element) == "Fault":
            raise parse_fault(element)
        return element
    raise ReplyError("reply's SOAP Body is empty")


def expect(root: etree._Element, response: str) -> etree._Element:
    """The body element, checked to be ``response`` (by local name: cameras choose their prefixes)."""
    body = body_of(root)
    name = local_name(body)
    if name != response:
        raise ReplyError(f"expected {response} in the reply, got {name or 'no element'}")
    return body


# --- Actions ----------------------------------------------------------------------------------------

_EVENT_ACTIONS = {
    "CreatePullPointSubscription": f"{TEV}/EventPortType/CreatePullPointSubscriptionRequest",
    "GetEventProperties": f"{TEV}/EventPortType/GetEventPropertiesRequest",
    "PullMessages": f"{TEV}/PullPointSubscription/PullMessagesRequest",
    "SetSynchronizationPoint": f"{TEV}/PullPointSubscription/SetSynchronizationPointRequest",
    "Renew": "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
    "Unsubscribe": "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest",
}
_SERVICE_OPERATIONS = {
    TDS: ("GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetDeviceInformation"),
    TRT: ("GetProfiles", "GetStreamUri", "GetSnapshotUri"),
    TPTZ: ("GetPresets", "GotoPreset", "ContinuousMove", "Stop", "GotoHomePosition"),
}


def action_for(service_ns: str, operation: str) -> str:
    """The SOAP action URI of ``operation`` on the service ``service_ns`` (Media2 shares operation names
    with Media, so this is the lookup that tells them apart)."""
    if service_ns == TEV and operation in _EVENT_ACTIONS:
        return _EVENT_ACTIONS[operation]
    return f"{service_ns}/{operation}"


#: Operation name -> SOAP action URI. Names Media and Media2 share map to Media (ver10); use
#: ``action_for(TR2, name)`` for Media2.
ACTIONS: dict[str, str] = {
    **{
        operation: action_for(service, operation)
        for service, operations in _SERVICE_OPERATIONS.items()
        for operation in operations
    },
    **_EVENT_ACTIONS,
}

#: The Media2 actions, for completeness beside ``ACTIONS``.
MEDIA2_ACTIONS: dict[str, str] = {operation: action_for(TR2, operation) for operation in _SERVICE_OPERATIONS[TRT]}

__all__ = [
    "ACTIONS",
    "MAX_REASON_CHARS",
    "MEDIA2_ACTIONS",
    "ReplyError",
    "SoapFault",
    "action_for",
    "body_of",
    "envelope",
    "expect",
    "parse_fault",
]
