"""Partner hub: one event bus for a CCTV control room's partners, cameras and fibre network."""

from hub.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
