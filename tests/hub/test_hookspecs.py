"""Every hook is documented for plugin authors, has a test, and says whether it may return a Deferred.

These keep hub/hookspecs.py, docs/writing-a-plugin.md and the tests in step: adding a hook without the
other two fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs
from hub.plugins import hook_names

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-a-plugin.md"
HOOKS = hook_names()


def headings() -> list[str]:
    return [line for line in GUIDE.read_text(encoding="utf-8").splitlines() if re.match(r"#{1,6} ", line)]


def test_there_are_hooks_to_check():
    """hook_names() finds the hookspecs, so the checks below are not vacuous."""
    assert len(HOOKS) >= 7
    assert all(name.startswith("hub_") for name in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_heading_in_the_plugin_guide(hook):
    """docs/writing-a-plugin.md has a heading naming the hook (``### `hook_name` ``)."""
    named = [heading for heading in headings() if re.search(rf"(^#+ |`){re.escape(hook)}(`|$)", heading)]
    assert named, f"docs/writing-a-plugin.md has no heading for {hook}; add a ### `{hook}` section"


def test_the_plugin_guide_documents_no_hook_that_does_not_exist():
    """Every hook heading in the guide names a hook in hub/hookspecs.py."""
    documented = {name for heading in headings() for name in re.findall(r"\bhub_[a-z_]+\b", heading)}
    assert documented - set(HOOKS) == set()


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    """Some test module other than this one names the hook."""
    this = Path(__file__).resolve()
    mentioned_in = [
        path.relative_to(ROOT)
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        if path.resolve() != this and re.search(rf"\b{re.escape(hook)}\b", path.read_text(encoding="utf-8"))
    ]
    assert mentioned_in, f"no test under tests/ mentions {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_says_whether_it_may_return_a_deferred(hook):
    """Each hookspec's docstring says either that it may return a Deferred or that it never does."""
    docstring = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert re.search(r"may return a Deferred|never a Deferred", docstring, re.IGNORECASE), (
        f"the docstring of {hook} must say whether it may return a Deferred"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_a_hookspec(hook):
    """Each hub_* function in hub/hookspecs.py is marked as a hook specification."""
    assert hasattr(getattr(hookspecs, hook), f"{hookspecs.PROJECT_NAME}_spec")
