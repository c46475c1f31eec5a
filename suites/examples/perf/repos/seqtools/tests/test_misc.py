import pytest

from seqtools import chunks, duplicates


def test_duplicates_in_order_of_second_occurrence():
    assert duplicates([1, 2, 1, 3, 2, 1]) == [1, 2]
    assert duplicates(["b", "a", "a", "b"]) == ["a", "b"]


def test_no_duplicates():
    assert duplicates([1, 2, 3]) == []


def test_chunks():
    assert list(chunks(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunks([], 3)) == []


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError):
        list(chunks([1], 0))
