"""Estimated performance (CBPE, streameval.cbpe).

- The value equals the expectation computed by brute force on the raw samples: the expected
  confusion matrix summed sample by sample; accuracy the exact expectation of the realised
  accuracy; precision, recall, F1 and specificity the ratio of the expected counts (scikit-learn
  on the samples expanded into one row per (sample, class), weighted by the probability).
- The interval's variance: exactly the Poisson-binomial variance for accuracy; the delta method's,
  by brute force (a finite-difference gradient and each sample's multinomial covariance), where
  the module says it is exact, and at least that where it says it is a bound.
- Coverage: on streams from a calibrated model (labels drawn from the probabilities), about 95%
  of the 95% intervals hold the realised metric; a miscalibrated model's do not, and its
  expected calibration error on a labelled window gives it away.
- ROC AUC: the AUC of the expected histograms (scikit-learn on the expanded samples, bin index as score).
"""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

from streameval import Binary, Multiclass, Multilabel, cbpe

Z95 = NormalDist().inv_cdf(0.975)


# --- independent references ------------------------------------------------------------------------


def draw(seed: int, n: int, k: int, concentration: float = 1.0):
    """n probability rows over k classes and predicted classes (argmax, or any: CBPE needs neither)."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, concentration), size=n)
    pred = p.argmax(axis=1) if rng.random() < 0.5 else rng.integers(0, k, n)
    return p, pred


def brute_sums(p, pred, k):
    """prob[k, j] and var[k, j], one sample at a time."""
    prob, var = np.zeros((k, k)), np.zeros((k, k))
    for row, c in zip(p, pred):
        for j in range(k):
            prob[c, j] += row[j]
            var[c, j] += row[j] * (1 - row[j])
    return prob, var


def brute_expected_cm(p, pred, k):
    cm = np.zeros((k, k))
    for row, c in zip(p, pred):
        for j in range(k):
            cm[j, c] += row[j]  # true j, predicted c, with probability p_j
    return cm


def expanded(p, pred):
    """One row per (sample, class j): y_true j, y_pred the sample's prediction, weight p_j."""
    n, k = p.shape
    return np.tile(np.arange(k), n), np.repeat(pred, k), p.reshape(-1)


def sklearn_value(metric, p, pred, average):
    y_true, y_pred, w = expanded(p, pred)
    labels = np.arange(p.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if metric == "specificity":
            mcm = skm.multilabel_confusion_matrix(y_true, y_pred, sample_weight=w, labels=labels)
            tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
            if average == "micro":
                return tn.sum() / (tn.sum() + fp.sum())
            per = np.where(tn + fp > 0, tn / np.where(tn + fp > 0, tn + fp, 1), 0.0)
            if average is None:
                return per
            if average == "binary":
                return per[1]
            support = mcm[:, 1, 0] + mcm[:, 1, 1]
            return per.mean() if average == "macro" else np.average(per, weights=support)
        fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[metric]
        kwargs = {"pos_label": 1} if average == "binary" else {}
        return fn(y_true, y_pred, sample_weight=w, labels=labels, average=average, zero_division=0.0, **kwargs)


def textbook(metric, cm, average):
    """The metric of a (K, K) matrix of float counts, written out (for finite differences)."""
    if metric == "accuracy":
        return np.trace(cm) / cm.sum()
    tp = np.diag(cm)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    num, den = {"precision": (tp, tp + fp), "recall": (tp, tp + fn), "f1": (2 * tp, 2 * tp + fp + fn),
                "specificity": (tn, tn + fp)}[metric]
    if average == "micro":
        return num.sum() / den.sum()
    per = num / den
    if average is None:
        return per
    if average == "binary":
        return per[1]
    if average == "macro":
        return per.mean()
    return np.average(per, weights=tp + fn)


def delta_variance(metric, p, pred, average, step=1e-5):
    """sum over samples of g_i' Cov_i g_i: g_i the finite-difference gradient of the metric at the
    expected matrix along column pred_i, Cov_i = diag(p_i) - p_i p_i' (the sample's true class)."""
    n, k = p.shape
    cm = brute_expected_cm(p, pred, k)
    base = np.asarray(textbook(metric, cm, average))
    grad = np.zeros((k, k) + base.shape)
    for j in range(k):
        for c in range(k):
            up, down = cm.copy(), cm.copy()
            up[j, c] += step
            down[j, c] -= step
            grad[j, c] = (np.asarray(textbook(metric, up, average)) - np.asarray(textbook(metric, down, average))) / (2 * step)
    total = np.zeros(base.shape)
    for row, c in zip(p, pred):
        cov = np.diag(row) - np.outer(row, row)
        g = grad[:, c]  # (k,) + value shape
        total += np.einsum("j...,jl,l...->...", g, cov, g)
    return total


def sd_of(estimate, level):
    return (np.asarray(estimate.high) - np.asarray(estimate.low)) / (2 * NormalDist().inv_cdf((1 + level) / 2))


def unclipped(estimate):
    return np.all((np.asarray(estimate.low) > 0) & (np.asarray(estimate.high) < 1))


# --- the pure functions against brute force -------------------------------------------------------


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), k=st.integers(2, 4))
def test_expected_confusion_is_the_sum_over_samples(seed, n, k):
    p, pred = draw(seed, n, k)
    prob, _ = brute_sums(p, pred, k)
    np.testing.assert_allclose(cbpe.expected_confusion(prob), brute_expected_cm(p, pred, k), rtol=1e-12)
    counts, prob2, var2 = cbpe.sums_of(p, pred)
    np.testing.assert_allclose(prob2, prob, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(counts, np.bincount(pred, minlength=k))


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), k=st.integers(2, 4))
def test_accuracy_is_the_exact_expectation_and_its_poisson_binomial_variance(seed, n, k):
    p, pred = draw(seed, n, k)
    prob, var = brute_sums(p, pred, k)
    est = cbpe.estimate("accuracy", prob, var, level=0.5)
    correct = p[np.arange(n), pred]
    assert est.value == pytest.approx(correct.mean(), rel=1e-12)
    if unclipped(est):
        sd = np.sqrt(np.sum(correct * (1 - correct))) / n
        assert sd_of(est, 0.5) == pytest.approx(sd, rel=1e-9)


