"""Topic patterns: AMQP's '*' (one word) and '#' (any number of words)."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from hub.topics import TopicMatcher, TopicPatternError, parse_pattern


def _reference(pattern: list[str], topic: list[str]) -> bool:
    """Word-by-word matching, written the slow obvious way to check the regular expressions."""
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_reference(rest, topic[skip:]) for skip in range(len(topic) + 1))
    if not topic:
        return False
    return (head == "*" or head == topic[0]) and _reference(rest, topic[1:])


_words = st.sampled_from(["a", "b", "c", "ab"])


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.lists(st.one_of(_words, st.sampled_from(["*", "#"])), min_size=1, max_size=5),
    topic=st.lists(_words, min_size=1, max_size=6),
)
def test_patterns_match_exactly_as_word_by_word_matching_does(pattern, topic):
    """The compiled matcher agrees with a plain word-by-word matcher on every pattern and topic."""
    assert TopicMatcher(".".join(pattern))(".".join(topic)) == _reference(pattern, topic)


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("shopwatch.emergency.raised", "shopwatch.emergency.raised", True),
        ("shopwatch.*.raised", "shopwatch.emergency.raised", True),
        ("shopwatch.*", "shopwatch.emergency.raised", False),
        ("shopwatch.#", "shopwatch.emergency.raised", True),
        ("#.raised", "shopwatch.emergency.raised", True),
        ("#", "onvif.camera.offline", True),
        ("adapter.health.#", "adapter.healthy.running", False),
    ],
)
def test_the_examples_in_the_documentation_hold(pattern, topic, matches):
    """The patterns the docs show behave as the docs say."""
    assert TopicMatcher(pattern)(topic) is matches


@pytest.mark.parametrize("pattern", ["", "Shopwatch.#", "a..b", "a.b*", "a.#x", "a. b"])
def test_malformed_patterns_are_refused_with_the_reason(pattern):
    """Upper case, empty words and partial wildcards are errors, not silent non-matches."""
    with pytest.raises(TopicPatternError):
        parse_pattern(pattern)
