"""Counting words."""

from __future__ import annotations

from wordstats.tokens import tokenize


def word_counts(text: str) -> dict[str, int]:
    """How often each word occurs, in the order the words first appear.

    >>> word_counts("the cat and the hat")
    {'the': 2, 'cat': 1, 'and': 1, 'hat': 1}
    """
    words = tokenize(text)
    counts: dict[str, int] = {}
    for word in words:
        if word not in counts:
            counts[word] = words.count(word)
    return counts


def top_words(text: str, k: int) -> list[tuple[str, int]]:
    """The `k` most frequent words with their counts: most frequent first, ties alphabetical.

    >>> top_words("b a b c a b", 2)
    [('b', 3), ('a', 2)]
    """
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    ranked = sorted(word_counts(text).items(), key=lambda pair: (-pair[1], pair[0]))
    return ranked[:k]
