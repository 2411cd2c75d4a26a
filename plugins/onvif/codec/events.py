"""Events service: pull-point subscriptions (create, pull, renew, unsubscribe, synchronise) and the
notifications a pull brings back.

PullMessages is the hot path (hundreds of notifications a second across a fleet), so its parser walks the
reply's elements once, directly, with no XPath and no per-call compiling. Everything read from a camera is
bounded: a notification keeps at most ``MAX_ITEMS`` items per list and ``MAX_TEXT`` characters per text.

Topics are normalised so the rest of the hub can compare strings: whatever prefix a camera bound to the
ONVIF topic namespace becomes ``tns1:``; a vendor's own topic namespace keeps the prefix the camera wrote
(``tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1``), which is readable and stable per vendor.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from attrs import field, frozen
from lxml import etree

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.soap import ReplyError, expect
from plugins.onvif.codec.times import format_duration, parse_datetime
from plugins.onvif.codec.xml import child, local_name, text_of

TerminationStyle = Literal["relative", "absolute", "absent"]

#: Items kept per Source, Key or Data list, and characters kept per name, value or topic.
MAX_ITEMS = 32
MAX_TEXT = 256
#: Reference parameters are echoed back to the camera as headers: keep them small.
MAX_REFERENCE_PARAMETERS_CHARS = 4096

_TEV = f'xmlns:tev="{ns.TEV}"'
_WSNT = f'xmlns:wsnt="{ns.WSNT}"'
_IS_REFERENCE_PARAMETER = f"{{{ns.WSA}}}IsReferenceParameter"


# --- CreatePullPointSubscription --------------------------------------------------------------------


def create_pull_point_subscription(*, termination: str | None) -> str:
    """Open a pull point. ``termination`` is the InitialTerminationTime already written (``PT60S`` or
    ``2026-11-22T10:01:00Z``), or None to leave it out (cameras disagree on which of the three they take)."""
    if termination is None:
        return f"<tev:CreatePullPointSubscription {_TEV}/>"
    return (
        f"<tev:CreatePullPointSubscription {_TEV}>"
        f"<tev:InitialTerminationTime>{escape(termination)}</tev:InitialTerminationTime>"
        "</tev:CreatePullPointSubscription>"
    )


@frozen
class Subscription:
    """A pull point the camera opened. ``address`` is as the camera wrote it (the client may rewrite
    host and port); ``reference_parameters`` are header elements the camera asked to have echoed on
    every request to that address (``soap.envelope(..., reference_parameters=...)``), as XML text."""

    address: str
    current_time: datetime | None
    termination_time: datetime | None
    reference_parameters: tuple[str, ...] = field(default=())


def _reference_parameters(reference: etree._Element | None) -> tuple[str, ...]:
    parameters = child(reference, "ReferenceParameters")
    if parameters is None:
        return ()
    texts = []
    total = 0
    for element in parameters:
        if not isinstance(element.tag, str):
            continue
        copy = deepcopy(element)
        copy.tail = None
        copy.set(_IS_REFERENCE_PARAMETER, "true")
        text = etree.tostring(copy, encoding="unicode")
        total += len(text)
        if total > MAX_REFERENCE_PARAMETERS_CHARS:
            raise ReplyError("subscription reference parameters are too large to echo")
        texts.append(text)
    return tuple(texts)


def parse_create_pull_point_subscription(root: etree._Element) -> Subscription:
    body = expect(root, "CreatePullPointSubscriptionResponse")
    reference = child(body, "SubscriptionReference")
    address = text_of(child(reference, "Address"))
    if address is None:
        raise ReplyError("CreatePullPointSubscriptionResponse has no SubscriptionReference Address")
    return Subscription(
        address=address,
        current_time=parse_datetime(text_of(child(body, "CurrentTime"))),
        termination_time=parse_datetime(text_of(child(body, "TerminationTime"))),
        reference_parameters=_reference_parameters(reference),
    )


# --- PullMessages ------------------------------------------------------------------------------------


def pull_messages(*, timeout_s: float, message_limit: int) -> str:
    """A long poll: the camera answers as soon as it has messages, or empty after ``timeout_s``."""
    if message_limit < 1:
        raise ValueError(f"message_limit must be at least 1, not {message_limit!r}")
    return (
        f"<tev:PullMessages {_TEV}><tev:Timeout>{format_duration(timeout_s)}</tev:Timeout>"
        f"<tev:MessageLimit>{int(message_limit)}</tev:MessageLimit></tev:PullMessages>"
    )


Items = tuple[tuple[str, str], ...]


@frozen
class Notification:
    """One event from a camera.

    ``topic`` is normalised (``tns1:VideoSource/MotionAlarm``); ``operation`` is the PropertyOperation
    (``Initialized``, ``Changed``, ``Deleted``) or None for a momentary event; ``utc_time`` is None when
    the camera's UtcTime is missing or impossible, with the text kept in ``raw_utc_time``. ``source``,
    ``key`` and ``data`` are the SimpleItem (and ElementItem) name/value pairs, in order."""

    topic: str
    operation: str | None
    utc_time: datetime | None
    raw_utc_time: str | None
    source: Items
    key: Items
    data: Items
    producer: str | None

    def data_value(self, name: str) -> str | None:
        """The first Data item called ``name``."""
        return _value(self.data, name)

    def source_value(self, name: str) -> str | None:
        """The first Source item called ``name``."""
        return _value(self.source, name)


def _value(items: Items, name: str) -> str | None:
    for item_name, value in items:
        if item_name == name:
            return value
    return None


@frozen
class PullResult:
    current_time: datetime | None
    termination_time: datetime | None
    notifications: tuple[Notification, ...]


def _bounded(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT]


def _is_topics_namespace(namespace: str | None) -> bool:
    return namespace is not None and (namespace == ns.TNS1 or namespace.rstrip("/") == ns.TNS1)


def normalise_topic(topic: etree._Element | None) -> str:
    """A Topic element's text with the ONVIF topic namespace's prefix, whatever the camera called it,
    written ``tns1:``. Other prefixes are kept as sent; an empty topic is ``""``."""
    text = text_of(topic)
    if text is None:
        return ""
    text = _bounded(text)
    nsmap = topic.nsmap
    segments = text.split("/")
    changed = False
    for index, segment in enumerate(segments):
        prefix, colon, name = segment.partition(":")
        if colon:
            namespace = nsmap.get(prefix)
            if _is_topics_namespace(namespace) and (prefix != "tns1" or index > 0):
                segments[index] = f"tns1:{name}" if index == 0 else name
                changed = True
            elif namespace is None and prefix == "tns1" and index > 0:
                segments[index] = name  # "tns1:A/tns1:B" from a camera that forgot to declare tns1
                changed = True
        elif index == 0 and _is_topics_namespace(nsmap.get(None)):
            segments[0] = f"tns1:{segment}"
            changed = True
    return "/".join(segments) if changed else text


_LOCAL_NAMES: dict[object, str] = {}


def _local(tag: object) -> str:
    """A tag's local name ("" for a comment or other non-element), memoised: a fleet's replies use a
    handful of tags, so the hot path is one dict lookup per element instead of string slicing."""
    try:
        return _LOCAL_NAMES[tag]
    except KeyError:
        name = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1] if isinstance(tag, str) else ""
        if len(_LOCAL_NAMES) >= 4096:  # a camera inventing tags cannot grow the memo without bound
            _LOCAL_NAMES.clear()
        _LOCAL_NAMES[tag] = name
        return name


def _items(container: etree._Element) -> Items:
    items = []
    for item in container:
        kind = _local(item.tag)
        if kind == "SimpleItem":
            value = item.get("Value") or ""
        elif kind == "ElementItem":
            value = _compact(item)
        else:
            continue
        name = item.get("Name")
        if name is None:
            continue
        if len(name) > MAX_TEXT:
            name = name[:MAX_TEXT]
        if len(value) > MAX_TEXT:
            value = value[:MAX_TEXT]
        items.append((name, value))
        if len(items) >= MAX_ITEMS:
            break
    return tuple(items)


def _compact(item: etree._Element) -> str:
    """An ElementItem's content as short namespace-free XML text (``<Point x="1" y="2"/>``), cut at
    ``MAX_TEXT`` characters: enough for an operator to read, without the inherited declarations."""
    parts: list[str] = []
    size = 0

    def write(element: etree._Element) -> None:
        nonlocal size
        if size > MAX_TEXT or not isinstance(element.tag, str):
            return
        name = local_name(element)
        attributes = "".join(
            f" {str(key).rsplit('}', 1)[-1]}={quoteattr(value)}" for key, value in element.attrib.items()
        )
        text = escape(element.text.strip()) if element.text and element.text.strip() else ""
        inner = [candidate for candidate in element if isinstance(candidate.tag, str)]
        if not text and not inner:
            parts.append(f"<{name}{attributes}/>")
            size += len(parts[-1])
            return
        parts.append(f"<{name}{attributes}>{text}")
        size += len(parts[-1])
        for candidate in inner:
            write(candidate)
        parts.append(f"</{name}>")

    for element in item:
        write(element)
    return "".join(parts)[:MAX_TEXT]


def _notification(element: etree._Element) -> Notification:
    topic = ""
    producer = None
    message = None
    for part in element:
        kind = _local(part.tag)
        if kind == "Topic":
            topic = normalise_topic(part)
        elif kind == "Message":
            for inner in part:  # wsnt:Message wraps the ONVIF tt:Message
                if isinstance(inner.tag, str):
                    message = inner
                    break
        elif kind == "ProducerReference":
            producer = _bounded(text_of(child(part, "Address")))
    source = key = data = ()
    operation = raw_utc_time = None
    if message is not None:
        raw_utc_time = _bounded(message.get("UtcTime"))
        operation = _bounded(message.get("PropertyOperation"))
        for part in message:
            kind = _local(part.tag)
            if kind == "Source":
                source = _items(part)
            elif kind == "Key":
                key = _items(part)
            elif kind == "Data":
                data = _items(part)
    return Notification(
        topic=topic,
        operation=operation,
        utc_time=parse_datetime(raw_utc_time),
        raw_utc_time=raw_utc_time,
        source=source,
        key=key,
        data=data,
        producer=producer,
    )


def parse_pull_messages(root: etree._Element) -> PullResult:
    """The notifications a pull brought, in order, with the camera's current and termination times."""
    body = expect(root, "PullMessagesResponse")
    current_time = termination_time = None
    notifications = []
    for element in body:
        kind = _local(element.tag)
        if kind == "NotificationMessage":
            notifications.append(_notification(element))
        elif kind == "CurrentTime":
            current_time = parse_datetime(text_of(element))
        elif kind == "TerminationTime":
            termination_time = parse_datetime(text_of(element))
    return PullResult(current_time=current_time, termination_time=termination_time, notifications=tuple(notifications))


