"""Confidence intervals.

- The formulas: Wilson against its textbook formula with scipy's normal quantile, Clopper-Pearson
  against scipy.stats.beta's quantiles, edge cases and bad counts.
- interval() on the accumulators: the right counts (from scikit-learn's confusion matrices), the
  right refusals.
- Coverage by simulation: about 95% of 95% intervals contain the true value, within a binomial
  tolerance, for Wilson, Clopper-Pearson (at least 95%: it is conservative) and the bootstrap.
- The bootstrap replicates: Poisson in distribution cell by cell, whole samples resampled in
  Multilabel, percentile intervals of the metric on each replicate (recomputed with scikit-learn),
  merge by addition, serialization, seeds, and a failed update that changes nothing.
"""

from __future__ import annotations

import functools
import json
import pickle
import struct
import warnings
import zlib

import numpy as np
import pytest
from helpers import bad_batches, draw_stream, is_replicated, layout_of, remade
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

import streameval
from streameval import Binary, IncompatibleError, Multiclass, Multilabel, SerializationError, intervals
from streameval._kernels import EXACT, F1_SUM

LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99, 1 - 1e-6]


# --- independent references -----------------------------------------------------------------------


def wilson_reference(s, n, level):
    """The textbook Wilson interval, with scipy's normal quantile."""
    s, n = np.asarray(s, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf((1 + level) / 2)
    center = (s + z**2 / 2) / (n + z**2)
    half = z / (n + z**2) * np.sqrt(s * (n - s) / n + z**2 / 4)
    return np.clip(center - half, 0, 1), np.clip(center + half, 0, 1)


def clopper_pearson_reference(s, n, level):
    """Clopper-Pearson from scipy's beta quantiles (isf for the upper tail: 1 - tail would round)."""
    s, n = np.asarray(s, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(s == 0, 0.0, stats.beta.ppf(tail, s, n - s + 1))
        high = np.where(s == n, 1.0, stats.beta.isf(tail, s + 1, n - s))
    return low, high


def assert_bounds_close(ours, ref, rtol):
    """Each bound to rtol relative, of itself or of its distance to 1 (whichever is smaller), give
    or take two roundings of the bound; the upper bound's, of the complement 1 - high it is found
    through (scipy's own beta.isf is no closer where that matters: a few successes in 1e7 trials)."""
    for o, r, rounded in zip(ours, ref, (lambda r: r, lambda r: np.maximum(r, 1 - r))):
        o, r = np.asarray(o, dtype=float), np.asarray(r, dtype=float)
        error, scale = np.abs(o - r), np.minimum(np.abs(r), np.abs(1 - r))
        assert (error <= rtol * scale + 2 * np.spacing(rounded(r))).all(), (o, r, error / np.maximum(scale, 1e-300))


GRID = sorted(
    {(s, n) for n in [1, 2, 3, 7, 20, 101, 1000, 10**5, 10**7] for s in [0, 1, 2, n // 3, n // 2, n - 1, n]
     if 0 <= s <= n}
)


# --- the formulas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_wilson_equals_the_textbook_formula(level):
    s, n = np.array(GRID).T
    low, high = intervals.wilson(s, n, level)
    ref_low, ref_high = wilson_reference(s, n, level)
    np.testing.assert_allclose(low, ref_low, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, ref_high, rtol=1e-12, atol=1e-15)
    assert (low[s == 0] == 0).all() and (high[s == n] == 1).all()  # exactly, where the formula rounds


@pytest.mark.parametrize("level", LEVELS)
def test_clopper_pearson_equals_scipy_beta_quantiles(level):
    s, n = np.array(GRID).T
    ours = intervals.clopper_pearson(s, n, level)
    assert_bounds_close(ours, clopper_pearson_reference(s, n, level), rtol=1e-10)
    assert (ours[0][s == 0] == 0).all() and (ours[1][s == n] == 1).all()


@given(
    n=st.integers(1, 10**7),
    fraction=st.floats(0, 1),
    level=st.floats(0.01, 0.9999),
)
def test_intervals_equal_their_references_anywhere(n, fraction, level):
    s = round(fraction * n)
    assert_bounds_close(intervals.clopper_pearson(s, n, level), clopper_pearson_reference(s, n, level), rtol=1e-10)
    ref = [r.item() for r in wilson_reference(s, n, level)]
    np.testing.assert_allclose(intervals.wilson(s, n, level), ref, rtol=1e-12, atol=1e-15)


def test_clopper_pearson_agrees_with_scipy_binomtest():
    for s, n in [(0, 10), (3, 10), (10, 10), (17, 250), (499, 1000)]:
        ci = stats.binomtest(s, n).proportion_ci(0.95, method="exact")
        np.testing.assert_allclose(intervals.clopper_pearson(s, n, 0.95), (ci.low, ci.high), rtol=1e-9)
        ci = stats.binomtest(s, n).proportion_ci(0.95, method="wilson")
        np.testing.assert_allclose(intervals.wilson(s, n, 0.95), (ci.low, ci.high), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("formula", [intervals.wilson, intervals.clopper_pearson])
def test_shapes_scalars_and_empty_trials(formula):
    low, high = formula(3, 10)
    assert type(low) is float and type(high) is float and 0 < low < 0.3 < high < 1
    assert all(np.isnan(formula(0, 0)))
    low, high = formula(np.array([[0, 0], [2, 0]]), np.array([4, 0]))  # broadcasts: trials per column
    assert low.shape == high.shape == (2, 2)
    assert np.isnan(low[:, 1]).all() and np.isnan(high[:, 1]).all()
    assert low[0, 0] == 0 and high[0, 0] < 1 and 0 < low[1, 0] < high[1, 0]
    per_element = [formula(s, n) for s, n in [(0, 4), (2, 4)]]
    assert [low[0, 0], low[1, 0]] == [b[0] for b in per_element]
    assert [high[0, 0], high[1, 0]] == [b[1] for b in per_element]


@pytest.mark.parametrize("formula", [intervals.wilson, intervals.clopper_pearson])
@pytest.mark.parametrize(
    "successes, trials, exc, match",
    [
        ([1, 5], [3, 3], ValueError, r"^successes\[1\] = 5 exceeds trials\[1\] = 3$"),
        (4, 3, ValueError, r"^successes = 4 exceeds trials = 3$"),
        ([1, -1], 3, ValueError, r"^successes\[1\] = -1 is not a count"),
        (1, [3, np.nan], ValueError, r"^trials\[1\] = nan is not a count"),
        (1, np.inf, ValueError, r"^trials = inf is not a count"),
        (["1"], 3, TypeError, r"^successes has dtype <U1"),
        ([1, 2], [3, 4, 5], ValueError, r"do not broadcast"),
    ],
)
def test_bad_counts(formula, successes, trials, exc, match):
    with pytest.raises(exc, match=match):
        formula(successes, trials)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, np.nan, True, "0.95", None])
def test_bad_level(level):
    for call in (lambda: intervals.wilson(1, 2, level), lambda: intervals.clopper_pearson(1, 2, level),
                 lambda: _two_by_two().interval("accuracy", level)):
        with pytest.raises(ValueError, match=r"^level=.* is not valid: expected a number strictly between 0 and 1"):
            call()


def _two_by_two():
    acc = Binary()
    acc.update([0, 1, 1, 0], [0, 1, 0, 0])
    return acc


# --- interval() on the accumulators: Wilson and Clopper-Pearson -----------------------------------

METHODS = {"wilson": wilson_reference, "clopper-pearson": clopper_pearson_reference}


def _one_vs_rest(mcm):
    """The (successes, trials) of each proportion from sklearn's multilabel confusion matrices."""
    tn, fp, fn, tp = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0], mcm[:, 1, 1]
    return {
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "npv": (tn, tn + fn),
        "fpr": (fp, fp + tn),
        "fnr": (fn, fn + tp),
        "jaccard": (tp, tp + fp + fn),
    }


def _check(acc, metric, expected, method, **kwargs):
    ours = acc.interval(metric, 0.9, method=method, **kwargs)
    ref = METHODS[method](*expected, 0.9)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-15, err_msg=f"{metric} {kwargs}")
    assert np.shape(ours[0]) == np.shape(expected[0])


