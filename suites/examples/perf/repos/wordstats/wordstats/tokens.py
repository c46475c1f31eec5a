"""Splitting text into words."""

from __future__ import annotations

import re

# Letters and digits, with apostrophes only inside a word ("don't", not "'quoted'").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """The words of `text`, lower-cased, in order.

    >>> tokenize("Don't panic -- it's 'fine', really!")
    ["don't", 'panic', "it's", 'fine', 'really']
    """
    return _WORD.findall(text.lower())
