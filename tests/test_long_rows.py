"""The long-row kernels (long_rows: float32 rows of LONG_FROM scores or more, searched as LLVM
vector code) against numpy's argmax and bincount, and against the general kernels for bad samples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix

import streameval
from streameval._inputs import ANY_SCORE, PROBABILITY
from streameval._kernels.argmax import argmax_rows, count_argmax, row_bits
from streameval._kernels.long_rows import (BLOCK_ROWS, GROUP, LONG_FROM, ROWS, argmax_long_rows, count_long_rows,
                                           is_long)
from streameval._kernels.rows import argmax_rows_of, count_argmax_of

# lengths: LONG_FROM itself, a whole number of vectors, one more, one less, an ImageNet row
LENGTHS = [LONG_FROM, LONG_FROM + 1, 271, 1000, 1024 - 1]
ROW_COUNTS = [0, 1, ROWS - 1, ROWS, ROWS + 1, 2 * BLOCK_ROWS + 3]  # rows in groups of ROWS, alone, over blocks


def _count(y, s, k, lo, hi, cm, ignore=-100, use_ignore=False):
    bits, lo_key, hi_key = row_bits(s, lo, hi)
    return count_argmax_of(k, s.dtype)(y, s, bits, k, ignore, use_ignore, lo, hi, lo_key, hi_key, cm)


def _argmax(s, lo, hi, out, keep=np.empty(0, bool)):
    bits, lo_key, hi_key = row_bits(s, lo, hi)
    return argmax_rows_of(s.shape[1], s.dtype)(s, bits, keep, lo, hi, lo_key, hi_key, out)


def _reference(start, y, s, k):
    return start + np.bincount(y * k + s.argmax(axis=1), minlength=k * k).reshape(k, k)


def test_long_float32_rows_are_picked():
    for k in (LONG_FROM, 1000, 4096):
        assert count_argmax_of(k, np.dtype(np.float32)) is count_long_rows
        assert argmax_rows_of(k, np.dtype(np.float32)) is argmax_long_rows
    for k, dtype in ((LONG_FROM - 1, np.float32), (1000, np.float64), (1000, np.float16), (1000, np.int64)):
        assert not is_long(k, np.dtype(dtype))
        assert count_argmax_of(k, np.dtype(dtype)) is count_argmax
        assert argmax_rows_of(k, np.dtype(dtype)) is argmax_rows


@pytest.mark.parametrize("n", ROW_COUNTS)
@pytest.mark.parametrize("k", LENGTHS)
def test_equals_numpy_with_ties_and_signed_zeros(k, n):
    """Many ties (the first maximum wins), -0.0 tied with 0.0, the maximum first, last, and in the
    scores read twice (the last vector overlaps the one before unless K is a whole number of vectors)."""
    rng = np.random.default_rng(k * 1000 + n)
    s = rng.integers(-3, 3, (n, k)).astype(np.float32)
    s[rng.random(s.shape) < 0.3] = -0.0
    positions = [0, k - 1, k - 17, k - 16, k - 15, 15, 16]  # first, last, around the last two vectors
    for i, j in zip(range(n), positions):
        s[i, j] = 5.0
    if n > len(positions):
        s[len(positions)] = -0.0  # all zeros: the first, of either sign
        s[len(positions), 3] = 0.0
    y = rng.integers(0, k, n)
    start = rng.integers(0, 3, (k, k))
    cm = start.copy()
    assert _count(y, s, k, *ANY_SCORE, cm) == -1
    np.testing.assert_array_equal(cm, _reference(start, y, s, k))
    out = np.full(n, -1, np.int64)
    assert _argmax(s, *ANY_SCORE, out) == -1
    np.testing.assert_array_equal(out, s.argmax(axis=1))


@pytest.mark.parametrize("k", LENGTHS)
def test_the_first_of_a_few_maxima_anywhere(k):
    """Two or three equal maxima per row at random places: in one group of GROUP vectors (any vector, any lane), in
    different groups, in the last group that overlaps the one before; the first wins."""
    rng = np.random.default_rng(k)
    n = 3000
    s = rng.random((n, k), dtype=np.float32)
    for i in range(n):
        s[i, rng.choice(k, 2 + i % 2, replace=False)] = 2.0
    near = rng.integers(0, k - 2 * GROUP * 16, n // 4)  # two maxima within a group's span of each other
    s[np.arange(n // 4), near] = 3.0
    s[np.arange(n // 4), near + rng.integers(1, 2 * GROUP * 16, n // 4)] = 3.0
    out = np.full(n, -1, np.int64)
    assert _argmax(s, *ANY_SCORE, out) == -1
    np.testing.assert_array_equal(out, s.argmax(axis=1))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 600), st.integers(LONG_FROM, 700),
       st.sampled_from([np.int64, np.int32, np.uint16, np.float64]), st.booleans())
def test_random_batches_equal_numpy(seed, n, k, label_dtype, infinite):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, k)).astype(np.float32)
    if infinite and n:  # inside (-inf, inf]: the infinities are scores like any other
        s[rng.integers(0, n, 3), rng.integers(0, k, 3)] = rng.choice([np.inf, -np.inf], 3)
    y = rng.integers(0, k, n).astype(label_dtype)
    cm = np.zeros((k, k), np.int64)
    assert _count(y, s, k, -np.inf, np.inf, cm) == -1
    np.testing.assert_array_equal(cm, _reference(0, y.astype(np.int64), s, k))


@pytest.mark.parametrize("row", [BLOCK_ROWS + ROWS + 2, 2 * BLOCK_ROWS + 7])  # in a group of ROWS; alone, last
@pytest.mark.parametrize("column", [0, 5, 16, 500, 999])  # in the first vector, an inner one, the last
@pytest.mark.parametrize("bounds, bad", [(PROBABILITY, v) for v in (np.nan, np.inf, -np.inf, 1.5, -1e-30)]
                         + [(ANY_SCORE, v) for v in (np.nan, np.inf, -np.inf)])
def test_a_bad_score_is_the_first_bad_sample_and_nothing_is_counted(bounds, bad, column, row):
    """With PROBABILITY's bounds and ANY_SCORE's; rows before it in earlier blocks and in its own
    group of ROWS, or the block's last row, searched alone."""
    k, n = 1000, 2 * BLOCK_ROWS + 9
    rng = np.random.default_rng(column)
    s = rng.random((n, k), dtype=np.float32)
    y = rng.integers(0, k, n)
    s[row, column] = bad
    cm = np.ones((k, k), np.int64)
    assert _count(y, s, k, *bounds, cm) == row
    np.testing.assert_array_equal(cm, np.ones((k, k), np.int64))
    out = np.full(n, -1, np.int64)
    assert _argmax(s, *bounds, out) == row
    np.testing.assert_array_equal(out[:row], s[:row].argmax(axis=1))  # as argmax_rows: the rows before are found


