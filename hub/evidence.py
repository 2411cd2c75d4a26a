"""Evidence kept for incidents (a camera snapshot, a recorded clip): files named by their SHA-256.

The name is the content's hash, so a file is written once and never changed: storing the same bytes
again finds the file already there, two writers racing for the same content end with one file, and
anyone can check a file against the hash quoted in an incident (``sha256sum``). Files live under
``<data_dir>/evidence/<first two hex digits>/<sha256>.<ext>``; the extension records the content type.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

from attrs import frozen
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed

T = TypeVar("T")

#: The content types kept, each with the extension its files get. Images the console may show; anything
#: else only as opaque bytes, which the API serves as a download the browser will not interpret.
CONTENT_TYPES: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/octet-stream": ".bin",
}
_TYPE_OF_EXTENSION = {extension: content_type for content_type, extension in CONTENT_TYPES.items()}
#: Names cameras use for the same types (``image/jpg`` is common and wrong).
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
#: How each image type starts: a camera that answers a snapshot with an HTML error page labelled
#: image/jpeg must not have that page kept (and later shown) as the picture.
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}

#: A snapshot is tens to hundreds of kilobytes; a cap far above that still stops a misbehaving device
#: from filling the disk with one answer.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

RunInThread = Callable[[Callable[[], Any]], "Deferred[Any]"]


class EvidenceRefused(ValueError):
    """Content the store will not keep: a type it does not take, bytes that are not that type, empty."""


class EvidenceTooLarge(EvidenceRefused):
    """Content over the store's size cap."""


class EvidenceCorrupt(RuntimeError):
    """A stored file whose bytes no longer hash to its name: it was changed or damaged on disk."""


@frozen
class EvidenceItem:
    """One stored piece of evidence: its SHA-256 (lowercase hex), content type, size in bytes and file."""

    sha256: str
    content_type: str
    size: int
    path: Path

    @property
    def url(self) -> str:
        """Where the API serves it (to users allowed to see evidence; every fetch is audited)."""
        return f"/api/evidence/{self.sha256}"

    def to_json(self) -> dict[str, Any]:
        """The form events carry in their payload's ``evidence`` field (no file path: that stays local)."""
        return {"sha256": self.sha256, "content_type": self.content_type, "size": self.size, "url": self.url}


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a SHA-256 as this store names files: exactly 64 lowercase hex digits."""
    return isinstance(text, str) and SHA256_PATTERN.fullmatch(text) is not None


def normalise_content_type(content_type: str) -> str:
    """``Image/JPEG; charset=x`` -> ``image/jpeg``; EvidenceRefused when it is not a type the store keeps."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    base = _ALIASES.get(base, base)
    if base not in CONTENT_TYPES:
        raise EvidenceRefused(
            f"evidence of type {base[:80]!r} is not kept; only {', '.join(CONTENT_TYPES)}"
        )
    return base


def _run_here(work: Callable[[], T]) -> "Deferred[T]":
    return maybeDeferred(work)


class EvidenceStore:
    """Content-addressed evidence files under ``root``.

    ``run_in_thread(work)`` runs blocking file work and returns a Deferred of its result; the hub gives
    ``deferToThreadPool`` on the reactor's pool, so hashing and fsyncing a snapshot never holds up the
    reactor. Left out, the work runs at once on the caller's thread (tests, tools).
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        run_in_thread: RunInThread | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes!r}")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._run = run_in_thread if run_in_thread is not None else _run_here

    # --- writing ---------------------------------------------------------------------------------------

    def put(self, content: bytes, content_type: str) -> "Deferred[EvidenceItem]":
        """Keep ``content``; fires with its ``EvidenceItem`` once the file is durably on disk.

        Checks that need no disk (type, size, the bytes' signature) fail at once, before any thread is
        used. Storing bytes already kept returns the existing item, with the content type it was first
        stored as: the file is never rewritten.
        """
        try:
            content_type = normalise_content_type(content_type)
            if not isinstance(content, (bytes, bytearray, memoryview)):
                raise EvidenceRefused("evidence content must be bytes")
            content = bytes(content)
            if not content:
                raise EvidenceRefused("evidence is empty")
            if len(content) > self.max_bytes:
                raise EvidenceTooLarge(
                    f"evidence of {len(content)} bytes is over the {self.max_bytes} byte limit"
                )
            magic = _MAGIC.get(content_type)
            if magic is not None and not content.startswith(magic):
                raise EvidenceRefused(f"the content is not {content_type} (its first bytes do not match)")
        except EvidenceRefused as refused:
            return fail(refused)
        return self._run(lambda: self._write(content, content_type))

    def _write(self, content: bytes, content_type: str) -> EvidenceItem:
        sha256 = hashlib.sha256(content).hexdigest()
        existing = self._find(sha256)
        if existing is not None:
            return existing
        folder = self.root / sha256[:2]
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{sha256}{CONTENT_TYPES[content_type]}"
        # A dot-name the reader never looks for, unique per writer, in the same folder as the final name.
        descriptor, temporary_name = tempfile.mkstemp(dir=folder, prefix=f".{sha256[:16]}.", suffix=".tmp")
        temporary = Path(temporary_name)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                # A hard link, not a rename: it fails if the name exists, so a file is never replaced,
                # even by a writer racing with identical bytes.
                os.link(temporary, final)
            except FileExistsError:
                pass
            else:
                _fsync_directory(folder)
        finally:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
        # Another writer may have stored the same bytes under another type a moment before: read back
        # what is there rather than assume it is what this call wrote.
        found = self._find(sha256)
        if found is None:
            raise OSError(f"evidence {sha256} is not in {folder} after it was written")
        return found

    # --- reading ---------------------------------------------------------------------------------------

    def get(self, sha256: str) -> EvidenceItem | None:
        """The item stored under ``sha256``, or None (also for anything that is not a SHA-256)."""
        if not is_sha256(sha256):
            return None
        return self._find(sha256)

    def read(self, sha256: str) -> "Deferred[tuple[EvidenceItem, bytes] | None]":
        """The item and its bytes, checked against the hash; None when there is no such evidence.

        Fails with ``EvidenceCorrupt`` when the file no longer hashes to its name, so a damaged or
        altered file is never served as evidence.
        """
        if not is_sha256(sha256):
            return succeed(None)
        return self._run(lambda: self._read(sha256))

    def _read(self, sha256: str) -> tuple[EvidenceItem, bytes] | None:
        item = self._find(sha256)
        if item is None:
            return None
        try:
            content = item.path.read_bytes()
        except FileNotFoundError:
            return None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise EvidenceCorrupt(f"evidence {sha256} does not match its hash")
        return item, content

    def _find(self, sha256: str) -> EvidenceItem | None:
        folder = self.root / sha256[:2]
        for extension, content_type in _TYPE_OF_EXTENSION.items():
            path = folder / f"{sha256}{extension}"
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            return EvidenceItem(sha256=sha256, content_type=content_type, size=size, path=path)
        return None


def thread_pool_runner(reactor: Any) -> RunInThread | None:
    """``run_in_thread`` on ``reactor``'s thread pool; None for a reactor without one (a test clock)."""
    if not hasattr(reactor, "getThreadPool"):
        return None
    from twisted.internet.threads import deferToThreadPool

    return lambda work: deferToThreadPool(reactor, reactor.getThreadPool(), work)


def _fsync_directory(folder: Path) -> None:
    # The new name is only durable once the folder holding it is synced (a crash could lose it otherwise).
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
