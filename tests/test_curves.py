"""Score state: bins=, exact=True, max_distinct=, top_k=, and the curves, AUCs, thresholds and
calibration they answer.

Parity with scikit-learn is checked as in test_parity.py: a random stream split into random batches,
compared after every batch with scikit-learn called once on all the data seen so far. Unweighted
exact tables must give scikit-learn's curves bit for bit; weighted ones agree to 1e-12 (sums in
another order).

Binned states summarize each bin by its counts, so they equal scikit-learn only when each bin holds
one distinct score: the parity tests put every score on a bin midpoint. For Multiclass one-vs-rest,
sklearn's roc_auc_score(multi_class="ovr") needs rows summing to 1, so it is called directly on
rows built from midpoints of a grid summing to 1 (K even: (a_c + 1/2) / n with sum(a_c) = n - K/2);
every K is also checked per class against the binary roc_auc_score / average_precision_score of the
one-vs-rest column, averaged with np.average (weights = class support for "weighted"), which is
what sklearn's _average_binary_score does.
"""

from __future__ import annotations

import json
import pickle
import warnings
from fractions import Fraction

import numpy as np
import pytest
import sklearn.metrics as skm
from helpers import assert_same, draw_stream, keeps_scores, layout_of
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve as sk_calibration_curve

import streameval
from streameval import Binary, IncompatibleError, Multiclass, Multilabel, Windowed

SEEDS = st.integers(0, 2**32 - 1)
SIZES = st.lists(st.integers(0, 40), min_size=1, max_size=4)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- data -----------------------------------------------------------------------------------


def _bounds(sizes):
    ends = np.cumsum(sizes)
    return list(zip(np.r_[0, ends[:-1]].tolist(), ends.tolist()))


def _labels_for(rng, scores):
    """0/1 labels that depend on the scores (better than chance, both classes likely)."""
    n = scores.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.argsort(np.argsort(scores, kind="stable"), kind="stable") / max(n - 1, 1)
    return (rng.random(n) < 0.2 + 0.6 * rank).astype(np.int64)


def _weights(rng, n, weighted, zeros=True):
    if not weighted:
        return None
    w = rng.uniform(0.1, 3, n)
    if zeros:
        w[rng.random(n) < 0.15] = 0.0  # zero weights are valid; sklearn drops them from curves
    if n:
        w[0] = 1.25  # sklearn refuses weights that are all zero
    return w


def _sub(w, hi):
    return None if w is None else w[:hi]


def _both_classes(y, w):
    """Both classes present among the samples of positive weight."""
    y = np.asarray(y)
    if w is not None:
        y = y[w > 0]
    return len(np.unique(y)) == 2


SCORE_KINDS = ["ties", "continuous", "coarse", "logits", "logit-ties"]
# Scores that are no probabilities (logits, bins reaching past [0, 1]) need their range declared
# (issue 11: a score outside [0, 1] is refused when the default range says probabilities).
ANY = {"score_range": (-1e3, 1e3)}


def _scores(rng, n, kind):
    if kind == "ties":
        return np.round(rng.random(n), 2)
    if kind == "continuous":
        return rng.random(n)
    if kind == "coarse":  # 0, 0.25, ... 1: many ties, 0 and 1 themselves, and -0.0 (one score with 0.0)
        s = rng.integers(0, 5, n) / 4
        return np.where((s == 0) & (rng.random(n) < 0.5), -0.0, s)
    if kind == "logits":
        return rng.normal(0, 3, n)
    return np.round(rng.normal(0, 3, n), 1)


def _assert_curve(ours, ref, exact, what):
    assert len(ours) == len(ref) == 3
    for i, (a, b) in enumerate(zip(ours, ref)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, f"{what}[{i}]: shape {a.shape} != {b.shape}"
        if exact or i == 2:  # thresholds are scores: always identical
            assert np.array_equal(a, b, equal_nan=True), f"{what}[{i}]: {a} != {b}"
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=f"{what}[{i}]")


