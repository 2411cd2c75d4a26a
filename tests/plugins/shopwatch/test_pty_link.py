"""The pseudo-terminal the simulator plays a radio on, over real ptys on the real reactor."""

from __future__ import annotations

import errno
import os
import termios
from typing import Any, Callable

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReadDescriptor
from zope.interface import implementer

from plugins.shopwatch.pty_link import PtyLink, PtyLinkError

TIMEOUT_S = 5


class Collected:
    """Bytes arriving from somewhere, with a Deferred for "once they satisfy this"."""

    def __init__(self) -> None:
        self.data = b""
        self.ended = False
        self._waiting: list[tuple[Callable[[bytes], bool], Deferred[bytes]]] = []

    def add(self, data: bytes) -> None:
        self.data += data
        self._check()

    def end(self) -> None:
        self.ended = True
        self._check()

    def until(self, wanted: Callable[[bytes], bool]) -> "Deferred[bytes]":
        waiting: Deferred[bytes] = Deferred()
        self._waiting.append((wanted, waiting))
        self._check()
        return waiting.addTimeout(TIMEOUT_S, reactor)

    def _check(self) -> None:
        for entry in list(self._waiting):
            wanted, waiting = entry
            if wanted(self.data):
                self._waiting.remove(entry)
                waiting.callback(self.data)


@implementer(IReadDescriptor)
class HubEnd:
    """The hub's side of the pty, opened by path as a serial port would be, read through the reactor."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.received = Collected()
        reactor.addReader(self)

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "HubEnd"

    def doRead(self) -> Any:
        try:
            data = os.read(self.fd, 4096)
        except OSError as error:
            if error.errno == errno.EAGAIN:
                return None
            data = b""
        if not data:
            self.close()
            self.received.end()
            return None
        self.received.add(data)
        return None

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def connectionLost(self, reason: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            reactor.removeReader(self)
            os.close(self.fd)
            self.fd = -1


@pytest.fixture
def cleanup():
    """Things to close after the test, in reverse order, so no descriptor outlives it on the shared reactor."""
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        thing.close()


def make_link(tmp_path, cleanup, **options) -> tuple[PtyLink, Collected]:
    heard = Collected()
    link = PtyLink(reactor, tmp_path / "ttyRADIO", heard.add, **options)
    cleanup.append(link)
    return link, heard


def test_opening_points_the_link_at_a_raw_pty_slave(tmp_path, cleanup):
    """open() makes the link path a symlink to a pty slave in raw mode: no echo, no line editing, no CR/LF mapping."""
    link, _heard = make_link(tmp_path, cleanup)
    link.open()
    assert link.present
    assert os.readlink(link.link_path) == link.slave_path
    hub = HubEnd(str(link.link_path))
    cleanup.append(hub)
    assert os.isatty(hub.fd)
    iflag, _oflag, _cflag, lflag, *_rest = termios.tcgetattr(hub.fd)
    assert not lflag & (termios.ECHO | termios.ICANON | termios.ISIG)
    assert not iflag & (termios.ICRNL | termios.IXON)


@pytest_twisted.ensureDeferred
async def test_bytes_cross_the_pair_both_ways_unchanged(tmp_path, cleanup):
    """What the radio writes reaches the hub's end byte for byte, and what the hub writes reaches on_data."""
    link, heard = make_link(tmp_path, cleanup)
    link.open()
    hub = HubEnd(str(link.link_path))
    cleanup.append(hub)
    link.write(b"p0D1F\r.\x9c\xfe\r")
    assert await hub.received.until(lambda data: len(data) >= 10) == b"p0D1F\r.\x9c\xfe\r"
    hub.write(b"f0303101\r")
    assert await heard.until(lambda data: data.endswith(b"\r")) == b"f0303101\r"
    assert link.dropped_bytes == 0