@pytest.mark.parametrize("method", METHODS)
def test_multiclass_proportions_use_the_right_counts(method, rng):
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    y_pred[:100] = y_true[:100]
    acc = Multiclass(4)
    acc.update(y_true, y_pred)
    per_class = _one_vs_rest(skm.multilabel_confusion_matrix(y_true, y_pred, labels=range(4)))
    for metric, counts in per_class.items():
        _check(acc, metric, counts, method, average=None)
    correct = skm.accuracy_score(y_true, y_pred, normalize=False)
    _check(acc, "accuracy", (correct, 300), method)
    for metric, successes in (("precision", correct), ("recall", correct), ("fnr", 300 - correct)):
        _check(acc, metric, (successes, 300), method, average="micro")


@pytest.mark.parametrize("method", METHODS)
def test_binary_proportions_use_the_right_counts(method, rng):
    y_true = rng.integers(0, 2, 200)
    scores = np.clip(0.3 * y_true + rng.random(200) * 0.8, 0, 1)
    acc = Binary(threshold=0.4, bins=10)
    acc.update(y_true, scores)
    y_pred = (scores >= 0.4).astype(int)
    per_class = _one_vs_rest(skm.multilabel_confusion_matrix(y_true, y_pred, labels=[0, 1]))
    for metric, (successes, trials) in per_class.items():
        _check(acc, metric, (successes, trials), method, average=None)
        _check(acc, metric, (successes[1], trials[1]), method)  # average="binary", the default
    correct = skm.accuracy_score(y_true, y_pred, normalize=False)
    _check(acc, "accuracy", (correct, 200), method)
    _check(acc, "recall", (correct, 200), method, average="micro")