def _close(ours, ref, what=""):
    """Equal to 1e-12, relative or absolute (differences such as an ECE may be 0 up to rounding)."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)


# --- Binary(exact=True): scikit-learn's curves ------------------------------------------------


def check_exact(acc, yt, s, w, n_bins):
    exact = w is None
    if len(yt) == 0 or not _both_classes(yt, w):
        if len(yt):
            assert np.isnan(acc.roc_auc())
            assert all(np.isnan(acc.roc_auc_bounds()))
        return
    for drop in (True, False):
        ref = skm.roc_curve(yt, s, sample_weight=w, drop_intermediate=drop)
        _assert_curve(acc.roc_curve(drop_intermediate=drop), ref, exact, f"roc_curve drop={drop}")
    _assert_curve(acc.pr_curve(), skm.precision_recall_curve(yt, s, sample_weight=w), exact, "pr_curve")
    auc = skm.roc_auc_score(yt, s, sample_weight=w)
    ap = skm.average_precision_score(yt, s, sample_weight=w)
    if exact:
        assert acc.roc_auc() == auc
        assert acc.average_precision() == ap
    else:
        _close(acc.roc_auc(), auc, "roc_auc")
        _close(acc.average_precision(), ap, "average_precision")
    lo, hi = acc.roc_auc_bounds()
    assert lo == hi
    _close(lo, auc, "roc_auc_bounds")  # counted pairs, not a trapezoid: equal up to rounding
    assert acc.is_exact
    if ((s < 0) | (s > 1)).any():
        for call in (acc.brier_score, acc.log_loss, lambda: acc.calibration_curve(n_bins)):
            with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
                call()
        return
    _close(acc.brier_score(), skm.brier_score_loss(yt, s, sample_weight=w), "brier")
    _close(acc.log_loss(), skm.log_loss(yt, s, sample_weight=w, labels=[0, 1]), "log_loss")
    if exact:
        prob_true, prob_pred = sk_calibration_curve(yt, s, n_bins=n_bins)
        ours = acc.calibration_curve(n_bins)
        _close(ours[0], prob_true, "calibration prob_true")
        _close(ours[1], prob_pred, "calibration prob_pred")
        inner = np.linspace(0, 1, n_bins + 1)[1:-1]
        counts = np.bincount(np.searchsorted(inner, s), minlength=n_bins)
        counts = counts[counts > 0]
        ece = np.sum(counts * np.abs(prob_true - prob_pred)) / counts.sum()
        _close(acc.expected_calibration_error(n_bins), ece, "ece")


@given(SEEDS, SIZES, st.sampled_from(SCORE_KINDS), st.booleans(), st.integers(1, 12))
@settings(max_examples=30)
def test_exact_binary_matches_sklearn(seed, sizes, kind, weighted, n_bins):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    s = _scores(rng, n, kind)
    yt = _labels_for(rng, s)
    w = _weights(rng, n, weighted)
    acc = Binary(exact=True, weighted=weighted, **(ANY if kind.startswith("logit") else {}))
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], s[lo:hi], None if w is None else w[lo:hi])
        check_exact(acc, yt[:hi], s[:hi], _sub(w, hi), n_bins)


def test_exact_binary_zero_weight_scores_leave_no_threshold():
    acc = Binary(exact=True, weighted=True)
    yt, s, w = [0, 1, 1, 0, 1], [0.1, 0.35, 0.8, 0.6, 0.9], [1.0, 2.0, 0.0, 0.5, 1.0]
    acc.update(yt, s, w)
    ref = skm.roc_curve(yt, s, sample_weight=w, drop_intermediate=False)
    _assert_curve(acc.roc_curve(drop_intermediate=False), ref, False, "roc")
    assert 0.8 not in acc.roc_curve(drop_intermediate=False)[2]
    assert 0.8 not in acc.pr_curve()[2]
    # zero-weight samples leave no entry at all: they neither fill the table nor trigger compaction
    empty = Binary(exact=True, weighted=True)
    empty.update([0, 1], [0.3, 0.6], [0.0, 0.0])
    assert empty.is_empty
    small = Binary(exact=True, weighted=True, max_distinct=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no compaction warning
        small.update([0, 1, 0, 1, 0, 1, 0, 1], np.linspace(0, 1, 8), [0, 0, 0, 0, 0, 1, 1, 0])
    assert small.is_exact
    assert small.pr_curve()[2].tolist() == np.linspace(0, 1, 8)[5:7].tolist()


def test_multiclass_bins_skip_ignored_samples(rng):
    n, k = 200, 4
    P = rng.dirichlet(np.ones(k), n)
    y = rng.integers(0, k, n)
    y[rng.random(n) < 0.2] = -1
    acc = Multiclass(k, bins=10, ignore_index=-1)
    acc.update(y, P)
    keep = y >= 0
    _close(acc.brier_score(), skm.brier_score_loss(y[keep], P[keep], labels=range(k)), "brier")
    _close(acc.log_loss(), skm.log_loss(y[keep], P[keep], labels=range(k)), "log_loss")
    Y = np.eye(k, dtype=np.int64)[y[keep]]
    lower, upper = acc.roc_auc_bounds()
    for c in range(k):
        assert lower[c] - 1e-12 <= skm.roc_auc_score(Y[:, c], P[keep][:, c]) <= upper[c] + 1e-12


# --- bins: parity when every score is a bin midpoint ------------------------------------------


def _edges(rng, how, n):
    """(constructor kwargs, edges) of a binning with n bins."""
    if how == "uniform":
        return {"bins": n}, np.linspace(0.0, 1.0, n + 1)
    if how == "range":
        lo = float(rng.uniform(-3, 0.5))
        hi = lo + float(rng.uniform(0.5, 4))
        return {"bins": n, "score_range": (lo, hi)}, np.linspace(lo, hi, n + 1)
    edges = np.unique(np.round(rng.uniform(-1, 2, n + 1), 6))
    while edges.shape[0] < 2:
        edges = np.unique(np.round(rng.uniform(-1, 2, n + 1), 6))
    return {"bins": edges.tolist(), **ANY}, edges


def _midpoints(edges):
    return (edges[:-1] + edges[1:]) / 2


@given(SEEDS, SIZES, st.integers(1, 30), st.booleans(), st.sampled_from(["uniform", "range", "explicit"]))
@settings(max_examples=30)
def test_binned_binary_midpoints_match_sklearn(seed, sizes, n_bins, weighted, how):
    rng = np.random.default_rng(seed)
    kwargs, edges = _edges(rng, how, n_bins)
    mids = _midpoints(edges)
    if how == "uniform":
        assert np.allclose(mids, (np.arange(n_bins) + 0.5) / n_bins, rtol=0, atol=1e-15)
    n = sum(sizes)
    s = mids[rng.integers(0, mids.shape[0], n)]
    yt = _labels_for(rng, s)
    w = _weights(rng, n, weighted)
    acc = Binary(weighted=weighted, **kwargs)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], s[lo:hi], None if w is None else w[lo:hi])
        y_, s_, w_ = yt[:hi], s[:hi], _sub(w, hi)
        if not _both_classes(y_, w_):
            continue
        auc = skm.roc_auc_score(y_, s_, sample_weight=w_)
        _close(acc.roc_auc(), auc, "roc_auc")
        _close(acc.average_precision(), skm.average_precision_score(y_, s_, sample_weight=w_), "ap")
        lower, upper = acc.roc_auc_bounds()
        assert lower - 1e-12 <= auc <= upper + 1e-12
        # the rates are the same points (thresholds are the bins' lower edges instead of the scores)
        ours = acc.roc_curve(drop_intermediate=False)
        ref = skm.roc_curve(y_, s_, sample_weight=w_, drop_intermediate=False)
        for a, b in zip(ours[:2], ref[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        ours, ref = acc.pr_curve(), skm.precision_recall_curve(y_, s_, sample_weight=w_)
        for a, b in zip(ours[:2], ref[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        if how == "uniform":
            _close(acc.brier_score(), skm.brier_score_loss(y_, s_, sample_weight=w_), "brier")
            _close(acc.log_loss(), skm.log_loss(y_, s_, sample_weight=w_, labels=[0, 1]), "log_loss")


@given(SEEDS, SIZES, st.integers(1, 20), st.booleans(), st.sampled_from(["ties", "continuous", "coarse"]),
       st.sampled_from(["exact", "bins"]))
@settings(max_examples=25)
def test_binary_brier_and_log_loss_match_sklearn(seed, sizes, n_bins, weighted, kind, state):
    """Brier and log loss do not depend on the binning: any probabilities, both states."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    s = _scores(rng, n, kind)
    yt = rng.integers(0, 2, n)
    w = _weights(rng, n, weighted)
    acc = Binary(exact=True, weighted=weighted) if state == "exact" else Binary(bins=n_bins, weighted=weighted)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], s[lo:hi], None if w is None else w[lo:hi])
        y_, s_, w_ = yt[:hi], s[:hi], _sub(w, hi)
        if hi == 0:
            assert np.isnan(acc.brier_score()) and np.isnan(acc.log_loss())
            continue
        _close(acc.brier_score(), skm.brier_score_loss(y_, s_, sample_weight=w_, labels=[0, 1]), "brier")
        _close(acc.log_loss(), skm.log_loss(y_, s_, sample_weight=w_, labels=[0, 1]), "log_loss")


def _simplex_midpoint_rows(rng, n_rows, k, n_bins):
    """Rows of bin midpoints (a_c + 1/2) / n_bins summing to 1: sum(a_c) = n_bins - k / 2 (k even)."""
    parts = rng.multinomial(n_bins - k // 2, np.ones(k) / k, size=n_rows)
    return (parts + 0.5) / n_bins


def _per_class_reference(fn, Y, S, w, average):
    """sklearn's _average_binary_score by hand: fn on each one-vs-rest column, then np.average."""
    values = np.array([fn(Y[:, c], S[:, c], sample_weight=w) for c in range(Y.shape[1])])
    if average is None:
        return values
    if average == "weighted":
        return np.average(values, weights=Y.T @ (np.ones(Y.shape[0]) if w is None else w))
    return np.average(values)


@given(SEEDS, SIZES, st.integers(2, 5), st.integers(2, 16), st.booleans(), st.booleans())
@settings(max_examples=25)
def test_binned_multiclass_midpoints_match_sklearn(seed, sizes, k, n_bins, weighted, simplex):
    rng = np.random.default_rng(seed)
    n = sum(sizes) + k
    sizes = [*sizes[:-1], sizes[-1] + k]
    simplex = simplex and k % 2 == 0 and k >= 4  # sklearn's ovr call: K > 2, rows summing to 1
    if simplex:
        S = _simplex_midpoint_rows(rng, n, k, n_bins)
    else:
        S = (rng.integers(0, n_bins, (n, k)) + 0.5) / n_bins
    yt = rng.integers(0, k, n)
    yt[-k:] = rng.permutation(k)  # every class is present by the end
    Y = np.eye(k, dtype=np.int64)[yt]
    w = _weights(rng, n, weighted, zeros=False)
    acc = Multiclass(k, bins=n_bins, weighted=weighted)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], S[lo:hi], None if w is None else w[lo:hi])
        y_, S_, Y_, w_ = yt[:hi], S[:hi], Y[:hi], _sub(w, hi)
        if len(np.unique(y_)) < k:
            continue
        for average in ("macro", "weighted", None):
            ref = _per_class_reference(skm.roc_auc_score, Y_, S_, w_, average)
            _close(acc.roc_auc(average=average), ref, f"roc_auc {average}")
            ref = _per_class_reference(skm.average_precision_score, Y_, S_, w_, average)
            _close(acc.average_precision(average=average), ref, f"ap {average}")
            if simplex:
                ref = skm.roc_auc_score(y_, S_, multi_class="ovr", average=average, labels=range(k), sample_weight=w_)
                _close(acc.roc_auc(average=average), ref, f"ovr roc_auc {average}")
                ref = skm.average_precision_score(Y_, S_, average=average, sample_weight=w_)
                _close(acc.average_precision(average=average), ref, f"ap {average}")
        lower, upper = acc.roc_auc_bounds()
        per_class = _per_class_reference(skm.roc_auc_score, Y_, S_, w_, None)
        assert (lower - 1e-12 <= per_class).all() and (per_class <= upper + 1e-12).all()
        if simplex:
            _close(acc.brier_score(), skm.brier_score_loss(y_, S_, labels=range(k), sample_weight=w_), "brier")
            _close(acc.log_loss(), skm.log_loss(y_, S_, labels=range(k), sample_weight=w_), "log_loss")


