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
    total = sampling.poisson_counts(means.astype(np.int64), replicates, seed, sampling.THRESHOLDS, sampling.GUIDE, out)
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


MASK = 2**64 - 1


def _splitmix(x: int) -> tuple[int, int]:
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return x, z ^ (z >> 31)


def _uniforms(seed: int, n: int) -> list[float]:
    """xoshiro256+ seeded by splitmix64, written from the published algorithms: the top 53 bits of each output
    / 2**53."""
    x, s = seed, []
    for _ in range(4):
        x, z = _splitmix(x)
        s.append(z)
    out = []
    for _ in range(n):
        out.append(((s[0] + s[3]) & MASK) >> 11)
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & MASK
    return [v / 2.0**53 for v in out]


def test_each_draw_is_the_inverse_cdf_of_its_uniform():
    """The kernel draws in integers (THRESHOLDS, a guide slot by a shift): each draw is the smallest k with u < CDF(k),
    for the uniform u of the same generator, as numpy's searchsorted finds it in the float CDF; means 0..SMALL_MEAN."""
    means = np.arange(sampling.SMALL_MEAN + 1)
    replicates = 40
    out = draw(means, replicates, seed=2026)
    u = np.array(_uniforms(2026, replicates * means.size)).reshape(replicates, means.size)
    expected = np.array([[np.searchsorted(sampling.CDF[m], u[r, j], side="right") for j, m in enumerate(means)]
                         for r in range(replicates)])
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(sampling.THRESHOLDS, np.ceil(sampling.CDF * 2.0**53))


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