@pytest.mark.parametrize("method", METHODS)
def test_multilabel_proportions_use_the_right_counts(method, rng):
    y_true = rng.integers(0, 2, (150, 3))
    y_pred = np.where(rng.random((150, 3)) < 0.7, y_true, 1 - y_true)
    acc = Multilabel(3)
    acc.update(y_true, y_pred)
    for metric, counts in _one_vs_rest(skm.multilabel_confusion_matrix(y_true, y_pred)).items():
        _check(acc, metric, counts, method, average=None)
    _check(acc, "accuracy", (skm.accuracy_score(y_true, y_pred, normalize=False), 150), method)  # subset accuracy


def test_string_labels_and_empty_classes():
    acc = Multiclass(labels=["cat", "dog", "eel"])
    acc.update(["cat", "dog", "cat"], ["cat", "cat", "cat"])
    low, high = acc.interval("recall", average=None, method="clopper-pearson")
    assert np.isnan(low[2]) and np.isnan(high[2])  # no eel: 0 trials
    assert low[1] == 0 and high[0] == 1
    empty = Multiclass(3)
    assert all(np.isnan(empty.interval("accuracy")))


ACCUMULATOR_OF = {"binary": Binary, "weighted": lambda: Binary(weighted=True), "multiclass": lambda: Multiclass(3),
                  "multilabel": lambda: Multilabel(3)}


@pytest.mark.parametrize(
    "kind, args, exc, match",
    [
        ("multiclass", {"metric": "recall"}, ValueError, r'average=\'macro\' is not a proportion.*method="bootstrap"'),
        ("multiclass", {"metric": "recall", "average": "weighted"}, ValueError, r"is not a proportion"),
        ("multilabel", {"metric": "recall", "average": "samples"}, ValueError, r"is not a proportion"),
        ("multiclass", {"metric": "f1", "average": None}, ValueError, r"^metric='f1' is not a proportion.*bootstrap"),
        ("multiclass", {"metric": "roc_auc"}, ValueError, r"^metric='roc_auc' is not a proportion"),
        ("multiclass", {"metric": "specificity", "average": "micro"}, ValueError, r"count a sample more than once"),
        ("multilabel", {"metric": "precision", "average": "micro"}, ValueError, r"count a sample more than once"),
        ("multiclass", {"metric": "accuracy", "average": "micro"}, ValueError, r"^accuracy takes no average"),
        ("binary", {"metric": "recall", "method": "exact"}, ValueError, r"^method='exact' is not valid"),
        ("binary", {"metric": "recall", "beta": 2}, TypeError, r"take no metric options \(beta\)"),
        ("weighted", {"metric": "recall"}, ValueError, r"counts are sums of weights"),
        ("multiclass", {"metric": "recall", "average": "binary"}, ValueError, r"^average='binary' is not valid"),
    ],
)
def test_proportion_interval_errors(kind, args, exc, match):
    acc = ACCUMULATOR_OF[kind]()
    with pytest.raises(exc, match=match):
        acc.interval(**args)


# --- coverage by simulation -------------------------------------------------------------------------


def assert_coverage(hits, level, conservative=False, slack=0.0):
    """The observed coverage lies within 3.5 binomial standard deviations of level (plus slack for
    approximate methods); a conservative method only has to reach it."""
    hits = np.asarray(hits)
    coverage, tolerance = hits.mean(), 3.5 * np.sqrt(level * (1 - level) / hits.size) + slack
    assert coverage >= level - tolerance, f"coverage {coverage:.4f} < {level} - {tolerance:.4f}"
    if not conservative:
        assert coverage <= level + tolerance, f"coverage {coverage:.4f} > {level} + {tolerance:.4f}"