@given(SEEDS, SIZES, st.integers(2, 5), st.integers(1, 12), st.booleans())
@settings(max_examples=25)
def test_multiclass_brier_and_log_loss_match_sklearn(seed, sizes, k, n_bins, weighted):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    P = rng.dirichlet(np.ones(k), n)
    onehot = rng.random(n) < 0.15  # certain predictions: log loss clips them
    P[onehot] = np.eye(k)[rng.integers(0, k, onehot.sum())]
    yt = rng.integers(0, k, n)
    w = _weights(rng, n, weighted)
    acc = Multiclass(k, bins=n_bins, weighted=weighted)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], P[lo:hi], None if w is None else w[lo:hi])
        if hi == 0:
            continue
        y_, P_, w_ = yt[:hi], P[:hi], _sub(w, hi)
        _close(acc.brier_score(), skm.brier_score_loss(y_, P_, labels=range(k), sample_weight=w_), "brier")
        _close(acc.log_loss(), skm.log_loss(y_, P_, labels=range(k), sample_weight=w_), "log_loss")


@given(SEEDS, SIZES, st.integers(2, 4), st.booleans(), st.sampled_from(["uniform", "range", "explicit"]),
       st.integers(1, 16))
@settings(max_examples=20)
def test_binned_multilabel_midpoints_match_sklearn(seed, sizes, n_labels, weighted, how, n_bins):
    rng = np.random.default_rng(seed)
    kwargs, edges = _edges(rng, how, n_bins)
    mids = _midpoints(edges)
    n = sum(sizes)
    S = mids[rng.integers(0, mids.shape[0], (n, n_labels))]
    Y = np.stack([_labels_for(rng, S[:, j]) for j in range(n_labels)], axis=1).reshape(n, n_labels)
    w = _weights(rng, n, weighted)
    acc = Multilabel(n_labels, weighted=weighted, **kwargs)
    for lo, hi in _bounds(sizes):
        acc.update(Y[lo:hi], S[lo:hi], None if w is None else w[lo:hi])
        Y_, S_, w_ = Y[:hi], S[:hi], _sub(w, hi)
        if not all(_both_classes(Y_[:, j], w_) for j in range(n_labels)):
            continue
        for average in ("macro", "weighted", "micro", None):
            ref = skm.roc_auc_score(Y_, S_, average=average, sample_weight=w_)
            _close(acc.roc_auc(average=average), ref, f"roc_auc {average}")
            ref = skm.average_precision_score(Y_, S_, average=average, sample_weight=w_)
            _close(acc.average_precision(average=average), ref, f"ap {average}")
        lower, upper = acc.roc_auc_bounds()
        per_label = skm.roc_auc_score(Y_, S_, average=None, sample_weight=w_)
        assert (lower - 1e-12 <= per_label).all() and (per_label <= upper + 1e-12).all()
        lower, upper = acc.roc_auc_bounds(average="micro")
        micro = skm.roc_auc_score(Y_, S_, average="micro", sample_weight=w_)
        assert lower - 1e-12 <= micro <= upper + 1e-12


# --- top-k accuracy ---------------------------------------------------------------------------


@given(SEEDS, SIZES, st.integers(3, 7), st.booleans(), st.booleans())
@settings(max_examples=25)
def test_top_k_accuracy_matches_sklearn(seed, sizes, k, weighted, normalize):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    S = rng.integers(0, 4, (n, k)).astype(np.float64)  # small integers: ties everywhere
    if normalize:
        S += 1
        S /= S.sum(axis=1, keepdims=True)  # tied integers stay tied after the division
    yt = rng.integers(0, k, n)
    w = _weights(rng, n, weighted)
    acc = Multiclass(k, top_k=5, weighted=weighted)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], S[lo:hi], None if w is None else w[lo:hi])
        if hi == 0:
            assert np.isnan(acc.accuracy(top_k=1))
            continue
        for j in range(1, 6):
            ref = skm.top_k_accuracy_score(yt[:hi], S[:hi], k=j, labels=range(k), sample_weight=_sub(w, hi))
            assert_same(acc.accuracy(top_k=j), ref, not weighted, f"top_k={j}")
        assert_same(acc.accuracy(), skm.accuracy_score(yt[:hi], S[:hi].argmax(axis=1), sample_weight=_sub(w, hi)),
                    not weighted, "accuracy")


# --- calibration ------------------------------------------------------------------------------


@given(SEEDS, SIZES, st.integers(1, 8), st.integers(1, 4), st.booleans())
@settings(max_examples=25)
def test_binned_calibration_curve_matches_sklearn(seed, sizes, n_bins, factor, inclusive):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    s = rng.random(n)  # continuous: no score sits on a calibration edge
    yt = (rng.random(n) < s).astype(np.int64)
    acc = Binary(bins=n_bins * factor, inclusive=inclusive)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], s[lo:hi])
        if hi == 0:
            continue
        prob_true, prob_pred = sk_calibration_curve(yt[:hi], s[:hi], n_bins=n_bins)
        ours = acc.calibration_curve(n_bins)
        _close(ours[0], prob_true, "prob_true")
        _close(ours[1], prob_pred, "prob_pred")
        counts = np.bincount(np.minimum((s[:hi] * n_bins).astype(int), n_bins - 1), minlength=n_bins)
        counts = counts[counts > 0]
        _close(acc.expected_calibration_error(n_bins), np.sum(counts * np.abs(prob_true - prob_pred)) / hi, "ece")


@given(SEEDS, SIZES, st.integers(2, 5), st.integers(1, 6), st.integers(1, 3))
@settings(max_examples=20)
def test_multiclass_top_label_calibration_matches_sklearn(seed, sizes, k, n_bins, factor):
    """Multiclass calibration is the reliability diagram of the top-label confidence."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    P = rng.dirichlet(np.ones(k), n)
    yt = np.array([rng.choice(k, p=p) for p in P], dtype=np.int64)
    acc = Multiclass(k, bins=n_bins * factor)
    for lo, hi in _bounds(sizes):
        acc.update(yt[lo:hi], P[lo:hi])
        if hi == 0:
            continue
        correct = (P[:hi].argmax(axis=1) == yt[:hi]).astype(np.int64)
        prob_true, prob_pred = sk_calibration_curve(correct, P[:hi].max(axis=1), n_bins=n_bins)
        ours = acc.calibration_curve(n_bins)
        _close(ours[0], prob_true, "accuracy per bin")
        _close(ours[1], prob_pred, "confidence per bin")


# --- certified AUC bounds -------------------------------------------------------------------


def _random_binning(rng):
    if rng.random() < 0.5:
        lo = float(rng.uniform(-0.5, 0.5))
        return {"bins": int(rng.integers(1, 25)), "score_range": (lo, lo + float(rng.uniform(0.3, 1.5)))}
    return {"bins": np.unique(rng.uniform(-0.5, 1.5, int(rng.integers(1, 25)))).tolist(), **ANY}


def _finer(rng, kwargs):
    """A binning whose edges contain kwargs' edges."""
    if isinstance(kwargs["bins"], int):
        return {**kwargs, "bins": 2 * kwargs["bins"]}
    extra = rng.uniform(-0.7, 1.7, int(rng.integers(1, 10)))
    return {"bins": np.unique(np.r_[kwargs["bins"], extra]).tolist(), **ANY}


