"""Topic patterns: which dotted topics a subscriber wants.

The wildcards are AMQP's, so that a broker bridge later means the same thing by them: ``*`` matches
exactly one word, ``#`` matches zero or more words. ``shopwatch.*.raised`` matches
``shopwatch.emergency.raised``; ``adapter.health.#`` matches every health event; ``#`` matches all.
"""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"^[a-z0-9_]+$")


class TopicPatternError(ValueError):
    """A topic pattern that is not dotted words and wildcards."""


@functools.lru_cache(maxsize=1024)
def parse_pattern(pattern: str) -> tuple[str, ...]:
    """The words of ``pattern``; TopicPatternError says what is wrong with it."""
    if not isinstance(pattern, str) or not pattern:
        raise TopicPatternError("a topic pattern must be a non-empty string")
    words = tuple(pattern.split("."))
    for word in words:
        if word not in ("*", "#") and not _WORD.match(word):
            raise TopicPatternError(
                f"topic pattern {pattern!r}: {word!r} is neither a lower-case word, '*' nor '#'"
            )
    return words


def words_match(pattern: tuple[str, ...], topic: list[str]) -> bool:
    """Whether topic words match pattern words: the set of pattern positions reachable so far."""
    # positions[i] is True when the first i pattern words can match the topic words read so far.
    positions = _close_hashes(pattern, {0})
    for word in topic:
        following = set()
        for index in positions:
            if index < len(pattern):
                token = pattern[index]
                if token == "#":
                    following.add(index)  # '#' swallows this word and may go on
                elif token == "*" or token == word:
                    following.add(index + 1)
        if not following:
            return False
        positions = _close_hashes(pattern, following)
    return len(pattern) in positions


def _close_hashes(pattern: tuple[str, ...], positions: set[int]) -> set[int]:
    # A '#' may also match no words at all, so the position after it is reachable too.
    closed = set(positions)
    stack = list(positions)
    while stack:
        index = stack.pop()
        if index < len(pattern) and pattern[index] == "#" and index + 1 not in closed:
            closed.add(index + 1)
            stack.append(index + 1)
    return closed


class TopicMatcher:
    """Answers "does this topic match?" for one pattern, remembering answers (topics are few)."""

    __slots__ = ("pattern", "_words", "_answers")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._words = parse_pattern(pattern)
        self._answers: dict[str, bool] = {}

    def __call__(self, topic: str) -> bool:
        answer = self._answers.get(topic)
        if answer is None:
            answer = words_match(self._words, topic.split("."))
            if len(self._answers) < 10_000:
                self._answers[topic] = answer
        return answer