def test_wilson_and_clopper_pearson_cover_accuracy_and_recall():
    rng = np.random.default_rng(2024)
    p_positive, p_right = 0.3, np.array([0.9, 0.7])  # P(correct | negative), P(correct | positive)
    truth = {"accuracy": (1 - p_positive) * p_right[0] + p_positive * p_right[1], "recall": p_right[1]}
    hits = {(m, method): [] for m in truth for method in METHODS}
    for _ in range(800):
        acc = Binary()
        for _ in range(4):
            y_true = (rng.random(50) < p_positive).astype(np.int64)
            y_pred = np.where(rng.random(50) < p_right[y_true], y_true, 1 - y_true)
            acc.update(y_true, y_pred)
        for metric, value in truth.items():
            for method in METHODS:
                low, high = acc.interval(metric, 0.95, method=method)
                hits[metric, method].append(low <= value <= high)
    for (metric, method), h in hits.items():
        assert_coverage(h, 0.95, conservative=method == "clopper-pearson")


def test_per_class_recall_covers_on_multiclass():
    rng = np.random.default_rng(7)
    confusion = np.array([[0.25, 0.05, 0.02], [0.04, 0.2, 0.06], [0.03, 0.05, 0.3]])  # P(true, pred)
    recall = np.diag(confusion) / confusion.sum(axis=1)
    hits = []
    for _ in range(500):
        acc = Multiclass(3)
        cells = rng.choice(9, size=150, p=confusion.ravel())
        acc.update(cells // 3, cells % 3)
        low, high = acc.interval("recall", 0.95, average=None)
        hits.append((low <= recall) & (recall <= high))
    assert_coverage(np.ravel(hits), 0.95)


def _population_value(metric, confusion):
    """A metric of the generating distribution: scikit-learn on the nine (true, pred) pairs weighted
    by their probabilities."""
    y_true, y_pred = np.divmod(np.arange(9), 3)
    return metric(y_true, y_pred, sample_weight=confusion.ravel())


def test_bootstrap_covers_accuracy_macro_f1_and_mcc():
    rng = np.random.default_rng(99)
    confusion = np.array([[0.2, 0.05, 0.05], [0.06, 0.25, 0.04], [0.05, 0.05, 0.25]])
    truth = {
        "accuracy": _population_value(skm.accuracy_score, confusion),
        "f1": _population_value(functools.partial(skm.f1_score, average="macro"), confusion),
        "matthews_corrcoef": _population_value(skm.matthews_corrcoef, confusion),
    }
    hits = {m: [] for m in truth}
    for stream in range(300):
        acc = Multiclass(3, bootstrap=200, seed=stream)
        for _ in range(2):
            cells = rng.choice(9, size=200, p=confusion.ravel())
            acc.update(cells // 3, cells % 3)
        for metric, value in truth.items():
            low, high = acc.interval(metric, 0.95, method="bootstrap")
            hits[metric].append(low <= value <= high)
    for metric, h in hits.items():
        assert_coverage(h, 0.95, slack=0.02)


# --- the bootstrap replicates ---------------------------------------------------------------------


def assert_poisson(replicates, counts):
    """Each cell's replicates have the mean and variance of Poisson(its count), within 5 standard
    errors; cells are uncorrelated; empty cells stay 0."""
    r = replicates.shape[0]
    flat, counts = replicates.reshape(r, -1).astype(float), np.asarray(counts, dtype=float).ravel()
    mean, var = flat.mean(axis=0), flat.var(axis=0, ddof=1)
    assert (np.abs(mean - counts) <= 5 * np.sqrt(counts / r)).all(), (mean, counts)
    assert (np.abs(var - counts) <= 5 * np.sqrt((counts + 2 * counts**2) / r)).all(), (var, counts)
    assert (flat[:, counts == 0] == 0).all()
    busy = flat[:, counts > 0]
    if busy.shape[1] > 1:
        corr = np.corrcoef(busy, rowvar=False)[np.triu_indices(busy.shape[1], 1)]
        assert (np.abs(corr) < 5 / np.sqrt(r)).all()


def test_multiclass_replicates_are_poisson_of_the_counts():
    rng = np.random.default_rng(1)
    acc = Multiclass(labels=["a", "b", "c"], bootstrap=3000, seed=1)
    labels = np.array(["a", "b", "c"])
    y_true, y_pred = [], []
    for size in (5, 40, 200):  # several batches: the draws of each add up
        t, p = labels[rng.integers(0, 3, size)], labels[rng.integers(0, 2, size)]  # never "c" predicted
        acc.update(t, p)
        y_true += list(t)
        y_pred += list(p)
    expected = skm.confusion_matrix(y_true, y_pred, labels=labels)
    assert (acc.confusion_matrix() == expected).all()
    assert_poisson(acc._boot_cm, expected)


@pytest.mark.parametrize("scored", [False, True])
def test_binary_replicates_are_poisson_of_the_counts(scored, rng):
    acc = Binary(bins=20, bootstrap=3000, seed=2) if scored else Binary(bootstrap=3000, seed=2)
    y_true = rng.integers(0, 2, 300)
    y_pred = rng.random(300) if scored else rng.integers(0, 2, 300)
    acc.update(y_true, y_pred)
    expected = skm.confusion_matrix(y_true, (y_pred >= 0.5).astype(int) if scored else y_pred)
    assert (acc.confusion_matrix() == expected).all()
    assert_poisson(acc._boot_cm, expected)


def test_replicates_of_a_split_batch(monkeypatch, rng):
    """Large batches are counted in chunks on idle cores: the replicates still see the whole batch once."""
    monkeypatch.setattr(streameval._threads, "PARALLEL_MIN", 16)
    monkeypatch.setattr(streameval._threads, "threads_for", lambda n, minimum=0: 2)
    acc = Multiclass(3, bootstrap=2000, seed=3)
    y_true, y_pred = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    acc.update(y_true, y_pred)
    expected = skm.confusion_matrix(y_true, y_pred)
    assert (acc.confusion_matrix() == expected).all()
    assert_poisson(acc._boot_cm, expected)


def test_multilabel_replicates_resample_whole_samples():
    """Each replicate is the batch recounted with one integer weight per sample (read back from the
    cells that only one kind of sample reaches): the labels of a sample move together."""
    kind_a = ([1, 0, 1], [1, 0, 0])  # label 0: tp, label 1: tn, label 2: fn
    kind_b = ([0, 1, 1], [1, 1, 1])  # label 0: fp, label 1: tp, label 2: tp
    acc = Multilabel(3, bootstrap=300, seed=4)
    acc.update([kind_a[0]] * 6 + [kind_b[0]] * 9, [kind_a[1]] * 6 + [kind_b[1]] * 9)
    for r in range(acc.bootstrap):
        weight_a, weight_b = acc._boot_mcm[r, 0, 1, 1], acc._boot_mcm[r, 0, 0, 1]
        fresh = Multilabel(3)
        fresh.update([kind_a[0]] * weight_a + [kind_b[0]] * weight_b, [kind_a[1]] * weight_a + [kind_b[1]] * weight_b)
        assert (acc._boot_mcm[r] == fresh._mcm).all()
        np.testing.assert_allclose(acc._boot_sums[r], fresh._sample_sums, rtol=1e-12)
    # the per-sample weights are Poisson(1): a kind's total weight is Poisson(its count)
    assert_poisson(acc._boot_mcm[:, 0, :, 1], [9, 6])


def test_multilabel_replicate_cells_are_poisson_with_the_samples_covariance(rng):
    y_true, y_pred = rng.integers(0, 2, (80, 2)), rng.integers(0, 2, (80, 2))
    acc = Multilabel(2, bootstrap=4000, seed=5)
    acc.update(y_true, y_pred)
    cells = 2 * y_true + y_pred  # each label's cell of each sample
    flat = acc._boot_mcm.reshape(acc.bootstrap, 2, 4).astype(float)
    for label in range(2):
        assert_poisson(flat[:, label], np.bincount(cells[:, label], minlength=4))
    # Two labels' cells share the samples that reach both: their covariance is that count.
    for i in range(4):
        for j in range(4):
            shared = np.sum((cells[:, 0] == i) & (cells[:, 1] == j))
            cov = np.cov(flat[:, 0, i], flat[:, 1, j])[0, 1]
            assert abs(cov - shared) <= 5 * np.sqrt((1 + shared) * 80 / acc.bootstrap), (i, j, cov, shared)
    exact = np.all(y_true == y_pred, axis=1).sum()
    assert_poisson(acc._boot_sums[:, [EXACT]], [exact])


def _samples_of(table):
    """(y_true, y_pred) with table[t, p] samples of each pair."""
    t, p = np.nonzero(table >= 0)
    n = table[t, p]
    return np.repeat(t, n), np.repeat(p, n)


def _percentiles(values, level):
    return np.quantile(np.array(values, dtype=float), [(1 - level) / 2, (1 + level) / 2], axis=0)


def test_bootstrap_interval_is_the_percentile_interval_of_the_replicates(rng):
    acc = Multiclass(4, bootstrap=60, seed=6)
    acc.update(rng.integers(0, 4, 120), rng.integers(0, 4, 120))
    samples = [_samples_of(table) for table in acc._boot_cm]
    cases = [
        (("accuracy",), {}, lambda t, p: skm.accuracy_score(t, p)),
        (("f1",), {}, lambda t, p: skm.f1_score(t, p, average="macro", labels=range(4), zero_division=0)),
        (("fbeta",), {"beta": 2, "average": None},
         lambda t, p: skm.fbeta_score(t, p, beta=2, average=None, labels=range(4), zero_division=0)),
        (("precision",), {"average": "weighted"},
         lambda t, p: skm.precision_score(t, p, average="weighted", labels=range(4), zero_division=0)),
        (("recall",), {"average": "micro"}, lambda t, p: skm.recall_score(t, p, average="micro", labels=range(4))),
        (("jaccard",), {"average": "macro", "zero_division": 1.0},
         lambda t, p: skm.jaccard_score(t, p, average="macro", labels=range(4), zero_division=1.0)),
        (("matthews_corrcoef",), {}, skm.matthews_corrcoef),
        (("cohen_kappa",), {"weights": "quadratic"}, lambda t, p: skm.cohen_kappa_score(t, p, weights="quadratic")),
        (("balanced_accuracy",), {"adjusted": True}, lambda t, p: skm.balanced_accuracy_score(t, p, adjusted=True)),
        (("hamming_loss",), {}, skm.hamming_loss),
    ]
    for (metric,), options, reference in cases:
        for level in (0.9, 0.95):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scikit-learn's own warnings on the rare sparse replicate
                expected = _percentiles([reference(t, p) for t, p in samples], level)
            ours = acc.interval(metric, level, method="bootstrap", **options)
            np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15, err_msg=metric)
            assert np.shape(ours[0]) == np.shape(expected[0])


def test_binary_and_multilabel_bootstrap_intervals(rng):
    binary = Binary(bootstrap=40, seed=7)
    binary.update(rng.integers(0, 2, 100), rng.integers(0, 2, 100))
    samples = [_samples_of(table) for table in binary._boot_cm]
    expected = _percentiles([skm.recall_score(t, p, zero_division=0) for t, p in samples], 0.95)
    np.testing.assert_allclose(binary.interval("recall", method="bootstrap"), expected, rtol=1e-12)
    per_class_f1 = [skm.f1_score(t, p, average=None, labels=[0, 1], zero_division=0) for t, p in samples]
    expected = _percentiles(per_class_f1, 0.95)
    np.testing.assert_allclose(binary.interval("f1", average=None, method="bootstrap"), expected, rtol=1e-12)

    multilabel = Multilabel(3, bootstrap=40, seed=8)
    multilabel.update(rng.integers(0, 2, (100, 3)), rng.integers(0, 2, (100, 3)))
    # samples-averaged F1 and subset accuracy come from the replicated per-sample sums
    totals = multilabel._boot_mcm[:, 0].sum(axis=(1, 2))
    expected = _percentiles(multilabel._boot_sums[:, F1_SUM] / totals, 0.9)
    ours = multilabel.interval("f1", 0.9, method="bootstrap", average="samples")
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    expected = _percentiles(multilabel._boot_sums[:, EXACT] / totals, 0.9)
    np.testing.assert_allclose(multilabel.interval("accuracy", 0.9, method="bootstrap"), expected, rtol=1e-12)
    per_label_mcc = [[skm.matthews_corrcoef(*_samples_of(cm)) for cm in mcm] for mcm in multilabel._boot_mcm]
    expected = _percentiles(np.mean(per_label_mcc, axis=1), 0.9)
    np.testing.assert_allclose(multilabel.interval("matthews_corrcoef", 0.9, method="bootstrap"), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "make, args, exc, match",
    [
        (lambda: Multiclass(3), {"metric": "f1"}, ValueError, r"create the accumulator with bootstrap=R"),
        (lambda: Binary(bins=10, bootstrap=5), {"metric": "roc_auc"}, ValueError, r"^metric='roc_auc' has no"),
        (lambda: Multiclass(3, top_k=2, bootstrap=5), {"metric": "accuracy", "top_k": 2}, ValueError, r"^top-k"),
        (lambda: Multiclass(3, bootstrap=5), {"metric": "accuracy", "average": "macro"}, ValueError, r"^accuracy"),
        (lambda: Multiclass(3, bootstrap=5), {"metric": "f1", "average": "binary"}, ValueError, r"^average='binary'"),
        (lambda: Multiclass(3, bootstrap=5), {"metric": "f1", "gamma": 2}, TypeError, r"gamma"),
        (lambda: Multiclass(3, bootstrap=5), {"metric": "f1", "level": 1.0}, ValueError, r"^level=1.0 is not valid"),
    ],
)
def test_bootstrap_interval_errors(make, args, exc, match):
    acc = make()
    with pytest.raises(exc, match=match):
        acc.interval(method="bootstrap", **args)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: Multiclass(3, bootstrap=0), ValueError, r"^bootstrap=0 is not valid: expected an integer >= 1"),
        (lambda: Binary(bootstrap=2.5), ValueError, r"^bootstrap=2.5 is not valid"),
        (lambda: Multilabel(2, bootstrap=True), ValueError, r"^bootstrap=True is not valid"),
        (lambda: Multiclass(3, weighted=True, bootstrap=10), ValueError, r"^bootstrap= needs an unweighted"),
        (lambda: Multilabel(2, weighted=True, bootstrap=9), ValueError, r"^bootstrap= needs an unweighted"),
        (lambda: Binary(seed=3), ValueError, r"^seed=3 is for bootstrap replicates: give bootstrap=R too"),
        (lambda: Binary(bootstrap=3, seed="abc"), ValueError, r"^seed='abc' is not valid"),
        (lambda: Binary(bootstrap=3, seed=-1), ValueError, r"^seed=-1 is not valid"),
    ],
)
def test_bad_bootstrap_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# --- merge, serialization, seeds, failed updates ------------------------------------------------------

