"""The end-to-end tests: the demo's evening played by a real ``hub demo`` process, watched in Chromium (the
session's browser, tests/conftest.py).

They run in the normal suite; ``pytest -m e2e`` selects them alone.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: the demo's whole evening in real processes and a real browser")
