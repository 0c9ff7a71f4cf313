"""Merge properties: any split of a stream over workers, merged in any order, gives the counts of
one pass; merging is associative and commutative, the empty accumulator (and 0) is the identity,
and the argument of a merge is never modified."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streameval


def _batches(kind, seed, n, weighted):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0, 2, n) if weighted else None
    if kind == "binary":
        return streameval.Binary(0.4, weighted=weighted), (rng.integers(0, 2, n), rng.random(n), w)
    if kind == "multiclass":
        return streameval.Multiclass(4, weighted=weighted), (rng.integers(0, 4, n), rng.random((n, 4)), w)
    ml = streameval.Multilabel(3, weighted=weighted)
    return ml, (rng.integers(0, 2, (n, 3)), rng.integers(0, 2, (n, 3)), w)


def _feed(acc, data, lo, hi):
    y_true, y_pred, w = data
    acc.update(y_true[lo:hi], y_pred[lo:hi], None if w is None else w[lo:hi])


KINDS = ["binary", "multiclass", "multilabel"]


@given(
    st.sampled_from(KINDS),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(0, 40), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_any_split_any_order_equals_one_pass(kind, seed, sizes, random):
    """Unweighted, so the counts must be identical, including Multilabel's per-sample sums as long
    as each sum is exact; the float sums are compared to 1e-12."""
    n = sum(sizes)
    one_pass, data = _batches(kind, seed, n, weighted=False)
    _feed(one_pass, data, 0, n)
    workers, lo = [], 0
    for size in sizes:
        worker = one_pass.copy()
        worker.reset()
        _feed(worker, data, lo, lo + size)
        workers.append(worker)
        lo += size
    random.shuffle(workers)
    merged = sum(workers)
    for ours, ref in zip(merged._arrays(), one_pass._arrays()):
        if ref.dtype == np.int64:
            assert np.array_equal(ours, ref)
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_algebra(kind, weighted):
    accs = []
    for seed in range(3):
        acc, data = _batches(kind, seed, 50, weighted)
        _feed(acc, data, 0, 50)
        accs.append(acc)
    a, b, c = accs
    before = [x.copy() for x in accs]
    # commutative, and associative up to float rounding of weights (exact for integer counts)
    assert a + b == b + a
    left, right = (a + b) + c, a + (b + c)
    for x, y in zip(left._arrays(), right._arrays()):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    # the empty accumulator and 0 are identities
    empty = a.copy()
    empty.reset()
    assert empty.is_empty and a + empty == a and empty + a == a
    assert 0 + a == a and a + 0 == a and sum([a]) == a
    # merging never modifies its argument; + never modifies either side
    assert [a, b, c] == before
    target = a.copy()
    target.merge(b)
    target += c
    assert (b, c) == (before[1], before[2])
    assert target.merge(empty) is target


def test_self_merge_doubles():
    acc = streameval.Multiclass(3)
    acc.update([0, 1, 2], [0, 2, 2])
    expected = 2 * acc.confusion_matrix()
    acc.merge(acc)
    assert (acc.confusion_matrix() == expected).all()


def test_copy_is_independent():
    acc = streameval.Multiclass(labels=["a", "b"])
    acc.update(["a", "b"], ["a", "a"])
    clone = acc.copy()
    clone.update(["b"], ["b"])
    assert acc.n_samples == 2 and clone.n_samples == 3 and acc != clone


def test_reset_repr_and_n_samples():
    acc = streameval.Binary(weighted=True)
    acc.update([1, 0, 1], [1, 1, 0], sample_weight=[0.5, 1.5, 2.0])
    assert acc.n_samples == pytest.approx(4.0) and not acc.is_empty
    assert "Binary(" in repr(acc) and "n_samples=4.0" in repr(acc)
    acc.reset()
    assert acc.is_empty and acc.n_samples == 0
