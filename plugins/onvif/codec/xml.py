"""Reading XML a camera sent: untrusted input, parsed so that it can neither expand nor fetch anything.

A reply is refused before parsing if it is larger than the cap, and refused outright if it carries a
document type declaration: SOAP 1.2 forbids one in a message, and it is where entity bombs and external
entities live. The parser itself is also set never to resolve entities, load a DTD or touch the network,
so a declaration that slipped past the byte check still does nothing.
"""

from __future__ import annotations

import re

from lxml import etree

#: The largest reply the hub reads from a camera by default. The biggest honest ONVIF replies (a
#: PullMessages batch, GetProfiles on an encoder with many profiles) are tens of kilobytes.
DEFAULT_MAX_REPLY_BYTES = 1024 * 1024

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class XmlRejected(ValueError):
    """A reply that is not read: too big, not well-formed, or carrying a DTD. The message says which and
    never repeats the reply itself (it may hold anything)."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


_PARSER = _parser()


def _prefix_tolerant_parser() -> etree.XMLParser:
    """The same parser in recovery mode, used only for a reply whose sole faults are undeclared namespace
    prefixes (a camera writing <ptz:StopResponse> with no xmlns:ptz): libxml2 then keeps such an element
    under its literal name ("ptz:StopResponse", no namespace), which the lookups below match by local name.
    Made fresh each time so no state is shared with the parser on the normal path."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        recover=True,
    )


def _only_undeclared_prefixes(error_log) -> bool:
    return len(error_log) > 0 and all(entry.type_name == "NS_ERR_UNDEFINED_NAMESPACE" for entry in error_log)


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> etree._Element:
    """The root element of ``data``, or ``XmlRejected``. Safe on anything a hostile peer can send."""
    if len(data) > max_bytes:
        raise XmlRejected(f"reply of {len(data)} bytes is over the {max_bytes}-byte cap")
    if not data.strip():
        raise XmlRejected("reply is empty")
    if _DOCTYPE.search(data):
        raise XmlRejected("reply carries a document type declaration, which SOAP forbids")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        if "Namespace prefix" not in str(error) or not _only_undeclared_prefixes_in(data):
            raise XmlRejected(f"reply is not well-formed XML ({_short(str(error))})") from None
        root = _parse_with_undeclared_prefixes(data)
    except ValueError as error:  # lxml refuses some inputs (e.g. str with an encoding declaration)
        raise XmlRejected(f"reply cannot be read as XML ({_short(str(error))})") from None
    if root is None:
        raise XmlRejected("reply holds no element")
    # The byte check above cannot see a declaration in UTF-16 or UTF-32; the parser never expanded or
    # fetched it, but a reply that carries one is still refused, whatever its encoding.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRejected("reply carries a document type declaration, which SOAP forbids")
    return root


def _only_undeclared_prefixes_in(data: bytes) -> bool:
    # lxml's error logs keep the errors of earlier parses in this thread: start from an empty one, so only
    # this reply's errors are judged.
    etree.clear_error_log()
    try:
        etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        return _only_undeclared_prefixes(error.error_log)
    return False


def _parse_with_undeclared_prefixes(data: bytes) -> etree._Element:
    parser = _prefix_tolerant_parser()
    etree.clear_error_log()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise XmlRejected(f"reply is not well-formed XML ({_short(str(error))})") from None
    if root is None or not _only_undeclared_prefixes(parser.error_log):
        raise XmlRejected("reply is not well-formed XML")
    return root


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def local_name(element: etree._Element) -> str:
    """An element's name without its namespace (``{ns}Uri`` -> ``Uri``)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    # "prefix:Name" is how an element with an undeclared prefix is named (see _PREFIX_TOLERANT_PARSER).
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def text_of(element: etree._Element | None) -> str | None:
    """The stripped text of an element, or None for a missing or empty one."""
    if element is None or element.text is None:
        return None
    stripped = element.text.strip()
    return stripped or None


# --- Finding elements by local name ---------------------------------------------------------------
# Cameras bind the ONVIF namespaces to any prefix they like, and a few put an element in the wrong one
# of two (tt: for tr2:, an old schema namespace), and some never declare the prefix at all; reply parsers
# therefore look children up by local name inside an element they already know. These walk direct
# children only: no XPath compiled per call.


def child(element: etree._Element | None, name: str) -> etree._Element | None:
    """The first direct child of ``element`` whose local name is ``name``, or None."""
    if element is None:
        return None
    suffixes = ("}" + name, ":" + name)
    for candidate in element:
        tag = candidate.tag
        if isinstance(tag, str) and (tag == name or tag.endswith(suffixes)):
            return candidate
    return None


def children(element: etree._Element | None, name: str) -> list[etree._Element]:
    """Every direct child of ``element`` whose local name is ``name``, in document order."""
    if element is None:
        return []
    suffixes = ("}" + name, ":" + name)
    found = []
    for candidate in element:
        tag = candidate.tag
        if isinstance(tag, str) and (tag == name or tag.endswith(suffixes)):
            found.append(candidate)
    return found


def path(element: etree._Element | None, *names: str) -> etree._Element | None:
    """Follow direct children by local name (``path(e, "MediaUri", "Uri")``); None when a step is missing."""
    for name in names:
        element = child(element, name)
        if element is None:
            return None
    return element
