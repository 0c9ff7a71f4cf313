"""The Poisson sampler of the bootstrap replicates (streameval._kernels.sampling), against the
exact Poisson pmf (scipy.stats) and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from streameval._components.bootstrap import poisson_draws
from streameval._kernels import sampling


def draw(means: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    out = np.full((replicates, means.size), -1, dtype=np.int64)
    total = sampling.poisson_counts(means.astype(np.int64), replicates, seed, sampling.CDF, sampling.GUIDE, out)
    assert total == out[:, means <= sampling.SMALL_MEAN].sum()  # the sum of the draws it wrote
    return out


@pytest.mark.parametrize("mean", [1, 3, 17, sampling.SMALL_MEAN])
def test_frequencies_match_the_exact_pmf(mean):
    n = 400_000
    values = draw(np.full(n, mean), 1, seed=20261126)[0]
    top = int(stats.poisson.ppf(1 - 1e-4, mean))  # cells with an expected count >~ 40, the rest pooled
    observed = np.bincount(np.minimum(values, top), minlength=top + 1)
    expected = n * np.append(stats.poisson.pmf(np.arange(top), mean), stats.poisson.sf(top - 1, mean))
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < stats.chi2.ppf(1 - 1e-6, top)  # a fixed seed: this passes or fails for good
    assert values.mean() == pytest.approx(mean, rel=5 * np.sqrt(1 / (mean * n)))
    assert values.var() == pytest.approx(mean, rel=0.02)


def test_poisson_1_mean_and_variance():
    values = draw(np.ones(1_000_000), 1, seed=7)
    assert abs(values.mean() - 1) < 5e-3
    assert abs(values.var() - 1) < 1e-2


def test_the_same_seed_gives_the_same_draws_and_another_seed_others():
    means = np.arange(1, 40)
    a, b, c = draw(means, 50, 123), draw(means, 50, 123), draw(means, 50, 124)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_replicates_are_independent_of_each_other():
    values = draw(np.full(2000, 2), 2, seed=5).astype(float)
    assert abs(np.corrcoef(values[0], values[1])[0, 1]) < 0.1


def test_means_past_the_tables_are_left_to_the_caller_and_a_zero_mean_draws_zero():
    out = draw(np.array([0, sampling.SMALL_MEAN + 1, 2]), 3, seed=1)
    np.testing.assert_array_equal(out[:, 0], 0)
    np.testing.assert_array_equal(out[:, 1], -1)  # untouched
    assert (out[:, 2] >= 0).all()


def test_the_tables_are_the_exact_cdf():
    for mean in (0, 1, 5, sampling.SMALL_MEAN):
        k = np.arange(sampling.CDF.shape[1] - 1)
        np.testing.assert_allclose(sampling.CDF[mean, :-1], stats.poisson.cdf(k, mean), rtol=1e-13, atol=1e-300)
        assert sampling.CDF[mean, -1] == 1.0


def test_replicate_counts_sum_as_the_kernel_says_and_land_in_their_cells():
    rng = np.random.default_rng(3)
    table = np.zeros((6, 6), dtype=np.int64)
    table[0, 0], table[2, 3], table[5, 1] = 4, 1, 500  # 500: drawn by numpy past SMALL_MEAN
    cells, drawn, total = poisson_draws(table, 300, rng)
    np.testing.assert_array_equal(cells, [0, 15, 31])
    assert drawn.shape == (300, 3) and total == drawn.sum()
    np.testing.assert_allclose(drawn.mean(axis=0), [4, 1, 500], rtol=0.1)
    replicates = np.zeros((300, 6, 6), dtype=np.int64)
    sampling.add_draws(replicates.reshape(300, -1), cells, drawn)
    assert replicates.sum() == total
    np.testing.assert_array_equal(replicates[:, 0, 0], drawn[:, 0])
    np.testing.assert_array_equal(replicates[:, 5, 1], drawn[:, 2])
    assert replicates.sum(axis=0)[table == 0].sum() == 0


def test_the_same_generator_state_gives_the_same_replicates():
    table = np.array([[3, 0], [1, 70]])
    a = poisson_draws(table, 20, np.random.default_rng(9))
    b = poisson_draws(table, 20, np.random.default_rng(9))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
