"""A pseudo-terminal pair that stands in for a USB serial adapter, so the simulator can play a radio on a path
the hub opens as its ``port``, and can be unplugged and plugged back in.

The hub's end is the pty's slave, reached through a symlink at the configured path (as udev gives a USB serial
adapter a stable ``/dev/serial/by-id/...`` name). The radio's end is the master, read and written through the
reactor, never with a blocking call.
"""

from __future__ import annotations

import errno
import os
import tty
from pathlib import Path
from typing import Any, Callable

import structlog
from twisted.internet import main
from twisted.internet.interfaces import IReactorFDSet, IReadWriteDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

#: Bytes read from the master per doRead: a radio sends a few frames at a time.
READ_SIZE = 4096

#: What the radio's end holds for a hub that is not reading. A real base radio buffers 512 or 600 bytes and
#: drops the rest; the simulator keeps more, so a slow test run loses nothing, but not without bound.
DEFAULT_MAX_BUFFER = 256 * 1024


class PtyLinkError(OSError):
    """The link path cannot be made to point at the pseudo-terminal (something that is not ours is there)."""


@implementer(IReadWriteDescriptor)
class _MasterEnd:
    """The master's file descriptor as the reactor sees it: read when readable, flush when writable."""

    def __init__(self, link: "PtyLink", fd: int) -> None:
        self._link = link
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def logPrefix(self) -> str:
        return "PtyLink"

    def doRead(self) -> Any:
        try:
            data = os.read(self._fd, READ_SIZE)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EINTR):
                return None
            # EIO: nobody holds the slave open. The link holds it itself, so this means the pty is gone.
            return main.CONNECTION_LOST
        if not data:
            return main.CONNECTION_DONE
        self._link._received(data)
        return None

    def doWrite(self) -> Any:
        return self._link._flush()

    def connectionLost(self, reason: Failure) -> None:
        self._link._master_lost(self, reason)


