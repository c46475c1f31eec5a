import pytest

from gridpaths import count_paths, parse_grid


def test_open_grids():
    assert count_paths(["."]) == 1
    assert count_paths(["...", "...", "..."]) == 6
    assert count_paths(["...."] * 4) == 20


def test_rectangular_grid():
    assert count_paths(["....", "...."]) == 4


def test_blocked_cells():
    assert count_paths(["..", "#."]) == 1
    assert count_paths(["...", ".#.", "..."]) == 2


def test_blocked_corners():
    assert count_paths(["#.", ".."]) == 0
    assert count_paths(["..", ".#"]) == 0


def test_no_way_through():
    assert count_paths([".#", "#."]) == 0


def test_different_grids_of_one_size_in_a_row():
    # Same shape, different walls: nothing may carry over from one call to the next.
    assert count_paths(["...", "...", "..."]) == 6
    assert count_paths(["...", ".#.", "..."]) == 2
    assert count_paths(["..#", "...", "#.."]) == 4
    assert count_paths(["...", "...", "..."]) == 6


def test_empty_grid():
    assert count_paths([]) == 0


def test_parse_grid():
    assert parse_grid("..\n#.\n") == ["..", "#."]
    with pytest.raises(ValueError):
        parse_grid("..\n.\n")
    with pytest.raises(ValueError):
        parse_grid(".x\n..\n")