# Every registered configuration that keeps bootstrap replicates (tests/helpers.py replicated()).


def _batch(acc, kind, rng, n):
    """n samples for acc, of the registered input kind, as (y_true, y_pred)."""
    (batch,) = draw_stream(layout_of(acc), kind, rng, [n])
    return batch.y_true, batch.y_pred


def _filled(configuration, rng, seed, n=60):
    acc = configuration.make()
    acc.reseed(seed)
    acc.update(*_batch(acc, configuration.batches, rng, n))
    return acc


def _replicates(acc):
    return [getattr(acc, name) for _, name in acc._spec.replicated]  # the declared (array, replicates) pairs


@pytest.mark.configs(where=is_replicated)
def test_merge_adds_the_replicates(configuration, rng):
    a, b = _filled(configuration, rng, seed=(11, 0)), _filled(configuration, rng, seed=(11, 1))
    if layout_of(a).config.get("labels") == "auto":
        assert a.labels == b.labels  # the same labels, so that the replicates line up as they are
    merged = a + b
    for total, x, y in zip(_replicates(merged), _replicates(a), _replicates(b)):
        np.testing.assert_array_equal(total, x + y)
    assert merged.n_samples == a.n_samples + b.n_samples
    with pytest.raises(IncompatibleError):
        a.merge(remade(a, bootstrap=a.bootstrap + 1))
    with pytest.raises(IncompatibleError):
        a.merge(remade(a, bootstrap=None))


