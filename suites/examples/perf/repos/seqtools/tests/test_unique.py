from seqtools import unique


def test_keeps_first_occurrences_in_order():
    assert unique([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_order_is_not_sorted_order():
    assert unique([9, 2, 9, 5, 2, 0]) == [9, 2, 5, 0]


def test_empty_and_single():
    assert unique([]) == []
    assert unique(["x"]) == ["x"]


def test_works_on_any_iterable():
    assert unique(iter("mississippi")) == ["m", "i", "s", "p"]
    assert unique(x % 3 for x in range(10)) == [0, 1, 2]


def test_key_decides_what_repeats():
    assert unique(["a", "B", "b", "A", "c"], key=str.lower) == ["a", "B", "c"]


def test_key_keeps_the_first_item_not_its_key():
    words = ["Apple", "apple", "APPLE", "banana"]
    assert unique(words, key=str.casefold) == ["Apple", "banana"]


def test_equal_but_distinct_values_repeat():
    assert unique([1, 1.0, True, 2]) == [1, 2]


def test_tuples():
    assert unique([(1, 2), (2, 1), (1, 2)]) == [(1, 2), (2, 1)]