class PtyLink:
    """One pseudo-terminal pair with ``link_path`` pointing at its slave; ``on_data`` gets what the hub writes.

    ``open()`` (or ``come_back()``) makes a fresh pair and points the link at it; ``vanish()`` closes the
    master and removes the link, as pulling a USB serial adapter out does: the hub's open port sees a hang-up
    and opening the path again fails until the pair comes back. The link keeps the slave open itself, so the
    master never reads EIO while the hub has the port closed (and the raw line settings survive).
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        link_path: str | os.PathLike[str],
        on_data: Callable[[bytes], None],
        *,
        log: Any = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> None:
        self._reactor = reactor
        self.link_path = Path(link_path)
        self._on_data = on_data
        self._log = (log if log is not None else structlog.get_logger()).bind(link=str(self.link_path))
        self._max_buffer = max_buffer
        self._master: _MasterEnd | None = None
        self._slave_fd: int | None = None
        self._buffer = bytearray()
        self._writing = False
        self.slave_path: str | None = None
        #: Bytes the radio wrote that were thrown away: written while unplugged, or beyond ``max_buffer``.
        self.dropped_bytes = 0

    @property
    def present(self) -> bool:
        """Whether the device is plugged in: the pair is open and the link points at it."""
        return self._master is not None

    # --- plugging in and out -----------------------------------------------------------------------

    def open(self) -> None:
        """Make a new pseudo-terminal pair and point the link at its slave."""
        if self._master is not None:
            raise RuntimeError(f"{self.link_path} is already open")
        master_fd, slave_fd = os.openpty()
        try:
            # Raw: no echo of what the radio writes back to the radio, no CR to LF translation of CCDI's
            # frame ends, no line buffering. The serial port sets this again when it opens; the radio must
            # not depend on that.
            tty.setraw(slave_fd)
            os.set_blocking(master_fd, False)
            slave_path = os.ttyname(slave_fd)
            self._point_link_at(slave_path)
        except BaseException:
            os.close(master_fd)
            os.close(slave_fd)
            raise
        self._slave_fd = slave_fd
        self.slave_path = slave_path
        self._master = _MasterEnd(self, master_fd)
        self._reactor.addReader(self._master)
        self._log.info("pty_opened", slave=slave_path)

    def come_back(self) -> None:
        """Plug the device back in: a new pair (a new slave name) behind the same link path."""
        self.open()

    def vanish(self) -> None:
        """Unplug the device: close the master, so the hub's port hangs up, and remove the link."""
        if self._master is None:
            return
        self._close()
        self._log.info("pty_vanished")

    def close(self) -> None:
        """Put the link away for good (the simulator is stopping); the same as unplugging."""
        self.vanish()

    # --- the radio's side ----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` to the hub without blocking; what the pty cannot take yet waits for the reactor."""
        if not data:
            return
        if self._master is None:
            # An unplugged radio talks to nobody.
            self.dropped_bytes += len(data)
            return
        room = self._max_buffer - len(self._buffer)
        if room < len(data):
            self.dropped_bytes += len(data) - max(room, 0)
            self._log.warning("pty_buffer_full", dropped=len(data) - max(room, 0), buffered=len(self._buffer))
            data = data[: max(room, 0)]
        self._buffer += data
        if not self._writing:
            lost = self._flush()
            if lost is not None:
                self._master_lost(self._master, lost)

    def _flush(self) -> Any:
        master = self._master
        if master is None:
            return None
        while self._buffer:
            try:
                written = os.write(master.fileno(), self._buffer)
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EINTR):
                    # The hub is not reading fast enough (or not at all): let the reactor say when to go on.
                    if not self._writing:
                        self._writing = True
                        self._reactor.addWriter(master)
                    return None
                return main.CONNECTION_LOST
            del self._buffer[:written]
        if self._writing:
            self._writing = False
            self._reactor.removeWriter(master)
        return None

    def _received(self, data: bytes) -> None:
        self._on_data(data)

    def _master_lost(self, master: _MasterEnd, reason: Failure) -> None:
        if master is not self._master:
            return
        self._log.warning("pty_lost", reason=reason.getErrorMessage())
        self._close()

    # --- helpers -------------------------------------------------------------------------------------

    def _close(self) -> None:
        master, self._master = self._master, None
        slave_fd, self._slave_fd = self._slave_fd, None
        slave_path, self.slave_path = self.slave_path, None
        if master is not None:
            self._reactor.removeReader(master)
            if self._writing:
                self._reactor.removeWriter(master)
            fd = master.fileno()
            master._fd = -1
            os.close(fd)
        self._writing = False
        self.dropped_bytes += len(self._buffer)
        self._buffer.clear()
        if slave_fd is not None:
            os.close(slave_fd)
        if slave_path is not None:
            self._remove_link(slave_path)

    def _point_link_at(self, slave_path: str) -> None:
        if self.link_path.exists() and not self.link_path.is_symlink():
            # A real device or a file lives there; replacing it would take a real radio's port away.
            raise PtyLinkError(errno.EEXIST, "not a symlink, refusing to replace it", str(self.link_path))
        # A demo's link sits in a folder of its own (run/ttyShopwatch) that a fresh checkout does not have yet.
        self.link_path.parent.mkdir(parents=True, exist_ok=True)
        # Made beside the link and renamed over it, so the hub opening the path never finds it missing
        # half-way through (a stale link from an earlier run is replaced in one step).
        temporary = self.link_path.with_name(f".{self.link_path.name}.{os.getpid()}.new")
        if temporary.is_symlink():
            temporary.unlink()
        os.symlink(slave_path, temporary)
        os.replace(temporary, self.link_path)

    def _remove_link(self, slave_path: str) -> None:
        # Only our own link: after a crash another simulator may have been given the path.
        try:
            if os.readlink(self.link_path) == slave_path:
                self.link_path.unlink()
        except OSError:
            pass