def test_merged_workers_replicate_the_whole_stream(rng):
    workers = [Multiclass(3, bootstrap=3000, seed=(5, rank)) for rank in range(3)]
    total = np.zeros((3, 3), dtype=np.int64)
    for worker in workers:
        y_true, y_pred = rng.integers(0, 3, 100), rng.integers(0, 3, 100)
        worker.update(y_true, y_pred)
        total += skm.confusion_matrix(y_true, y_pred, labels=range(3))
    merged = sum(workers)
    assert (merged.confusion_matrix() == total).all()
    assert_poisson(merged._boot_cm, total)


def test_auto_labels_carry_the_replicates_along(rng):
    acc = Multiclass(labels="auto", bootstrap=20, seed=12)
    acc.update(["b", "c", "c"], ["b", "c", "b"])
    before = acc._boot_cm.copy()  # classes b, c
    acc.update(["a"], ["a"])  # "a" sorts first: b and c move to rows 1 and 2
    assert acc.labels == ("a", "b", "c")
    np.testing.assert_array_equal(acc._boot_cm[:, 1:, 1:], before)
    assert acc._boot_cm[:, 0, 1:].sum() == acc._boot_cm[:, 1:, 0].sum() == 0
    other = Multiclass(labels="auto", bootstrap=20, seed=13)
    other.update(["d"], ["a"])
    merged = acc + other
    assert merged.labels == ("a", "b", "c", "d")
    np.testing.assert_array_equal(merged._boot_cm[:, :3, :3], acc._boot_cm)
    np.testing.assert_array_equal(merged._boot_cm[:, 3, 0], other._boot_cm[:, 1, 0])