RATIOS = ["precision", "recall", "f1", "specificity"]


@pytest.mark.parametrize("metric", RATIOS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), k=st.integers(2, 4),
       average=st.sampled_from([None, "micro", "macro", "weighted"]))
def test_ratios_are_the_ratio_of_expected_counts(metric, seed, n, k, average):
    p, pred = draw(seed, n, k)
    prob, var = brute_sums(p, pred, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cbpe.estimate(metric, prob, var, average, zero_division=0.0)
    np.testing.assert_allclose(est.value, sklearn_value(metric, p, pred, average), rtol=1e-12, atol=1e-12)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_binary_average_is_the_positive_class(seed, n):
    p, pred = draw(seed, n, 2)
    prob, var = brute_sums(p, pred, 2)
    for metric in RATIOS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = cbpe.estimate(metric, prob, var, "binary", zero_division=0.0)
        assert est.value == pytest.approx(sklearn_value(metric, p, pred, "binary"), rel=1e-12, abs=1e-12)


def _exact_case(k, average):
    """Where the module says the delta-method variance is exact (else an upper bound)."""
    return k == 2 or average in (None, "micro")


@pytest.mark.parametrize("metric", RATIOS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 60), k=st.integers(2, 4),
       average=st.sampled_from([None, "binary", "micro", "macro", "weighted"]))
def test_interval_is_the_delta_method_variance_or_a_bound_of_it(metric, seed, n, k, average):
    if average == "binary" and k != 2:
        return
    p, pred = draw(seed, n, k, concentration=0.7)
    pred = np.arange(n) % k  # every class predicted: no zero division
    prob, var = brute_sums(p, pred, k)
    est = cbpe.estimate(metric, prob, var, average, level=0.5)
    ref = np.sqrt(delta_variance(metric, p, pred, average))
    if not np.all(np.isfinite(ref)) or not unclipped(est):
        return
    sd = sd_of(est, 0.5)
    if _exact_case(k, average):
        np.testing.assert_allclose(sd, ref, rtol=1e-6, atol=1e-9)
    else:
        assert np.all(sd >= ref * (1 - 1e-6) - 1e-9)


@pytest.mark.parametrize("metric", RATIOS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 60), labels=st.integers(1, 3),
       average=st.sampled_from([None, "micro", "macro", "weighted"]))
