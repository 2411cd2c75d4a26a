"""``hub pki init DIR``: a test CA and certificates for both ends of the police link, to try the link with
``hub police-peer`` or against a force's test endpoint; prints what it made, where each file goes, and the
fingerprints to pin. In service the force issues (or approves) the certificates.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from hub.api import CliCommand
from plugins.police_link import pki

EXIT_OK = 0
EXIT_BAD_INPUT = 2
MAX_DAYS = 3650
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="pki_command", metavar="COMMAND", required=True)
    init = commands.add_parser(
        "init",
        help="make a test CA, the force end's server certificate and the hub's client certificate in DIR",
        description=(
            "Make a test PKI for the police link in DIR (created if missing, readable by you alone): a CA "
            "(ca.pem, ca.key), the force end's server certificate (force-server.pem, .key) and the hub's "
            "client certificate (hub-client.pem, .key), EC P-256, keys mode 0600, and a README.txt saying "
            "which file goes where. Prints the SHA-256 fingerprints to pin. Existing files are left alone "
            "unless --overwrite."
        ),
    )
    init.add_argument("directory", metavar="DIR", type=Path, help="where the files go")
    init.add_argument(
        "--server-name", dest="server_names", action="append", metavar="NAME",
        help=("a DNS name or IP address the hub reaches the force end by, put in its certificate; repeat for "
              f"more (default: {', '.join(DEFAULT_SERVER_NAMES)})"),
    )
    init.add_argument("--client-name", default="cctv-hub", metavar="NAME",
                      help="the control room's name in its client certificate (default cctv-hub)")
    init.add_argument("--force-name", default="police-link", metavar="NAME",
                      help="the force end's name in its certificate and the CA's (default police-link)")
    init.add_argument("--days", type=int, default=825, metavar="N",
                      help=f"how long the certificates are valid, 1 to {MAX_DAYS} days (default 825)")
    init.add_argument("--overwrite", action="store_true", help="replace the files if DIR has them already")
    init.set_defaults(pki_run=run_init)


def run(args: argparse.Namespace) -> int:
    return int(args.pki_run(args))


def run_init(args: argparse.Namespace, *, now: datetime | None = None, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if not 1 <= args.days <= MAX_DAYS:
        print(f"hub pki init: --days must be from 1 to {MAX_DAYS}, not {args.days}", file=err)
        return EXIT_BAD_INPUT
    directory: Path = args.directory
    server_names = tuple(args.server_names or DEFAULT_SERVER_NAMES)
    moment = now or datetime.now(UTC)  # the edge: the one place the real time comes in
    try:
        files = pki.init_pki(directory, now=moment, server_names=server_names, client_name=args.client_name,
                             force_name=args.force_name, days=args.days, overwrite=args.overwrite)
    except FileExistsError as error:
        if error.filename and Path(error.filename).parent == directory:
            print(f"hub pki init: {error.filename} exists; nothing was written. Give --overwrite to replace "
                  "the PKI there (both ends then need the new files), or choose another DIR", file=err)
        else:
            print(f"hub pki init: cannot make {directory}: {error.filename or directory} is in the way", file=err)
        return EXIT_BAD_INPUT
    except PermissionError as error:
        where = Path(error.filename) if error.filename else directory
        beyond = "" if where.parent == directory else f" ({where})"  # a folder above DIR, not a file in it
        print(f"hub pki init: cannot write in {directory}: {error.strerror}{beyond}", file=err)
        return EXIT_BAD_INPUT
    except NotADirectoryError as error:
        print(f"hub pki init: cannot write in {directory}: {error.filename or directory} is not a directory",
              file=err)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"hub pki init: cannot write in {directory}: {error.strerror or error}", file=err)
        return EXIT_BAD_INPUT
    except ValueError as error:
        print(f"hub pki init: {error}", file=err)
        return EXIT_BAD_INPUT
    out.write(report(files, server_names=server_names, client_name=args.client_name, days=args.days))
    return EXIT_OK


def report(files: pki.PkiFiles, *, server_names: tuple[str, ...], client_name: str, days: int) -> str:
    server_print = pki.fingerprint_sha256(files.server_certificate)
    client_print = pki.fingerprint_sha256(files.client_certificate)
    rows = [
        (files.ca_certificate, "the CA: the hub's ca_certificate, and the force end's client CA"),
        (files.ca_key, "the CA's key: stays here; only for issuing more certificates"),
        (files.server_certificate, f"the force end's certificate, for {', '.join(server_names)}"),
        (files.server_key, "the force end's key"),
        (files.client_certificate, f"the hub's client_certificate ({client_name})"),
        (files.client_key, "the hub's client_key"),
        (files.readme, "which file goes where, and these fingerprints"),
    ]
    lines = [f"Made a test PKI for the police link in {files.directory} (certificates valid {days} days):"]
    lines += [f"  {path.name:<18} {what}" for path, what in rows]
    lines += [
        "SHA-256 fingerprints:",
        f"  {files.server_certificate.name:<18} {server_print}  (the hub's server_fingerprint, to pin it)",
        f"  {files.client_certificate.name:<18} {client_print}  (the force end may pin it)",
        f"  {files.ca_certificate.name:<18} {pki.fingerprint_sha256(files.ca_certificate)}",
        "Keys are mode 0600: keep them so, or the hub refuses them.",
    ]
    return "\n".join(lines) + "\n"


PKI_COMMAND = CliCommand(
    name="pki",
    help="test certificates for the police link: 'init DIR' makes a CA and both ends' certificates",
    add_arguments=add_arguments,
    run=run,
)