# --- Renew, Unsubscribe, SetSynchronizationPoint -----------------------------------------------------
# These, like PullMessages, go to the subscription's own address (wsa:To = that address).


def renew(*, termination: str) -> str:
    """Extend the subscription; ``termination`` written as for ``create_pull_point_subscription``."""
    return f"<wsnt:Renew {_WSNT}><wsnt:TerminationTime>{escape(termination)}</wsnt:TerminationTime></wsnt:Renew>"


def parse_renew(root: etree._Element) -> datetime | None:
    """The new termination time, or None when the camera leaves it out or writes an impossible one."""
    body = expect(root, "RenewResponse")
    return parse_datetime(text_of(child(body, "TerminationTime")))


def unsubscribe() -> str:
    return f"<wsnt:Unsubscribe {_WSNT}/>"


def set_synchronization_point() -> str:
    """Ask the camera to send every property event's current state again (after (re)subscribing)."""
    return f"<tev:SetSynchronizationPoint {_TEV}/>"


__all__ = [
    "MAX_ITEMS",
    "MAX_TEXT",
    "Notification",
    "PullResult",
    "Subscription",
    "TerminationStyle",
    "create_pull_point_subscription",
    "normalise_topic",
    "parse_create_pull_point_subscription",
    "parse_pull_messages",
    "parse_renew",
    "pull_messages",
    "renew",
    "set_synchronization_point",
    "unsubscribe",
]
