"""Each kernel against a plain numpy reference, including the bad-sample report and the undo."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streameval import _kernels as K
from streameval._inputs import ANY_SCORE, PROBABILITY
from streameval._kernels.rows import argmax_rows_of, count_argmax_of

NO_KEEP = np.empty(0, dtype=bool)


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


# the large-batch paths: pair tables in four copies (K <= 8) or two (K <= 11), four copies of the matrix above
LARGE_K = [1, 2, K.pairs.FOUR_TABLES_MAX_K, K.pairs.FOUR_TABLES_MAX_K + 1, K.pairs.PAIRED_MAX_K,
           K.pairs.PAIRED_MAX_K + 1]


@pytest.mark.parametrize("k", LARGE_K)
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int8, np.float64])
@pytest.mark.parametrize("use_ignore", [False, True])
@pytest.mark.parametrize("n", [K.pairs.SPREAD_MIN, K.pairs.SPREAD_MIN + 3, K.pairs.BLOCK_PAIRS * 2 + 5])
def test_large_batches_count_as_bincount(n, use_ignore, dtype, k):
    """The large-batch paths (at least SPREAD_MIN samples): mostly diagonal pairs, as a classifier's,
    every length modulo 4, ignored samples, any label dtype; a bad sample in the last block
    leaves the matrix as it was."""
    rng = np.random.default_rng(n)
    yt = rng.integers(0, k, n)
    yp = np.where(rng.random(n) < 0.7, yt, rng.integers(0, k, n))
    ignore = 200 if dtype == np.uint8 else -1
    if use_ignore:
        yt[rng.random(n) < 0.2] = ignore
    yt, yp = yt.astype(dtype), yp.astype(dtype)
    start = rng.integers(0, 5, (k, k))
    cm = start.copy()
    assert K.count_pairs(yt, yp, k, ignore, use_ignore, cm) == -1
    keep = yt != ignore if use_ignore else np.ones(n, bool)
    labels = yt[keep].astype(np.int64) * k + yp[keep].astype(np.int64)
    assert np.array_equal(cm, start + np.bincount(labels, minlength=k * k).reshape(k, k))
    bad = yp.copy()
    at = n - 2 if not use_ignore or yt[n - 2] != ignore else n - 1
    yt[at] = 0
    bad[at] = 2.5 if dtype == np.float64 else k
    cm = start.copy()
    assert K.count_pairs(yt, bad, k, ignore, use_ignore, cm) == at
    assert np.array_equal(cm, start)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf, -1.0, 1e300, 6.0, 0.5])
@pytest.mark.parametrize("k", [6, 10, 12, 64])  # 64: the largest matrix counted through four copies (SPREAD_CELLS)
def test_large_float_batches_name_the_first_bad_label(bad_value, k):
    """The large-batch paths write each cell as they check: a float label that is no class (NaN,
    an infinity, a fraction, out of range) is named, in a middle block, and nothing is counted."""
    rng = np.random.default_rng(k)
    n = K.pairs.SPREAD_MIN + 7  # a large batch, in blocks of SPREAD_BLOCK or PAIRED_BLOCK
    yt, yp = rng.integers(0, k, n).astype(np.float64), rng.integers(0, k, n).astype(np.float64)
    cm = np.ones((k, k), np.int64)
    assert K.count_pairs(yt, yp, k, -1, False, cm) == -1
    assert np.array_equal(cm, 1 + np.bincount((yt * k + yp).astype(np.int64), minlength=k * k).reshape(k, k))
    at = n // 2
    yp[at] = bad_value if bad_value != 6.0 else k
    before = cm.copy()
    assert K.count_pairs(yt, yp, k, -1, False, cm) == at
    assert np.array_equal(cm, before)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, K.pairs.PAIRED_MAX_K), st.integers(0, 40), st.floats(0, 1),
       st.booleans(), st.integers(-1, 2 * K.pairs.PAIRED_BLOCK + 40))
def test_pair_tables_count_as_bincount(seed, k, extra, one_pair, use_ignore, bad_at):
    """count_pairs' pair tables (K <= PAIRED_MAX_K): streams from varied to a single pair (one_pair: the share of
    one cell), any length, ignored samples; a bad label at any position (-1: none; past the end: none), first or
    second of its pair, is named and leaves the matrix as it was, and a bad y_pred of an ignored sample is not
    checked."""
    rng = np.random.default_rng(seed)
    n = K.pairs.SPREAD_MIN + extra
    yt = np.where(rng.random(n) < one_pair, 0, rng.integers(0, k, n))
    yp = np.where(rng.random(n) < 0.7, yt, rng.integers(0, k, n))
    if use_ignore:
        ignored = rng.random(n) < 0.2
        yt[ignored] = -100
        yp[ignored] = rng.choice([-7, k, 10**9], ignored.sum())  # never read as a class
    keep = yt != -100 if use_ignore else np.ones(n, bool)
    start = rng.integers(0, 5, (k, k))
    cm = start.copy()
    if 0 <= bad_at < n:
        yt[bad_at] = 0
        yp[bad_at] = rng.choice([-1, k])
        assert K.count_pairs(yt, yp, k, -100, use_ignore, cm) == bad_at
        assert np.array_equal(cm, start)
        return
    assert K.count_pairs(yt, yp, k, -100, use_ignore, cm) == -1
    assert np.array_equal(cm, start + np.bincount(yt[keep] * k + yp[keep], minlength=k * k).reshape(k, k))


@pytest.mark.parametrize("k", [3, K.pairs.PAIRED_MAX_K])
def test_pair_tables_fold_every_chunk(k):
    """The tables are folded and emptied every chunk (2**31 samples: here a few blocks), ending on an odd sample."""
    rng = np.random.default_rng(k)
    n = 5 * K.pairs.PAIRED_BLOCK + 3
    yt, yp = rng.integers(0, k, n), rng.integers(0, k, n)
    cm = np.zeros((k, k), np.int64)
    assert K.pairs._count_paired(yt, yp, k, -1, False, cm, 2 * K.pairs.PAIRED_BLOCK) == -1
    assert np.array_equal(cm, np.bincount(yt * k + yp, minlength=k * k).reshape(k, k))


def test_large_batches_of_strided_and_bool_labels():
    rng = np.random.default_rng(9)
    n = 3 * K.pairs.SPREAD_MIN
    both = rng.integers(0, 2, (n, 2)).astype(bool)  # columns of a 2-D array: strided views
    cm = np.zeros((2, 2), np.int64)
    assert K.count_pairs(both[:, 0], both[:, 1], 2, 0, False, cm) == -1
    assert np.array_equal(cm, np.bincount(both[:, 0] * 2 + both[:, 1], minlength=4).reshape(2, 2))


@pytest.mark.parametrize("use_ignore", [False, True])
@pytest.mark.parametrize("bad", [None, "nan weight", "negative weight", "inf weight", "label"])
def test_large_weighted_batches_count_through_four_copies(use_ignore, bad):
    """count_pairs_weighted of a large batch (the spread path, blocks of SPREAD_BLOCK): the sums of
    np.bincount's weights; an ignored sample's weight is not checked; a bad weight or label in a
    middle block is named and nothing is added."""
    rng = np.random.default_rng(7)
    n, k = K.pairs.SPREAD_MIN + 5 * K.pairs.SPREAD_BLOCK + 3, 6
    yt = rng.integers(0, k, n)
    yp = np.where(rng.random(n) < 0.7, yt, rng.integers(0, k, n))
    w = rng.random(n) * 3
    if use_ignore:
        ignored = rng.random(n) < 0.2
        yt[ignored] = -1
        w[ignored] = np.nan  # not checked, not added
    start = rng.random((k, k))
    cm = start.copy()
    at = n // 2
    yt[at] = 2  # kept
    if bad is not None:
        if bad == "label":
            yp[at] = k
        else:
            w[at] = {"nan weight": np.nan, "negative weight": -1.0, "inf weight": np.inf}[bad]
        assert K.count_pairs_weighted(yt, yp, w, k, -1, use_ignore, cm) == at
        assert np.array_equal(cm, start)
        return
    assert K.count_pairs_weighted(yt, yp, w, k, -1, use_ignore, cm) == -1
    keep = yt != -1 if use_ignore else np.ones(n, bool)
    ref = start + np.bincount(yt[keep] * k + yp[keep], weights=w[keep], minlength=k * k).reshape(k, k)
    np.testing.assert_allclose(cm, ref, rtol=1e-12)


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


def _argmax_rows(scores, keep, lo, hi, out):
    """The kernel the storage picks for the scores (argmax_rows_of), with the integer view of long
    float rows it passes, checked against K.argmax_rows itself: the same answer and argmaxes."""
    bits, lo_key, hi_key = K.argmax.row_bits(scores, lo, hi)
    general = out.copy()
    bad = K.argmax_rows(scores, bits, keep, lo, hi, lo_key, hi_key, general)
    kernel = argmax_rows_of(scores.shape[1], scores.dtype)
    assert kernel(scores, bits, keep, lo, hi, lo_key, hi_key, out) == bad
    if bad == -1:
        assert np.array_equal(out, general)
    return bad


def _count_argmax(y_true, scores, n, ignore, use_ignore, lo, hi, cm):
    """The kernel the storage picks for the scores (count_argmax_of), checked against count_argmax
    itself on a copy: the same answer and the same counts."""
    bits, lo_key, hi_key = K.argmax.row_bits(scores, lo, hi)
    general = cm.copy()
    bad = K.count_argmax(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, general)
    kernel = count_argmax_of(scores.shape[1], scores.dtype)
    assert kernel(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, cm) == bad
    assert np.array_equal(cm, general)
    return bad


# rows shorter than argmax.KEYED_FROM gives their dtype are scanned; longer float rows are searched
# by integer keys: float32 keys with their index in one int64, float64 keys' high halves with it
_KEYED = sorted(set(K.argmax.KEYED_FROM.values()))
WIDTHS = st.sampled_from([1, 2, 3, 6, 10, *(w + d for w in _KEYED for d in (-1, 0, 1)), 100, 129, 1000])
SCORE_DTYPES = st.sampled_from([np.float32, np.float64, np.int64])


@given(st.integers(0, 2**32 - 1), st.integers(0, 50), WIDTHS, SCORE_DTYPES)
def test_argmax_rows_matches_numpy(seed, n, k, dtype):
    rng = np.random.default_rng(seed)
    scores = rng.integers(-2, 3, (n, k)).astype(dtype)  # many ties
    if dtype != np.int64 and n:
        scores[rng.random((n, k)) < 0.2] = -0.0  # signed zeros tie with 0.0: the first of either wins
    out = np.empty(n, dtype=np.int64)
    assert _argmax_rows(scores, NO_KEEP, *ANY_SCORE, out) == -1
    assert np.array_equal(out, scores.argmax(axis=1))
    assert _argmax_rows(scores[:, ::-1], NO_KEEP, *ANY_SCORE, out) == -1  # not contiguous: the scan
    assert np.array_equal(out, scores[:, ::-1].argmax(axis=1))


@pytest.mark.parametrize("k", [3, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_argmax_rows_reports_non_finite_and_out_of_range_but_skips_rows_not_kept(k, dtype):
    scores = np.zeros((4, k), dtype=dtype)
    scores[2, 1] = np.nan
    scores[1, 2] = -0.0  # in [0, 1]
    out = np.empty(4, dtype=np.int64)
    assert _argmax_rows(scores, NO_KEEP, *ANY_SCORE, out) == 2
    keep = np.array([True, True, False, True])
    assert _argmax_rows(scores, keep, *ANY_SCORE, out) == -1
    scores[3, 0] = 1.5
    assert _argmax_rows(scores, keep, *ANY_SCORE, out) == -1
    assert _argmax_rows(scores, keep, *PROBABILITY, out) == 3
    for bad in (np.inf, -np.inf, -np.nan, np.finfo(dtype).max):
        scores[3, 0] = bad
        assert _argmax_rows(scores, keep, *PROBABILITY, out) == 3
        assert _argmax_rows(scores, keep, *ANY_SCORE, out) == (-1 if np.isfinite(bad) else 3)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2000), WIDTHS, SCORE_DTYPES, st.booleans())
def test_count_argmax_matches_numpy(seed, n, k, dtype, use_ignore):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, k)).astype(dtype) if dtype != np.int64 else rng.integers(0, 4, (n, k))
    yt = rng.integers(0, k, n)
    start = rng.integers(0, 5, (k, k))
    cm = start.copy()
    assert _count_argmax(yt, scores, k, 0, use_ignore, *ANY_SCORE, cm) == -1
    keep = yt != 0 if use_ignore else np.ones(n, bool)
    ref = start + np.bincount(yt[keep] * k + scores[keep].argmax(axis=1), minlength=k * k).reshape(k, k)
    assert np.array_equal(cm, ref)


@pytest.mark.parametrize("k", [4, 10, 20, 100])
@pytest.mark.parametrize("bad", ["label", "nan", "inf", "range"])
def test_count_argmax_undoes_on_bad_sample(k, bad):
    rng = np.random.default_rng(k)
    n = 3000  # several blocks before the bad sample
    scores = rng.random((n, k)).astype(np.float32)
    yt = rng.integers(0, k, n)
    if bad == "label":
        yt[2345] = k
    else:
        scores[2345, k - 1] = {"nan": np.nan, "inf": np.inf, "range": 1.5}[bad]
    cm = np.ones((k, k), dtype=np.int64)
    assert _count_argmax(yt, scores, k, 0, False, *PROBABILITY, cm) == 2345
    assert (cm == 1).all()
    yt[2345] = 0  # ignored: its scores are not read, its label is no class
    assert _count_argmax(yt, scores, k, 0, True, *PROBABILITY, cm) == -1
    assert cm.sum() == k * k + (yt != 0).sum()


@given(st.integers(0, 2**32 - 1), st.integers(0, 200), st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.booleans())
def test_count_scores_matches_numpy(seed, n, threshold, inclusive):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, 2, n)
    s = (rng.integers(0, 5, n) / 4).astype(np.float32)
    cm = np.zeros((2, 2), dtype=np.int64)
    assert K.count_scores(yt, s, threshold, inclusive, *PROBABILITY, cm) == -1
    pred = (s >= threshold) if inclusive else (s > threshold)
    assert np.array_equal(cm, np.bincount(yt * 2 + pred, minlength=4).reshape(2, 2))
    w = rng.random(n)
    cmw = np.zeros((2, 2))
    assert K.count_scores_weighted(yt, s, w, threshold, inclusive, *PROBABILITY, cmw) == -1
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
        assert K.multilabel_first_bad(yt, scores, w, True, True, *PROBABILITY) == -1
        K.count_multilabel_weighted(yt, scores, w, True, 0.5, True, cm, sums)
    else:
        assert K.multilabel_first_bad(yt, yp, w, False, False, *ANY_SCORE) == -1
        K.count_multilabel(yt, yp, False, 0.5, True, cm, sums)
    ref_cm, ref_sums = _multilabel_reference(yt, yp, w)
    np.testing.assert_allclose(cm, ref_cm, rtol=1e-12)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-12)


def test_multilabel_first_bad_reports_the_first_bad_sample():
    yt = np.zeros((5, 2), dtype=np.int64)
    yp = np.zeros((5, 2))
    yp[3, 1] = np.nan
    w = np.ones(5)
    w[4] = -1
    assert K.multilabel_first_bad(yt, yp, w, True, True, *ANY_SCORE) == 3
    yp[3, 1] = 0
    assert K.multilabel_first_bad(yt, yp, w, True, True, *ANY_SCORE) == 4
    assert K.multilabel_first_bad(yt, yp, w, False, True, *ANY_SCORE) == -1
    yp[1, 0] = 1.25  # a score, not a probability
    assert K.multilabel_first_bad(yt, yp, w, False, True, *ANY_SCORE) == -1
    assert K.multilabel_first_bad(yt, yp, w, False, True, *PROBABILITY) == 1
    assert K.multilabel_first_bad(yt, yp, w, False, False, *ANY_SCORE) == 1  # indicators must be 0/1


# --- score histograms ----------------------------------------------------------------------------


def _awkward_scores(edges, rng, n_random=200):
    """Every edge, its two float neighbours, random scores in and out of range."""
    near = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    span = edges[-1] - edges[0]
    random = rng.uniform(edges[0] - span / 4, edges[-1] + span / 4, n_random)
    return rng.permutation(np.concatenate([near, random]))


@given(st.integers(0, 2**32 - 1), st.integers(1, 3000),
       st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (-7.5, 3.1), (0.1, 0.3), (1e-9, 2e-9), (-1e6, 1e7)]),
       st.booleans())
def test_uniform_cells_are_the_number_of_edges_passed(seed, bins, score_range, inclusive):
    """The arithmetic cell (estimate, then one correction step) never disagrees with the edges."""
    from streameval._scores import make_edges

    edges, uniform = make_edges(bins, score_range)
    assert uniform and edges[0] == score_range[0] and edges[-1] == score_range[1]
    scores = _awkward_scores(edges, np.random.default_rng(seed))
    hist = np.zeros((1, 2, bins + 2), dtype=np.int64)
    K.histogram_scores(scores[:, None], np.zeros((len(scores), 1)), np.empty(0), False, edges, True, False, inclusive,
                       hist, np.zeros((1, bins + 2)))
    cells = np.searchsorted(edges, scores, side="right" if inclusive else "left")
    assert np.array_equal(hist[0, 0], np.bincount(cells, minlength=bins + 2))


@given(st.integers(0, 2**32 - 1), st.integers(1, 3000), st.sampled_from([(0.0, 1.0), (-7.5, 3.1), (1e-9, 2e-9), (-1e6, 1e7)]),
       st.booleans())
def test_uniform_cells_with_edges_rounded_to_float32(seed, bins, score_range, inclusive):
    """round32: float32 scores meet the recomputed edges rounded to float32, as numpy's
    float32_scores >= edge does; the one correction step still lands on searchsorted's cell."""
    from streameval._scores import _apart, make_edges

    edges, _ = make_edges(bins, score_range)
    if not _apart(edges, np.float32):  # edges that crowd in float32 are searched instead
        return
    scores = _awkward_scores(edges.astype(np.float32).astype(np.float64), np.random.default_rng(seed))
    scores = scores.astype(np.float32)
    hist = np.zeros((1, 2, bins + 2), dtype=np.int64)
    K.histogram_scores(scores[:, None], np.zeros((len(scores), 1)), np.empty(0), False, edges, True, True, inclusive,
                       hist, np.zeros((1, bins + 2)))
    cells = np.searchsorted(edges.astype(np.float32), scores, side="right" if inclusive else "left")
    assert np.array_equal(hist[0, 0], np.bincount(cells, minlength=bins + 2))


