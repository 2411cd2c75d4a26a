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
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regular expression equivalent to ``pattern``; TopicPatternError says what is wrong."""
    if not isinstance(pattern, str) or not pattern:
        raise TopicPatternError("a topic pattern must be a non-empty string")
    words = pattern.split(".")
    parts: list[str] = []
    for index, word in enumerate(words):
        first = index == 0
        if word == "#":
            # Zero or more words, with the dot that joins them to the rest.
            parts.append(r"(?:[a-z0-9_]+(?:\.[a-z0-9_]+)*)?" if first else r"(?:\.[a-z0-9_]+)*")
            continue
        if word == "*":
            fragment = r"[a-z0-9_]+"
        elif _WORD.match(word):
            fragment = re.escape(word)
        else:
            raise TopicPatternError(
                f"topic pattern {pattern!r}: {word!r} is neither a lower-case word, '*' nor '#'"
            )
        if first:
            parts.append(fragment)
        elif words[index - 1] == "#" and index - 1 == 0:
            # After a leading '#', the dot is optional only when '#' matched nothing.
            parts.append(r"(?:(?<=[a-z0-9_])\.|(?<![a-z0-9_]))" + fragment)
        else:
            parts.append(r"\." + fragment)
    return re.compile("^" + "".join(parts) + "$")


def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is valid, else raise TopicPatternError."""
    compile_pattern(pattern)
    return pattern


class TopicMatcher:
    """Answers "does this topic match?" for one pattern, remembering answers (topics are few)."""

    __slots__ = ("pattern", "_regex", "_answers")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex = compile_pattern(pattern)
        self._answers: dict[str, bool] = {}

    def __call__(self, topic: str) -> bool:
        answer = self._answers.get(topic)
        if answer is None:
            answer = self._regex.match(topic) is not None
            if len(self._answers) < 10_000:
                self._answers[topic] = answer
        return answer
