"""The ONVIF adapter: every configured camera of one fleet, run as one supervised Twisted service."""

from __future__ import annotations

from twisted.application.service import Service

from hub.api import AdapterContext
from plugins.onvif.config import OnvifConfig


class OnvifAdapter(Service):
    """One fleet of cameras. Built by the runtime with its ``AdapterContext`` on every (re)start."""

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.config: OnvifConfig = context.config
