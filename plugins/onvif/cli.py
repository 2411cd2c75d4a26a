"""``hub onvif ...``: ONVIF tools for the people who set up a room. ``hub onvif discover`` lists the cameras
that answer a WS-Discovery Probe and prints the config lines that add them.

Everything ``discover`` prints on stdout is TOML (the listing is in comments), so it can be pasted or
appended to the config as it is; a camera's own words (its name, location, hardware) are escaped, so a
hostile device cannot break out of a string or a comment, nor put control sequences on the terminal.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from plugins.onvif.codec.discovery import DISCOVERY_PORT
from plugins.onvif.config import CameraConfig
from plugins.onvif.discovery import DiscoveredDevice, discover

EXIT_OK = 0
EXIT_NOTHING_FOUND = 1
EXIT_BAD_INPUT = 2

NAME_LIMIT = 200  # what the camera config's ``name`` accepts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="onvif_command", metavar="COMMAND", required=True)
    found = commands.add_parser(
        "discover",
        help="list the ONVIF cameras that answer a WS-Discovery probe, with the config lines to add them",
        description=(
            "Multicast a WS-Discovery Probe for ONVIF video devices (239.255.255.250:3702, local network "
            "only), list what answers, and print [adapters.NAME.cameras] tables for the config. The "
            "output is TOML: append it to the config, then give each camera the number the room knows it "
            "by. Devices on another subnet do not hear a multicast: probe them one by one with --target."
        ),
    )
    found.add_argument("--wait", type=float, default=3.0, metavar="S", help="seconds to collect answers (3)")
    found.add_argument(
        "--interface", metavar="ADDR", help="local IPv4 address of the network card to probe from (default: route)"
    )
    found.add_argument(
        "--target",
        metavar="HOST:PORT",
        help=f"probe this address by unicast instead (port {DISCOVERY_PORT} if left out)",
    )
    found.add_argument("--ttl", type=int, default=1, help="multicast hops (1: this network only, as WS-Discovery asks)")
    found.add_argument(
        "--adapter", default="cameras", metavar="NAME", help='the adapter the tables go under (default "cameras")'
    )
    found.add_argument(
        "--first-number", type=int, default=1, metavar="N", help="number the cameras found from N (default 1)"
    )
    found.set_defaults(onvif_run=run_discover)


def run(args: argparse.Namespace) -> int:
    return int(args.onvif_run(args))


def run_discover(args: argparse.Namespace) -> int:
    try:
        target = parse_target(args.target) if args.target else None
        if args.interface:
            ipaddress.IPv4Address(args.interface)
    except ValueError as error:
        print(f"hub onvif discover: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 < args.wait <= 600:
        print("hub onvif discover: --wait must be between 0 and 600 seconds", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.first_number < 0:
        print("hub onvif discover: --first-number must be 0 or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 1 <= args.ttl <= 255:
        print("hub onvif discover: --ttl must be between 1 and 255", file=sys.stderr)
        return EXIT_BAD_INPUT

    # The one place that starts the real reactor; imported here so that importing this module never does.
    import structlog
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    from hub.logging_setup import configure_logging

    configure_logging(level="warning", format="console", stream=sys.stderr)
    found: list[DiscoveredDevice] = []
    failure: list[str] = []

    async def probe(reactor: Any) -> None:
        try:
            found.extend(
                await discover(
                    reactor,
                    wait_s=args.wait,
                    target=target,
                    interface=args.interface,
                    ttl=args.ttl,
                    log=structlog.get_logger().bind(command="onvif discover"),
                )
            )
        except OSError as error:  # no such interface, no multicast route
            failure.append(str(error))

    def main(reactor: Any) -> Deferred[None]:
        return Deferred.fromCoroutine(probe(reactor))

    try:
        react(main)
    except SystemExit as exit_:  # react always exits; the verdict is ours to give
        if exit_.code not in (0, None):
            return EXIT_BAD_INPUT
    if failure:
        print(f"hub onvif discover: cannot probe: {failure[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    where = f"{target[0]}:{target[1]}" if target else "the local network"
    sys.stdout.write(format_discovery(found, adapter=args.adapter, first_number=args.first_number, where=where))
    sys.stdout.flush()
    if not found:
        print(
            f"hub onvif discover: no ONVIF device answered within {args.wait:g} s. Multicast stays on one "
            "network: try --interface with the address of the card on the cameras' network, a longer --wait, "
            "or --target HOST for a camera on another subnet.",
            file=sys.stderr,
        )
        return EXIT_NOTHING_FOUND
    return EXIT_OK


def parse_target(text: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``[V6]:PORT`` as a (host, port) pair."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"--target {text!r} names no host")
    try:
        port = int(port_text) if port_text else DISCOVERY_PORT
    except ValueError:
        raise ValueError(f"--target {text!r}: the port is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"--target {text!r}: port out of range")
    return host, port


# ---------------------------------------------------------------------------------------------- output


def format_discovery(
    devices: Sequence[DiscoveredDevice], *, adapter: str = "cameras", first_number: int = 1, where: str = ""
) -> str:
    """What ``discover`` prints: a TOML comment per device found, then a camera table for each one that
    gave a usable address, numbered from ``first_number`` in address order."""
    ordered = sorted(devices, key=_order)
    lines = [f"# {len(ordered)} ONVIF device(s) answered" + (f" on {_comment(where)}" if where else "")]
    for device in ordered:
        match = device.match
        lines.append("#")
        lines.append(f"#   {_comment(match.address)}  (answered from {_comment(device.answered_from)})")
        for label, value in (("name", match.name), ("location", match.location), ("hardware", match.hardware)):
            if value:
                lines.append(f"#     {label}: {_comment(value)}")
        for xaddr in match.xaddrs:
            lines.append(f"#     XAddr: {_comment(xaddr)}")
    if not ordered:
        return "\n".join(lines) + "\n"
    lines.append("")
    lines.append("# Config lines: give each camera the number the room knows it by, and set username and")
    lines.append(f"# password on [adapters.{_table_key(adapter)}] (or per camera).")
    number = first_number
    for device in ordered:
        lines.append("")
        table = _camera_table(device, adapter=adapter, number=number if device.device_address else None)
        lines.extend(table)
        if table[0].startswith("["):
            number += 1
    return "\n".join(lines) + "\n"


def _camera_table(device: DiscoveredDevice, *, adapter: str, number: int | None) -> list[str]:
    """The table for one device, or comments saying why there is none (``number`` None: no usable XAddr)."""
    match = device.match
    reported = device.device_address
    table = f'[adapters.{_table_key(adapter)}.cameras."{number}"]'
    if reported is None or number is None:
        return [f"# {_comment(match.address)} gave no usable http(s) XAddr: add it by hand"]
    # Multicast stays on this network, so the address the answer came from is one the hub reaches; an
    # XAddr on another host is a stale or NAT-side address (quirk 4). Its port and path are still the best
    # guess there is.
    host = device.answered_from
    name = _clip(_one_line(match.name or ""), NAME_LIMIT) or (
        _clip(f"{_one_line(match.hardware)} at {host}", NAME_LIMIT) if match.hardware else host
    )
    try:  # what the adapter's config would refuse is not printed as if it would do
        CameraConfig(host=host, name=name, port=reported.port, scheme=reported.scheme, path=reported.path)
    except ValueError as error:
        reason = (
            f"# {_comment(match.address)} reports {_comment(reported.url)}, which the config cannot take "
            f"({_comment(str(error))}): add it by hand"
        )
        return [reason]
    lines = [table, f"name = {toml_string(name)}", f"host = {toml_string(host)}", f"port = {reported.port}"]
    if reported.scheme != "http":
        lines.append(f"scheme = {toml_string(reported.scheme)}")
    lines.append(f"path = {toml_string(reported.path)}")
    if reported.host != host:
        lines.append(f"# the camera reports its address as {_comment(reported.host)}")
    return lines


def _one_line(text: str) -> str:
    """A device's words with control and separator characters made spaces: a name, not a payload."""
    cleaned = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in text)
    return " ".join(cleaned.split())


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and every control character escaped."""
    out = []
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char)[0] == "C":
            out.append(f"\\u{ord(char):04X}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _comment(text: str) -> str:
    """``text`` safe inside a one-line comment and on a terminal: control, format and separator characters
    (newlines, escape sequences, bidirectional overrides) shown as ``\\uXXXX``."""
    return "".join(
        f"\\u{ord(char):04X}" if unicodedata.category(char)[0] in "CZ" and char != " " else char for char in text
    )


def _table_key(name: str) -> str:
    bare = name and all(char.isascii() and (char.isalnum() or char in "_-") for char in name)
    return name if bare else toml_string(name)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _order(device: DiscoveredDevice) -> tuple[Any, ...]:
    address = device.device_address
    host = device.answered_from
    try:
        parsed: Any = ipaddress.ip_address(host.partition("%")[0])
        key: tuple[Any, ...] = (0, parsed.version, int(parsed))
    except ValueError:
        key = (1, 0, host)
    return (*key, address.port if address is not None else 0, device.match.address)