@given(SEEDS, st.integers(0, 200), st.booleans(), st.booleans())
@settings(max_examples=30)
def test_auc_bounds_contain_exact_auc_and_shrink_when_nested(seed, n, weighted, ties):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.5, 0.6, n)  # partly outside the range
    if ties:
        s = np.round(s, 1)
    yt = _labels_for(rng, s)
    w = _weights(rng, n, weighted)
    coarse_kwargs = _random_binning(rng)
    fine_kwargs = _finer(rng, coarse_kwargs)
    coarse = Binary(weighted=weighted, **coarse_kwargs)
    fine = Binary(weighted=weighted, **fine_kwargs)
    exact = Binary(exact=True, weighted=weighted, **ANY)
    for acc in (coarse, fine, exact):
        acc.update(yt, s, w)
    if not _both_classes(yt, w):
        assert np.isnan(coarse.roc_auc_bounds()).all()
        return
    auc = skm.roc_auc_score(yt, s, sample_weight=w)
    for acc in (coarse, fine):
        lower, upper = acc.roc_auc_bounds()
        assert lower - 1e-12 <= auc <= upper + 1e-12, (lower, auc, upper)
        assert lower - 1e-12 <= acc.roc_auc() <= upper + 1e-12
    c_lo, c_hi = coarse.roc_auc_bounds()
    f_lo, f_hi = fine.roc_auc_bounds()
    assert c_lo - 1e-12 <= f_lo and f_hi <= c_hi + 1e-12, ((c_lo, c_hi), (f_lo, f_hi))
    e_lo, e_hi = exact.roc_auc_bounds()
    assert e_lo == e_hi
    _close(e_lo, auc, "exact bounds")


@given(SEEDS, st.integers(1, 120), st.integers(2, 4), st.booleans())
@settings(max_examples=20)
def test_multiclass_and_multilabel_bounds_contain_exact_auc(seed, n, k, weighted):
    rng = np.random.default_rng(seed)
    kwargs = _random_binning(rng)
    S = rng.normal(0.5, 0.5, (n, k))
    yt = rng.integers(0, k, n)
    w = _weights(rng, n, weighted, zeros=False)
    mc = Multiclass(k, weighted=weighted, **kwargs)
    mc.update(yt, S, w)
    Y = np.eye(k, dtype=np.int64)[yt]
    Yml = (rng.random((n, k)) < 0.3 + 0.4 * (S > 0.5)).astype(np.int64)
    ml = Multilabel(k, weighted=weighted, **kwargs)
    ml.update(Yml, S, w)
    for acc, truth in ((mc, Y), (ml, Yml)):
        lower, upper = acc.roc_auc_bounds()
        for c in range(k):
            if not _both_classes(truth[:, c], w):
                assert np.isnan(lower[c]) and np.isnan(upper[c])
                continue
            auc = skm.roc_auc_score(truth[:, c], S[:, c], sample_weight=w)
            assert lower[c] - 1e-12 <= auc <= upper[c] + 1e-12
    if _both_classes(Yml.ravel(), None):
        lower, upper = ml.roc_auc_bounds(average="micro")
        auc = skm.roc_auc_score(Yml.ravel(), S.ravel(), sample_weight=None if w is None else np.repeat(w, k))
        assert lower - 1e-12 <= auc <= upper + 1e-12


# --- at_threshold: exact counts at the edges -------------------------------------------------


def _core(threshold, inclusive, weighted, yt, s, w, score_range=ANY["score_range"]):
    core = Binary(threshold, inclusive=inclusive, weighted=weighted, score_range=score_range)
    core.update(yt, s, w)
    return core


def _same_counts(snapshot, core, weighted):
    if weighted:
        np.testing.assert_allclose(snapshot.confusion_matrix(), core.confusion_matrix(), rtol=1e-12, atol=1e-9)
    else:
        assert np.array_equal(snapshot.confusion_matrix(), core.confusion_matrix())
        assert snapshot == core


@given(SEEDS, st.integers(0, 150), st.booleans(), st.booleans(), st.sampled_from(["uniform", "range", "explicit"]),
       st.integers(1, 20))
@settings(max_examples=30)
def test_at_threshold_at_every_edge_equals_the_core_accumulator(seed, n, inclusive, weighted, how, n_bins):
    rng = np.random.default_rng(seed)
    kwargs, edges = _edges(rng, how, n_bins)
    s = rng.uniform(edges[0] - 0.5, edges[-1] + 0.5, n)  # partly out of range
    if "score_range" not in kwargs:  # the default range reads probabilities
        s = np.clip(s, 0.0, 1.0)
    on_edge = rng.random(n) < 0.3
    s[on_edge] = edges[rng.integers(0, edges.shape[0], on_edge.sum())]  # scores exactly on edges
    yt = rng.integers(0, 2, n)
    w = _weights(rng, n, weighted)
    acc = Binary(inclusive=inclusive, weighted=weighted, **kwargs)
    half = n // 2
    acc.update(yt[:half], s[:half], _sub(w, half))
    acc.update(yt[half:], s[half:], None if w is None else w[half:])
    for t in edges:
        snapshot = acc.at_threshold(float(t))
        assert snapshot.threshold == t and snapshot.inclusive == inclusive
        _same_counts(snapshot, _core(float(t), inclusive, weighted, yt, s, w, acc.score_range), weighted)
    for t in rng.uniform(edges[0] - 1, edges[-1] + 1, 10):
        distance = np.abs(edges - t)
        nearest = edges[np.argmin(distance)]
        if np.sum(distance <= distance.min() + 1e-9) > 1:
            continue  # halfway between two edges
        snapshot = acc.at_threshold(float(t))
        assert snapshot.threshold == nearest
        _same_counts(snapshot, _core(float(nearest), inclusive, weighted, yt, s, w, acc.score_range), weighted)


@given(SEEDS, st.integers(0, 150), st.booleans(), st.booleans(), st.sampled_from(SCORE_KINDS))
@settings(max_examples=30)
def test_exact_at_threshold_at_any_threshold_equals_the_core_accumulator(seed, n, inclusive, weighted, kind):
    rng = np.random.default_rng(seed)
    s = _scores(rng, n, kind)
    yt = rng.integers(0, 2, n)
    w = _weights(rng, n, weighted)
    acc = Binary(exact=True, inclusive=inclusive, weighted=weighted, **ANY)
    acc.update(yt, s, w)
    thresholds = list(rng.normal(0.5, 2, 5)) + [-1e9, 1e9]
    if n:
        thresholds += list(s[rng.integers(0, n, 8)]) + [s.min(), s.max()]  # equal to data scores
    for t in thresholds:
        snapshot = acc.at_threshold(float(t))
        assert snapshot.threshold == t and snapshot.inclusive == inclusive
        _same_counts(snapshot, _core(float(t), inclusive, weighted, yt, s, w), weighted)


# --- threshold selection vs brute force -----------------------------------------------------


def _candidates(state, s, w, edges, inclusive):
    """Every distinct score (of positive weight) for exact tables; every finite edge for bins."""
    kept = s if w is None else s[w > 0]
    if state == "exact":
        return np.unique(kept)
    return edges


def _brute_counts(candidates, inclusive, weighted, yt, s, w):
    out = []
    for t in candidates:
        (tn, fp), (fn, tp) = _core(float(t), inclusive, weighted, yt, s, w).confusion_matrix().tolist()
        out.append((float(t), tp, fp, fn))
    return out


def _rate(which, tp, fp, fn):
    """Recall or precision in float division (as the library compares them); 0 where 0/0."""
    den = tp + fn if which == "recall" else tp + fp
    return tp / den if den else 0.0


def _expect_threshold_for(counts, target, which):
    """Highest t with recall >= target / lowest t with precision >= target; NaN when none."""
    ok = [t for t, tp, fp, fn in counts if _rate(which, tp, fp, fn) >= target]
    if not ok:
        return float("nan")
    return max(ok) if which == "recall" else min(ok)


def _objective(tp, fp, fn, what, exact):
    num = Fraction if exact else float
    if what == "f1":
        return num(2 * tp) / num(2 * tp + fn + fp) if 2 * tp + fn + fp else num(0)
    if what == "fbeta2":
        return num(5 * tp) / num(5 * tp + 4 * fn + fp) if 5 * tp + 4 * fn + fp else num(0)
    fp_cost, fn_cost = what
    return -(num(fp_cost) * num(fp) + num(fn_cost) * num(fn))


def _check_best(counts, chosen, what, exact):
    """chosen maximizes the objective; ties go to the highest threshold."""
    values = {t: _objective(tp, fp, fn, what, exact) for t, tp, fp, fn in counts}
    assert chosen in values, f"{what}: {chosen} is not a candidate"
    best = max(values.values())
    if exact:
        expected = max(t for t, v in values.items() if v == best)
        assert chosen == expected, f"{what}: {chosen} != {expected}"
    else:
        tol = 1e-9 * max(1.0, abs(float(best)))
        assert values[chosen] >= best - tol, f"{what}: {values[chosen]} < {best}"
        assert all(v <= values[chosen] + tol for t, v in values.items() if t > chosen)


