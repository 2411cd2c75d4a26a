"""``hub police-peer``: run the force's end of the link from a terminal, see what the hub sends, answer it and
send requests by typing commands.

    hub pki init ./pki
    hub police-peer --pki ./pki --listen 127.0.0.1:8443 --data ./police-peer

Then point an adapter's ``url`` at ``wss://localhost:8443/`` with the hub's files from the same ``./pki``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from hub.clock import now_utc
from plugins.police_link.peer import PeerSettings, PolicePeer

HELP = """commands:
  live CAMERA [MINUTES] [REASON...]              ask for a live view of a camera
  point CAMERA PRESET [REASON...]                ask for a camera to be pointed at a preset
  retain CRIME_REF CAMERAS HOURS_AGO HOURS [REASON...]
                                                 ask for footage to be kept (CAMERAS: 1,2,3)
  monitor PLACE MINUTES [REASON...]              ask the room to watch a place for a while
  accept IDENTIFIER [FORCE_REFERENCE]            accept an alert
  reject IDENTIFIER REASON...                    reject an alert, saying why
  alerts | requests | status | help"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", default="127.0.0.1:8443", metavar="HOST:PORT",
                        help="where to listen for the hub (default 127.0.0.1:8443)")
    parser.add_argument("--pki", type=Path, metavar="DIR",
                        help="a folder made by `hub pki init`: uses force-server.pem/.key and ca.pem")
    parser.add_argument("--certificate", type=Path, help="the force end's certificate (PEM), instead of --pki")
    parser.add_argument("--key", type=Path, help="its private key (PEM, readable by its owner alone)")
    parser.add_argument("--client-ca", type=Path, help="the CA that issued the hub's client certificate")
    parser.add_argument("--data", type=Path, default=Path("police-peer"), metavar="DIR",
                        help="where the force end keeps its records (default ./police-peer)")
    parser.add_argument("--force", default="Demo Constabulary", help="the force's name")
    parser.add_argument("--answer", choices=("accept", "reject", "manual"), default="manual",
                        help="how alerts are answered: at once (accept/reject) or by typing (manual, the default)")
    parser.add_argument("--answer-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before an automatic answer")
    parser.add_argument("--cap-schema", type=Path, metavar="XSD",
                        help="the OASIS CAP 1.2 schema (CAP-v1.2.xsd): every alert is checked against it")


