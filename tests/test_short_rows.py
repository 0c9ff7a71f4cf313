"""The short-row kernels (count_argmax_of and argmax_rows_of: kernels per row length below 16)
against numpy's argmax and bincount, and against the general kernels for bad samples."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streameval._inputs import ANY_SCORE, PROBABILITY
from streameval._kernels.argmax import NO_BITS, argmax_rows, count_argmax
from streameval._kernels.rows import argmax_rows_of, count_argmax_of
from streameval._kernels.short_rows import BLOCK_ROWS, SHORT_BELOW, is_short

FLOATS = [np.float32, np.float64]
N_BLOCKS = 3 * BLOCK_ROWS + 17  # blocks before the last, and a partial one


def _count(kernel, y, s, k, lo, hi, cm, ignore=-100, use_ignore=False):
    return kernel(y, s, NO_BITS, k, ignore, use_ignore, lo, hi, 0, 0, cm)


def _argmax(kernel, s, lo, hi, out, keep=np.empty(0, bool)):
    return kernel(s, NO_BITS, keep, lo, hi, 0, 0, out)


def _reference(start, y, s, k):
    return start + np.bincount(y * k + s.argmax(axis=1), minlength=k * k).reshape(k, k)


def test_every_short_float_row_length_is_picked():
    """Rows of 2 to 15 float32 or float64 scores get the short-row kernels (11 and 13 too); other
    lengths and dtypes do not."""
    for dtype in FLOATS:
        for k in range(2, SHORT_BELOW):
            assert is_short(k, np.dtype(dtype))
            assert count_argmax_of(k, np.dtype(dtype)) is not count_argmax
            assert argmax_rows_of(k, np.dtype(dtype)) is not argmax_rows
    for k, dtype in ((16, np.float32), (1, np.float32), (10, np.int64), (10, np.float16)):
        assert not is_short(k, np.dtype(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("k", range(2, SHORT_BELOW))
def test_every_length_equals_numpy_with_ties_and_signed_zeros(k, dtype):
    rng = np.random.default_rng(k)
    s = rng.integers(-2, 3, (N_BLOCKS, k)).astype(dtype)  # many ties: the first maximum wins
    s[rng.random(s.shape) < 0.2] = -0.0  # -0.0 ties with 0.0
    s[0] = 1.0  # all equal
    s[1, -1] = 3.0  # the maximum last
    y = rng.integers(0, k, N_BLOCKS)
    start = rng.integers(0, 3, (k, k))
    cm = start.copy()
    assert _count(count_argmax_of(k, s.dtype), y, s, k, *ANY_SCORE, cm) == -1
    np.testing.assert_array_equal(cm, _reference(start, y, s, k))
    out = np.full(N_BLOCKS, -1, np.int64)
    assert _argmax(argmax_rows_of(k, s.dtype), s, *ANY_SCORE, out) == -1
    np.testing.assert_array_equal(out, s.argmax(axis=1))


@given(st.integers(0, 2**32 - 1), st.integers(0, 2500), st.sampled_from([3, 10, 15]), st.sampled_from(FLOATS),
       st.sampled_from([np.int64, np.int32, np.uint8, np.float64]))
def test_random_batches_equal_numpy(seed, n, k, dtype, label_dtype):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, k)).astype(dtype)
    y = rng.integers(0, k, n).astype(label_dtype)
    cm = np.zeros((k, k), np.int64)
    assert _count(count_argmax_of(k, s.dtype), y, s, k, *ANY_SCORE, cm) == -1
    np.testing.assert_array_equal(cm, _reference(0, y.astype(np.int64), s, k))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("k", [3, 10, 12, 15])
def test_bounds_are_those_of_float64_comparisons(k, dtype):
    """float32 scores are checked against the bounds rounded inwards to float32: a score one ulp
    outside a bound that float32 cannot hold is refused, one on the inside is not."""
    lo, hi = 0.1, 0.7  # neither is a float32
    kernel = count_argmax_of(k, np.dtype(dtype))
    for bound, towards in ((lo, -np.inf), (hi, np.inf)):
        near = dtype(bound)
        for s_value in (near, np.nextafter(near, dtype(towards)), np.nextafter(near, dtype(-towards))):
            s = np.full((N_BLOCKS, k), 0.5, dtype=dtype)
            s[BLOCK_ROWS + 3, k // 2] = s_value
            y = np.zeros(N_BLOCKS, np.int64)
            cm = np.ones((k, k), np.int64)
            inside = lo <= float(s_value) <= hi
            assert _count(kernel, y, s, k, lo, hi, cm) == (-1 if inside else BLOCK_ROWS + 3)
            assert cm.sum() == k * k + (N_BLOCKS if inside else 0)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("k", [2, 5, 10, 14])
def test_the_first_bad_sample_is_named_and_nothing_is_counted(k, dtype):
    rng = np.random.default_rng(k)
    s = rng.random((N_BLOCKS, k)).astype(dtype)
    y = rng.integers(0, k, N_BLOCKS)
    first, second = 2 * BLOCK_ROWS + 5, 2 * BLOCK_ROWS + 9  # one block, past two counted
    kernel = count_argmax_of(k, s.dtype)
    for bad_score, bad_label in ((first, second), (second, first), (first, None), (None, first)):
        for bad_value in (np.nan, np.inf, -np.inf, 1.5, -0.5):
            bs, by = s.copy(), y.copy()
            if bad_score is not None:
                bs[bad_score, k - 1] = bad_value
            if bad_label is not None:
                by[bad_label] = k if bad_value != -0.5 else -1
            cm = np.ones((k, k), np.int64)
            assert _count(kernel, by, bs, k, *PROBABILITY, cm) == first
            assert (cm == 1).all()
            general = np.ones((k, k), np.int64)
            assert _count(count_argmax, by, bs, k, *PROBABILITY, general) == first


@pytest.mark.parametrize("k", [4, 10])
def test_float_labels_must_be_classes(k):
    s = np.random.default_rng(k).random((N_BLOCKS, k)).astype(np.float32)
    y = np.random.default_rng(k + 1).integers(0, k, N_BLOCKS).astype(np.float64)
    for bad in (0.5, np.nan, -1.0, float(k)):
        by = y.copy()
        by[BLOCK_ROWS + 1] = bad
        cm = np.zeros((k, k), np.int64)
        assert _count(count_argmax_of(k, s.dtype), by, s, k, *PROBABILITY, cm) == BLOCK_ROWS + 1
        assert not cm.any()


def test_strided_scores_and_ignored_rows_take_the_general_kernel():
    k = 10
    rng = np.random.default_rng(0)
    wide = rng.random((N_BLOCKS, 2 * k)).astype(np.float32)
    y = rng.integers(0, k, N_BLOCKS)
    kernel = count_argmax_of(k, wide.dtype)
    for s in (wide[:, ::2], wide[:, k:]):  # not C-contiguous
        cm = np.zeros((k, k), np.int64)
        assert _count(kernel, y, s, k, *PROBABILITY, cm) == -1
        np.testing.assert_array_equal(cm, _reference(0, y, s, k))
    s = wide[:, :k].copy()
    y[::3] = -100
    s[::3] = np.nan  # ignored rows are not read
    cm = np.zeros((k, k), np.int64)
    assert _count(kernel, y, s, k, *PROBABILITY, cm, use_ignore=True) == -1
    kept = y != -100
    np.testing.assert_array_equal(cm, _reference(0, y[kept], s[kept], k))


@pytest.mark.parametrize("dtype", FLOATS)
def test_any_score_refuses_what_is_not_finite_and_keeps_the_largest_finite(dtype):
    """ANY_SCORE's bounds are float64's largest finite values: rounded inwards to float32 they are
    float32's, so its largest finite scores pass and the infinities do not. (The search checks
    such rows by their sums: rows whose sum overflows are a false alarm, and are counted.)"""
    k = 10
    kernel = count_argmax_of(k, np.dtype(dtype))
    big = np.finfo(dtype).max
    s = np.zeros((N_BLOCKS, k), dtype=dtype)
    s[5, 3], s[6, 4], s[BLOCK_ROWS + 1, 0] = big, -big, big
    s[7, :3] = big  # a sum of inf
    s[8, 2:4] = big, -big  # and of 0
    y = np.zeros(N_BLOCKS, np.int64)
    cm = np.zeros((k, k), np.int64)
    assert _count(kernel, y, s, k, *ANY_SCORE, cm) == -1
    np.testing.assert_array_equal(cm, _reference(0, y, s, k))
    for bad in (np.inf, -np.inf, np.nan):
        bs = s.copy()
        bs[2 * BLOCK_ROWS + 3, 7] = bad
        before = cm.copy()
        assert _count(kernel, y, bs, k, *ANY_SCORE, cm) == 2 * BLOCK_ROWS + 3
        np.testing.assert_array_equal(cm, before)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("k", [3, 10, 14])
def test_argmax_names_the_first_bad_row_and_reads_no_row_not_kept(k, dtype):
    rng = np.random.default_rng(k)
    s = rng.random((N_BLOCKS, k)).astype(dtype)
    kernel = argmax_rows_of(k, s.dtype)
    for bad_value in (np.nan, np.inf, 1.5, -0.5):
        for first in (0, BLOCK_ROWS - 1, 2 * BLOCK_ROWS + 5):
            bs = s.copy()
            bs[first, k - 1] = bad_value
            bs[first + 3, 0] = bad_value
            out = np.empty(N_BLOCKS, np.int64)
            assert _argmax(kernel, bs, *PROBABILITY, out) == first
            assert argmax_rows(bs, NO_BITS, np.empty(0, bool), *PROBABILITY, 0, 0, out) == first
    keep = rng.random(N_BLOCKS) < 0.7
    bs = s.copy()
    bs[~keep, 0] = np.nan  # not read
    out = np.empty(N_BLOCKS, np.int64)
    assert _argmax(kernel, bs, *PROBABILITY, out, keep) == -1
    np.testing.assert_array_equal(out[keep], s[keep].argmax(axis=1))
    wide = np.repeat(s, 2, axis=1)[:, ::2]  # not C-contiguous
    assert _argmax(kernel, wide, *PROBABILITY, out) == -1
    np.testing.assert_array_equal(out, s.argmax(axis=1))


def test_a_training_steps_batch_is_scanned():
    """count_argmax_for / argmax_rows_for: SCAN_ROWS rows or fewer of short rows go to the scan,
    more to the short-row kernel; long rows whatever the batch."""
    from streameval._kernels.long_rows import count_long_rows
    from streameval._kernels.rows import SCAN_ROWS, argmax_rows_for, count_argmax_for

    f32 = np.dtype(np.float32)
    assert count_argmax_for(SCAN_ROWS, 10, f32) is count_argmax and argmax_rows_for(256, 10, f32) is argmax_rows
    assert count_argmax_for(SCAN_ROWS + 1, 10, f32) is count_argmax_of(10, f32) is not count_argmax
    assert argmax_rows_for(SCAN_ROWS + 1, 10, f32) is argmax_rows_of(10, f32) is not argmax_rows
    assert count_argmax_for(4, 1000, f32) is count_long_rows


@pytest.mark.parametrize("bounds", [PROBABILITY, ANY_SCORE], ids=["probability", "any_score"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("k", [2, 6, 10, 12, 15])
def test_every_row_and_column_of_a_block_is_checked(k, dtype, bounds):
    """A bad score is found wherever it lies: in each lane of a group the search checks, in each
    column, and in the rows after the last whole group (scanned); with bounds, and with
    ANY_SCORE's (the finite scores), which the search checks by the rows' sums."""
    rng = np.random.default_rng(k)
    n = 2 * BLOCK_ROWS + 19  # a last block of 19 rows: one group of 16 float32 rows (two of 8 float64) and the rest
    s = rng.random((n, k)).astype(dtype)
    y = rng.integers(0, k, n)
    kernel = count_argmax_of(k, s.dtype)
    rows = list(range(BLOCK_ROWS - 1, BLOCK_ROWS + 17)) + list(range(2 * BLOCK_ROWS, n))
    bad = (np.nan, np.inf, -np.inf, 1.5, -0.5) if bounds == PROBABILITY else (np.nan, np.inf, -np.inf)
    for row in rows:
        bs = s.copy()
        bs[row, row % k] = bad[row % len(bad)]
        cm = np.ones((k, k), np.int64)
        assert _count(kernel, y, bs, k, *bounds, cm) == row
        assert (cm == 1).all()
        out = np.empty(n, np.int64)
        assert _argmax(argmax_rows_of(k, s.dtype), bs, *bounds, out) == row


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("k", [3, 10])
def test_infinite_bounds_admit_both_infinities_in_one_row(k, dtype):
    """With bounds of -inf and inf, a row holding both infinities is in range: the search's quick
    check (see short_rows' CHECK) flags it, and the exact check lets it through."""
    rng = np.random.default_rng(k)
    s = rng.standard_normal((N_BLOCKS, k)).astype(dtype)
    s[7, 0], s[7, 1] = np.inf, -np.inf
    s[BLOCK_ROWS + 20, k - 1], s[BLOCK_ROWS + 20, 0] = -np.inf, np.inf
    big = np.finfo(dtype).max
    s[9, :2] = big  # a sum beyond the largest float: inf, no false alarm needed
    y = rng.integers(0, k, N_BLOCKS)
    cm = np.zeros((k, k), np.int64)
    assert _count(count_argmax_of(k, s.dtype), y, s, k, -np.inf, np.inf, cm) == -1
    np.testing.assert_array_equal(cm, _reference(0, y, s, k))
    out = np.empty(N_BLOCKS, np.int64)
    assert _argmax(argmax_rows_of(k, s.dtype), s, -np.inf, np.inf, out) == -1
    np.testing.assert_array_equal(out, s.argmax(axis=1))
    s[BLOCK_ROWS + 21, 1] = np.nan
    assert _count(count_argmax_of(k, s.dtype), y, s, k, -np.inf, np.inf, cm) == BLOCK_ROWS + 21


@pytest.mark.parametrize("dtype", FLOATS)
def test_a_confusion_matrix_that_is_a_strided_view_is_counted_into(dtype):
    """The short-row kernel adds to the matrix's cells through a flat view of k cells a row: a
    matrix that is not C-contiguous, or not k by k, takes the general kernel, and its counts land
    in the caller's array."""
    k = 10
    rng = np.random.default_rng(3)
    s = rng.random((N_BLOCKS, k)).astype(dtype)
    y = rng.integers(0, k, N_BLOCKS)
    wide = np.zeros((k, 2 * k), np.int64)
    cm = wide[:, ::2]
    assert _count(count_argmax_of(k, s.dtype), y, s, k, *PROBABILITY, cm) == -1
    np.testing.assert_array_equal(wide[:, ::2], _reference(0, y, s, k))
    assert not wide[:, 1::2].any()
    larger = np.zeros((k + 2, k + 2), np.int64)  # more classes than scores: the general kernel too
    assert _count(count_argmax_of(k, s.dtype), y, s, k + 2, *PROBABILITY, larger) == -1
    np.testing.assert_array_equal(larger[:k, :k], _reference(0, y, s, k))
    assert not larger[k:].any() and not larger[:, k:].any()