@pytest.mark.configs(where=is_replicated)
def test_serialization_keeps_the_replicates(configuration, rng):
    acc = _filled(configuration, rng, seed=21)
    for back in (streameval.from_bytes(acc.to_bytes()), streameval.from_dict(acc.to_dict()),
                 pickle.loads(pickle.dumps(acc))):
        assert back == acc and back.bootstrap == acc.bootstrap == layout_of(back).config["bootstrap"]
        for mine, theirs in zip(_replicates(acc), _replicates(back)):
            np.testing.assert_array_equal(mine, theirs)
        assert back.interval("f1", method="bootstrap") == acc.interval("f1", method="bootstrap")
    # A rebuilt accumulator keeps counting; reseeded alike, two of them draw alike.
    x, y = streameval.from_bytes(acc.to_bytes()), streameval.from_bytes(acc.to_bytes())
    x.reseed(5)
    y.reseed(5)
    batch = _batch(acc, configuration.batches, rng, 40)
    x.update(*batch)
    y.update(*batch)
    assert x == y and x != acc


def test_plain_accumulators_are_serialized_as_before():
    for acc in (Binary(), Multiclass(3), Multilabel(2)):
        assert "bootstrap" not in acc._config() and not any(name.startswith("_boot") for name in acc._spec)


def _forged(acc, config=None, arrays=None):
    """A payload with a correct checksum but the given configuration or arrays."""
    kind, text, original = streameval.serialization.decode(acc.to_bytes())
    config_bytes = json.dumps(config if config is not None else json.loads(text)).encode()
    body = streameval.serialization.encode(kind, config_bytes, arrays if arrays is not None else original)
    return body[:-4] + struct.pack("<I", zlib.crc32(body[:-4]))