@pytest_twisted.ensureDeferred
async def test_a_large_write_returns_at_once_and_arrives_whole(tmp_path, cleanup):
    """A write far beyond the kernel's pty buffer does not block; the reactor feeds it out as the hub reads."""
    link, _heard = make_link(tmp_path, cleanup)
    link.open()
    hub = HubEnd(str(link.link_path))
    cleanup.append(hub)
    payload = bytes(range(256)) * 800  # 200 kB, ten times what a pty holds
    link.write(payload)  # would hang here if the write blocked: nobody has read yet
    assert await hub.received.until(lambda data: len(data) >= len(payload)) == payload


def test_writes_beyond_the_buffer_limit_are_dropped_and_counted(tmp_path, cleanup):
    """With the hub not reading, a write beyond max_buffer keeps what fits and counts the rest as dropped."""
    link, _heard = make_link(tmp_path, cleanup, max_buffer=1000)
    link.open()
    link.write(b"x" * 100_000)
    assert link.dropped_bytes == 99_000


@pytest_twisted.ensureDeferred
async def test_vanishing_hangs_up_the_hub_and_removes_the_link(tmp_path, cleanup):
    """vanish() closes the master, so the hub's open port reads end of file, and the path disappears."""
    link, _heard = make_link(tmp_path, cleanup)
    link.open()
    hub = HubEnd(str(link.link_path))
    cleanup.append(hub)
    link.vanish()
    assert not link.present
    assert not os.path.lexists(link.link_path)
    await hub.received.until(lambda _data: hub.received.ended)
    with pytest.raises(FileNotFoundError):
        os.open(link.link_path, os.O_RDWR | os.O_NOCTTY)


@pytest_twisted.ensureDeferred
async def test_coming_back_gives_a_working_pair_behind_the_same_path(tmp_path, cleanup):
    """After vanish() and come_back() the same path opens a fresh pty that carries bytes again."""
    link, heard = make_link(tmp_path, cleanup)
    link.open()
    link.vanish()
    link.write(b"lost while unplugged")
    link.come_back()
    assert link.dropped_bytes == len(b"lost while unplugged")
    hub = HubEnd(str(link.link_path))
    cleanup.append(hub)
    link.write(b"m06TM82558A\r")
    assert await hub.received.until(lambda data: data.endswith(b"\r")) == b"m06TM82558A\r"
    hub.write(b"q011FD\r")
    assert await heard.until(lambda data: data.endswith(b"\r")) == b"q011FD\r"


def test_the_links_folder_is_made_if_missing(tmp_path, cleanup):
    """A link path in a folder that does not exist yet (a demo's run/) gets its folder."""
    link = PtyLink(reactor, tmp_path / "run" / "ttyRADIO", lambda data: None)
    cleanup.append(link)
    link.open()
    assert os.readlink(tmp_path / "run" / "ttyRADIO") == link.slave_path


def test_a_stale_symlink_is_replaced(tmp_path, cleanup):
    """A link left behind by an earlier run that died is pointed at the new slave."""
    (tmp_path / "ttyRADIO").symlink_to("/dev/pts/does-not-exist")
    link, _heard = make_link(tmp_path, cleanup)
    link.open()
    assert os.readlink(link.link_path) == link.slave_path


def test_something_that_is_not_a_symlink_is_never_replaced(tmp_path, cleanup):
    """A real file (or device) at the link path is refused, not overwritten."""
    (tmp_path / "ttyRADIO").write_text("a real device lives here")
    link, _heard = make_link(tmp_path, cleanup)
    with pytest.raises(PtyLinkError):
        link.open()
    assert not link.present
    assert (tmp_path / "ttyRADIO").read_text() == "a real device lives here"


def test_vanishing_leaves_a_link_someone_else_made_alone(tmp_path, cleanup):
    """If the path was repointed by someone else meanwhile, vanish() does not remove their link."""
    link, _heard = make_link(tmp_path, cleanup)
    link.open()
    os.unlink(link.link_path)
    os.symlink("/dev/null", link.link_path)
    link.vanish()
    assert os.readlink(link.link_path) == "/dev/null"


def test_opening_twice_is_a_mistake(tmp_path, cleanup):
    """open() on a link that is already open raises instead of leaking the first pair."""
    link, _heard = make_link(tmp_path, cleanup)
    link.open()
    with pytest.raises(RuntimeError):
        link.open()
