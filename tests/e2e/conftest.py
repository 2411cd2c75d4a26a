"""The end-to-end tests: the demo's evening played by a real ``hub demo`` process, watched in Chromium.

They run in the normal suite; ``pytest -m e2e`` selects them alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: the demo's whole evening in real processes and a real browser")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (as the console's tests run it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