def test_multilabel_per_label_value_exact_interval_and_averages_bounded(metric, seed, n, labels, average):
    rng = np.random.default_rng(seed)
    s = rng.random((n, labels))
    pred = (np.arange(n)[:, None] + np.arange(labels)) % 2  # both sides predicted for every label
    prob, var = np.zeros((labels, 2, 2)), np.zeros((labels, 2, 2))
    for lab in range(labels):
        rows = np.stack([1 - s[:, lab], s[:, lab]], axis=1)
        prob[lab], var[lab] = brute_sums(rows, pred[:, lab], 2)
    est = cbpe.estimate_multilabel(metric, prob, var, average, level=0.5, zero_division=0.0)
    # reference value: scikit-learn on every label's expanded samples (each label a binary problem)
    per_label = [sklearn_value(metric, np.stack([1 - s[:, lab], s[:, lab]], 1), pred[:, lab], "binary")
                 for lab in range(labels)]
    if average is None:
        np.testing.assert_allclose(est.value, per_label, rtol=1e-12, atol=1e-12)
    elif average == "macro":
        assert est.value == pytest.approx(np.mean(per_label), rel=1e-12, abs=1e-12)
    # delta-method variance per label; averages: labels taken independent, which the bound exceeds
    refs = [delta_variance(metric, np.stack([1 - s[:, lab], s[:, lab]], 1), pred[:, lab], "binary")
            for lab in range(labels)]
    if not unclipped(est):
        return
    sd = sd_of(est, 0.5)
    if average is None:
        np.testing.assert_allclose(sd, np.sqrt(refs), rtol=1e-6, atol=1e-9)
    elif average == "macro":
        assert sd >= np.sqrt(np.sum(refs)) / labels * (1 - 1e-6)


def test_multilabel_accuracy_and_bad_arguments_are_refused():
    prob = np.ones((2, 2, 2))
    with pytest.raises(ValueError, match="subset accuracy"):
        cbpe.estimate_multilabel("accuracy", prob, prob)
    with pytest.raises(ValueError, match="metric='auc'"):
        cbpe.estimate("auc", np.eye(2), None)
    with pytest.raises(ValueError, match="level"):
        cbpe.estimate("accuracy", np.eye(2), None, level=1.5)
    with pytest.raises(ValueError, match="binary"):
        cbpe.estimate("recall", np.eye(3), None, average="binary")


def test_no_variance_or_no_samples_give_nan_bounds():
    est = cbpe.estimate("recall", np.eye(3), None, None)
    assert np.isnan(est.low).all() and np.isnan(est.high).all() and est.value.shape == (3,)
    est = cbpe.estimate("accuracy", np.zeros((2, 2)), np.zeros((2, 2)))
    assert np.isnan(est.value) and np.isnan(est.low) and np.isnan(est.high)


# --- ROC AUC of the expected histograms -----------------------------------------------------------


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 80), bins=st.integers(1, 12))
def test_expected_roc_auc_is_the_auc_of_the_expected_histograms(seed, n, bins):
    rng = np.random.default_rng(seed)
    s = rng.beta(0.7, 0.7, n)
    edges = np.linspace(0, 1, bins + 1)
    cell = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, bins - 1)
    hist = np.bincount(cell, minlength=bins)[None].astype(float)
    sums = np.bincount(cell, weights=s, minlength=bins)[None]
    est = cbpe.expected_roc_auc(hist, sums, edges[1:-1])
    # scikit-learn on the samples expanded: positive with weight s, negative with weight 1 - s,
    # scored by their bin (pairs inside a bin are ties)
    y = np.r_[np.ones(n), np.zeros(n)]
    w = np.r_[s, 1 - s]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = skm.roc_auc_score(y, np.r_[cell, cell], sample_weight=w) if len(set(cell)) > 1 else 0.5
    assert est.value == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert np.isnan(est.low) and np.isnan(est.high)


# --- coverage on calibrated and miscalibrated models ----------------------------------------------