def test_calibration_sums_match_numpy_and_add_no_brier_term_outside_the_unit_interval():
    rng = np.random.default_rng(4)
    probs = rng.random((50, 3))
    probs[:5] *= 1e300  # no probabilities: counted as outside, and no Brier term (it would overflow)
    truth = np.eye(3, dtype=np.int8)[rng.integers(0, 3, 50)]
    w = rng.random(50)
    sums = np.zeros(3)
    K.calibration_sums(truth, probs, w, True, 1e-7, sums)
    inside = ((probs >= 0) & (probs <= 1)).all(axis=1)
    with np.errstate(over="ignore"):
        brier = np.sum(w * np.where(inside, ((probs - truth) ** 2).sum(axis=1), 0.0))
    loss = -np.sum(w * np.log(np.clip((probs * truth).sum(axis=1), 1e-7, 1 - 1e-7)))
    np.testing.assert_allclose(sums, [brier, loss, np.sum(w * ~inside)], rtol=1e-12)


def _scored_reference(y, s, w, threshold, inclusive, edges, eps):
    """count_binary_scored's outputs computed with plain numpy."""
    w = np.ones(len(y)) if w is None else w
    positive = s >= threshold if inclusive else s > threshold
    cm = np.zeros((2, 2))
    np.add.at(cm, (y, positive.astype(int)), w)
    cells = np.searchsorted(edges, s, side="right" if inclusive else "left")
    hist = np.zeros((1, 2, len(edges) + 1))
    np.add.at(hist, (0, y, cells), w)
    sums = np.zeros((1, len(edges) + 1))
    np.add.at(sums, (0, cells), w * s)
    p = np.clip(np.where(y == 1, s, 1.0 - s.astype(np.float64)), eps, 1 - eps)
    outside = (s < 0) | (s > 1)  # no probability: no Brier term, which could overflow
    calib = [2 * np.sum(w * np.where(outside, 0.0, (s - y) ** 2)), -np.sum(w * np.log(p)), np.sum(w * outside)]
    out = [np.sum(w * (s < edges[0])), np.sum(w * (s > edges[-1]))]
    return cm, hist, sums, np.array(calib), np.array(out)


