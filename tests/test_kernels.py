"""Each kernel against a plain numpy reference, including the bad-sample report and the undo."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streameval import _kernels as K


def _labels(seed, n, k, bad_at=None, bad_value=None, dtype=np.int64):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n).astype(dtype)
    if bad_at is not None:
        a[bad_at] = bad_value
    return a


@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(1, 7), st.booleans())
def test_count_pairs_matches_bincount(seed, n, k, use_ignore):
    yt, yp = _labels(seed, n, k), _labels(seed + 1, n, k)
    start = np.random.default_rng(seed).integers(0, 5, (k, k))
    cm = start.copy()
    ignore = 0
    assert K.count_pairs(yt, yp, k, ignore, use_ignore, cm) == -1
    keep = yt != ignore if use_ignore else np.ones(n, bool)
    ref = start + np.bincount(yt[keep] * k + yp[keep], minlength=k * k).reshape(k, k)
    assert np.array_equal(cm, ref)


@pytest.mark.parametrize("bad_value", [5, -1, 2.5, np.nan, np.inf])
def test_count_pairs_undoes_on_bad_sample(bad_value):
    yt = _labels(0, 1000, 5, dtype=np.float64)
    yp = _labels(1, 1000, 5, bad_at=777, bad_value=bad_value, dtype=np.float64)
    cm = np.ones((5, 5), dtype=np.int64)
    assert K.count_pairs(yt, yp, 5, 0, False, cm) == 777
    assert (cm == 1).all()


def test_count_pairs_weighted_checks_before_counting():
    yt, yp = _labels(0, 100, 3), _labels(1, 100, 3)
    w = np.random.default_rng(2).random(100)
    cm = np.zeros((3, 3))
    assert K.count_pairs_weighted(yt, yp, w, 3, 0, False, cm) == -1
    ref = np.zeros((3, 3))
    np.add.at(ref, (yt, yp), w)
    np.testing.assert_allclose(cm, ref, rtol=1e-14)
    w[60] = -1.0
    before = cm.copy()
    assert K.count_pairs_weighted(yt, yp, w, 3, 0, False, cm) == 60
    assert np.array_equal(cm, before)


@given(st.integers(0, 2**32 - 1), st.integers(0, 50), st.integers(1, 6))
def test_argmax_rows_matches_numpy(seed, n, k):
    scores = np.random.default_rng(seed).integers(0, 3, (n, k)).astype(np.float32)  # many ties
    out = np.empty(n, dtype=np.int64)
    assert K.argmax_rows(scores, out) == -1
    assert np.array_equal(out, scores.argmax(axis=1))


def test_argmax_rows_reports_non_finite():
    scores = np.zeros((4, 3))
    scores[2, 1] = np.nan
    assert K.argmax_rows(scores, np.empty(4, dtype=np.int64)) == 2


@given(st.integers(0, 2**32 - 1), st.integers(0, 200), st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.booleans())
def test_count_scores_matches_numpy(seed, n, threshold, inclusive):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, 2, n)
    s = (rng.integers(0, 5, n) / 4).astype(np.float32)
    cm = np.zeros((2, 2), dtype=np.int64)
    assert K.count_scores(yt, s, threshold, inclusive, cm) == -1
    pred = (s >= threshold) if inclusive else (s > threshold)
    assert np.array_equal(cm, np.bincount(yt * 2 + pred, minlength=4).reshape(2, 2))
    w = rng.random(n)
    cmw = np.zeros((2, 2))
    assert K.count_scores_weighted(yt, s, w, threshold, inclusive, cmw) == -1
    np.testing.assert_allclose(cmw, np.bincount(yt * 2 + pred, weights=w, minlength=4).reshape(2, 2), rtol=1e-14)


def _multilabel_reference(yt, yp, w):
    """Per-label 2x2 counts and per-sample sums, written the slow, obvious way."""
    n, n_labels = yt.shape
    cm = np.zeros((n_labels, 2, 2))
    sums = np.zeros(K.N_SAMPLE_SUMS)
    for i in range(n):
        for j in range(n_labels):
            cm[j, yt[i, j], yp[i, j]] += w[i]
        tp = int(np.sum(yt[i] & yp[i]))
        pred, true = int(yp[i].sum()), int(yt[i].sum())
        fp, fn = pred - tp, true - tp
        sums[K.EXACT] += w[i] * (fp + fn == 0)
        if pred:
            sums[K.PREC_SUM] += w[i] * tp / pred
        else:
            sums[K.PREC_UNDEF] += w[i]
        if true:
            sums[K.REC_SUM] += w[i] * tp / true
        else:
            sums[K.REC_UNDEF] += w[i]
        if true + pred:
            sums[K.F1_SUM] += w[i] * 2 * tp / (true + pred)
            sums[K.JAC_SUM] += w[i] * tp / (tp + fp + fn)
        else:
            sums[K.F_UNDEF] += w[i]
    return cm, sums


@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(1, 5), st.booleans())
def test_count_multilabel_matches_reference(seed, n, n_labels, weighted):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, 2, (n, n_labels))
    scores = rng.random((n, n_labels))
    yp = (scores >= 0.5).astype(np.int64)
    w = rng.random(n) if weighted else np.ones(n)
    cm = np.zeros((n_labels, 2, 2), dtype=np.float64 if weighted else np.int64)
    sums = np.zeros(K.N_SAMPLE_SUMS)
    if weighted:
        assert K.count_multilabel_weighted(yt, scores, w, True, 0.5, True, cm, sums) == -1
    else:
        assert K.count_multilabel(yt, yp, False, 0.5, True, cm, sums) == -1
    ref_cm, ref_sums = _multilabel_reference(yt, yp, w)
    np.testing.assert_allclose(cm, ref_cm, rtol=1e-12)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-12)


def test_count_multilabel_reports_first_bad_sample_and_counts_nothing():
    yt = np.zeros((5, 2), dtype=np.int64)
    yp = np.zeros((5, 2))
    yp[3, 1] = np.nan
    w = np.ones(5)
    w[4] = -1
    cm, sums = np.zeros((2, 2, 2)), np.zeros(K.N_SAMPLE_SUMS)
    assert K.count_multilabel_weighted(yt, yp, w, True, 0.5, True, cm, sums) == 3
    assert not cm.any() and not sums.any()
    yp[3, 1] = 0
    assert K.count_multilabel_weighted(yt, yp, w, True, 0.5, True, cm, sums) == 4


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_count_pairs_parallel_matches_sequential(n_chunks, weighted):
    yt, yp = _labels(3, 5000, 6), _labels(4, 5000, 6)
    w = np.random.default_rng(5).random(5000)
    cm = np.ones((6, 6), dtype=np.float64 if weighted else np.int64)
    assert K.count_pairs_parallel(yt, yp, w, weighted, 6, 2, True, cm, n_chunks) == -1
    ref = np.ones((6, 6))
    keep = yt != 2
    np.add.at(ref, (yt[keep], yp[keep]), w[keep] if weighted else 1)
    np.testing.assert_allclose(cm, ref, rtol=1e-12)


@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_parallel_kernels_report_the_first_bad_sample_and_count_nothing(n_chunks):
    yt, yp = _labels(6, 1000, 3), _labels(7, 1000, 3, bad_at=[420, 900], bad_value=9)
    cm = np.zeros((3, 3), dtype=np.int64)
    assert K.count_pairs_parallel(yt, yp, np.empty(0), False, 3, 0, False, cm, n_chunks) == 420
    assert not cm.any()
    scores = np.random.default_rng(8).random(1000)
    scores[[333, 800]] = np.nan
    assert K.count_scores_parallel(yt % 2, scores, np.empty(0), False, 0.5, True, cm[:2, :2], n_chunks) == 333
    assert not cm.any()


def test_count_scores_parallel_matches_sequential():
    rng = np.random.default_rng(9)
    yt, s, w = rng.integers(0, 2, 4000), rng.random(4000).astype(np.float32), rng.random(4000)
    for weighted in (False, True):
        seq = np.zeros((2, 2), dtype=np.float64 if weighted else np.int64)
        par = seq.copy()
        if weighted:
            K.count_scores_weighted(yt, s, w, 0.5, False, seq)
        else:
            K.count_scores(yt, s, 0.5, False, seq)
        assert K.count_scores_parallel(yt, s, w, weighted, 0.5, False, par, 3) == -1
        np.testing.assert_allclose(par, seq, rtol=1e-12)