def assert_coverage(hits, level, slack=0.0):
    """As tests/test_intervals.py: within 3.5 binomial standard deviations of level (plus slack)."""
    hits = np.asarray(hits)
    coverage, tolerance = hits.mean(), 3.5 * np.sqrt(level * (1 - level) / hits.size) + slack
    assert level - tolerance <= coverage <= level + tolerance, f"coverage {coverage:.4f}, level {level} +- {tolerance:.4f}"


def _binary_stream(rng, n, warp=None):
    """Scores of a model and labels drawn from the true probabilities: calibrated when warp is
    None, else the model reports warp(true probability)."""
    truth = rng.beta(2, 2, n)
    y = (rng.random(n) < truth).astype(np.int64)
    return y, (truth if warp is None else warp(truth))


def test_binary_intervals_cover_the_realised_metrics_of_a_calibrated_model():
    rng = np.random.default_rng(17)
    hits = {m: [] for m in ("accuracy", "precision", "recall", "f1")}
    for _ in range(300):
        y, s = _binary_stream(rng, 300)
        pred = (s >= 0.5).astype(np.int64)
        _, prob, var = cbpe.sums_of(np.stack([1 - s, s], 1), pred)
        realised = {"accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
                    "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred)}
        for metric, value in realised.items():
            low, high = cbpe.estimate(metric, prob, var, "binary")[1:]
            hits[metric].append(low <= value <= high)
    for metric, h in hits.items():
        assert_coverage(h, 0.95, slack=0.0 if metric in ("accuracy", "precision") else 0.02)


def test_multiclass_intervals_cover_a_calibrated_model_and_bounds_are_conservative():
    rng = np.random.default_rng(5)
    hits, macro = [], []
    for _ in range(250):
        p = rng.dirichlet([2, 2, 2, 2], 300)
        y = (rng.random(300)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)  # a class drawn from each row
        pred = p.argmax(axis=1)
        _, prob, var = cbpe.sums_of(p, pred)
        low, high = cbpe.estimate("accuracy", prob, var)[1:]
        hits.append(low <= skm.accuracy_score(y, pred) <= high)
        low, high = cbpe.estimate("recall", prob, var, "macro")[1:]
        macro.append(low <= skm.recall_score(y, pred, average="macro") <= high)
    assert_coverage(hits, 0.95)
    assert np.mean(macro) >= 0.95 - 3.5 * np.sqrt(0.95 * 0.05 / len(macro))  # a bound: at least the level


def test_a_miscalibrated_model_is_not_covered_and_its_calibration_error_says_so():
    """The estimate is only as good as the calibration: an overconfident model (it reports
    probabilities pushed towards 0 and 1) has its accuracy overestimated, so the intervals miss;
    expected_calibration_error on a labelled window shows it, where a calibrated model's is small."""
    rng = np.random.default_rng(3)

    def overconfident(t):
        return t**3 / (t**3 + (1 - t) ** 3)

    misses, errors = [], {}
    for name, warp in (("calibrated", None), ("overconfident", overconfident)):
        hits = []
        labelled = Binary(bins=20)
        for _ in range(200):
            y, s = _binary_stream(rng, 300, warp)
            pred = (s >= 0.5).astype(np.int64)
            _, prob, var = cbpe.sums_of(np.stack([1 - s, s], 1), pred)
            est = cbpe.estimate("accuracy", prob, var)
            hits.append(est.low <= skm.accuracy_score(y, pred) <= est.high)
            labelled.update(y, s)
        misses.append(1 - np.mean(hits))
        errors[name] = labelled.expected_calibration_error(n_bins=10)
    assert misses[0] < 0.1 and misses[1] > 0.5
    assert errors["calibrated"] < 0.02 < 0.1 < errors["overconfident"]


# --- the accumulators' estimated() ----------------------------------------------------------------


def _textbook_binary(y_scores, t):
    """Expected TP, FP, FN, TN of scores at threshold t, as the issue writes them."""
    above = y_scores >= t
    return (y_scores[above].sum(), (1 - y_scores[above]).sum(), y_scores[~above].sum(), (1 - y_scores[~above]).sum())


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 80), threshold=st.sampled_from([0.3, 0.5, 0.8]))
def test_binary_estimated_from_unlabelled_scores_only(seed, n, threshold):
    rng = np.random.default_rng(seed)
    s = rng.random(n)
    acc = Binary(threshold, bins=10, unlabelled=True)
    acc.update(rng.integers(0, 2, 7), rng.random(7))  # labelled samples: not part of the estimate
    half = n // 2
    acc.update(None, s[:half])
    acc.update(None, s[half:])
    tp, fp, fn, tn = _textbook_binary(s, threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {"accuracy": (tp + tn) / n, "precision": tp / (tp + fp) if tp + fp else 0.0,
                    "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn), "specificity": tn / (tn + fp)}
        for metric, value in expected.items():
            assert acc.estimated(metric, zero_division=0.0).value == pytest.approx(value, rel=1e-12, abs=1e-15)
    pred = (s >= threshold).astype(np.int64)
    correct = np.where(pred == 1, s, 1 - s)
    est = acc.estimated("accuracy", level=0.5)
    if unclipped(est):
        assert sd_of(est, 0.5) == pytest.approx(np.sqrt(np.sum(correct * (1 - correct))) / n, rel=1e-9)
    # ROC AUC of the expected histograms, against scikit-learn on the expanded samples
    cell = np.minimum((s * 10).astype(np.int64), 9)
    if len(set(cell)) > 1:
        ref = skm.roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[cell, cell], sample_weight=np.r_[s, 1 - s])
        assert acc.estimated("roc_auc").value == pytest.approx(ref, rel=1e-12)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), k=st.integers(2, 4))