@pytest.mark.parametrize("n", [0, 1, 15, 17, K.BLOCK, 3 * K.BLOCK + 5])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("bins", [64, [0.1, 0.25, 0.5, 0.9]])
@pytest.mark.parametrize("inclusive", [False, True])
def test_count_binary_scored_matches_numpy(n, weighted, bins, inclusive):
    from streameval._scores import make_edges

    rng = np.random.default_rng(n)
    edges, uniform = make_edges(bins, (0, 1))
    y = rng.integers(0, 2, n)
    s = np.concatenate([edges, rng.uniform(-0.1, 1.1, n)])[:n].astype(np.float32)
    w = rng.random(n) * 3 if weighted else None
    eps = float(np.finfo(np.float32).eps)
    dtype = np.float64 if weighted else np.int64
    got = (np.zeros((2, 2), dtype), np.zeros((1, 2, len(edges) + 1), dtype), np.zeros((1, len(edges) + 1)),
           np.zeros(3), np.zeros(2, dtype))
    w_arg = np.empty(0) if w is None else w
    assert K.count_binary_scored(y, s, w_arg, weighted, 0.5, inclusive, *ANY_SCORE, edges, uniform, False, eps, *got) == -1
    for name, a, b in zip(("cm", "hist", "score_sums", "calib", "out_of_range"), got,
                          _scored_reference(y, s, w, 0.5, inclusive, edges, eps)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


def test_count_binary_scored_reports_the_first_bad_sample_and_counts_nothing():
    edges = np.linspace(0, 1, 11)
    y, s = np.zeros(2000, np.int64), np.full(2000, 0.5)
    y[1500], s[700] = 2, np.nan
    state = (np.zeros((2, 2), np.int64), np.zeros((1, 2, 12), np.int64), np.zeros((1, 12)), np.zeros(3), np.zeros(2, np.int64))
    for weighted in (False, True):
        w = np.ones(2000) if weighted else np.empty(0)
        assert K.count_binary_scored(y, s, w, weighted, 0.5, True, *ANY_SCORE, edges, True, False, 1e-7, *state) == 700
        s[700] = 1.5  # a finite score, but no probability
        assert K.count_binary_scored(y, s, w, weighted, 0.5, True, *ANY_SCORE, edges, True, False, 1e-7, *state) == 1500
        assert K.count_binary_scored(y, s, w, weighted, 0.5, True, *PROBABILITY, edges, True, False, 1e-7, *state) == 700
        s[700] = 0.5
        assert K.count_binary_scored(y, s, w, weighted, 0.5, True, *PROBABILITY, edges, True, False, 1e-7, *state) == 1500
        s[700] = np.nan
    assert not any(a.any() for a in state)


# --- slots: each sample counted into its slot, a leading axis of the state (windows, slices) -------


def _slots(seed, n, s):
    return np.random.default_rng(seed).integers(0, s, n).astype(np.int64)


@given(st.integers(0, 2**32 - 1), st.integers(0, 200), st.integers(1, 5), st.integers(1, 4), st.booleans())
def test_count_pairs_with_slots_matches_add_at(seed, n, k, s, use_ignore):
    yt, yp, slots = _labels(seed, n, k), _labels(seed + 1, n, k), _slots(seed + 2, n, s)
    start = np.random.default_rng(seed).integers(0, 5, (s, k, k))
    ring = start.copy()
    assert K.count_pairs_in_slots(yt, yp, k, 0, use_ignore, ring, slots) == -1
    keep = yt != 0 if use_ignore else np.ones(n, bool)
    ref = start.copy()
    np.add.at(ref, (slots[keep], yt[keep], yp[keep]), 1)
    assert np.array_equal(ring, ref)
    weighted = start.astype(np.float64)
    w = np.random.default_rng(seed + 3).random(n)
    assert K.count_pairs_weighted(yt, yp, w, k, 0, use_ignore, weighted, slots) == -1
    ref = start.astype(np.float64)
    np.add.at(ref, (slots[keep], yt[keep], yp[keep]), w[keep])
    np.testing.assert_allclose(weighted, ref, rtol=1e-14)


def test_slotted_kernels_undo_or_refuse_a_bad_sample_in_any_slot():
    yt, yp, slots = _labels(0, 500, 4), _labels(1, 500, 4, bad_at=333, bad_value=9), _slots(2, 500, 3)
    ring = np.ones((3, 4, 4), dtype=np.int64)
    assert K.count_pairs_in_slots(yt, yp, 4, 0, False, ring, slots) == 333
    assert (ring == 1).all()
    scores = np.random.default_rng(3).random(500)
    scores[444] = 2.0
    binary = np.ones((3, 2, 2), dtype=np.int64)
    assert K.count_scores_in_slots(yt % 2, scores, 0.5, True, *PROBABILITY, binary, slots) == 444
    assert (binary == 1).all()
    weighted = np.ones((3, 2, 2))
    assert K.count_scores_weighted(yt % 2, scores, np.ones(500), 0.5, True, *PROBABILITY, weighted, slots) == 444
    assert (weighted == 1).all()


def test_slotted_score_kernels_equal_the_plain_kernel_on_each_slot():
    """Histograms, calibration sums, multilabel matrices and Binary's one-pass binned count: with
    slots, each slot holds what the plain kernel counts from that slot's samples."""
    rng = np.random.default_rng(7)
    n, c, s = 300, 3, 4
    scores, truth, slots = rng.random((n, c)), rng.integers(0, 2, (n, c)), _slots(8, n, s)
    w = rng.random(n)
    edges = np.linspace(0, 1, 6)
    for weight, use in ((np.empty(0), False), (w, True)):
        dtype = np.float64 if use else np.int64
        hist, sums = np.zeros((s, c, 2, 7), dtype), np.zeros((s, c, 7))
        K.histogram_scores(scores, truth, weight, use, edges, True, False, True, hist, sums, slots)
        calib = np.zeros((s, 3))
        K.calibration_sums(truth, scores, weight, use, 1e-15, calib, slots)
        mcm, sample_sums = np.zeros((s, c, 2, 2), dtype), np.zeros((s, K.N_SAMPLE_SUMS))
        if use:
            K.count_multilabel_weighted(truth, scores, w, True, 0.5, True, mcm, sample_sums, slots)
        else:
            K.count_multilabel(truth, scores, True, 0.5, True, mcm, sample_sums, slots)
        for j in range(s):
            mine = slots == j
            part = weight[mine] if use else weight
            ref_hist, ref_sums = np.zeros((c, 2, 7), dtype), np.zeros((c, 7))
            K.histogram_scores(scores[mine], truth[mine], part, use, edges, True, False, True, ref_hist, ref_sums)
            ref_calib = np.zeros(3)
            K.calibration_sums(truth[mine], scores[mine], part, use, 1e-15, ref_calib)
            ref_mcm, ref_sample_sums = np.zeros((c, 2, 2), dtype), np.zeros(K.N_SAMPLE_SUMS)
            if use:
                K.count_multilabel_weighted(truth[mine], scores[mine], part, True, 0.5, True, ref_mcm, ref_sample_sums)
            else:
                K.count_multilabel(truth[mine], scores[mine], True, 0.5, True, ref_mcm, ref_sample_sums)
            assert np.array_equal(hist[j], ref_hist) and np.array_equal(mcm[j], ref_mcm)
            np.testing.assert_allclose(sums[j], ref_sums, rtol=1e-12)
            np.testing.assert_allclose(calib[j], ref_calib, rtol=1e-12)
            np.testing.assert_allclose(sample_sums[j], ref_sample_sums, rtol=1e-12)
    y, score = truth[:, 0], scores[:, 0] * 1.4 - 0.2  # some scores outside the edges and [0, 1]
    for weight, use in ((np.empty(0), False), (w, True)):
        dtype = np.float64 if use else np.int64
        states = (np.zeros((s, 2, 2), dtype), np.zeros((s, 1, 2, 7), dtype), np.zeros((s, 1, 7)), np.zeros((s, 3)),
                  np.zeros((s, 2), dtype))
        args = (use, 0.5, True, *ANY_SCORE, edges, True, False, 1e-15)
        assert K.count_binary_scored(y, score, weight, *args, *states, slots) == -1
        for j in range(s):
            mine = slots == j
            ref = (np.zeros((2, 2), dtype), np.zeros((1, 2, 7), dtype), np.zeros((1, 7)), np.zeros(3), np.zeros(2, dtype))
            assert K.count_binary_scored(y[mine], score[mine], weight[mine] if use else weight, *args, *ref) == -1
            for ours, theirs in zip(states, ref):
                np.testing.assert_allclose(ours[j], theirs, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [16, 17, 64, 197, 1000])
def test_keyed_argmax_first_maximum(k, dtype):
    """The maximum repeated (first, last, middle positions), -0.0 before 0.0, negative rows, the
    largest finite values: the first index of the maximum, as numpy's argmax."""
    rows = []
    ties = ((5, (k - 1, k // 2)), (k - 1, ()), (0, (1, k - 1)), (k - 2, (k - 1,)), (k // 2, (k // 2 + 1,)))
    for first, others in ties:
        row = np.linspace(-2.0, -1.0, k)
        row[[first, *others]] = 0.5
        rows.append(row)
    zeros = np.full(k, -1.0)
    zeros[[3, k - 1]] = 0.0
    zeros[2] = -0.0
    big = np.full(k, -np.finfo(dtype).max, dtype=float)
    big[[k // 3, k - 1]] = np.finfo(dtype).max
    rows += [zeros, -np.arange(k, dtype=float), np.arange(k, dtype=float) % 7, big, np.full(k, -0.0)]
    scores = np.array(rows, dtype=dtype)
    assert K.argmax.row_bits(scores, *ANY_SCORE)[0].shape[0] == (len(rows) if k >= K.argmax.KEYED_FROM[scores.dtype]
                                                                 else 0)
    out = np.empty(len(rows), dtype=np.int64)
    assert _argmax_rows(scores, NO_KEEP, *ANY_SCORE, out) == -1
    assert out.tolist() == scores.argmax(axis=1).tolist()


@pytest.mark.parametrize("k", [48, 100, 1000])
def test_keyed_float64_near_ties_take_the_second_pass(k):
    """A float64 key's high half shares an int64 with the index: values within ~2**-20 of each
    other tie there, and a larger one after a smaller one is found by the second pass."""
    rows = []
    for first, second in ((3, k - 1), (0, 1), (k - 2, k - 1), (5, 6)):
        row = np.linspace(-1.0, 0.5, k)
        row[first] = 0.75
        row[second] = np.nextafter(0.75, 1.0)  # the maximum, after a near tie
        rows.append(row)
        row = row.copy()
        row[second] = 0.75  # an exact tie: the first
        rows.append(row)
        row = -row  # negative keys: the lower bits flipped
        rows.append(row)
    scores = np.array(rows)
    assert K.argmax.row_bits(scores, *ANY_SCORE)[0].shape[0] == len(rows)
    out = np.empty(len(rows), dtype=np.int64)
    assert _argmax_rows(scores, NO_KEEP, *ANY_SCORE, out) == -1
    assert out.tolist() == scores.argmax(axis=1).tolist()
    yt = np.arange(len(rows)) % k
    cm = np.zeros((k, k), np.int64)
    assert _count_argmax(yt, scores, k, -1, False, *ANY_SCORE, cm) == -1
    assert np.array_equal(cm, np.bincount(yt * k + scores.argmax(axis=1), minlength=k * k).reshape(k, k))


def _edge_scores(edges, dtype, seed):
    """Scores exactly at every edge (in dtype), one ulp either side, 0, 1, and random ones, shuffled."""
    at = edges.astype(dtype)
    s = np.concatenate([at, np.nextafter(at, dtype(-np.inf)), np.nextafter(at, dtype(np.inf)),
                        np.array([0.0, 1.0, -0.0], dtype), np.random.default_rng(seed).random(5000).astype(dtype)])
    s = s[(s >= 0) & (s <= 1)]
    return np.random.default_rng(seed + 1).permutation(s)


@pytest.mark.parametrize("bins", [1024, 64, 10, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inclusive", [False, True])
def test_count_binary_scored_histogram_is_exact_at_edges(bins, dtype, inclusive):
    """The unweighted block kernel's cells equal np.searchsorted's on the edges in the scores' dtype."""
    from streameval import Binary

    edges, uniform, round32 = Binary(bins=bins)._bins.binning(np.dtype(dtype).name)
    s = _edge_scores(edges, dtype, bins)
    y = np.random.default_rng(bins).integers(0, 2, s.shape[0])
    eps = float(np.finfo(dtype).eps)
    got = (np.zeros((2, 2), np.int64), np.zeros((1, 2, len(edges) + 1), np.int64), np.zeros((1, len(edges) + 1)),
           np.zeros(3), np.zeros(2, np.int64))
    assert K.count_binary_scored(y, s, np.empty(0), False, 0.5, inclusive, *PROBABILITY, edges, uniform, round32, eps,
                                 *got) == -1
    cells = np.searchsorted(edges.astype(dtype), s, side="right" if inclusive else "left")
    hist = np.zeros((1, 2, len(edges) + 1), np.int64)
    np.add.at(hist, (0, y, cells), 1)
    np.testing.assert_array_equal(got[1], hist)
    positive = s >= 0.5 if inclusive else s > 0.5
    np.testing.assert_array_equal(got[0], [[np.sum((y == t) & (positive == p)) for p in (0, 1)] for t in (0, 1)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [20, 100])
def test_keyed_count_names_the_first_bad_sample_and_skips_ignored_rows(k, dtype):
    """Rows searched by keys are counted a block at a time (labels checked first, then the rows'
    argmaxes, then the counts): the first bad sample is still the first in order, whichever kind
    it is, and an ignored row's scores are not read."""
    rng = np.random.default_rng(k)
    n = 3 * K.argmax.KEYED_BLOCK + 17
    scores = rng.random((n, k)).astype(dtype)
    yt = rng.integers(0, k, n)
    ignored = rng.random(n) < 0.1
    yt[ignored] = -100
    scores[ignored, 0] = np.nan  # never read
    start = rng.integers(0, 3, (k, k))
    cm = start.copy()
    assert _count_argmax(yt, scores, k, -100, True, *PROBABILITY, cm) == -1
    kept = ~ignored
    ref = start + np.bincount(yt[kept] * k + scores[kept].argmax(axis=1), minlength=k * k).reshape(k, k)
    assert np.array_equal(cm, ref)
    first, second = 2 * K.argmax.KEYED_BLOCK + 5, 2 * K.argmax.KEYED_BLOCK + 9  # one block, past two counted
    for bad_score, bad_label in ((first, second), (second, first), (first, None), (None, first)):
        s, y = scores.copy(), yt.copy()
        for row in (first, second):
            s[row, 1], y[row] = 0.5, 1  # kept and valid, unless made bad below
        if bad_score is not None:
            s[bad_score, k - 1] = 1.5
        if bad_label is not None:
            y[bad_label] = k
        cm = ref.copy()
        assert _count_argmax(y, s, k, -100, True, *PROBABILITY, cm) == first
        assert np.array_equal(cm, ref)
