from __future__ import annotations

import pytest

from tests.hub.incidents.fakes import EngineHarness


@pytest.fixture
def room(tmp_path):
    """An incident engine with the default rules on a real bus, at the start of a night shift."""
    harness = EngineHarness(tmp_path)
    yield harness
    harness.close()
