"""Efficiency test: unique() over many inputs with many repeats (its time is what counts)."""

from seqtools import unique


def test_unique_many_repeats():
    for seed in range(100):
        items = [(i * 7919 + seed) % 300 for i in range(2000)]
        result = unique(items)
        assert len(result) == 300
        assert result[:2] == [seed % 300, (7919 + seed) % 300]
