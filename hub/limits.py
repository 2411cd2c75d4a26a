"""Process limits the hub's simulators and benchmarks raise for themselves."""

from __future__ import annotations


def raise_open_file_limit(needed: int) -> None:
    """Raise this process's soft limit on open files to ``needed`` (within the hard limit), if lower.

    A simulated fleet holds a socket or two per device: a thousand of them pass the usual soft limit of
    1024. Where the limit cannot be read or raised, nothing changes and the caller finds out at the socket.
    """
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < needed:
            wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):
        pass
