"""wordstats: word statistics of plain text."""

from wordstats.counts import top_words, word_counts
from wordstats.tokens import tokenize

__all__ = ["tokenize", "top_words", "word_counts"]
__version__ = "0.1.0"