@given(SEEDS, st.integers(0, 120), st.sampled_from(["exact", "bins"]), st.booleans(), st.booleans(),
       st.sampled_from(["ties", "continuous", "coarse", "logit-ties"]), st.integers(1, 20))
@settings(max_examples=30)
def test_threshold_selection_matches_brute_force(seed, n, state, inclusive, weighted, kind, n_bins):
    rng = np.random.default_rng(seed)
    s = _scores(rng, n, kind)
    yt = _labels_for(rng, s)
    w = _weights(rng, n, weighted)
    if state == "exact":
        acc, edges = Binary(exact=True, inclusive=inclusive, weighted=weighted, **ANY), None
    else:
        kwargs, edges = _edges(rng, "explicit" if rng.random() < 0.5 else "range", n_bins)
        acc = Binary(inclusive=inclusive, weighted=weighted, **kwargs)
    acc.update(yt, s, w)
    # exact tables classify score >= t (sklearn's curves); bins use the accumulator's rule
    rule = True if state == "exact" else inclusive
    candidates = _candidates(state, s, w, edges, rule)
    counts = _brute_counts(candidates, rule, weighted, yt, s, w)
    if len(counts) == 0:
        assert np.isnan(acc.best_threshold()) and np.isnan(acc.threshold_for(recall=0.5))
        return
    exact = not weighted
    for which in ("recall", "precision"):
        targets = list(rng.random(4)) + [0.0, 1.0]
        if exact:  # the attained values themselves, where >= and > differ
            targets += [_rate(which, tp, fp, fn) for _, tp, fp, fn in counts[:: max(1, len(counts) // 5)]]
        for target in targets:
            if not exact:  # a target within rounding of an attained value is ambiguous
                if any(abs(_rate(which, tp, fp, fn) - target) < 1e-9 for _, tp, fp, fn in counts):
                    continue
            expected = _expect_threshold_for(counts, target, which)
            got = acc.threshold_for(**{which: float(target)})
            assert got == expected or (np.isnan(got) and np.isnan(expected)), (which, target, got, expected)
    _check_best(counts, acc.best_threshold("f1"), "f1", exact)
    _check_best(counts, acc.best_threshold("fbeta", beta=2), "fbeta2", exact)
    costs = [(1, 1), (1, 5), (5, 1), (0, 1), (1, 0), (0, 0)] if exact else [(1.0, 1.0), (0.3, 2.7), (4.1, 0.2)]
    for fp_cost, fn_cost in costs:
        _check_best(counts, acc.min_cost_threshold(fp_cost=fp_cost, fn_cost=fn_cost), (fp_cost, fn_cost), exact)


def test_threshold_for_docstring_example():
    acc = Binary(exact=True)
    acc.update([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert (acc.threshold_for(recall=1.0), acc.threshold_for(precision=1.0)) == (0.35, 0.8)
    assert np.isnan(Binary(exact=True).threshold_for(recall=0.5))


@pytest.mark.parametrize("state", ["exact", "bins"])
def test_weighted_threshold_for_full_recall(state):
    acc = Binary(exact=True, weighted=True) if state == "exact" else Binary(bins=10, weighted=True)
    acc.update([1, 1, 1], [0.15, 0.25, 0.35], sample_weight=[0.1, 0.2, 0.3])
    expected = 0.15 if state == "exact" else 0.1  # the lowest positive score / its bin's edge
    assert acc.threshold_for(recall=1.0) == pytest.approx(expected)


def test_threshold_for_precision_is_the_lowest_edge_with_empty_bins():
    acc = Binary(bins=4)
    acc.update([0, 1, 1], [0.6, 0.9, 0.95])  # bins [0, .25) and [.25, .5) are empty
    # every edge 0, 0.25 and 0.5 classifies the same: 2 tp, 1 fp, precision 2/3
    for t in (0.0, 0.25, 0.5):
        assert acc.at_threshold(t).precision() == pytest.approx(2 / 3)
    assert acc.threshold_for(precision=0.6) == 0.0


# --- max_distinct compaction --------------------------------------------------------------


def _compacted(y, s, w=None, max_distinct=50, inclusive=True):
    acc = Binary(exact=True, max_distinct=max_distinct, weighted=w is not None, inclusive=inclusive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc.update(y, s, w)
    return acc


def _check_compacted_counts(acc, y, s, w):
    """Totals exact; at every kept threshold, the counts of a core accumulator on all the data."""
    weighted = w is not None
    assert acc.n_samples == pytest.approx(len(y) if w is None else w.sum(), rel=1e-12)
    kept = acc.pr_curve()[2]  # ascending: every group's smallest score
    support = [np.sum((y == c) * (1 if w is None else w)) for c in (0, 1)]
    totals = acc.at_threshold(float(kept[0])).confusion_matrix().sum(axis=1) if len(kept) else np.zeros(2)
    if weighted:
        np.testing.assert_allclose(totals, support, rtol=1e-12)
        np.testing.assert_allclose(acc.confusion_matrix().sum(axis=1), support, rtol=1e-12)
    else:
        assert totals.tolist() == support
        assert acc.confusion_matrix().sum(axis=1).tolist() == support
    for t in kept:
        snapshot = acc.at_threshold(float(t))
        assert snapshot.threshold == t and snapshot.inclusive  # compacted tables count score >= t
        _same_counts(snapshot, _core(float(t), True, weighted, y, s, w, acc.score_range), weighted)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("inclusive", [True, False])
def test_max_distinct_compaction(weighted, inclusive, rng):
    n = 1000
    s = rng.random(n)
    y = (rng.random(n) < s).astype(np.int64)
    w = rng.uniform(0.1, 2, n) if weighted else None
    acc = Binary(exact=True, max_distinct=50, weighted=weighted, inclusive=inclusive)
    assert acc.is_exact
    with pytest.warns(UserWarning, match="max_distinct=50"):
        acc.update(y, s, w)
    assert not acc.is_exact
    assert len(acc.pr_curve()[2]) <= 50
    _check_compacted_counts(acc, y, s, w)
    lower, upper = acc.roc_auc_bounds()
    auc = skm.roc_auc_score(y, s, sample_weight=w)
    assert lower - 1e-12 <= auc <= upper + 1e-12 and lower < upper
    # merges: compacted + compacted, compacted + uncompacted, in both orders
    halves = [slice(0, 500), slice(500, n)]
    a, b = (_compacted(y[h], s[h], None if w is None else w[h], inclusive=inclusive) for h in halves)
    small = Binary(exact=True, max_distinct=50, weighted=weighted, inclusive=inclusive)
    small.update(y[:20], s[:20], None if w is None else w[:20])
    assert small.is_exact and not a.is_exact
    for first, second, idx in ((a, b, np.r_[0:n]), (b, a, np.r_[500:n, 0:500]),
                               (a, small, np.r_[0:500, 0:20]), (small, a, np.r_[0:20, 0:500])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            merged = first + second
        assert not merged.is_exact
        ww = None if w is None else w[idx]
        _check_compacted_counts(merged, y[idx], s[idx], ww)
        lower, upper = merged.roc_auc_bounds()
        assert lower - 1e-12 <= skm.roc_auc_score(y[idx], s[idx], sample_weight=ww) <= upper + 1e-12
        round_trip = streameval.from_bytes(merged.to_bytes())
        assert round_trip == merged and not round_trip.is_exact


@given(SEEDS, st.lists(st.integers(0, 300), min_size=1, max_size=5), st.integers(4, 60),
       st.randoms(use_true_random=False))
@settings(max_examples=20)
def test_compacted_tables_merge_in_any_order(seed, sizes, max_distinct, random):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    s = np.round(rng.random(n), 4)
    y = rng.integers(0, 2, n)
    workers = [_compacted(y[lo:hi], s[lo:hi], max_distinct=max_distinct) for lo, hi in _bounds(sizes)]
    random.shuffle(workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = sum(workers)
    assert len(merged.pr_curve()[2]) <= max_distinct
    _check_compacted_counts(merged, y, s, None)
    if _both_classes(y, None):
        lower, upper = merged.roc_auc_bounds()
        assert lower - 1e-12 <= skm.roc_auc_score(y, s) <= upper + 1e-12
    if merged.is_exact:
        one_pass = Binary(exact=True, max_distinct=max_distinct)
        one_pass.update(y, s)
        assert one_pass.is_exact
        for name in one_pass._spec:  # float sums added in another order differ in the last bit
            mine, theirs = getattr(merged, name), getattr(one_pass, name)
            assert np.array_equal(mine, theirs) if name != "_calib" else np.allclose(mine, theirs, rtol=1e-12), name


# --- out of range ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kwargs", [{"bins": [0.0, 0.25, 0.5, 0.75, 1.0], **ANY}, {"bins": 5, "score_range": (-1.0, 0.5)},
                                    {"bins": [0.1, 0.3, 0.9], **ANY}])
def test_out_of_range_scores_are_counted_in_the_edge_bins(kwargs, weighted, rng):
    n = 300
    edges = Binary(**kwargs)._bins.edges
    lo, hi = edges[0], edges[-1]
    s = rng.uniform(lo - 1, hi + 1, n)
    s[:6] = [lo, hi, lo - 1e-12, hi + 1e-12, lo - 5, hi + 5]  # on the range's ends: in range
    y = rng.integers(0, 2, n)
    w = rng.uniform(0.1, 2, n) if weighted else None
    ones = np.ones(n) if w is None else w
    below, above = np.sum(ones[s < lo]), np.sum(ones[s > hi])
    acc = Binary(weighted=weighted, **kwargs)
    acc.update(y[:100], s[:100], None if w is None else w[:100])
    acc.update(y[100:], s[100:], None if w is None else w[100:])
    assert acc.out_of_range == pytest.approx((below, above), rel=1e-12)
    if not weighted:
        assert acc.out_of_range == (int(below), int(above))
        assert all(isinstance(v, int) for v in acc.out_of_range)
    assert acc.n_samples == pytest.approx(ones.sum(), rel=1e-12)
    hist = acc._hist[0]
    assert hist[:, 0].sum() == pytest.approx(below, rel=1e-12)  # the bottom cell: below the range
    np.testing.assert_allclose(hist.sum(axis=0).sum(), ones.sum(), rtol=1e-12)  # nothing dropped
    for t in edges:
        _same_counts(acc.at_threshold(float(t)), _core(float(t), True, weighted, y, s, w, acc.score_range), weighted)
    # the curves still see every sample
    fpr, tpr, _ = acc.roc_curve()
    assert fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert Binary(exact=True).out_of_range == (0, 0)


@pytest.mark.parametrize("weighted", [False, True])
def test_out_of_range_multiclass_and_multilabel(weighted, rng):
    n, k = 120, 3
    S = rng.normal(0.5, 0.7, (n, k))
    w = rng.uniform(0.1, 2, n) if weighted else None
    ones = np.ones(n) if w is None else w
    below = np.sum((S < 0) * ones[:, None])
    above = np.sum((S > 1) * ones[:, None])
    fifths = {"bins": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], **ANY}  # bins=5 on [0, 1], scores declared to go past them
    mc = Multiclass(k, weighted=weighted, **fifths)
    mc.update(rng.integers(0, k, n), S, w)
    ml = Multilabel(k, weighted=weighted, **fifths)
    ml.update(rng.integers(0, 2, (n, k)), S, w)
    for acc in (mc, ml):
        # counted per score (N * K of them)
        np.testing.assert_allclose(acc._out_of_range, [below, above], rtol=1e-12)
        np.testing.assert_allclose(acc._hist.sum(axis=(1, 2)), ones.sum(), rtol=1e-12)  # every score counted
    y = rng.integers(0, 2, (n, k))
    y[rng.random((n, k)) < 0.3] = -1  # ignored entries: their scores are not counted anywhere
    masked = Multilabel(k, weighted=weighted, ignore_index=-1, **fifths)
    masked.update(y, S, w)
    kept = (y != -1) * ones[:, None]
    np.testing.assert_allclose(masked._out_of_range, [np.sum((S < 0) * kept), np.sum((S > 1) * kept)], rtol=1e-12)
    window = Windowed(Multiclass(k, weighted=weighted, **fifths), size=n // 2, buckets=2)  # per sample, in its slot
    window.update(rng.integers(0, k, n), S, w)
    last = slice(n // 2, None)  # the window holds the last n // 2 samples
    np.testing.assert_allclose(window.out_of_range, [np.sum((S[last] < 0) * ones[last, None]),
                                                     np.sum((S[last] > 1) * ones[last, None])], rtol=1e-12)
    for call in (mc.brier_score, mc.log_loss, mc.calibration_curve):
        with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
            call()


@pytest.mark.parametrize("make", [lambda: Multiclass(3, bins=4), lambda: Multiclass(3, bins=4, top_k=2),
                                  lambda: Multilabel(3, bins=4), lambda: Multilabel(3, bins=4, ignore_index=-1)],
                         ids=["multiclass", "top_k", "multilabel", "multilabel-ignore"])
def test_an_empty_batch_of_scores_counts_nothing(make):
    acc = make()
    y = np.empty(0, np.int64) if isinstance(acc, Multiclass) else np.empty((0, 3), np.int64)
    acc.update(y, np.empty((0, 3), np.float32))
    assert acc.n_samples == 0 and acc.out_of_range == (0, 0)


@pytest.mark.parametrize("make", [lambda: Multiclass(2, bins=[0, 0.25, 0.5, 0.75, 1], **ANY),
                                  lambda: Multilabel(2, bins=[0, 0.25, 0.5, 0.75, 1], **ANY)],
                         ids=["multiclass", "multilabel"])
def test_out_of_range_property_of_multiclass_and_multilabel(make):
    acc = make()
    y = [0, 1] if isinstance(acc, Multiclass) else [[0, 1], [1, 0]]
    acc.update(y, np.array([[-0.5, 1.5], [0.5, 2.0]]))
    assert acc.out_of_range == (1, 2)


# --- merge and serialization of every score state ------------------------------------------


# Merging and serializing every score state (histograms, exact tables, top-k counts, with every
# option) is checked for every registered configuration in tests/test_contract.py: any split merged
# in any order equals one pass (test_any_split_equals_one_pass), merge laws, round trips. Here: the
# score metrics of a copy, for each registered configuration that keeps scores (helpers.scored()).


def _round_trips(acc):
    yield streameval.from_bytes(acc.to_bytes())
    yield streameval.from_dict(json.loads(json.dumps(acc.to_dict())))
    yield pickle.loads(pickle.dumps(acc))


@pytest.mark.parametrize("n", [0, 200])
@pytest.mark.configs(where=keeps_scores)
def test_round_trip_keeps_the_score_metrics(configuration, n):
    acc = configuration.make()
    batches = draw_stream(layout_of(acc), configuration.batches, np.random.default_rng(12345), [n // 2, n - n // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in batches:
            batch.feed(acc)
    name = configuration.name
    assert acc.is_empty == (n == 0)
    for copy in _round_trips(acc):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            if isinstance(acc, Multiclass) and acc.top_k is not None:
                assert_same([copy.accuracy(top_k=j) for j in range(1, acc.top_k + 1)],
                            [acc.accuracy(top_k=j) for j in range(1, acc.top_k + 1)], True, name)
            if acc.bins is not None or getattr(acc, "exact", False):
                assert_same(copy.roc_auc(average=None) if not isinstance(acc, Binary) else copy.roc_auc(),
                            acc.roc_auc(average=None) if not isinstance(acc, Binary) else acc.roc_auc(), True, name)
                assert np.array_equal(copy.roc_auc_bounds(), acc.roc_auc_bounds(), equal_nan=True)
            if isinstance(acc, Binary):
                for a, b in zip(copy.roc_curve(), acc.roc_curve()):
                    assert np.array_equal(a, b, equal_nan=True)
                assert copy.out_of_range == acc.out_of_range
                assert copy.is_exact == acc.is_exact


@pytest.mark.parametrize("how", ["bytes", "dict"])
@pytest.mark.parametrize("make", [
    lambda: Binary(exact=True, **ANY),
    lambda: Binary(bins=4, score_range=(-2, 2)),
    lambda: Multilabel(2, bins=[-1.0, 0.0, 1.0], **ANY),
    lambda: Multiclass(2, bins=4, score_range=(-2, 2)),
], ids=["binary-exact", "binary-bins", "multilabel-bins", "multiclass-bins"])
def test_serialization_of_negative_scores(make, how):
    acc = make()
    if isinstance(acc, Binary):
        acc.update([0, 1, 1], [-1.5, 0.25, 1.5])  # logits
    else:
        y_true = np.array([[0, 1], [1, 0]]) if isinstance(acc, Multilabel) else [1, 0]
        acc.update(y_true, np.array([[-1.5, 0.5], [0.25, -0.75]]))
    copy = streameval.from_bytes(acc.to_bytes()) if how == "bytes" else streameval.from_dict(acc.to_dict())
    assert copy == acc


INCOMPATIBLE = {
    "bins count": (lambda: Binary(bins=4), lambda: Binary(bins=5)),
    "score_range": (lambda: Binary(bins=4), lambda: Binary(bins=4, score_range=(0, 2))),
    "uniform vs explicit": (lambda: Binary(bins=4), lambda: Binary(bins=[0.0, 0.25, 0.5, 0.75, 1.0])),
    "explicit edges": (lambda: Binary(bins=[0.1, 0.5]), lambda: Binary(bins=[0.1, 0.6])),
    "bins vs exact": (lambda: Binary(bins=4), lambda: Binary(exact=True)),
    "exact vs none": (lambda: Binary(), lambda: Binary(exact=True)),
    "bins vs none": (lambda: Binary(), lambda: Binary(bins=4)),
    "max_distinct": (lambda: Binary(exact=True, max_distinct=10), lambda: Binary(exact=True, max_distinct=20)),
    "multiclass bins": (lambda: Multiclass(3, bins=4), lambda: Multiclass(3, bins=8)),
    "multiclass bins vs none": (lambda: Multiclass(3, bins=4), lambda: Multiclass(3)),
    "top_k": (lambda: Multiclass(3, top_k=2), lambda: Multiclass(3, top_k=3)),
    "top_k vs none": (lambda: Multiclass(3, top_k=2), lambda: Multiclass(3)),
    "multilabel bins": (lambda: Multilabel(2, bins=4), lambda: Multilabel(2, bins=4, score_range=(-1, 1))),
    "multilabel bins vs none": (lambda: Multilabel(2, bins=4), lambda: Multilabel(2)),
}


def _fill(acc, rng):
    if isinstance(acc, Multilabel):
        acc.update(rng.integers(0, 2, (10, 2)), rng.random((10, 2)))
    elif isinstance(acc, Multiclass):
        acc.update(rng.integers(0, 3, 10), rng.random((10, 3)))
    else:
        acc.update(rng.integers(0, 2, 10), rng.random(10))
    return acc


@pytest.mark.parametrize("pair", sorted(INCOMPATIBLE))
@pytest.mark.parametrize("swap", [False, True])
def test_incompatible_score_states_refuse_to_merge(pair, swap, rng):
    a, b = (_fill(make(), rng) for make in INCOMPATIBLE[pair])
    if swap:
        a, b = b, a
    before, other = a.copy(), b.copy()
    with pytest.raises(IncompatibleError):
        a.merge(b)
    with pytest.raises(IncompatibleError):
        a + b
    assert a == before and b == other and a.to_bytes() == before.to_bytes()


# --- bad input ------------------------------------------------------------------------------


BAD_CONSTRUCTORS = [
    (lambda: Binary(bins=0), ValueError, r"bins=0"),
    (lambda: Multiclass(3, bins=0), ValueError, r"bins=0"),
    (lambda: Multilabel(3, bins=-2), ValueError, r"bins=-2"),
    (lambda: Binary(bins=[0.5, 0.2]), ValueError, r"bins\[1\].*bins\[0\].*increase"),
    (lambda: Binary(bins=[0.0, 0.3, 0.3]), ValueError, r"bins\[2\].*increase"),
    (lambda: Multilabel(2, bins=[0.1, 0.5, 0.4, 0.9]), ValueError, r"bins\[2\]"),
    (lambda: Binary(bins=[0, float("nan")]), ValueError, r"bins\[1\].*not finite"),
    (lambda: Multiclass(3, bins=[float("-inf"), 0.5]), ValueError, r"bins\[0\].*not finite"),
    (lambda: Binary(bins=[]), ValueError, r"bins"),
    (lambda: Binary(bins="0.5"), (TypeError, ValueError), r"bins"),
    (lambda: Binary(bins=4, score_range=(1, 0)), ValueError, r"score_range"),
    (lambda: Binary(bins=4, score_range=(0.5, 0.5)), ValueError, r"score_range"),
    (lambda: Multiclass(3, bins=4, score_range=(0, float("inf"))), ValueError, r"score_range"),
    (lambda: Multilabel(2, bins=4, score_range=(1, 0)), ValueError, r"score_range"),
    (lambda: Binary(bins=4, exact=True), ValueError, r"bins.*exact"),
    (lambda: Binary(exact=True, max_distinct=0), ValueError, r"max_distinct=0"),
    (lambda: Binary(exact=True, max_distinct=2.5), ValueError, r"max_distinct"),
    (lambda: Binary(exact=1), TypeError, r"exact=1"),
    (lambda: Multiclass(3, top_k=0), ValueError, r"top_k=0"),
    (lambda: Multiclass(3, top_k=-1), ValueError, r"top_k=-1"),
]


@pytest.mark.parametrize("make, exc, match", BAD_CONSTRUCTORS)
def test_bad_score_configuration(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def _ready(make, rng):
    acc = make()
    w = rng.uniform(0, 2, 30) if acc.weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(acc, Multilabel):
            acc.update(rng.integers(0, 2, (30, 3)), rng.random((30, 3)), w)
        elif isinstance(acc, Multiclass):
            acc.update(rng.integers(0, 3, 30), rng.random((30, 3)), w)
        else:
            acc.update(rng.integers(0, 2, 30), rng.random(30), w)
    return acc


nan, inf = float("nan"), float("inf")
BIN_1D = ["binary-bins", "binary-exact", "binary-compacted"]
UPDATE_MAKERS = {
    "binary-bins": lambda w: Binary(bins=5, weighted=w),
    "binary-exact": lambda w: Binary(exact=True, weighted=w),
    "binary-compacted": lambda w: Binary(exact=True, max_distinct=8, weighted=w),
    "multiclass-bins": lambda w: Multiclass(3, bins=5, weighted=w),
    "multiclass-top-k": lambda w: Multiclass(3, top_k=2, weighted=w),
    "multilabel-bins": lambda w: Multilabel(3, bins=5, weighted=w),
}
BAD_UPDATES = [
    (BIN_1D, [0, 1, 1], [0.2, nan, 0.4], ValueError, r"y_pred\[1\] = nan is not a finite score"),
    (BIN_1D, [0, 1, 1], [0.2, 0.3, inf], ValueError, r"y_pred\[2\] = inf is not a finite score"),
    (BIN_1D, [0, 1, 1], [0.2, 0.3, -inf], ValueError, r"y_pred\[2\] = -inf"),
    (BIN_1D, [0, 1, 1], [0, 1, 1], TypeError, r"needs float scores"),
    (BIN_1D, [0, 1, 1], [True, False, True], TypeError, r"needs float scores"),
    (BIN_1D, [0, 2, 1], [0.2, 0.3, 0.4], ValueError, r"y_true\[1\] = 2 is not a class"),
    (["multiclass-bins", "multiclass-top-k"], [0, 1, 2], [0, 1, 2], TypeError, r"needs \(n_samples, 3\) scores"),
    (["multiclass-bins", "multiclass-top-k"], [0, 1, 2], [[0.1, 0.2, 0.7], [0.3, nan, 0.3], [1.0, 0.0, 0.0]],
     ValueError, r"y_pred\[1, 1\] = nan"),
    (["multiclass-bins", "multiclass-top-k"], [0, 1, 5], [[0.1, 0.2, 0.7], [0.3, 0.4, 0.3], [1.0, 0.0, 0.0]],
     ValueError, r"y_true\[2\] = 5"),
    (["multilabel-bins"], [[0, 1, 1], [1, 0, 0]], [[0, 1, 1], [1, 0, 0]], TypeError, r"needs float scores"),
    (["multilabel-bins"], [[0, 1, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.2, inf, 0.5]], ValueError,
     r"y_pred\[1, 1\] = inf"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("names, y_true, y_pred, exc, match", BAD_UPDATES)
def test_bad_update_leaves_the_score_state_unchanged(names, y_true, y_pred, exc, match, weighted, rng):
    for name in names:
        acc = _ready(lambda: UPDATE_MAKERS[name](weighted), rng)
        before, raw = acc.copy(), acc.to_bytes()
        w = np.ones(len(y_true)) if weighted else None
        with pytest.raises(exc, match=match):
            acc.update(y_true, y_pred, w)
        assert acc == before, name
        assert acc.to_bytes() == raw, name


@pytest.mark.parametrize("name", sorted(UPDATE_MAKERS))
def test_bad_weight_leaves_the_score_state_unchanged(name, rng):
    acc = _ready(lambda: UPDATE_MAKERS[name](True), rng)
    before, raw = acc.copy(), acc.to_bytes()
    if isinstance(acc, Multilabel):
        y, p = [[0, 1, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.2, 0.1, 0.5]]
    elif isinstance(acc, Multiclass):
        y, p = [0, 1], [[0.2, 0.3, 0.5], [0.2, 0.1, 0.7]]
    else:
        y, p = [0, 1], [0.2, 0.3]
    with pytest.raises(ValueError, match=r"sample_weight\[1\]"):
        acc.update(y, p, [1.0, -1.0])
    assert acc == before and acc.to_bytes() == raw


def _binary_bins():
    acc = Binary(bins=10)
    acc.update([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.35])
    return acc


def _outside():
    acc = Binary(bins=10, score_range=(-2, 2))
    acc.update([0, 1], [-1.0, 0.5])
    return acc


def _outside_exact():
    acc = Binary(exact=True, **ANY)
    acc.update([0, 1], [0.2, 1.5])
    return acc


def _top5():
    acc = Multiclass(7, top_k=5)
    acc.update([0, 1], np.eye(7)[:2])
    return acc


BAD_CALLS = [
    (lambda: Binary().roc_auc(), ValueError, r"bins"),
    (lambda: Binary().roc_curve(), ValueError, r"bins"),
    (lambda: Binary().roc_auc_bounds(), ValueError, r"bins"),
    (lambda: Binary().average_precision(), ValueError, r"bins"),
    (lambda: Binary().threshold_for(recall=0.5), ValueError, r"bins"),
    (lambda: Binary().brier_score(), ValueError, r"bins"),
    (lambda: Binary().out_of_range, ValueError, r"bins"),
    (lambda: Binary().at_threshold(0.3), ValueError, r"bins"),
    (lambda: Multiclass(3).roc_auc(), ValueError, r"bins"),
    (lambda: Multiclass(3).average_precision(), ValueError, r"bins"),
    (lambda: Multiclass(3).brier_score(), ValueError, r"bins"),
    (lambda: Multiclass(3, top_k=2).roc_auc(), ValueError, r"bins"),
    (lambda: Multilabel(3).roc_auc(), ValueError, r"bins"),
    (lambda: Multilabel(3).roc_auc_bounds(), ValueError, r"bins"),
    (lambda: _top5().accuracy(top_k=6), ValueError, r"top_k=6.*top_k=5"),
    (lambda: _top5().accuracy(top_k=0), ValueError, r"top_k=0"),
    (lambda: Multiclass(3).accuracy(top_k=1), ValueError, r"top_k=1"),
    (lambda: Multiclass(3, bins=4).accuracy(top_k=1), ValueError, r"top_k=1"),
    (lambda: _binary_bins().calibration_curve(n_bins=3), ValueError, r"n_bins=3"),
    (lambda: _binary_bins().expected_calibration_error(n_bins=4), ValueError, r"n_bins=4"),
    (lambda: _binary_bins().calibration_curve(n_bins=0), ValueError, r"n_bins=0"),
    (lambda: Multiclass(3, bins=4).calibration_curve(n_bins=3), ValueError, r"n_bins=3"),
    (lambda: _outside().brier_score(), ValueError, r"outside \[0, 1\]"),
    (lambda: _outside().log_loss(), ValueError, r"outside \[0, 1\]"),
    (lambda: _outside().calibration_curve(2), ValueError, r"outside \[0, 1\]"),
    (lambda: _outside_exact().brier_score(), ValueError, r"outside \[0, 1\]"),
    (lambda: _outside_exact().expected_calibration_error(), ValueError, r"outside \[0, 1\]"),
    (lambda: _binary_bins().threshold_for(recall=0.5, precision=0.5), ValueError, r"exactly one"),
    (lambda: _binary_bins().threshold_for(), ValueError, r"exactly one"),
    (lambda: _binary_bins().threshold_for(recall=1.5), ValueError, r"1.5"),
    (lambda: _binary_bins().threshold_for(precision=-0.1), ValueError, r"-0.1"),
    (lambda: _binary_bins().threshold_for(recall=float("nan")), ValueError, r"nan"),
    (lambda: _binary_bins().min_cost_threshold(fp_cost=-1, fn_cost=1), ValueError, r"fp_cost=-1"),
    (lambda: _binary_bins().min_cost_threshold(fp_cost=1, fn_cost=-0.5), ValueError, r"fn_cost=-0.5"),
    (lambda: _binary_bins().min_cost_threshold(fp_cost=float("inf"), fn_cost=1), ValueError, r"fp_cost=inf"),
    (lambda: _binary_bins().best_threshold("accuracy"), ValueError, r"accuracy"),
    (lambda: _binary_bins().at_threshold(float("nan")), ValueError, r"threshold=nan"),
    (lambda: Multiclass(3, bins=4).roc_auc(average="micro"), ValueError, r"average='micro'"),
    (lambda: Multilabel(3, bins=4).roc_auc(average="samples"), ValueError, r"average='samples'"),
]


@pytest.mark.parametrize("call, exc, match", BAD_CALLS)
def test_bad_metric_call(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_failed_queries_leave_the_state_unchanged():
    acc = _binary_bins()
    before, raw = acc.copy(), acc.to_bytes()
    for call in (lambda: acc.threshold_for(recall=2), lambda: acc.calibration_curve(3),
                 lambda: acc.min_cost_threshold(fp_cost=-1, fn_cost=1), lambda: acc.at_threshold(float("inf"))):
        with pytest.raises(ValueError):
            call()
    acc.at_threshold(0.5), acc.threshold_for(recall=0.5), acc.best_threshold()
    assert acc == before and acc.to_bytes() == raw


@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
def test_per_column_curves_match_sklearn_on_midpoint_scores(kind):
    """Each class's / label's one-vs-rest curve equals scikit-learn's when every score is a bin midpoint."""
    rng = np.random.default_rng(11)
    n, k, bins = 400, 3, 50
    scores = (rng.integers(0, bins, (n, k)) + 0.5) / bins
    if kind == "multiclass":
        acc = Multiclass(k, bins=bins)
        y = rng.integers(0, k, n)
        truth = (y[:, None] == np.arange(k)).astype(int)
    else:
        acc = Multilabel(k, bins=bins)
        truth = rng.integers(0, 2, (n, k))
        y = truth
    acc.update(y, scores)
    for c in range(k):
        fpr, tpr, _ = acc.roc_curve(c)
        ref_fpr, ref_tpr, _ = skm.roc_curve(truth[:, c], scores[:, c])
        np.testing.assert_allclose(fpr, ref_fpr, rtol=1e-12)
        np.testing.assert_allclose(tpr, ref_tpr, rtol=1e-12)
        precision, recall, _ = acc.pr_curve(c)
        ref_p, ref_r, _ = skm.precision_recall_curve(truth[:, c], scores[:, c])
        np.testing.assert_allclose(precision, ref_p, rtol=1e-12)
        np.testing.assert_allclose(recall, ref_r, rtol=1e-12)
    with pytest.raises(ValueError, match="index"):
        acc.roc_curve(k)