def test_corrupt_bootstrap_payloads_raise_serialization_error(rng):
    acc = Multiclass(labels=["x", "y", "z"], bootstrap=30, seed=31)
    acc.update(*tuple(np.array(["x", "y", "z"])[rng.integers(0, 3, (2, 60))]))
    arrays = [a.copy() for a in acc._arrays()]
    negative = [a.copy() for a in arrays]
    negative[-1][3, 0, 0] = -1
    config = acc._config()
    forgeries = [
        _forged(acc, arrays=negative),  # a negative replicate count
        _forged(acc, arrays=arrays[:-1]),  # the replicates missing
        _forged(acc, arrays=arrays[:-1] + [arrays[-1][:10]]),  # fewer replicates than configured
        _forged(acc, config={**config, "bootstrap": 0}),
        _forged(acc, config={**config, "bootstrap": 29}),
        _forged(acc, config={**config, "weighted": True}),
        _forged(acc, config={**config, "bootstrap": "30"}),
    ]
    payload = acc.to_bytes()
    forgeries += [payload[:-20], payload[:40] + bytes([payload[40] ^ 1]) + payload[41:]]
    for forged in forgeries:
        with pytest.raises(SerializationError):
            streameval.from_bytes(forged)
    d = acc.to_dict()
    d["state"][-1][0][0][0] = -3
    with pytest.raises(SerializationError):
        streameval.from_dict(d)


def test_seeds_copies_and_reset(rng):
    batch = tuple(np.array(["x", "y", "z"])[rng.integers(0, 3, (2, 50))])
    a, b, c = (Multiclass(labels=["x", "y", "z"], bootstrap=25, seed=s) for s in (1, 1, 2))
    for acc in (a, b, c):
        acc.update(*batch)
    assert a == b and a != c  # the seed decides the draws, and is no configuration:
    a.merge(c)
    # A copy shares its original's generator: both keep drawing, from one stream, never alike.
    d = b.copy()
    b.update(*batch)
    d.update(*batch)
    assert (b.confusion_matrix() == d.confusion_matrix()).all() and b != d
    b.reset()
    assert b.is_empty and not b._boot_cm.any() and b.bootstrap == 25
    with pytest.raises(ValueError, match=r"^reseed\(\) is for bootstrap replicates"):
        Multiclass(3).reseed(1)


# A bad value at sample 3 of a valid batch (the contract's corpus, tests/helpers.py bad_batches).
FAILING = ("y_true not a class", "y_true 2", "y_pred missing")


@pytest.mark.configs(where=is_replicated)
def test_a_failed_update_changes_neither_counts_nor_replicates(configuration, rng):
    acc = _filled(configuration, rng, seed=41)
    before = acc.copy()
    saved = [r.copy() for r in _replicates(acc)]
    (good,) = draw_stream(layout_of(acc), configuration.batches, rng, [6])
    bad = next(c.batch for c in bad_batches(layout_of(acc), configuration.batches, good) if c.name in FAILING)
    with pytest.raises(ValueError, match=r"\[3\]|\[3, 1\]"):
        acc.update(bad.y_true, bad.y_pred)
    assert acc == before
    for mine, kept in zip(_replicates(acc), saved):
        np.testing.assert_array_equal(mine, kept)
    if configuration.name == "multiclass-bootstrap":  # the small-batch fast path of integer labels too
        fast = Multiclass(3, bootstrap=10, seed=1)
        fast.update(np.array([0, 1]), np.array([1, 1]))
        kept = fast.copy()
        with pytest.raises(ValueError, match=r"^y_pred\[1\] = 3 is not a class"):
            fast.update(np.array([0, 1]), np.array([1, 3]))
        assert fast == kept