def _files(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    if args.pki is not None:
        return args.pki / "force-server.pem", args.pki / "force-server.key", args.pki / "ca.pem"
    if args.certificate is None or args.key is None or args.client_ca is None:
        raise ValueError("give --pki DIR, or all of --certificate, --key and --client-ca")
    return args.certificate, args.key, args.client_ca


def _listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, not {text!r}")
    return host, int(port)


def console_command(peer: PolicePeer, reactor: Any, line: str) -> str:
    """Carry out one typed command; the text to show (errors included)."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        return f"? {error}"
    if not words:
        return ""
    verb, rest = words[0].lower(), words[1:]
    now = now_utc(reactor)
    try:
        if verb == "help":
            return HELP
        if verb == "live" and rest:
            minutes = int(rest[1]) if len(rest) > 1 else 10
            return "sent " + peer.request_live_view(rest[0], minutes, " ".join(rest[2:]) or "Live view requested")
        if verb == "point" and len(rest) >= 2:
            return "sent " + peer.request_point_camera(rest[0], rest[1], " ".join(rest[2:]) or "Officers attending")
        if verb == "retain" and len(rest) >= 4:
            cameras = tuple(part for part in rest[1].split(",") if part)
            start = now - timedelta(hours=float(rest[2]))
            return "sent " + peer.request_retention(rest[0], cameras, start, start + timedelta(hours=float(rest[3])),
                                                    " ".join(rest[4:]) or "Evidence for an investigation")
        if verb == "monitor" and len(rest) >= 2:
            return "sent " + peer.request_monitoring(rest[0], now + timedelta(minutes=float(rest[1])),
                                                     " ".join(rest[2:]) or "Monitoring requested")
        if verb in ("accept", "reject") and rest and peer.store.alert(rest[0]) is None:
            return f"? no alert {rest[0][:100]!r} has been received (alerts lists them)"
        if verb == "accept" and rest:
            peer.answer_alert(rest[0], accepted=True, force_reference=rest[1] if len(rest) > 1 else None)
            return ""
        if verb == "reject" and len(rest) >= 2:
            peer.answer_alert(rest[0], accepted=False, reason=" ".join(rest[1:]))
            return ""
        if verb == "alerts":
            return "\n".join(f"{a['identifier']} {a['msg_type']} incident {a['incident_id']} answer {a['answer'] or '-'}"
                             for a in peer.store.alerts()[-20:]) or "no alerts yet"
        if verb == "requests":
            return "\n".join(f"{r['request_id']} {r['request_type']} {r['outcome'] or 'waiting'}: {r['detail'] or ''}"
                             for r in peer.store.requests()[-20:]) or "no requests yet"
        if verb == "status":
            session = peer.session
            return (f"link {peer.state.value}; {session.backlog if session else 0} message(s) to send; "
                    f"{peer.store.alert_count()} alert(s) received")
    except (ValueError, AssertionError) as error:
        return f"? {error}"
    return f"? not understood: {line.strip()[:80]} (type help)"


def run(args: argparse.Namespace) -> int:
    # The one place that starts the real reactor; imported here so that importing this module never does.
    import structlog
    from twisted.internet import stdio
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react
    from twisted.protocols.basic import LineReceiver

    from hub.logging_setup import configure_logging
    from plugins.police_link.peer import listen_for_hub
    from plugins.police_link.peer_store import PeerStore
    from plugins.police_link.tls import TlsSetupError

    try:
        certificate, key, client_ca = _files(args)
        interface, port = _listen_address(args.listen)
    except ValueError as error:
        print(f"hub police-peer: {error}", file=sys.stderr)
        return 2
    schema = None
    if args.cap_schema is not None:
        from lxml import etree

        try:
            schema = etree.XMLSchema(etree.parse(str(args.cap_schema)))
        except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as error:
            print(f"hub police-peer: cannot read the CAP schema {args.cap_schema}: {error}", file=sys.stderr)
            return 2
    configure_logging(level="warning", format="console", stream=sys.stderr)
    log = structlog.get_logger().bind(component="police-peer")

    def show(line: str) -> None:
        print(line, flush=True)

    class Console(LineReceiver):
        delimiter = b"\n"

        def __init__(self, peer: PolicePeer, reactor: Any) -> None:
            self._peer, self._reactor = peer, reactor

        def lineReceived(self, line: bytes) -> None:  # noqa: N802 - Twisted's name
            answer = console_command(self._peer, self._reactor, line.decode("utf-8", "replace"))
            if answer:
                print(answer, flush=True)

    def main(reactor: Any) -> "Deferred[None]":
        try:
            listen = listen_for_hub(reactor, port=port, interface=interface, certificate=certificate, key=key,
                                    client_ca=client_ca, log=log)
        except TlsSetupError as error:
            print(f"hub police-peer: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        store = PeerStore(args.data / "police-peer.sqlite3")
        peer = PolicePeer(reactor, store, listen=listen, cap_schema=schema, log=log, show=show,
                          settings=PeerSettings(force=args.force, answer=args.answer,
                                                answer_delay_s=args.answer_delay))

        def started(_: object) -> "Deferred[None]":
            print(f"police-peer ready listen={interface}:{peer.port} force={args.force!r} answer={args.answer}",
                  flush=True)
            if sys.stdin.isatty():
                stdio.StandardIO(Console(peer, reactor), reactor=reactor)
                print("type help for commands", flush=True)
            reactor.addSystemEventTrigger("before", "shutdown", peer.stopService)
            return Deferred()  # runs until interrupted

        return peer.startService().addCallback(started)

    react(main)
    return 0  # pragma: no cover - react exits the process
