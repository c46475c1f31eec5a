import pytest

from wordstats import top_words, word_counts


def test_counts_in_order_of_first_appearance():
    counts = word_counts("the cat and the hat and the bat")
    assert counts == {"the": 3, "cat": 1, "and": 2, "hat": 1, "bat": 1}
    assert list(counts) == ["the", "cat", "and", "hat", "bat"]


def test_counts_ignore_case_and_punctuation():
    assert word_counts("Go, go. GO!") == {"go": 3}


def test_top_words_most_frequent_first():
    assert top_words("b a b c a b", 2) == [("b", 3), ("a", 2)]


def test_ties_are_alphabetical_not_by_appearance():
    assert top_words("pear fig apple fig apple pear kiwi", 3) == [("apple", 2), ("fig", 2), ("pear", 2)]


def test_k_larger_than_vocabulary_and_zero():
    assert top_words("x y x", 10) == [("x", 2), ("y", 1)]
    assert top_words("x y x", 0) == []


def test_negative_k_rejected():
    with pytest.raises(ValueError):
        top_words("x", -1)


def test_empty_text():
    assert word_counts("") == {}
    assert top_words("", 3) == []
