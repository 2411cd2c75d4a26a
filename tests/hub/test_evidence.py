"""The evidence store keeps files named by their SHA-256, written once and never changed."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from twisted.internet.defer import Deferred

from hub.evidence import (
    EvidenceCorrupt,
    EvidenceItem,
    EvidenceRefused,
    EvidenceStore,
    EvidenceTooLarge,
    is_sha256,
    normalise_content_type,
    thread_pool_runner,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def settled(deferred: Deferred) -> object:
    """The result of a Deferred that has already fired (the store runs inline without a thread pool)."""
    results: list[object] = []
    deferred.addBoth(results.append)
    assert results, "the Deferred has not fired"
    outcome = results[0]
    if hasattr(outcome, "raiseException"):
        outcome.raiseException()
    return outcome


def test_put_stores_the_bytes_under_their_sha256(tmp_path: Path) -> None:
    """A put file is named by its content's SHA-256, with the content type, size and API address."""
    store = EvidenceStore(tmp_path / "evidence")
    item = settled(store.put(JPEG, "image/jpeg"))
    sha = hashlib.sha256(JPEG).hexdigest()
    assert isinstance(item, EvidenceItem)
    assert (item.sha256, item.content_type, item.size) == (sha, "image/jpeg", len(JPEG))
    assert item.path == tmp_path / "evidence" / sha[:2] / f"{sha}.jpg"
    assert item.path.read_bytes() == JPEG
    assert item.to_json() == {"sha256": sha, "content_type": "image/jpeg", "size": len(JPEG),
                              "url": f"/api/evidence/{sha}"}


def test_put_of_the_same_bytes_again_keeps_the_first_file(tmp_path: Path) -> None:
    """Storing bytes already kept answers the existing item and never rewrites the file."""
    store = EvidenceStore(tmp_path)
    first = settled(store.put(JPEG, "image/jpeg"))
    before = first.path.stat()
    again = settled(store.put(JPEG, "application/octet-stream"))
    assert again == first
    after = first.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted([first.sha256[:2], first.path.name])


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    """The write goes through a temporary file that is gone once the evidence is in place."""
    store = EvidenceStore(tmp_path)
    settled(store.put(PNG, "image/png"))
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(".")] == []


def test_an_existing_file_is_never_replaced(tmp_path: Path) -> None:
    """If the final name exists already (a racing writer), the write keeps that file, not its own."""
    store = EvidenceStore(tmp_path)
    sha = hashlib.sha256(JPEG).hexdigest()
    folder = tmp_path / sha[:2]
    folder.mkdir()
    (folder / f"{sha}.jpg").write_bytes(JPEG)
    inode = (folder / f"{sha}.jpg").stat().st_ino
    item = settled(store.put(JPEG, "image/jpeg"))
    assert item.path.stat().st_ino == inode


@pytest.mark.parametrize(
    ("content", "content_type", "error", "words"),
    [
        (b"<html>401</html>", "image/jpeg", EvidenceRefused, "not image/jpeg"),
        (JPEG[:50], "image/png", EvidenceRefused, "not image/png"),
        (b"GIF89a", "image/gif", EvidenceRefused, "not kept"),
        (b"<svg/>", "image/svg+xml", EvidenceRefused, "not kept"),
        (b"<p>", "text/html", EvidenceRefused, "not kept"),
        (b"", "application/octet-stream", EvidenceRefused, "empty"),
        (b"x" * 101, "application/octet-stream", EvidenceTooLarge, "over the 100 byte limit"),
    ],
)
def test_put_refuses_what_it_does_not_keep(tmp_path: Path, content: bytes, content_type: str,
                                            error: type, words: str) -> None:
    """Wrong types, bytes that are not what they claim, empty and oversized content are refused, unwritten."""
    store = EvidenceStore(tmp_path, max_bytes=100)
    with pytest.raises(error, match=words):
        settled(store.put(content, content_type))
    assert list(tmp_path.iterdir()) == []


def test_content_types_are_normalised() -> None:
    """Parameters and case are dropped; the common misspelling image/jpg is taken as image/jpeg."""
    assert normalise_content_type("Image/JPEG; charset=binary") == "image/jpeg"
    assert normalise_content_type("image/jpg") == "image/jpeg"
    with pytest.raises(EvidenceRefused):
        normalise_content_type("")


def test_get_and_read_find_stored_evidence(tmp_path: Path) -> None:
    """``get`` answers the item; ``read`` the item and its bytes."""
    store = EvidenceStore(tmp_path)
    item = settled(store.put(PNG, "image/png"))
    assert store.get(item.sha256) == item
    assert settled(store.read(item.sha256)) == (item, PNG)


@pytest.mark.parametrize("name", [
    "0" * 64,                      # well formed, not stored
    "A" * 64,                      # uppercase: not how the store names files
    "../" + "0" * 61,
    "0" * 63,
    "0" * 65,
    "",
    "zz" + "0" * 62,
])
def test_unknown_or_malformed_hashes_find_nothing(tmp_path: Path, name: str) -> None:
    """Anything that is not a stored SHA-256 (traversal too) is simply not there."""
    store = EvidenceStore(tmp_path)
    settled(store.put(PNG, "image/png"))
    assert store.get(name) is None
    assert settled(store.read(name)) is None


def test_is_sha256_takes_exactly_64_lowercase_hex_digits() -> None:
    assert is_sha256("a" * 64)
    assert not is_sha256("a" * 64 + "\n")
    assert not is_sha256("g" * 64)


def test_a_file_changed_on_disk_is_never_served(tmp_path: Path) -> None:
    """``read`` fails with EvidenceCorrupt when the bytes no longer hash to the name."""
    store = EvidenceStore(tmp_path)
    item = settled(store.put(JPEG, "image/jpeg"))
    os.chmod(item.path, 0o600)
    item.path.write_bytes(JPEG + b"tampered")
    with pytest.raises(EvidenceCorrupt):
        settled(store.read(item.sha256))


def test_work_runs_through_the_given_runner(tmp_path: Path) -> None:
    """Hashing and writing happen in what ``run_in_thread`` runs, not in ``put`` itself."""
    queued: list[object] = []

    def run_later(work):
        deferred: Deferred = Deferred()
        queued.append((work, deferred))
        return deferred

    store = EvidenceStore(tmp_path, run_in_thread=run_later)
    pending = store.put(JPEG, "image/jpeg")
    assert list(tmp_path.iterdir()) == [] and not pending.called
    work, deferred = queued.pop()
    deferred.callback(work())
    assert settled(pending).path.read_bytes() == JPEG


def test_racing_writers_of_the_same_bytes_end_with_one_file(tmp_path: Path) -> None:
    """Threads storing identical bytes at once all get the same item and leave one file."""
    store = EvidenceStore(tmp_path)
    items: list[EvidenceItem] = []
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        items.append(store._write(JPEG, "image/jpeg"))

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(items)) == 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [items[0].path.name]


def test_thread_pool_runner_needs_a_reactor_with_a_pool() -> None:
    """A test clock has no thread pool: the store then works inline."""
    from twisted.internet.task import Clock

    assert thread_pool_runner(Clock()) is None