def test_multiclass_estimated_is_the_expected_matrix_of_the_argmax(seed, n, k):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), n)
    acc = Multiclass(k, unlabelled=True, bins=8)
    acc.update(None, p)
    pred = p.argmax(axis=1)
    assert acc.estimated("accuracy").value == pytest.approx(p[np.arange(n), pred].mean(), rel=1e-12)
    for metric in RATIOS:
        for average in (None, "micro", "macro", "weighted"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = acc.estimated(metric, average=average, zero_division=0.0).value
            np.testing.assert_allclose(got, sklearn_value(metric, p, pred, average), rtol=1e-12, atol=1e-12)


def test_multilabel_estimated_per_label():
    rng = np.random.default_rng(1)
    s = rng.random((200, 3))
    acc = Multilabel(3, unlabelled=True)
    acc.update(None, s)
    for lab in range(3):
        tp, fp, fn, _ = _textbook_binary(s[:, lab], 0.5)
        assert acc.estimated("recall", average=None).value[lab] == pytest.approx(tp / (tp + fn), rel=1e-12)
        assert acc.estimated("precision", average=None).value[lab] == pytest.approx(tp / (tp + fp), rel=1e-12)
    with pytest.raises(ValueError, match="subset accuracy"):
        acc.estimated("accuracy")


def test_estimated_refusals_empty_and_weighted():
    with pytest.raises(ValueError, match="unlabelled=True"):
        Binary().estimated("accuracy")
    with pytest.raises(ValueError, match="bins="):
        Binary(unlabelled=True).estimated("roc_auc")
    with pytest.raises(ValueError, match="no average"):
        Multiclass(3, unlabelled=True).estimated("accuracy", average="macro")
    with pytest.raises(ValueError, match="metric="):
        Binary(unlabelled=True).estimated("log_loss")
    # nothing counted yet: 0/0 as zero_division says (as recall() on an empty accumulator), NaN bounds
    assert all(np.isnan(Binary(unlabelled=True).estimated("recall", zero_division=np.nan)))
    assert np.isnan(Binary(unlabelled=True).estimated("accuracy").value)
    weighted = Binary(unlabelled=True, weighted=True)
    weighted.update(None, np.array([0.2, 0.9, 0.7]), np.array([1.0, 2.0, 0.5]))
    est = weighted.estimated("recall")
    assert est.value == pytest.approx((0.9 * 2 + 0.7 * 0.5) / (0.2 + 0.9 * 2 + 0.7 * 0.5), rel=1e-12)
    assert np.isnan(est.low) and np.isnan(est.high)  # sums of weights: no variance kept


def test_wrappers_forward_estimated():
    from streameval import Windowed

    rng = np.random.default_rng(2)
    s = rng.random(50)
    window = Windowed(Binary(unlabelled=True), size=100, buckets=4)
    window.update(None, s)
    plain = Binary(unlabelled=True)
    plain.update(None, s)
    assert window.estimated("f1") == plain.estimated("f1")
