"""seqtools: small helpers for sequences."""

from seqtools.core import chunks, duplicates, unique

__all__ = ["chunks", "duplicates", "unique"]
__version__ = "0.1.0"
