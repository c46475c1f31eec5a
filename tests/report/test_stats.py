"""The reports' statistics against values computed by hand or published."""

from __future__ import annotations

import math

import pytest

from pytest_ohbench.report.stats import mcnemar_exact, pass_at_k, pass_hat_k, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # The roots p of (k/n - p)^2 = z^2 p (1 - p) / n, z = 1.959964 (Wilson's definition);
        # 81 of 263 is Wikipedia's worked example, 0.2553 to 0.3662.
        (0, 10, 0.0, 0.277533),
        (10, 10, 0.722467, 1.0),
        (5, 10, 0.236593, 0.763407),
        (1, 3, 0.061492, 0.792340),
        (81, 263, 0.255289, 0.366210),
    ],
)
def test_wilson_interval_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(k, n) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))


def test_wilson_interval_edges_and_levels() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)  # nothing ran: nothing known
    narrow, wide = wilson_interval(5, 10, 0.5), wilson_interval(5, 10, 0.99)
    assert wide[0] < wilson_interval(5, 10)[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval(4, 3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        wilson_interval(1, 3, 1.0)


@pytest.mark.parametrize(
    ("lost", "gained", "p"),
    [
        (0, 0, 1.0),
        (3, 3, 1.0),
        (1, 0, 1.0),
        (5, 0, 2 / 32),  # the smallest p five flips can give: 0.0625
        (6, 0, 2 / 64),
        (15, 1, 2 * 17 / 2**16),  # 2 * (C(16,0) + C(16,1)) / 2^16
        (2, 8, 2 * (1 + 10 + 45) / 2**10),
    ],
)
def test_mcnemar_exact_is_the_two_sided_binomial_test_of_the_flips(lost: int, gained: int, p: float) -> None:
    assert mcnemar_exact(lost, gained) == pytest.approx(p, rel=1e-12)
    assert mcnemar_exact(gained, lost) == mcnemar_exact(lost, gained)  # symmetric


def test_mcnemar_exact_stays_exact_for_large_counts() -> None:
    p = mcnemar_exact(600, 400)
    assert 0 < p < 1e-9 and math.isfinite(p)
    assert mcnemar_exact(500, 500) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


@pytest.mark.parametrize(
    ("n", "c", "k", "at", "hat"),
    [(3, 1, 1, 1 / 3, 1 / 3), (3, 2, 2, 1.0, 1 / 3), (4, 2, 2, 5 / 6, 1 / 6), (5, 5, 3, 1.0, 1.0), (5, 0, 2, 0.0, 0.0)],
)
def test_pass_at_k_and_pass_hat_k(n: int, c: int, k: int, at: float, hat: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(at) and pass_hat_k(n, c, k) == pytest.approx(hat)
    with pytest.raises(ValueError, match=r"pass\^k needs"):
        pass_hat_k(n, c, n + 1)