def test_rows_whose_sums_overflow_are_counted():
    """Finite scores whose sum is infinite (or NaN: inf - inf) are in ANY_SCORE's bounds (a check
    by sums, as short rows have, must not refuse them), in a group of ROWS and alone."""
    k, n = 300, BLOCK_ROWS + 6
    rng = np.random.default_rng(8)
    s = rng.standard_normal((n, k)).astype(np.float32)
    big = np.finfo(np.float32).max
    s[1, :4] = big  # a sum of inf
    s[2, 10:12] = big, big
    s[2, 20:23] = -big  # inf + -inf
    s[n - 1, 100:110] = -big  # the last row, searched alone
    y = rng.integers(0, k, n)
    cm = np.zeros((k, k), np.int64)
    assert _count(y, s, k, *ANY_SCORE, cm) == -1
    np.testing.assert_array_equal(cm, _reference(0, y, s, k))
    out = np.full(n, -1, np.int64)
    assert _argmax(s, *ANY_SCORE, out) == -1
    np.testing.assert_array_equal(out, s.argmax(axis=1))


@pytest.mark.parametrize("label_first", [True, False])
def test_a_bad_label_and_a_bad_score_the_first_is_reported(label_first):
    k, n = 300, BLOCK_ROWS + 40
    rng = np.random.default_rng(7)
    s = rng.random((n, k), dtype=np.float32)
    y = rng.integers(0, k, n)
    label_at, score_at = (BLOCK_ROWS + 5, BLOCK_ROWS + 6) if label_first else (BLOCK_ROWS + 6, BLOCK_ROWS + 5)
    y[label_at] = k
    s[score_at, 3] = np.nan
    cm = np.zeros((k, k), np.int64)
    assert _count(y, s, k, *ANY_SCORE, cm) == min(label_at, score_at)
    assert not cm.any()


def test_bounds_are_those_of_float64_comparisons():
    """float32 scores against bounds float32 cannot hold: the bounds are rounded inwards."""
    k = LONG_FROM
    hi = 1.0 + 1e-9  # between 1.0 and the next float32
    s = np.full((1, k), 0.5, np.float32)
    y = np.zeros(1, np.int64)
    s[0, 7] = 1.0
    assert _count(y, s, k, 0.0, hi, np.zeros((k, k), np.int64)) == -1
    s[0, 7] = np.nextafter(np.float32(1.0), np.float32(2))
    assert _count(y, s, k, 0.0, hi, np.zeros((k, k), np.int64)) == 0


def test_fallbacks_ignore_index_kept_rows_and_strided_scores():
    k, n = 300, 50
    rng = np.random.default_rng(3)
    wide = rng.random((n, 2 * k), dtype=np.float32)
    s = wide[:, ::2]  # not contiguous
    y = rng.integers(0, k, n)
    cm = np.zeros((k, k), np.int64)
    assert _count(y, s, k, *PROBABILITY, cm) == -1
    np.testing.assert_array_equal(cm, _reference(0, y, s, k))
    contiguous = np.ascontiguousarray(s)
    y_ignored = y.copy()
    y_ignored[::3] = -100
    contiguous[::3] = np.nan  # rows ignored are not read
    cm = np.zeros((k, k), np.int64)
    assert _count(y_ignored, contiguous, k, *PROBABILITY, cm, use_ignore=True) == -1
    kept = y_ignored != -100
    np.testing.assert_array_equal(cm, _reference(0, y[kept], contiguous[kept], k))
    out = np.full(n, -1, np.int64)
    assert _argmax(contiguous, *PROBABILITY, out, keep=kept) == -1
    np.testing.assert_array_equal(out[kept], contiguous[kept].argmax(axis=1))


def test_an_imagenet_batch_through_multiclass_equals_sklearn():
    """(N, 1000) softmax scores and the same logits with from_logits=True, over threads' chunks too."""
    from streameval._threads import PARALLEL_MIN

    k = 1000
    n = PARALLEL_MIN // k * 2 + 5
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((n, k)).astype(np.float32)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    y = rng.integers(0, k, n)
    for scores, options in ((probs, {}), (logits, {"from_logits": True})):
        acc = streameval.Multiclass(k, **options)
        acc.update(y[:7], scores[:7])
        acc.update(y[7:], scores[7:])
        expected = confusion_matrix(y, scores.argmax(axis=1), labels=np.arange(k))
        np.testing.assert_array_equal(acc.confusion_matrix(), expected)
